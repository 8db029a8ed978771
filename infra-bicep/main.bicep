// LlmCostFunctions in one resource group: storage (tables, queues, containers the app declares), a Flex Consumption
// function app running the self-contained custom handler, a user-assigned identity with data-plane roles only,
// Application Insights on Log Analytics, and Key Vault for the secrets the app settings reference.
//
//   scripts/deploy.sh -g <rg> -e dev      deploys this, uploads the package, waits until /api/health is healthy
//   az deployment group create -g <rg> -f infra-bicep/main.bicep -p environmentName=dev     this template only
targetScope = 'resourceGroup'

@description('Short environment name (dev, test, prod): 2-8 lower-case letters or digits, starting with a letter; part of every resource name.')
@minLength(2)
@maxLength(8)
param environmentName string

@description('Azure region; defaults to the resource group\'s.')
param location string = resourceGroup().location

@description('Prefix of every table, queue and container name (LlmCost:Storage:Prefix): 3-20 lower-case letters or digits, starting with a letter.')
@minLength(3)
@maxLength(20)
param storagePrefix string = 'llmcost'

@description('Makes the globally unique names (Key Vault above all) differ between two lives of one resource group: a deleted vault stays reserved for 30 days (soft delete with purge protection), so a resource group re-created under the same name needs new names. Defaults to the resource group\'s "llmcost-name-salt" tag, which scripts/deploy.sh sets once per resource group; empty derives the names from the resource group and environment only.')
param nameSalt string = resourceGroup().?tags[?'llmcost-name-salt'] ?? ''

@description('LlmCost__AdminKey references the Key Vault secret "admin-key" (false: no bootstrap admin key at all).')
param enableAdminKey bool = true

@description('Value for the "admin-key" secret, only to create or rotate it: empty leaves an existing secret untouched (scripts/deploy.sh generates one on the first deployment only). Never pass it on a command line others can read.')
@secure()
param adminKey string = ''

@description('SMTP server for e-mail alerts (empty: e-mail alerts off).')
param smtpHost string = ''

@description('SMTP port.')
@minValue(1)
@maxValue(65535)
param smtpPort int = 587

@description('SMTP user name; when set, LlmCost__Alerts__SmtpPassword references the Key Vault secret "smtp-password".')
param smtpUser string = ''

@description('Value for the "smtp-password" secret, only to create or rotate it: empty leaves an existing secret untouched.')
@secure()
param smtpPassword string = ''

@description('Sender address of alert e-mails.')
param alertFromAddress string = 'llmcost-alerts@example.com'

@description('Budget defaults for new budgets: monthly limit in USD (a decimal string), alert thresholds in percent, enforcement (soft or hard).')
param budgetDefaults object = {
  monthlyLimitUsd: '1000'
  alertThresholdsPercent: [
    50
    80
    100
  ]
  enforcement: 'soft'
}

@description('Most instances Flex Consumption may scale out to (the platform accepts 40 to 1000).')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Memory per instance (MB).')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Tags on every resource.')
param tags object = {}

// Resource names embed environmentName (vault, container, app, ...) and storagePrefix (tables, queues, containers):
// check their characters before anything is created, since Bicep parameters have no pattern constraint.
var letters = 'abcdefghijklmnopqrstuvwxyz'
var lettersAndDigits = '${letters}0123456789'
var environmentNameIsValid = contains(letters, substring(environmentName, 0, 1)) && empty(filter(
  range(0, length(environmentName)),
  i => !contains(lettersAndDigits, substring(environmentName, i, 1))
))
var storagePrefixIsValid = contains(letters, substring(storagePrefix, 0, 1)) && empty(filter(
  range(0, length(storagePrefix)),
  i => !contains(lettersAndDigits, substring(storagePrefix, i, 1))
))
var env = environmentNameIsValid
  ? environmentName
  : fail('environmentName must be 2-8 lower-case letters or digits, starting with a letter: it is part of the Key Vault, container and app names.')
var prefix = storagePrefixIsValid
  ? storagePrefix
  : fail('storagePrefix must be 3-20 lower-case letters or digits, starting with a letter: it starts every table, queue and container name.')

var suffix = empty(nameSalt) ? uniqueString(resourceGroup().id, env) : uniqueString(resourceGroup().id, env, nameSalt)
var allTags = union(tags, { application: 'llmcost', environment: env })
var storageResources = loadJsonContent('storage-resources.json')
var functionAppName = 'func-llmcost-${env}-${suffix}'

