// Key Vault (RBAC mode) for the secrets the app settings reference as @Microsoft.KeyVault(...). The app's identity
// can read secret values (Key Vault Secrets User) and nothing else. A secret is written only when its value is given,
// so a redeployment without it leaves the stored secret (e.g. the admin key deploy.sh generated once) untouched.
param name string
param location string
param tags object
param readerPrincipalId string

@description('Resource id of that identity: names the role assignments deterministically.')
param readerIdentityId string

@secure()
param adminKey string

@secure()
param smtpPassword string

var keyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 30
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
  }
}

resource adminKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(adminKey)) {
  parent: vault
  name: 'admin-key'
  properties: {
    value: adminKey
  }
}

resource smtpPasswordSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(smtpPassword)) {
  parent: vault
  name: 'smtp-password'
  properties: {
    value: smtpPassword
  }
}

resource secretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, readerIdentityId, keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
    principalId: readerPrincipalId
    principalType: 'ServicePrincipal'
  }
}

output name string = vault.name
output id string = vault.id
@description('App setting value for LlmCost__AdminKey: a Key Vault reference, not the value.')
output adminKeyReference string = '@Microsoft.KeyVault(VaultName=${vault.name};SecretName=admin-key)'
@description('App setting value for LlmCost__Alerts__SmtpPassword: a Key Vault reference, not the value.')
output smtpSettingReference string = '@Microsoft.KeyVault(VaultName=${vault.name};SecretName=smtp-password)'
