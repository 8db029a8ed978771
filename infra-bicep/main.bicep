// LlmCostFunctions in one resource group: storage (tables, queues, containers the app declares), a Flex Consumption
// function app running the self-contained custom handler, a user-assigned identity with data-plane roles only,
// Application Insights on Log Analytics, and Key Vault for the secrets the app settings reference.
//
//   az deployment group create -g <rg> -f infra-bicep/main.bicep -p environmentName=dev adminKey=<secret>
targetScope = 'resourceGroup'

@description('Short environment name (dev, test, prod): part of every resource name.')
@minLength(2)
@maxLength(8)
param environmentName string

@description('Azure region; defaults to the resource group\'s.')
param location string = resourceGroup().location

@description('Prefix of every table, queue and container name (LlmCost:Storage:Prefix): 3-20 lower-case letters or digits, starting with a letter.')
@minLength(3)
@maxLength(20)
param storagePrefix string = 'llmcost'

@description('Bootstrap admin API key, stored in Key Vault (empty: no admin key; create keys another way).')
@secure()
param adminKey string = ''

@description('SMTP server for e-mail alerts (empty: e-mail alerts off).')
param smtpHost string = ''

@description('SMTP port.')
param smtpPort int = 587

@description('SMTP user name.')
param smtpUser string = ''

@description('SMTP password, stored in Key Vault.')
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

@description('Most instances Flex Consumption may scale out to.')
@minValue(1)
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

var suffix = uniqueString(resourceGroup().id, environmentName)
var allTags = union(tags, { application: 'llmcost', environment: environmentName })
var storageResources = loadJsonContent('storage-resources.json')
var functionAppName = 'func-llmcost-${environmentName}-${suffix}'

// The identity the app runs as. Declared here (not in a module) so its resource id is known before deployment:
// role assignment names derive from it, which keeps What-If precise.
resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-llmcost-${environmentName}-${suffix}'
  location: location
  tags: allTags
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    logAnalyticsName: 'log-llmcost-${environmentName}-${suffix}'
    appInsightsName: 'appi-llmcost-${environmentName}-${suffix}'
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
    prefix: storagePrefix
    tables: storageResources.tables
    queues: storageResources.queues
    containers: storageResources.containers
    deploymentContainerName: 'app-package-${environmentName}'
    principalId: identity.properties.principalId
    identityId: identity.id
  }
}

module vault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  params: {
    name: take('kv-llmcost-${environmentName}-${suffix}', 24)
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
    planName: 'plan-llmcost-${environmentName}-${suffix}'
    location: location
    tags: allTags
    identityId: identity.id
    identityClientId: identity.properties.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerUrl: storage.outputs.deploymentContainerUrl
    appInsightsConnectionString: monitoring.outputs.connectionString
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    // Every secret-bearing setting is a Key Vault reference, resolved by the platform with the app's identity.
    appSettings: union(
      {
        LlmCost__Storage__Prefix: storagePrefix
        LlmCost__Hosting__Mode: 'FunctionsHost'
        LlmCost__Alerts__From: alertFromAddress
        LlmCost__Budgets__Defaults__MonthlyLimitUsd: budgetDefaults.monthlyLimitUsd
        LlmCost__Budgets__Defaults__AlertThresholdsPercent: join(map(budgetDefaults.alertThresholdsPercent, t => string(t)), ',')
        LlmCost__Budgets__Defaults__Enforcement: budgetDefaults.enforcement
      },
      empty(adminKey) ? {} : { LlmCost__AdminKey: vault.outputs.adminKeyReference },
      empty(smtpHost)
        ? {}
        : {
            LlmCost__Alerts__SmtpHost: smtpHost
            LlmCost__Alerts__SmtpPort: string(smtpPort)
            LlmCost__Alerts__SmtpUser: smtpUser
          },
      empty(smtpPassword) ? {} : { LlmCost__Alerts__SmtpPassword: vault.outputs.smtpSettingReference }
    )
  }
  // Referencing the vault module's outputs also makes the app wait for its role assignment: the app reads its
  // secrets at start-up, so its identity must already be allowed to.
}

@description('Base URL of the API (append /api/...).')
output functionAppUrl string = functionApp.outputs.url

output functionAppName string = functionApp.outputs.name
output storageAccountName string = storage.outputs.name
output keyVaultName string = vault.outputs.name
output appInsightsName string = monitoring.outputs.appInsightsName
output logAnalyticsWorkspaceName string = monitoring.outputs.logAnalyticsName
output identityName string = identity.name
output identityClientId string = identity.properties.clientId
