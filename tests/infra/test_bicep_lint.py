"""The Bicep lint (tools/bicep/lint.py): each class of mistake, fed as a small bad sample, gives exactly its finding,
and the correct forms of the same constructs give none (so the zero findings on infra/ mean something)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.bicep.lint import is_sensitive_name, lint_file, lint_paths

OWNER = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
DESCRIBED = "@description('Who gets the role.')\nparam principalId string\n"


def lint(tmp_path: Path, source: str, files: tuple[str, ...] = ()) -> list[tuple[str, int]]:
    """Lint `source` as tmp_path/main.bicep, with the (empty) files named in `files` beside it."""
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    path = tmp_path / "main.bicep"
    path.write_text(source)
    return [(f.code, f.line) for f in lint_file(path)]


def codes(tmp_path: Path, source: str) -> list[str]:
    return [code for code, _ in lint(tmp_path, source)]


GOOD = f"""targetScope = 'resourceGroup'
{DESCRIBED}
@description('Tables to create.')
param tables array = ['Couplings', 'Checkpoints']

@secure()
@description('Only passed on, never output.')
param adminPassword string = ''

var roles = {{ blobOwner: '{OWNER}' }}
var names = [for (t, i) in tables: '${{t}}-${{i}}']
var upper = map(tables, t => toUpper(t))
var total = reduce(tables, 0, (sum, t) => sum + length(t))
var mode = empty(adminPassword) ? 'none' : 'password'

func prefixed(prefix string, name string) string => '${{prefix}}${{name}}'

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {{
  name: prefixed('st', uniqueString(resourceGroup().id))
  location: resourceGroup().location
  kind: 'StorageV2'
  sku: {{ name: 'Standard_LRS' }}
  resource tableService 'tableServices' = {{
    name: 'default'
    resource table 'tables' = [for t in tables: {{ name: t }}]
  }}
}}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {{
  name: 'kv'
}}

resource owner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {{
  name: guid(account.id, principalId, roles.blobOwner)
  scope: account
  properties: {{
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.blobOwner)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }}
}}

module child './app/child.bicep' = {{
  name: 'child'
  params: {{ settings: {{ '${{account.name}}': sys.string(total) }} }}
}}

output keyVaultName string = vault.name
output AZURE_KEY_VAULT_ENDPOINT string = vault.properties.vaultUri
output clientSecretName string = 'client-secret'
output tableEndpoint string = account.properties.primaryEndpoints.table
output tableId string = account::tableService.id
output names array = names
output upper array = upper
output mode string = mode
"""


def test_correct_constructs_give_no_finding(tmp_path: Path) -> None:
    assert lint(tmp_path, GOOD, ("app/child.bicep",)) == []


def test_a_syntax_error_is_reported_and_stops_the_other_rules(tmp_path: Path) -> None:
    assert codes(tmp_path, "param x string = \nvar = 'a'\noutput secret string = x\n") == ["syntax-error"]


@pytest.mark.parametrize(
    "source",
    [
        "var a = 'x'\noutput o string = b\n",  # never declared
        "var names = [for t in ['a']: t]\noutput o string = t\n",  # a loop variable outside its loop
        "var upper = map(['a'], t => t)\nvar v = t\n",  # a lambda variable outside its lambda
        "var v = 'x'\nfunc f(a string) string => '${a}${v}'\n",  # a func body cannot see variables
        "var v = toLowr('X')\n",  # a misspelt function
        "output first string = 'a'\noutput second string = first\n",  # outputs are not symbols
        "resource r 'Microsoft.Storage/storageAccounts@2023-05-01' existing = { name: 'a' }\n"
        "output o string = storage.id\n",  # the resource is called r
    ],
)
def test_undefined_symbol(tmp_path: Path, source: str) -> None:
    assert codes(tmp_path, source) == ["undefined-symbol"]


def test_missing_module_file(tmp_path: Path) -> None:
    source = "module m './app/storage.bicep' = {\n  name: 'm'\n}\n"
    assert lint(tmp_path, source) == [("missing-module", 1)]
    assert lint(tmp_path, source, ("app/storage.bicep",)) == []


def test_missing_loaded_file_and_unpinned_registry_module(tmp_path: Path) -> None:
    assert codes(tmp_path, "var abbrs = loadJsonContent('./abbreviations.json')\n") == ["missing-file"]
    unpinned = "module m 'br/public:avm/res/managed-identity/user-assigned-identity' = {\n  name: 'm'\n}\n"
    assert codes(tmp_path, unpinned) == ["unpinned-module"]
    pinned = unpinned.replace("identity'", "identity:0.4.1'")
    assert codes(tmp_path, pinned) == []


@pytest.mark.parametrize(
    "source",
    [
        "param location string\n",
        "@secure()\nparam clientSecret string\n",
        "@description('')\nparam location string\n",
        "@minLength(1)\n// a comment is no description\nparam location string\n",
    ],
)
def test_parameter_without_description(tmp_path: Path, source: str) -> None:
    assert codes(tmp_path, source) == ["param-description"]


@pytest.mark.parametrize(
    "source",
    [
        f"{DESCRIBED}output clientSecret string = principalId\n",  # the name says secret
        "resource sa 'Microsoft.Storage/storageAccounts@2023-05-01' existing = { name: 'a' }\n"
        "output account string = sa.listKeys().keys[0].value\n",  # a list*() call
        "@secure()\n@description('The app secret.')\nparam appCredential string\n"
        "output value string = appCredential\n",  # a @secure() parameter
        "resource ai 'Microsoft.Insights/components@2020-02-02' existing = { name: 'a' }\n"
        "output ingestion string = ai.properties.ConnectionString\n",  # a connection string property
        "resource kv 'Microsoft.KeyVault/vaults@2023-07-01' existing = { name: 'kv' }\n"
        "output value string = kv.getSecret('client-secret')\n",
    ],
)
def test_secret_in_outputs(tmp_path: Path, source: str) -> None:
    assert codes(tmp_path, source) == ["secret-output"]


@pytest.mark.parametrize(
    "assignment",
    [
        "subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'Storage Blob Data Owner')",
        "'Storage Blob Data Owner'",
        "resourceId('Microsoft.Authorization/roleDefinitions', roleName)",  # through a variable
        "subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.owner)",  # an object member
    ],
)
def test_role_definition_by_name(tmp_path: Path, assignment: str) -> None:
    source = f"""{DESCRIBED}var roleName = 'Reader'
