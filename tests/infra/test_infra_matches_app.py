"""infra/ agrees with the code it deploys: every app setting the app reads is set, the tables are the app's tables,
the queue has the delivery rules the job design relies on, and the roles are exactly the least-privilege set.
Read from the syntax trees, so a renamed setting or table fails here rather than in Azure."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from tree_sitter import Node

from shared.engine.setup import KEYS
from shared.settings import COMPANIES_SETTING
from shared.storage.tables import TABLE_NAMES
from tools.bicep.syntax import BicepFile, object_entries, string_value, text, walk

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
ROLE_GUIDS = {
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": "Storage Blob Data Owner",
    "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3": "Storage Table Data Contributor",
    "69a216fc-b8fb-44d8-bc22-1f3c2cd27a39": "Azure Service Bus Data Sender",
    "4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0": "Azure Service Bus Data Receiver",
    "4633458b-17de-408a-b874-0445c86b69e6": "Key Vault Secrets User",
    "3913510d-42f4-4e42-8a64-420c390055eb": "Monitoring Metrics Publisher",
    "b86a8fe4-44ce-4948-aee5-eccb2c155cd7": "Key Vault Secrets Officer",  # the operator, to set the secret
}


def bicep(name: str) -> BicepFile:
    return BicepFile(INFRA / name, name)


def properties(f: BicepFile, key: str) -> Iterator[Node]:
    """The values of every object property named `key` in the file."""
    for node in walk(f.root):
        if node.type == "object":
            for k, value in object_entries(node):
                if k == key:
                    yield value


def only(f: BicepFile, key: str) -> str:
    [value] = [text(v) for v in properties(f, key)]
    return value


def setting_names() -> set[str]:
    """App setting names the deployment sets: object keys of main.bicep's appSettings and functionapp.bicep."""
    names: set[str] = set()
    for f in (bicep("main.bicep"), bicep("app/functionapp.bicep")):
        for node in walk(f.root):
            if node.type == "object":
                names.update(k for k, _ in object_entries(node) if re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", k))
    return names


def settings_the_app_reads() -> set[str]:
    settings_py = (ROOT / "shared" / "settings.py").read_text()
    triggers = "\n".join(p.read_text() for p in (ROOT / "shared" / "triggers").glob("*.py"))
    return (
        set(re.findall(r'need\("([A-Z_]+)"\)', settings_py))
        | set(re.findall(r"%([A-Z][A-Z0-9_]+)%", triggers))
        | set(re.findall(r'"([A-Z][A-Z0-9_]*_SCHEDULE)"', triggers))
        | {key.app_setting for key in KEYS}
    )


def test_every_setting_the_app_reads_is_set() -> None:
    expected = settings_the_app_reads() | {
        "AUTH_MODE", "CLIENT_SECRET", "CLIENT_CERTIFICATE", "STORAGE_ACCOUNT_URL", "AZURE_CLIENT_ID",
        "SYNC_JOBS_QUEUE", "LOCAL_CURRENCY", "TABLE_PREFIX", "MALLOC_ARENA_MAX",
        "AzureWebJobsStorage__accountName", "AzureWebJobsStorage__credential", "AzureWebJobsStorage__clientId",
        "ServiceBusConnection__fullyQualifiedNamespace", "ServiceBusConnection__credential",
        "ServiceBusConnection__clientId",
        "APPLICATIONINSIGHTS_CONNECTION_STRING", "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
    }  # fmt: skip
    assert {"BC_BASE_URL", "SYNC_SCHEDULE", "ITEM_AVAILABILITY_SCHEDULE", "BC_PAGE_SERVICES"} <= expected
    assert expected - setting_names() == set()


def test_no_connection_setting_carries_a_key() -> None:
    names = setting_names()
    assert "AzureWebJobsStorage" not in names  # a connection string would be an account key
    assert "ServiceBusConnection" not in names
    f = bicep("app/functionapp.bicep")
    assert {text(v) for v in properties(f, "AzureWebJobsStorage__credential")} == {"'managedidentity'"}
    reference = text(next(iter(f.values[n] for n in f.values if n == "credentialReference")))
    assert reference.startswith("'@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/")


def test_the_tables_are_the_apps_tables() -> None:
    main = bicep("main.bicep")
    listed = [string_value(n) for n in walk(main.values["tableBaseNames"]) if n.type == "string"]
    assert tuple(listed) == TABLE_NAMES
    assert text(main.values["tableNames"]) == "[for table in tableBaseNames: '${tablePrefix}${table}']"


def test_several_companies_are_one_app_setting_whose_default_is_today_s_one_company() -> None:
    """BC_COMPANIES (issue 22) is passed from the parameter bcCompanies, whose default (empty) is the app's single
    company; each company given a key gets its tables (prefix + key + table: `bootstrap.build_services`'s names).
    Read from the syntax tree (no Bicep compiler here): the wiring, not an evaluation."""
    main = bicep("main.bicep")
    assert COMPANIES_SETTING == "BC_COMPANIES"
    assert [text(v) for v in properties(main, COMPANIES_SETTING)] == ["bcCompanies"]
    assert text(main.values["bcCompanies"]) == "''"
    assert [text(v) for v in properties(main, "tableNames")] == ["concat(tableNames, companyTableNames)"]
    keys, tables = text(main.values["companyKeys"]), text(main.values["companyTableNames"])
    assert "json(empty(bcCompanies) ? '[]' : bcCompanies)" in keys and "contains(company, 'key')" in keys
    assert "${tablePrefix}${companyKeys[i / length(tableBaseNames)]}${tableBaseNames[i % length(tableBaseNames)]}" in (
        tables
    )
    assert "range(0, length(companyKeys) * length(tableBaseNames))" in tables


def test_the_queue_delivers_as_the_job_design_expects() -> None:
    f = bicep("app/servicebus.bicep")
    assert text(f.values["lockDuration"]) == "'PT2M'"  # <= PT5M, the Service Bus maximum
    assert only(f, "maxDeliveryCount") == "10"
    assert only(f, "requiresDuplicateDetection") == "true"
    window = re.fullmatch(r"'PT(\d+)M'", text(f.values["duplicateDetectionWindow"]))
    assert window and int(window.group(1)) >= 10
    assert only(f, "deadLetteringOnMessageExpiration") == "true"
    assert only(f, "disableLocalAuth") == "true"
    assert text(bicep("main.bicep").values["queueName"]) == "'sync-jobs'"


def test_no_local_auth_anywhere() -> None:
    assert only(bicep("app/storage.bicep"), "allowSharedKeyAccess") == "false"
    assert only(bicep("app/keyvault.bicep"), "enableRbacAuthorization") == "true"
    assert only(bicep("app/monitoring.bicep"), "disableLocalAuth") == "true"


def role_assignments() -> Iterator[tuple[BicepFile, Node]]:
    for path in sorted(INFRA.rglob("*.bicep")):
        f = BicepFile(path, path.relative_to(INFRA).as_posix())
        for node in f.declarations:
            if node.type == "resource_declaration" and "Microsoft.Authorization/roleAssignments@" in text(node):
                yield f, node


def last_argument(f: BicepFile, call: Node) -> list[str]:
    """The possible values of the last argument of the first call in `call` (the role of guid(...) and of
    subscriptionResourceId(...))."""
    arguments = next(n for n in walk(call) if n.type == "arguments").named_children
    return f.possible_strings(arguments[-1])


def test_roles_are_exactly_the_least_privilege_set_by_guid() -> None:
    granted: set[str] = set()
    for f, node in role_assignments():
        body = node.named_children[-1]
        if body.type == "if_statement":  # a conditional assignment: `= if (...) { ... }`
            body = body.named_children[-1]
        entries = dict(object_entries(body))
        [role_id] = [v for k, v in object_entries(entries["properties"]) if k == "roleDefinitionId"]
        [role] = last_argument(f, role_id)
        # named guid(scope, principal, role), with the same role as the roleDefinitionId
        assert re.fullmatch(r"guid\([\w:.]+\.id, \w+, \w+\)", text(entries["name"])), text(entries["name"])
        assert last_argument(f, entries["name"]) == [role]
        granted.add(role)
    assert granted == set(ROLE_GUIDS), {ROLE_GUIDS.get(g, g) for g in granted ^ set(ROLE_GUIDS)}


def test_key_vault_reference_uses_the_apps_identity() -> None:
    f = bicep("app/functionapp.bicep")
    assert only(f, "keyVaultReferenceIdentity") == "identityId"
    assert "type: 'UserAssigned'" in text(f.root)  # the site runs as the user-assigned identity only
