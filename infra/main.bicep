// bc-sales-sync in one resource group: `azd up` provisions this, then deploys the app (service `api` in
// azure.yaml) to the Function App. Parameters come from main.parameters.json (azd environment values); none of them
// is a secret. The one secret, the app registration's credential, is set in Key Vault after the first deploy
// (infra/README.md). Shape of the Azure-Samples Functions azd templates: resource token + abbreviations for names,
// one user-assigned identity, identity-based connections, role assignments in small *-access.bicep modules.

targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment: names the resource group and seeds the unique token of every resource name.')
param environmentName string

@minLength(1)
@description('Region of every resource; it must offer the Flex Consumption plan (az functionapp list-flexconsumption-locations).')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Resource group name; empty: rg-<environmentName>.')
param resourceGroupName string = ''

@description('Object id of the operator running azd (AZURE_PRINCIPAL_ID): may set the app secret in Key Vault. Empty: nobody.')
param principalId string = ''

@description('Kind of principal principalId is (User for a person, ServicePrincipal for a pipeline).')
@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param principalType string = 'User'

// ---- The connection (README "The app's settings"); no value here is secret ----

@description('Business Central API base URL: https://api.businesscentral.dynamics.com/v2.0/<tenant>/<environment>.')
param bcBaseUrl string

@description('Business Central company (name or id).')
param bcCompany string

@description('Dataverse (Dynamics 365 Sales) URL: https://<org>.crm.dynamics.com.')
param dataverseUrl string

@description('Entra tenant of the app registration BC and Dataverse trust; empty: the tenant of this subscription.')
param appTenantId string = ''

@description('Client (application) id of that app registration. An id, not a secret.')
param appClientId string

@description('How the app proves it is the app registration: secret (client secret) or certificate (PEM bundle), both read from Key Vault.')
@allowed([
  'secret'
  'certificate'
])
param authMode string = 'secret'

@description('Key Vault secret holding the credential (the client secret, or the PEM bundle for certificate mode).')
param credentialSecretName string = authMode == 'certificate' ? 'client-certificate' : 'client-secret'

@description('Business Central local currency code (LCY), e.g. USD or EUR.')
param localCurrency string = 'USD'

@description('Prefix of the table names (TABLE_PREFIX); empty in a dedicated storage account.')
param tablePrefix string = ''

@description('Several BC companies (BC_COMPANIES): a JSON array of {environment, company, key?} against the one Sales org; empty: the one company of bcBaseUrl and bcCompany. docs/operations.md "Several BC companies".')
param bcCompanies string = ''

// ---- Timer schedules (NCRONTAB with seconds); empty: the default in the description ----

@description('Incremental sync of every enabled mapping (SYNC_SCHEDULE); empty: every 5 minutes.')
param syncSchedule string = ''

@description('Auto-process Sales quotes and auto-create BC orders (SALES_DOCUMENTS_SCHEDULE); empty: every 5 minutes.')
param salesDocumentsSchedule string = ''

@description('SALESORDER-ORDER order status back to Sales (ORDER_SYNC_SCHEDULE); empty: every 5 minutes.')
param orderSyncSchedule string = ''

@description('Posted invoices, payments and account statistics (INVOICE_SYNC_SCHEDULE); empty: every 15 minutes.')
param invoiceSyncSchedule string = ''

@description('Item availability to Sales (ITEM_AVAILABILITY_SCHEDULE); empty: every 15 minutes.')
param itemAvailabilitySchedule string = ''

// ---- Setup defaults (each can be overridden later with PATCH /api/setup) ----

@description('Orders from Sales become BC orders and SALESORDER-ORDER reports their progress.')
param salesOrderIntegrationEnabled bool = false

@description('The timer creates BC orders from submitted Sales orders (else only on request).')
param autoCreateSalesOrders bool = false

@description('The timer processes active and won Sales quotes (else only on request).')
param autoProcessSalesQuotes bool = false

@description('Type of the BC record write-in lines use: Item or Resource.')
@allowed([
  'Item'
  'Resource'
])
param writeInProductType string = 'Item'

@description('BC item or resource number write-in lines use (Code[20]); empty: none.')
param writeInProductNo string = ''

@description('BC G/L account number of a Sales order\'s freight line (Code[20]); empty: freight is a record error.')
param freightGLAccountNo string = ''

