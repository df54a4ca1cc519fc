// Alerts, so the integration never "stops silently", and the action group that e-mails the operator.
//
// The log alerts read the custom metrics the app emits through OpenTelemetry (shared/telemetry.py):
// `sync.job.succeeded` per successful job, and `sync.records.synced` / `sync.records.failed` (the record counts of a
// job), each with a `mapping` dimension (customDimensions.mapping). What each alert means and what to do: docs/operations.md.

@description('Prefix of the alert and action group names.')
param namePrefix string

@description('Azure region of the log alert rules (the Application Insights region).')
param location string = resourceGroup().location

@description('Tags applied to every resource.')
param tags object = {}

@description('Application Insights component the log alerts query.')
param applicationInsightsId string

@description('Service Bus namespace of the sync jobs queue.')
param serviceBusNamespaceId string

@description('The sync jobs queue whose dead letters raise an alert.')
param queueName string

@description('E-mail address that receives the alerts; empty: the action group has no receiver.')
param alertEmail string = ''

@description('Minutes without a successful job for a mapping (that succeeded in the last 2 days) before alerting.')
@minValue(15)
@maxValue(2880)
param noSuccessMinutes int = 60

@description('Percentage of failed records per mapping (over 30 minutes) above which to alert.')
@minValue(1)
@maxValue(100)
param failureRatePercent int = 10

@description('Fewest records (synced + failed) per mapping in 30 minutes for the failure rate to count.')
@minValue(1)
param failureRateMinRecords int = 20

@description('Failed executions plus exceptions per function in 15 minutes that raise an alert.')
@minValue(1)
param functionErrorThreshold int = 5

var abbrs = loadJsonContent('../abbreviations.json')

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: '${abbrs.insightsActionGroups}${namePrefix}'
  location: 'Global'
  tags: tags
  properties: {
    groupShortName: take('bcsync${uniqueString(namePrefix)}', 12)
    enabled: true
    emailReceivers: empty(alertEmail) ? [] : [
      {
        name: 'operator'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

// A mapping that succeeded within the last 2 days (the longest a log alert may look back) but not in the last
// noSuccessMinutes: one alert per mapping. A mapping disabled on purpose alerts until 2 days have passed.
var noSuccessQuery = format('''
customMetrics
| where name == "sync.job.succeeded"
| extend mapping = tostring(customDimensions["mapping"])
| where isnotempty(mapping)
| summarize lastSuccess = max(timestamp) by mapping
| where lastSuccess < ago({0}m)
| extend minutesSinceSuccess = datetime_diff("minute", now(), lastSuccess)
''', noSuccessMinutes)

var failureRateQuery = format('''
customMetrics
| where name in ("sync.records.failed", "sync.records.synced")
| extend mapping = tostring(customDimensions["mapping"])
| summarize failed = sumif(valueSum, name == "sync.records.failed"), synced = sumif(valueSum, name == "sync.records.synced") by mapping
| where failed + synced >= {1}
| extend failurePercent = round(100.0 * failed / (failed + synced), 1)
| where failurePercent > {0}
''', failureRatePercent, failureRateMinRecords)

var functionErrorsQuery = '''
union
    (exceptions | project timestamp, operation_Name),
    (requests | where success == false | project timestamp, operation_Name)
| summarize failures = count() by operation_Name
'''

var logAlerts = [
  {
    name: 'no-successful-sync'
    severity: 1
    description: 'No successful sync job for a mapping in ${noSuccessMinutes} minutes.'
    query: noSuccessQuery
    measure: ''
    aggregation: 'Count'
    operator: 'GreaterThan'
    threshold: 0
    dimension: 'mapping'
    frequency: 'PT15M'
    window: 'PT15M'
    timeRange: 'P2D'
  }
  {
    name: 'sync-failure-rate'
    severity: 2
    description: 'More than ${failureRatePercent}% of a mapping\'s records failed in 30 minutes.'
    query: failureRateQuery
    measure: ''
    aggregation: 'Count'
    operator: 'GreaterThan'
    threshold: 0
    dimension: 'mapping'
    frequency: 'PT15M'
    window: 'PT30M'
    timeRange: ''
  }
  {
    name: 'function-errors'
    severity: 2
    description: 'A function failed or threw at least ${functionErrorThreshold} times in 15 minutes.'
    query: functionErrorsQuery
    measure: 'failures'
    aggregation: 'Total'
    operator: 'GreaterThanOrEqual'
    threshold: functionErrorThreshold
    dimension: 'operation_Name'
    frequency: 'PT5M'
    window: 'PT15M'
    timeRange: ''
  }
]

resource logAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = [for alert in logAlerts: {
  name: '${abbrs.insightsScheduledQueryRules}${namePrefix}-${alert.name}'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: '${namePrefix}: ${alert.name}'
    description: alert.description
    severity: alert.severity
    enabled: true
    scopes: [
      applicationInsightsId
    ]
    evaluationFrequency: alert.frequency
    windowSize: alert.window
    overrideQueryTimeRange: empty(alert.timeRange) ? null : alert.timeRange
    autoMitigate: true
    criteria: {
      allOf: [
        {
          query: alert.query
          timeAggregation: alert.aggregation
          metricMeasureColumn: empty(alert.measure) ? null : alert.measure
          operator: alert.operator
          threshold: alert.threshold
          dimensions: [
            {
              name: alert.dimension
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}]

// Any dead-lettered message means a job gave up (fatal error or 10 deliveries): it needs a person. The metric is
// the count sitting in the dead-letter queue, so the alert resolves itself once the operator replays or drains it.
resource deadLetters 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: '${abbrs.insightsMetricAlerts}${namePrefix}-dead-letters'
  location: 'global'
  tags: tags
  properties: {
    description: 'Dead-lettered messages on the ${queueName} queue.'
    severity: 1
    enabled: true
    scopes: [
      serviceBusNamespaceId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT5M'
    autoMitigate: true
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'DeadLetteredMessages'
          metricNamespace: 'Microsoft.ServiceBus/namespaces'
          metricName: 'DeadletteredMessages'
          dimensions: [
            {
              name: 'EntityName'
              operator: 'Include'
              values: [
                queueName
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: 0
          timeAggregation: 'Maximum'
        }
      ]
    }
    actions: [
      {
        actionGroupId: actionGroup.id
      }
    ]
  }
}

output actionGroupId string = actionGroup.id
