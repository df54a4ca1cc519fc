// The app identity may publish telemetry to Application Insights, whose local (instrumentation key) auth is off.
// Monitoring Metrics Publisher on the component only. Assignment name is guid(scope, principal, role).

@description('Application Insights component the role is scoped to.')
param applicationInsightsName string

@description('Principal (object) id of the app\'s user-assigned identity.')
param principalId string

// Built-in role definition id
var monitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb'

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource metricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, principalId, monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisher)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