@description('Who owns what the sync creates in Sales: person (salesperson) or team (the company\'s owning team).')
@allowed([
  'person'
  'team'
])
param ownershipModel string = 'person'

@description('Published BC page web services, entity=ServiceName,... (BC_PAGE_SERVICES); empty: the defaults.')
param bcPageServices string = ''

// ---- Scale and alerts ----

@description('Most instances the Flex Consumption plan scales out to.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Memory of one instance in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('E-mail address the alerts go to; empty: alerts fire without notifying anyone.')
param alertEmail string = ''

@description('Minutes without a successful job for a mapping before alerting.')
@minValue(15)
@maxValue(2880)
param noSuccessMinutes int = 60

@description('Failed-record percentage per mapping (over 30 minutes) above which to alert.')
@minValue(1)
@maxValue(100)
param failureRatePercent int = 10

@description('Failed executions plus exceptions per function in 15 minutes that raise an alert.')
@minValue(1)
param functionErrorThreshold int = 5

var abbrs = loadJsonContent('./abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var functionAppName = '${abbrs.webSitesFunctions}api-${resourceToken}'
var deploymentContainerName = 'app-package-${take(functionAppName, 32)}-${take(resourceToken, 7)}'
// shared/storage/tables.py TABLE_NAMES (docs/architecture.md section 4), with the optional prefix
var tableBaseNames = ['Couplings', 'Checkpoints', 'SyncRuns', 'SyncJobs', 'SyncErrors', 'Settings', 'QuoteArchive', 'BcSubscriptions', 'DataverseEndpoints', 'MatchLog']
var tableNames = [for table in tableBaseNames: '${tablePrefix}${table}']
// Each company of BC_COMPANIES given a key has its own tables: the prefix + its key + the table name
// (shared/domain/companies.py). A company without a key (its key derived by the app) gets its tables from the app on
// first use, as any missing table does (Storage Table Data Contributor may create tables).
var companyKeys = filter(
  map(json(empty(bcCompanies) ? '[]' : bcCompanies), company => contains(company, 'key') ? string(company.key) : ''),
  key => !empty(key)
)
var companyTableNames = [for i in range(0, length(companyKeys) * length(tableBaseNames)): '${tablePrefix}${companyKeys[i / length(tableBaseNames)]}${tableBaseNames[i % length(tableBaseNames)]}']
var queueName = 'sync-jobs'
// Empty schedule parameters mean the defaults (an unset azd variable arrives as an empty string)
var everyFiveMinutes = '0 */5 * * * *'
var everyFifteenMinutes = '0 */15 * * * *'

resource rg 'Microsoft.Resources/resourceGroups@2022-09-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

// The one identity the app runs as: storage, Service Bus, Key Vault references and telemetry all use it.
// Pinned AVM module; version and parameters as in the Azure-Samples Functions azd templates.
module identity 'br/public:avm/res/managed-identity/user-assigned-identity:0.4.1' = {
  name: 'identity'
  scope: rg
  params: {
    name: '${abbrs.managedIdentityUserAssignedIdentities}api-${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring './app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    applicationInsightsName: '${abbrs.insightsComponents}${resourceToken}'
    location: location
    tags: tags
  }
}

module storage './app/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: '${abbrs.storageStorageAccounts}${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
    tableNames: concat(tableNames, companyTableNames)
  }
}

module serviceBus './app/servicebus.bicep' = {
  name: 'servicebus'
  scope: rg
  params: {
    name: '${abbrs.serviceBusNamespaces}${resourceToken}'
    location: location
    tags: tags
    queueName: queueName
  }
}

module keyVault './app/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: '${abbrs.keyVaultVaults}${resourceToken}'
    location: location
    tags: tags
  }
}

