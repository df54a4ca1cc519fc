"""Sales -> us in seconds (issue 23): the registration of the app's Dataverse webhook, its endpoint and its steps.

Why its own module: registering is a reconciliation run by the notifications timer (a few dozen requests, writes only
when something is wrong), while a post (`notifications_dataverse.py`) runs on every change; the two share only the
stored endpoint, a company's mappings and the deployment's client, which they import from there.

Registration (`ensure_registration`, run by the notifications timer and callable by hand): one `serviceendpoint`
(contract 8 Webhook, authtype 5 HttpHeader, the header secret of `storage/dataverse_endpoints.py`, JSON) posting to
`<NOTIFICATION_BASE_URL>/api/notifications/dataverse`, and one asynchronous post-operation step per message (Create,
Update, Delete) of every Dataverse table an enabled mapping of any company reads (`mappings_reading_dataverse`'s
rule). The Update step's filtering attributes are the union, over those mappings and companies, of the attributes
they carry to BC, `statecode`, and the attributes their Dataverse filters name, each kept only when the table has it
(one metadata read per table): a write of an attribute no mapping reads wakes nothing, and a deactivation or a row
leaving a mapping's filter still does. Each run repairs what it finds: a missing endpoint or step is made, a step
whose filtering attributes or state differ is corrected, a step of the wrong stage or mode is deleted and made again,
a step no mapping needs is deleted; a run that finds everything right writes nothing. Step ids derive from the
endpoint and the step's (message, table), and every create is create-only, so two instances registering at once make
one of each.

Cost: a registration run makes about 3 + 2 x tables requests when nothing changed (endpoint, messages, steps, and
per table its filters and its attribute names), plus one per step created, corrected or deleted.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from shared.domain.mapping import Direction, TableMapping
from shared.domain.odata_lexer import FilterError, tokenize
from shared.services.notifications_dataverse import Companies, Endpoint, company_mappings
from shared.services.notifications_dataverse import deployment_client as _client
from shared.services.wake import readers

ENDPOINTS, STEPS, MESSAGES, FILTERS = (
    "serviceendpoints",
    "sdkmessageprocessingsteps",
    "sdkmessages",
    "sdkmessagefilters",
)
MESSAGE_NAMES = ("Create", "Update", "Delete")
WEBHOOK, HTTP_HEADER, JSON_FORMAT = 8, 5, 2
POST_OPERATION, ASYNCHRONOUS, ENABLED, ENABLED_STATUS = 40, 1, 0, 1
ENDPOINT_NAME = "bc-sales-sync"
STEP_PREFIX = "bc-sales-sync: "
_STEP_NAMESPACE = uuid.UUID("2f7c9a1e-6d3b-4e85-b0a4-9c1d7e3f5a28")
_KEYWORDS = frozenset({"eq", "ne", "gt", "ge", "lt", "le", "and", "or", "not", "null", "true", "false", "in"})
_LOOKUP_VALUE = re.compile(r"^_(?P<name>.+)_value$")


class NotificationSettings(Protocol):
    """`settings.DataverseNotificationSettings`, as this module reads it."""

    @property
    def active(self) -> bool: ...

    @property
    def notification_url(self) -> str: ...

    @property
    def wake_window_seconds(self) -> int: ...


class EndpointStore(Protocol):
    """`storage/dataverse_endpoints.DataverseEndpointStore`: the deployment's one endpoint row."""

    def get(self) -> Endpoint | None: ...

    def create(self, url: str) -> Endpoint: ...

    def moved(self, record: Endpoint, url: str) -> Endpoint: ...

    def delete(self) -> None: ...


# -- which tables and attributes -----------------------------------------------------------------------------------
def filter_attributes(text: str | None) -> set[str]:
    """The attribute names an OData `$filter` mentions (`_x_value` as `x`); none for an unreadable filter."""
    names: set[str] = set()
    try:
        for token in tokenize(text or ""):
            if token.kind == "name" and token.text.lower() not in _KEYWORDS:
                match = _LOOKUP_VALUE.match(token.text)
                names.add(match.group("name") if match else token.text)
    except FilterError:
        return set()
    return names


def wanted_attributes(mappings: Iterable[TableMapping]) -> dict[str, set[str]]:
    """Dataverse table -> the attributes whose change should wake its readers (before the table's own check)."""
    wanted: dict[str, set[str]] = {}
    for mapping in readers(mappings, Direction.FROM_DATAVERSE):
        names = wanted.setdefault(mapping.dataverse_table, set())
        names.update(f.dataverse_field for f in mapping.field_mappings(Direction.FROM_DATAVERSE) if f.dataverse_field)
        names.add("statecode")
        names.update(filter_attributes(mapping.dataverse_filter))
    return wanted


