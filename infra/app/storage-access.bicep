// The app identity's roles on the storage account. Assignment names are guid(scope, principal, role) so a
// redeploy finds the same assignment; role definitions are referenced by GUID (names vary, GUIDs never do).

@description('Storage account the roles are scoped to.')
param storageAccountName string

@description('Principal (object) id of the app\'s user-assigned identity.')
param principalId string

// Built-in role definition ids
var storageBlobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
var storageTableDataContributor = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

// Owner, not Contributor, of blobs: the Functions host with identity-based AzureWebJobsStorage manages its
// containers and blob leases (timer singleton locks), and Flex Consumption reads the deployment package with it.
resource blobDataOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, principalId, storageBlobDataOwner)
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataOwner)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// Entities of the app's tables. On the account, not per table: the app creates a table on first use (idempotent),
// which a table-scoped assignment would refuse.
resource tableDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, principalId, storageTableDataContributor)
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageTableDataContributor)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