module functionApp './app/functionapp.bicep' = {
  name: 'functionapp'
  scope: rg
  params: {
    name: functionAppName
    planName: '${abbrs.webServerFarms}${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.resourceId
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    serviceBusNamespaceHost: serviceBus.outputs.fullyQualifiedNamespace
    queueName: serviceBus.outputs.queueName
    keyVaultUri: keyVault.outputs.uri
    authMode: authMode
    credentialSecretName: credentialSecretName
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    appSettings: {
      BC_BASE_URL: bcBaseUrl
      BC_COMPANY: bcCompany
      BC_COMPANIES: bcCompanies
      DATAVERSE_URL: dataverseUrl
      TENANT_ID: !empty(appTenantId) ? appTenantId : tenant().tenantId
      CLIENT_ID: appClientId
      LOCAL_CURRENCY: localCurrency
      TABLE_PREFIX: tablePrefix
      SYNC_SCHEDULE: empty(syncSchedule) ? everyFiveMinutes : syncSchedule
      SALES_DOCUMENTS_SCHEDULE: empty(salesDocumentsSchedule) ? everyFiveMinutes : salesDocumentsSchedule
      ORDER_SYNC_SCHEDULE: empty(orderSyncSchedule) ? everyFiveMinutes : orderSyncSchedule
      INVOICE_SYNC_SCHEDULE: empty(invoiceSyncSchedule) ? everyFifteenMinutes : invoiceSyncSchedule
      ITEM_AVAILABILITY_SCHEDULE: empty(itemAvailabilitySchedule) ? everyFifteenMinutes : itemAvailabilitySchedule
      NOTIFICATIONS_SCHEDULE: '0 */30 * * * *' // the notification registrations timer (issue 23): it must resolve
      SALES_ORDER_INTEGRATION_ENABLED: salesOrderIntegrationEnabled ? 'true' : 'false'
      AUTO_CREATE_SALES_ORDERS: autoCreateSalesOrders ? 'true' : 'false'
      AUTO_PROCESS_SALES_QUOTES: autoProcessSalesQuotes ? 'true' : 'false'
      WRITE_IN_PRODUCT_TYPE: writeInProductType
      WRITE_IN_PRODUCT_NO: writeInProductNo
      FREIGHT_GL_ACCOUNT_NO: freightGLAccountNo
      BC_PAGE_SERVICES: bcPageServices
      OWNERSHIP_MODEL: ownershipModel
      // /api/health calls a mapping stale after the same quiet time as the "no successful sync" alert
      HEALTH_STALE_AFTER_MINUTES: string(noSuccessMinutes)
    }
  }
}

// ---- Least privilege: each role on the one resource (or queue) that needs it ----

module storageAccess './app/storage-access.bicep' = {
  name: 'storage-access'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    principalId: identity.outputs.principalId
  }
}

module serviceBusAccess './app/servicebus-access.bicep' = {
  name: 'servicebus-access'
  scope: rg
  params: {
    namespaceName: serviceBus.outputs.name
    queueName: serviceBus.outputs.queueName
    principalId: identity.outputs.principalId
  }
}

module keyVaultAccess './app/keyvault-access.bicep' = {
  name: 'keyvault-access'
  scope: rg
  params: {
    keyVaultName: keyVault.outputs.name
    principalId: identity.outputs.principalId
    operatorPrincipalId: principalId
    operatorPrincipalType: principalType
  }
}

module monitoringAccess './app/monitoring-access.bicep' = {
  name: 'monitoring-access'
  scope: rg
  params: {
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    principalId: identity.outputs.principalId
  }
}

module alerts './app/alerts.bicep' = {
  name: 'alerts'
  scope: rg
  params: {
    namePrefix: resourceToken
    location: location
    tags: tags
    applicationInsightsId: monitoring.outputs.applicationInsightsId
    serviceBusNamespaceId: serviceBus.outputs.id
    queueName: serviceBus.outputs.queueName
    alertEmail: alertEmail
    noSuccessMinutes: noSuccessMinutes
    failureRatePercent: failureRatePercent
    functionErrorThreshold: functionErrorThreshold
  }
}

// azd stores these in .azure/<env>/.env: names and endpoints only, never a secret.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_NAME string = functionApp.outputs.name
output SERVICE_API_NAME string = functionApp.outputs.name
output SERVICE_API_URI string = functionApp.outputs.uri
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output AZURE_KEY_VAULT_ENDPOINT string = keyVault.outputs.uri
output KEY_VAULT_CREDENTIAL_NAME string = credentialSecretName
output AUTH_MODE string = authMode
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output SERVICE_BUS_NAMESPACE string = serviceBus.outputs.fullyQualifiedNamespace
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.applicationInsightsName