# -- registration --------------------------------------------------------------------------------------------------
@dataclass
class RegistrationReport:
    """What a run found and did (ids only: never the secret)."""

    enabled: bool
    endpoint: str | None = None
    url: str | None = None
    endpoint_action: str = "none"  # none | created | repaired | removed
    created: list[str] = field(default_factory=list)  # "<message> <table>"
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    tables: dict[str, list[str]] = field(default_factory=dict)  # table -> its Update step's filtering attributes

    @property
    def changed(self) -> bool:
        return self.endpoint_action != "none" or bool(self.created or self.updated or self.deleted)

    def as_dict(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "endpoint": self.endpoint,
            "url": self.url,
            "endpointAction": self.endpoint_action,
            "created": self.created,
            "updated": self.updated,
            "deleted": self.deleted,
            "tables": self.tables,
        }


def ensure_registration(
    services: Any, companies: Companies, settings: NotificationSettings, store: EndpointStore
) -> RegistrationReport:
    """Create or repair the webhook and its steps for the mappings of `companies`, with `services`' Dataverse client
    (the deployment's: the primary company's) and the endpoint row of `store`. Off (NOTIFICATIONS_DATAVERSE not true or
    NOTIFICATION_BASE_URL empty): nothing is registered, and what this app registered is removed (`_remove`: its steps,
    its endpoint, its stored row), as the BC side deletes its subscriptions when switched off; with nothing stored,
    nothing is asked of Dataverse. `triggers/notifications_dataverse.ensure_registration` wires the arguments from the
    app settings."""
    report = RegistrationReport(settings.active)
    dataverse = services.context.dataverse
    if not settings.active:
        _remove(dataverse, store, report)
        return report
    record = _ensure_endpoint(dataverse, store, settings.notification_url, report)
    wanted: dict[str, set[str]] = {}
    for _, company in companies:
        for table, names in wanted_attributes(company_mappings(company)).items():
            wanted.setdefault(table, set()).update(names)
    messages = {row["name"]: str(row["sdkmessageid"]).lower() for row in _messages(dataverse)}
    desired: dict[tuple[str, str], tuple[str, str | None]] = {}  # (message, table) -> (filter id, attributes)
    for table in sorted(wanted):
        filters = _filters(dataverse, table, messages)
        attributes = sorted(wanted[table] & _attribute_names(dataverse, table))
        report.tables[table] = attributes
        for message in MESSAGE_NAMES:
            if message in filters:
                desired[(message, table)] = (filters[message], ",".join(attributes) if message == "Update" else None)
    _reconcile_steps(dataverse, record.endpoint_id, messages, desired, report)
    return report


def _remove(dataverse: Any, store: EndpointStore, report: RegistrationReport) -> None:
    """Switched off: delete the steps on our endpoint, the endpoint and its stored row (a step or endpoint an admin
    deleted already is no error). Steps first: Dataverse refuses to delete an endpoint steps still use (UNCONFIRMED:
    the strict reading)."""
    record = store.get()
    if record is None:
        return
    steps = _client(dataverse).query_rows(STEPS, ["sdkmessageprocessingstepid", "name"],
                                          f"_eventhandler_value eq {record.endpoint_id}")  # fmt: skip
    for step in steps:
        dataverse.delete_row(STEPS, str(step["sdkmessageprocessingstepid"]))
        report.deleted.append(str(step.get("name") or step["sdkmessageprocessingstepid"]))
    if _client(dataverse).query_rows(ENDPOINTS, ["serviceendpointid"], f"serviceendpointid eq {record.endpoint_id}"):
        dataverse.delete_row(ENDPOINTS, record.endpoint_id)
    store.delete()
    report.endpoint, report.endpoint_action = record.endpoint_id, "removed"


def _ensure_endpoint(dataverse: Any, store: EndpointStore, url: str, report: RegistrationReport) -> Endpoint:
    record = store.get()
    if record is None:
        record = store.create(url)
    found = _client(dataverse).query_rows(ENDPOINTS, ["serviceendpointid", "url", "contract", "authtype"],
                  f"serviceendpointid eq {record.endpoint_id}")  # fmt: skip
    if record.url != url:
        record = store.moved(record, url)
    body = {
        "name": ENDPOINT_NAME,
        "description": "bc-sales-sync: change notifications (issue 23). Managed by the app: do not edit.",
        "url": url,
        "contract": WEBHOOK,
        "authtype": HTTP_HEADER,
        "authvalue": _auth_value(record),
        "messageformat": JSON_FORMAT,
    }
    if not found:
        dataverse.create_row(ENDPOINTS, record.endpoint_id, body)
        report.endpoint_action = "created"
    elif found[0].get("url") != url or found[0].get("contract") != WEBHOOK or found[0].get("authtype") != HTTP_HEADER:
        dataverse.update_row(ENDPOINTS, record.endpoint_id, body)
        report.endpoint_action = "repaired"
    report.endpoint, report.url = record.endpoint_id, url
    return record


