// The Function App on the Flex Consumption plan (Python 3.11), running as the one user-assigned identity.
//
// Every connection is identity-based: AzureWebJobsStorage__* and ServiceBusConnection__* name the account and the
// namespace plus `credential: managedidentity` and the identity's client id; there is no key or connection string
// with a secret in any setting. The app registration's credential (CLIENT_SECRET or CLIENT_CERTIFICATE) is a Key
// Vault reference resolved by the platform with the same identity (keyVaultReferenceIdentity).
// Plain resources, not the AVM web/site module: the Flex Consumption parameters (functionAppConfig) of its pinned
// versions could not be confirmed here.

@description('Function App name (also its host name).')
param name string

@description('Flex Consumption plan name.')
param planName string

@description('Azure region (must offer Flex Consumption).')
param location string = resourceGroup().location

@description('Tags applied to every resource; the site also gets azd-service-name = api.')
param tags object = {}

@description('Resource id of the user-assigned identity the app runs as.')
param identityId string

@description('Client id of that identity (selects it for storage, Service Bus, telemetry and the app\'s own clients).')
param identityClientId string

@description('Storage account of AzureWebJobsStorage, the deployment container and the tables.')
param storageAccountName string

@description('Blob container the plan deploys the app package from.')
param deploymentContainerName string

@description('Application Insights component the app sends telemetry to.')
param applicationInsightsName string

@description('Service Bus namespace host name, <namespace>.servicebus.windows.net.')
param serviceBusNamespaceHost string

@description('The sync jobs queue (SYNC_JOBS_QUEUE).')
param queueName string

@description('Key Vault URI (https://<vault>.vault.azure.net/) holding the app registration credential.')
param keyVaultUri string

@description('secret: the credential is a client secret (CLIENT_SECRET); certificate: a PEM bundle (CLIENT_CERTIFICATE).')
@allowed([
  'secret'
  'certificate'
])
param authMode string = 'secret'

@description('Name of the Key Vault secret holding the credential (set by the operator after deploy).')
param credentialSecretName string

@description('The app\'s own settings (connection, schedules, setup defaults): names as shared/settings.py reads them.')
param appSettings object

@description('Most instances the plan scales out to.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Memory of one instance in MB (Flex Consumption sizes).')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
  }
}

// No version in the reference: the platform reads the latest version (again within 24 hours of a rotation, at
// once on a restart), so rotating is `az keyvault secret set` + restart, with no redeploy.
var credentialReference = '@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/${credentialSecretName}/)'
var credentialSettings = authMode == 'certificate'
  ? {
      CLIENT_CERTIFICATE: credentialReference
    }
  : {
      CLIENT_SECRET: credentialReference
    }

var platformSettings = {
  // the Functions host's storage (timers' leases, host keys) through the identity
  AzureWebJobsStorage__accountName: storage.name
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  // the Service Bus trigger of the sync-jobs queue (connection="ServiceBusConnection" in shared/triggers/queues.py)
  ServiceBusConnection__fullyQualifiedNamespace: serviceBusNamespaceHost
  ServiceBusConnection__credential: 'managedidentity'
  ServiceBusConnection__clientId: identityClientId
  // the app's own Table and Service Bus clients (shared/settings.py reads AZURE_CLIENT_ID and STORAGE_ACCOUNT_URL)
  AZURE_CLIENT_ID: identityClientId
  STORAGE_ACCOUNT_URL: storage.properties.primaryEndpoints.table
  SYNC_JOBS_QUEUE: queueName
  AUTH_MODE: authMode
  // Entra-authenticated telemetry: the component has local auth disabled
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  // glibc keeps up to 8 x cores malloc arenas per process; 2 measured ~20 MB less per worker with no slowdown
  MALLOC_ARENA_MAX: '2'
  // no Azure SDK tracing span per Table Storage request (0.3-0.7 ms each); 'true' for a diagnosis (issue 21)
  AZURE_TRACING_ENABLED: 'false'
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, {
    'azd-service-name': 'api'
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      minTlsVersion: '1.2'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
  }

  // One object for all settings: a later deploy replaces them all, so what is here is what runs.
  resource settings 'config' = {
    name: 'appsettings'
    properties: union(appSettings, platformSettings, credentialSettings)
  }
}

output name string = site.name
output id string = site.id
output uri string = 'https://${site.properties.defaultHostName}'
