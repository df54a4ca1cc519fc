// Key Vault (RBAC mode) for the BC and Dataverse app registration's credential. The Function App reads it through
// a Key Vault reference (`@Microsoft.KeyVault(SecretUri=...)` in its app settings, resolved with the user-assigned
// identity, role Key Vault Secrets User); the value never passes through a parameter, an output or a deployment.
//
// The secret is set by the operator after the first deploy (infra/README.md), never by this template:
//   az keyvault secret set --vault-name <AZURE_KEY_VAULT_NAME> --name client-secret --file client-secret.txt
// (or, with AUTH_MODE certificate, the PEM bundle of private key and certificate as secret `client-certificate`).
// `--file` keeps the value out of the shell history. The deploying user gets Key Vault Secrets Officer for this
// step (keyvault-access.bicep) when azd passes its principal id.

@description('Key Vault name: 3-24 letters, digits and hyphens, globally unique.')
@minLength(3)
@maxLength(24)
param name string

@description('Azure region of the vault.')
param location string = resourceGroup().location

@description('Tags applied to every resource.')
param tags object = {}

@description('Purge protection: a deleted vault (and its secrets) stays recoverable for 90 days and cannot be purged. Cannot be turned off once on.')
param enablePurgeProtection bool = true

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    // the API refuses `false`; leaving the property out is how purge protection stays off
    enablePurgeProtection: enablePurgeProtection ? true : null
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

output name string = vault.name
output id string = vault.id
output uri string = vault.properties.vaultUri