// The queue triggers name their queue through these app settings ("queueName": "%LLMCOST_ALERTS_QUEUE%", the
// convention of StorageNames.QueueSetting), so the deployed function.json files work with any storagePrefix.
var queueSettings = toObject(
  storageResources.queues,
  q => 'LLMCOST_${toUpper(replace(q, '-', '_'))}_QUEUE',
  q => '${prefix}-${q}'
)

// The identity the app runs as. Declared here (not in a module) so its resource id is known before deployment:
// role assignment names derive from it, which keeps What-If precise.
resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-llmcost-${env}-${suffix}'
  location: location
  tags: allTags
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    logAnalyticsName: 'log-llmcost-${env}-${suffix}'
    appInsightsName: 'appi-llmcost-${env}-${suffix}'
    location: location
    tags: allTags
    publisherPrincipalId: identity.properties.principalId
    publisherIdentityId: identity.id
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    name: take('stllmcost${suffix}', 24)
    location: location
    tags: allTags
    prefix: prefix
    tables: storageResources.tables
    queues: storageResources.queues
    containers: storageResources.containers
    deploymentContainerName: 'app-package-${env}'
    principalId: identity.properties.principalId
    identityId: identity.id
  }
}

module vault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  params: {
    // 3-24 characters, starting with a letter, ending with a letter or digit, no "--": "kv-", the environment
    // (letters and digits) and at least 12 characters of the suffix.
    name: take('kv-${env}-${suffix}', 24)
    location: location
    tags: allTags
    readerPrincipalId: identity.properties.principalId
    readerIdentityId: identity.id
    adminKey: adminKey
    smtpPassword: smtpPassword
  }
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  params: {
    name: functionAppName
    planName: 'plan-llmcost-${env}-${suffix}'
    location: location
    tags: allTags
    identityId: identity.id
    identityClientId: identity.properties.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerUrl: storage.outputs.deploymentContainerUrl
    appInsightsConnectionString: monitoring.outputs.connectionString
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    // Every secret-bearing setting is a Key Vault reference, resolved by the platform with the app's identity. The
    // app refuses a reference that did not resolve (the reference text is never taken for the secret) and names
    // the setting in /api/health until a restart after it resolves.
    appSettings: union(
      {
        LlmCost__Storage__Prefix: prefix
        // This template creates every table, queue and container; the app must not spend its short start-up on it.
        LlmCost__Storage__CreateResources: 'false'
        LlmCost__Hosting__Mode: 'FunctionsHost'
        LlmCost__Alerts__From: alertFromAddress
        LlmCost__Budgets__Defaults__MonthlyLimitUsd: budgetDefaults.monthlyLimitUsd
        LlmCost__Budgets__Defaults__AlertThresholdsPercent: join(map(budgetDefaults.alertThresholdsPercent, t => string(t)), ',')
        LlmCost__Budgets__Defaults__Enforcement: budgetDefaults.enforcement
      },
      queueSettings,
      enableAdminKey ? { LlmCost__AdminKey: vault.outputs.adminKeyReference } : {},
      empty(smtpHost)
        ? {}
        : {
            LlmCost__Alerts__SmtpHost: smtpHost
            LlmCost__Alerts__SmtpPort: string(smtpPort)
          },
      // Tied to the user, not to the password parameter: a redeploy without the password keeps the reference.
      empty(smtpUser)
        ? {}
        : {
            LlmCost__Alerts__SmtpUser: smtpUser
            LlmCost__Alerts__SmtpPassword: vault.outputs.smtpSettingReference
          }
    )
  }
  // Referencing the vault module's outputs also makes the app wait for its role assignment: the app reads its
  // secrets at start-up, so its identity must already be allowed to (propagation can still lag: deploy.sh waits).
}

@description('Base URL of the API (append /api/...).')
output functionAppUrl string = functionApp.outputs.url

output functionAppName string = functionApp.outputs.name
output functionAppId string = functionApp.outputs.id
output storageAccountName string = storage.outputs.name
output storageAccountId string = storage.outputs.id
output keyVaultName string = vault.outputs.name
output keyVaultId string = vault.outputs.id
output appInsightsName string = monitoring.outputs.appInsightsName
output logAnalyticsWorkspaceName string = monitoring.outputs.logAnalyticsName
output identityName string = identity.name
output identityClientId string = identity.properties.clientId
output identityPrincipalId string = identity.properties.principalId

@description('The salt the names were derived with (the resource group tag, or the parameter; empty for none).')
output nameSalt string = nameSalt