var roles = {{ owner: 'Storage Blob Data Owner' }}
resource ra 'Microsoft.Authorization/roleAssignments@2022-04-01' = {{
  name: guid(resourceGroup().id, principalId, '{OWNER}')
  properties: {{
    roleDefinitionId: {assignment}
    principalId: principalId
  }}
}}
output names array = [roleName, roles.owner]
"""
    assert codes(tmp_path, source) == ["role-by-name"]


def test_role_by_name_in_a_module_parameter_and_an_existing_definition(tmp_path: Path) -> None:
    avm = """module st 'br/public:avm/res/storage/storage-account:0.8.3' = {
  name: 'st'
  params: {
    roleAssignments: [{ principalId: 'x', roleDefinitionIdOrName: 'Storage Blob Data Owner' }]
  }
}
"""
    assert codes(tmp_path, avm) == ["role-by-name"]
    existing = "resource reader 'Microsoft.Authorization/roleDefinitions@2022-04-01' existing = { name: 'Reader' }\n"
    assert codes(tmp_path, existing) == ["role-by-name"]
    assert codes(tmp_path, existing.replace("'Reader'", f"'{OWNER}'")) == []


@pytest.mark.parametrize(
    ("name", "sensitive"),
    [
        ("storageKey", True),
        ("APPLICATIONINSIGHTS_CONNECTION_STRING", True),
        ("instrumentationKey", True),
        ("adminPassword", True),
        ("keyVaultName", False),
        ("AZURE_KEY_VAULT_ENDPOINT", False),
        ("clientSecretName", False),
        ("secretUri", False),
        ("identityClientId", False),
        ("credentialSecretName", False),
        ("KEY_VAULT_CREDENTIAL_NAME", False),
        ("secretValue", True),
    ],
)
def test_sensitive_names(name: str, sensitive: bool) -> None:
    assert is_sensitive_name(name) is sensitive


def test_lint_paths_reads_every_bicep_file_under_a_directory(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "a.bicep").write_text("param location string\n")
    (tmp_path / "b.bicep").write_text("var a = b\n")
    (tmp_path / "notes.md").write_text("param x string\n")
    assert sorted(f.code for f in lint_paths([tmp_path])) == ["param-description", "undefined-symbol"]
