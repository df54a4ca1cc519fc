// Service Bus (Standard) with the `sync-jobs` queue: full-sync chunks, mapping runs and match-coupling jobs
// (docs/architecture.md section 1). Local (SAS) auth is disabled: only Entra identities with a data role can send
// or receive (servicebus-access.bicep). API 2021-11-01 is the latest GA version; it has no minimumTlsVersion
// property (Service Bus accepts TLS 1.2+ only since the platform retired TLS 1.0/1.1).

@description('Service Bus namespace name: 6-50 letters, digits and hyphens, globally unique.')
@minLength(6)
@maxLength(50)
param name string

@description('Azure region of the namespace.')
param location string = resourceGroup().location

@description('Tags applied to every resource.')
param tags object = {}

@description('Queue of sync jobs (the app setting SYNC_JOBS_QUEUE).')
param queueName string = 'sync-jobs'

// Why PT2M: the lock must outlast one job so a healthy worker never loses its message to a second worker. A full
// sync chunk is 200 records (shared/services/full_sync.py CHUNK_RECORDS) and takes well under a minute even with
// 429 back-off, so 2 minutes is a margin of 2x or more; the Functions host also renews the lock while the function
// runs (host.json maxAutoLockRenewalDuration). A short lock means the message of a crashed worker is delivered
// again after 2 minutes instead of 5 (the maximum Service Bus allows).
@description('How long a receiver holds a message before it is delivered again (ISO 8601, at most PT5M).')
param lockDuration string = 'PT2M'

// At least 10 minutes: a job re-enqueued by a retry within the window (same message id) is dropped by the broker.
// Duplicate detection can only be chosen when the queue is created; the window can change later.
@description('Duplicate detection window (ISO 8601, at least PT10M): same message id within it = dropped.')
param duplicateDetectionWindow string = 'PT10M'

resource namespace 'Microsoft.ServiceBus/namespaces@2021-11-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: 'Standard'
    tier: 'Standard'
  }
  properties: {
    disableLocalAuth: true
  }

  resource queue 'queues' = {
    name: queueName
    properties: {
      lockDuration: lockDuration
      maxDeliveryCount: 10
      requiresDuplicateDetection: true
      duplicateDetectionHistoryTimeWindow: duplicateDetectionWindow
      deadLetteringOnMessageExpiration: true
      defaultMessageTimeToLive: 'P14D'
      requiresSession: false
      enablePartitioning: false
    }
  }
}

output name string = namespace.name
output id string = namespace.id
output queueName string = namespace::queue.name
// <namespace>.servicebus.windows.net (from the endpoint, so sovereign clouds get their own suffix)
output fullyQualifiedNamespace string = split(replace(namespace.properties.serviceBusEndpoint, 'https://', ''), ':')[0]
