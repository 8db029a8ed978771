// The storage account: AzureWebJobsStorage for the Functions host (triggers, timers, locks), the app's own tables,
// queues (each with its "-poison" twin) and containers, and the Flex deployment package container. TLS 1.2+, no
// public blob access, shared keys off: everything authenticates with the app's managed identity.
param name string
param location string
param tags object

@description('LlmCost:Storage:Prefix: tables are {prefix}{name}, queues and containers {prefix}-{name}.')
@minLength(3)
@maxLength(20)
param prefix string

@description('Logical table names the app declares (storage-resources.json).')
param tables array

@description('Logical queue names the app declares.')
param queues array

@description('Logical container names the app declares.')
param containers array

param deploymentContainerName string

@description('The function app\'s identity: gets the blob, queue and table data roles, nothing on the control plane.')
param principalId string

@description('Resource id of that identity: names the role assignments deterministically.')
param identityId string

// The account is also the Functions host's own storage (AzureWebJobsStorage: timer locks and schedule monitors, the
// host id, the Flex deployment package). For an identity-based AzureWebJobsStorage the host-storage documentation and
// every Flex Consumption sample grant Storage Blob Data Owner, so the host gets that rather than a role it was not
// tested with. Queues (triggers, the app's alert queue) and tables (the app's data) need their Contributor roles.
var roles = {
  blobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  queueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  tableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
}

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    accessTier: 'Hot'
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource appContainers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [
  for container in containers: {
    parent: blobService
    name: '${prefix}-${container}'
    properties: {
      publicAccess: 'None'
    }
  }
]

resource appQueues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [
  for queue in flatten(map(queues, q => ['${prefix}-${q}', '${prefix}-${q}-poison'])): {
    parent: queueService
    name: queue
  }
]

resource appTables 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = [
  for table in tables: {
    parent: tableService
    name: '${prefix}${table}'
  }
]

resource blobRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, identityId, roles.blobDataOwner)
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.blobDataOwner)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource queueRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, identityId, roles.queueDataContributor)
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.queueDataContributor)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource tableRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, identityId, roles.tableDataContributor)
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.tableDataContributor)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

output name string = account.name
output id string = account.id
output deploymentContainerUrl string = '${account.properties.primaryEndpoints.blob}${deploymentContainer.name}'
