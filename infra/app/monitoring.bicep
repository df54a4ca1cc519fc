// Log Analytics + Application Insights (workspace-based) with local authentication disabled: the instrumentation
// key in the connection string cannot ingest anything on its own; the app sends telemetry with its managed identity
// (APPLICATIONINSIGHTS_AUTHENTICATION_STRING, role Monitoring Metrics Publisher in monitoring-access.bicep).
//
// Pinned Azure Verified Modules: these versions and parameter names are the ones the Azure-Samples Functions azd
// templates use (workspace: name, location, tags, dataRetention; component: name, location, tags,
// workspaceResourceId, disableLocalAuth; outputs resourceId and name).

@description('Log Analytics workspace name.')
param logAnalyticsName string

@description('Application Insights component name.')
param applicationInsightsName string

@description('Azure region of both.')
param location string = resourceGroup().location

@description('Tags applied to every resource.')
param tags object = {}

@description('Days Log Analytics keeps logs and telemetry (30 is included in the ingestion price).')
@minValue(30)
@maxValue(730)
param retentionInDays int = 30

module workspace 'br/public:avm/res/operational-insights/workspace:0.11.1' = {
  name: 'log-analytics'
  params: {
    name: logAnalyticsName
    location: location
    tags: tags
    dataRetention: retentionInDays
  }
}

module appInsights 'br/public:avm/res/insights/component:0.6.0' = {
  name: 'application-insights'
  params: {
    name: applicationInsightsName
    location: location
    tags: tags
    workspaceResourceId: workspace.outputs.resourceId
    disableLocalAuth: true
  }
}

output applicationInsightsName string = appInsights.outputs.name
output applicationInsightsId string = appInsights.outputs.resourceId
output logAnalyticsId string = workspace.outputs.resourceId