def _auth_value(record: Endpoint) -> str:
    """HttpHeader's key/value pairs as the Plug-in Registration Tool stores them (local/emulators/dataverse/
    webhooks.py says where that form comes from); the secret is URL-safe base64, so nothing needs escaping."""
    return f'<settings><setting name="{record.header}" value="{record.secret}" /></settings>'


def _messages(dataverse: Any) -> list[dict[str, Any]]:
    where = " or ".join(f"name eq {literal(name)}" for name in MESSAGE_NAMES)
    rows: list[dict[str, Any]] = _client(dataverse).query_rows(MESSAGES, ["sdkmessageid", "name"], where)
    return rows


def _filters(dataverse: Any, table: str, messages: Mapping[str, str]) -> dict[str, str]:
    """Message name -> the `sdkmessagefilter` of `table` for it (a message the table does not take is absent)."""
    by_id = {message_id: name for name, message_id in messages.items()}
    where = f"primaryobjecttypecode eq {literal(table)}"
    found: dict[str, str] = {}
    for row in _client(dataverse).query_rows(FILTERS, ["sdkmessagefilterid", "_sdkmessageid_value"], where):
        name = by_id.get(str(row.get("_sdkmessageid_value") or "").lower())
        if name is not None:
            found[name] = str(row["sdkmessagefilterid"]).lower()
    return found


def _attribute_names(dataverse: Any, table: str) -> set[str]:
    rows = _client(dataverse).query_rows(f"EntityDefinitions(LogicalName={literal(table)})/Attributes", ["LogicalName"])
    return {str(row["LogicalName"]) for row in rows}


def step_id(endpoint_id: str, message: str, table: str) -> str:
    return str(uuid.uuid5(_STEP_NAMESPACE, f"{endpoint_id.lower()}:{message}:{table}"))


def _reconcile_steps(
    dataverse: Any,
    endpoint_id: str,
    messages: Mapping[str, str],
    desired: Mapping[tuple[str, str], tuple[str, str | None]],
    report: RegistrationReport,
) -> None:
    select = ["sdkmessageprocessingstepid", "_sdkmessageid_value", "_sdkmessagefilterid_value", "filteringattributes",
              "stage", "mode", "statecode"]  # fmt: skip
    existing = _client(dataverse).query_rows(STEPS, select, f"_eventhandler_value eq {endpoint_id}")
    by_filter = {filter_id: key for key, (filter_id, _) in desired.items()}
    kept: set[tuple[str, str]] = set()
    for step in existing:
        row_id = str(step["sdkmessageprocessingstepid"])
        key = by_filter.get(str(step.get("_sdkmessagefilterid_value") or "").lower())
        message_id = str(step.get("_sdkmessageid_value") or "").lower()
        if (
            key is None
            or key in kept
            or messages.get(key[0]) != message_id
            or step.get("mode") != ASYNCHRONOUS
            or (step.get("stage") != POST_OPERATION)
        ):
            dataverse.delete_row(STEPS, row_id)
            report.deleted.append(f"{key[0]} {key[1]}" if key else row_id)
            continue
        kept.add(key)
        attributes = desired[key][1]
        if _attribute_set(step.get("filteringattributes")) != _attribute_set(attributes) or (
            step.get("statecode") != ENABLED
        ):
            patch = {"filteringattributes": attributes, "statecode": ENABLED, "statuscode": ENABLED_STATUS}
            dataverse.update_row(STEPS, row_id, patch)
            report.updated.append(f"{key[0]} {key[1]}")
    for key, (filter_id, attributes) in sorted(desired.items()):
        if key in kept:
            continue
        message, table = key
        body: dict[str, Any] = {
            "name": f"{STEP_PREFIX}{message} of {table}",
            "description": "Wakes the mappings reading this table (issue 23). Managed by the app: do not edit.",
            "sdkmessageid@odata.bind": f"/{MESSAGES}({messages[message]})",
            "sdkmessagefilterid@odata.bind": f"/{FILTERS}({filter_id})",
            "eventhandler_serviceendpoint@odata.bind": f"/{ENDPOINTS}({endpoint_id})",
            "stage": POST_OPERATION,
            "mode": ASYNCHRONOUS,
            "rank": 1,
            "asyncautodelete": True,
            "supporteddeployment": 0,
        }
        if attributes:
            body["filteringattributes"] = attributes
        dataverse.create_row(STEPS, step_id(endpoint_id, message, table), body)
        report.created.append(f"{message} {table}")


def literal(text: str) -> str:
    """An OData string literal."""
    return "'" + text.replace("'", "''") + "'"


def _attribute_set(text: Any) -> frozenset[str]:
    return frozenset(a.strip() for a in str(text or "").split(",") if a.strip())
