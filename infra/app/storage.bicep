// Storage: the Functions host's own storage (AzureWebJobsStorage), the Flex Consumption deployment container, and
// the app's tables (docs/architecture.md section 4; the names are shared/storage/tables.py TABLE_NAMES).
//
// Shared key access is disabled: no account key exists for anyone to leak or rotate. The host, the deployment and
// the app all reach the account with the user-assigned managed identity (roles in storage-access.bicep).
// Plain resources, not the AVM storage-account module: its table parameters changed shape between versions and
// we could not confirm them for the pinned version.

@description('Storage account name: 3-24 lower-case letters and digits, globally unique.')
@minLength(3)
@maxLength(24)
param name string

@description('Azure region of the account.')
param location string = resourceGroup().location

@description('Tags applied to every resource.')
param tags object = {}

@description('Blob container the Flex Consumption plan deploys the app package from.')
param deploymentContainerName string

@description('Tables the app uses (shared/storage/tables.py TABLE_NAMES, with the optional TABLE_PREFIX).')
param tableNames array

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    accessTier: 'Hot'
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }

  resource blobService 'blobServices' = {
    name: 'default'

    resource deploymentContainer 'containers' = {
      name: deploymentContainerName
      properties: {
        publicAccess: 'None'
      }
    }
  }

  // Created here so a least-privilege operator sees them at once; the app also creates them on first use.
  resource tableService 'tableServices' = {
    name: 'default'

    resource table 'tables' = [for tableName in tableNames: {
      name: tableName
    }]
  }
}

output name string = account.name
output id string = account.id
output blobEndpoint string = account.properties.primaryEndpoints.blob
output tableEndpoint string = account.properties.primaryEndpoints.table
