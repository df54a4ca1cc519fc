// Roles on the Key Vault. The app identity reads secret values (Key Vault Secrets User: no list of keys or
// certificates, no write) to resolve its Key Vault references. The operator who ran azd may write secrets (Key
// Vault Secrets Officer) so the post-deploy `az keyvault secret set` works; leave operatorPrincipalId empty to
// grant that elsewhere. Assignment names are guid(scope, principal, role).

@description('Key Vault the roles are scoped to.')
param keyVaultName string

@description('Principal (object) id of the app\'s user-assigned identity.')
param principalId string

@description('Object id of the operator who sets the secret after deploy (azd: AZURE_PRINCIPAL_ID); empty: none.')
param operatorPrincipalId string = ''

@description('Kind of principal the operator is.')
@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param operatorPrincipalType string = 'User'

// Built-in role definition ids
var keyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6'
var keyVaultSecretsOfficer = 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource secretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, principalId, keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource secretsOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(operatorPrincipalId)) {
  name: guid(vault.id, operatorPrincipalId, keyVaultSecretsOfficer)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsOfficer)
    principalId: operatorPrincipalId
    principalType: operatorPrincipalType
  }
}
