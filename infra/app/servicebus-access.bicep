// The app identity's roles on the sync jobs queue: it sends jobs (HTTP triggers, timers, chunk fan-out) and
// receives them (the queue trigger, the dead-letter trigger). Scoped to the queue, not the namespace, and no Data
// Owner: nothing in the app manages entities. Assignment names are guid(scope, principal, role).
//
// Known trade-off: without Manage rights the scale controller cannot read the queue length, so scaling on queue
// depth is less precise (the Functions docs say so); the app still receives through the trigger.

@description('Service Bus namespace holding the queue.')
param namespaceName string

@description('The sync jobs queue the roles are scoped to.')
param queueName string

@description('Principal (object) id of the app\'s user-assigned identity.')
param principalId string

// Built-in role definition ids
var serviceBusDataSender = '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39'
var serviceBusDataReceiver = '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0'

resource namespace 'Microsoft.ServiceBus/namespaces@2021-11-01' existing = {
  name: namespaceName

  resource queue 'queues' existing = {
    name: queueName
  }
}

resource sender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(namespace::queue.id, principalId, serviceBusDataSender)
  scope: namespace::queue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', serviceBusDataSender)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource receiver 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(namespace::queue.id, principalId, serviceBusDataReceiver)
  scope: namespace::queue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', serviceBusDataReceiver)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
