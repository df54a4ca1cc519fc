"""Webhooks: service endpoints (contract 8), the asynchronous steps registered on them, and the execution context
posted to the endpoint after a committed write.

Sources (MicrosoftDocs/powerapps-docs, developer/data-platform/):
- register-web-hook.md: a webhook is a `serviceendpoint` with contract 8; its steps are `sdkmessageprocessingstep`
  rows whose event handler is the endpoint (`eventhandler_serviceendpoint`), with a message (`sdkmessageid`), a table
  (`sdkmessagefilterid`, whose `primaryobjecttypecode` names it), a stage, a mode and filtering attributes; the
  authentication values are in `authvalue` and "cannot be retrieved" (IsValidForRead false, serviceendpoint.md).
  HttpHeader auth "includes one or more key values pairs in the header of the http request". How `authvalue` carries
  them through the Web API is not in Microsoft's pages: the Plug-in Registration Tool stores
  `<settings><setting name="Key1" value="Value1" /></settings>` (the same form in the PowerShell Gallery module
  Dataverse 1.1.0, New-PSDVTableWebHook); the emulator takes that form and refuses anything else (400).
- use-webhooks.md: the body is the JSON of a `RemoteExecutionContext` (the sample there is the shape built below),
  with headers `x-ms-dynamics-organization`, `x-ms-dynamics-entity-name`, `x-ms-dynamics-request-name` and
  `x-ms-correlation-request-id`; the timeout is 60 seconds; a post fails unless it answers 2xx, and "the WebHook
  service will make one more attempt only when" it answers 502, 503 or 504. So: at most two attempts, the second
  only after those three codes (a timeout, a refused connection or any other status fails the job at once).
- api-facts.md B12: the bulk messages fire the single-record messages' events for every target (actions.py goes
  through `Writer.create/update`, which record them).
- Registered WebHooks support only ports 80 and 443 (register-web-hook.md). The emulator allows any port on a
  loopback host (the local Functions host listens on 7071): a documented deviation, for local runs only.

What is emulated and what is not, said here:
- Only asynchronous (mode 1) post-operation (stage 40) steps on a webhook: the async service posts after the
  transaction committed, so a write rolled back (a failed change set, a refused bulk message) posts nothing. A
  synchronous step, a Service Bus / Event Hub / Event Grid contract, or a step on anything but a service endpoint is
  refused (501) rather than half emulated.
- Messages Create, Update and Delete. An Update fires a step with filtering attributes only when the request set at
  least one of them (set, not changed: a write of the same value fires it too, UNCONFIRMED, the strict reading). The
  platform's own writes (a header's recalculated totals, a unit group's base unit, a business unit's default team,
  the new revision ReviseQuote copies) fire nothing here (UNCONFIRMED). A state change through a close message
  (WinQuote, FulfillSalesOrder, ...) fires Update with statecode and statuscode (UNCONFIRMED: the real service raises
  the message's own event as well).
- The delay between the commit and the post: the async service picks jobs up "near-immediately" (issue 23; no
  figure is documented: UNCONFIRMED); the default is `DEFAULT_DELAY_SECONDS`, set by `DATAVERSE_WEBHOOK_DELAY_SECONDS`
  or `POST /_admin/webhooks {"delaySeconds": ...}`. The wait before the one retry is UNCONFIRMED too
  (`retryDelaySeconds`, default 1 s). Jobs are posted one at a time, in commit order.
- The post's outcome is kept for `GET /_admin/webhooks` (never the auth values). Failed system jobs
  (asyncoperation rows) are not written.
"""

from __future__ import annotations

import heapq
import ipaddress
import itertools
import json
import os
import threading
import time
import urllib.error
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from local.emulators.dataverse import organization
from local.emulators.dataverse.errors import NOT_SUPPORTED, DataverseError, bad_payload, invalid
from local.emulators.dataverse.schema import Schema, Table
from local.emulators.service import admin_body
from local.emulators.store import Row, Store
from local.emulators.web import Request, Response

ENDPOINT, STEP, MESSAGE, FILTER = "serviceendpoint", "sdkmessageprocessingstep", "sdkmessage", "sdkmessagefilter"
SYSTEM_TABLES = frozenset({ENDPOINT, STEP, MESSAGE, FILTER, "asyncoperation"})
MESSAGES = ("Create", "Update", "Delete")
WEBHOOK, WEBHOOK_KEY, HTTP_HEADER, HTTP_QUERY_STRING = 8, 4, 5, 6
POST_OPERATION, ASYNCHRONOUS, ENABLED = 40, 1, 0
SECRET = "@secret:authvalue"  # noqa: S105 - internal row key: where the write-only authvalue is kept (never read back)
RETRIED_STATUSES = frozenset({502, 503, 504})
MAX_ATTEMPTS = 2
DEFAULT_DELAY_SECONDS = 0.25
DEFAULT_RETRY_DELAY_SECONDS = 1.0
TIMEOUT_SECONDS = 60.0
CONTRACTS = "http://schemas.microsoft.com/xrm/2011/Contracts"
_NAMESPACE = uuid.UUID("7d0c4e2a-5b1f-4f8e-9c3a-2e6b8d1f0a47")


@dataclass(frozen=True)
class WriteEvent:
    """A write as the event pipeline sees it: the message, the row, who asked, and (Update) what the request set."""

    message: str
    table: str
    row_id: str
    user_id: str
    attributes: frozenset[str]
    target: Mapping[str, Any]
    at: float = field(default_factory=time.time)


class EventStore(Store):
    """The store, plus the events of the writes made in it: held while a transaction is open, dropped when it rolls
    back, handed to `on_commit` when the outermost one commits (a write outside any transaction commits at once)."""

    def __init__(self) -> None:
        super().__init__()
        self.pending: list[WriteEvent] = []
        self._depth = 0
        self.on_commit: Callable[[list[WriteEvent]], None] = lambda events: None

    def record(self, event: WriteEvent) -> None:
        with self.lock:
            if self._depth:
                self.pending.append(event)
            else:
                self.on_commit([event])

    def clear(self) -> None:
        with self.lock:
            super().clear()
            self.pending.clear()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.lock:
            mark = len(self.pending)
            self._depth += 1
            try:
                with super().transaction():
                    yield
            except BaseException:
                del self.pending[mark:]
                raise
            finally:
                self._depth -= 1
            if self._depth == 0 and self.pending:
                events, self.pending = self.pending, []
                self.on_commit(events)


# -- the system rows a registration looks up ---------------------------------------------------------------------
def message_id(name: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"sdkmessage:{name}"))


def filter_id(message: str, table: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"sdkmessagefilter:{message}:{table}"))


def ensure_catalog(store: Store, schema: Schema) -> None:
    """The `sdkmessage` rows (Create, Update, Delete) and one `sdkmessagefilter` per message and business table, as
    every org has them (system rows: untracked, put back after a reset on the next request)."""
    if store.get(MESSAGE, message_id(MESSAGES[-1])) is not None:
        return
    with store.transaction():
        for name in MESSAGES:
            version = store.next_version()
            row = {"sdkmessageid": message_id(name), "name": name, "categoryname": "Standard", "versionnumber": version}
            store.put(MESSAGE, message_id(name), row, version=version, track=False)
            for table in schema.tables:
                if table in SYSTEM_TABLES:
                    continue
                version = store.next_version()
                row = {
                    "sdkmessagefilterid": filter_id(name, table),
                    "name": f"{name} of {table}",
                    "_sdkmessageid_value": message_id(name),
                    "@lookup:sdkmessageid": MESSAGE,
                    "primaryobjecttypecode": table,
                    "secondaryobjecttypecode": "none",
                    "iscustomprocessingstepallowed": True,
                    "versionnumber": version,
                }
                store.put(FILTER, filter_id(name, table), row, version=version, track=False)


# -- registration rules ------------------------------------------------------------------------------------------
def check_write(store: Store, schema: Schema, table: Table, row: Row) -> None:
    """The rules of a service endpoint or a step being written (`row` is the row as it will be stored)."""
    if table.logical_name == ENDPOINT:
        _check_endpoint(row)
    elif table.logical_name == STEP:
        _check_step(store, schema, row)


def _check_endpoint(row: Row) -> None:
    if row.get("contract") != WEBHOOK:
        raise DataverseError(501, NOT_SUPPORTED, "Only webhook service endpoints (contract 8) are emulated.")
    _check_url(row.get("url"))
    authtype = row.get("authtype")
    if authtype not in (WEBHOOK_KEY, HTTP_HEADER, HTTP_QUERY_STRING):
        raise invalid("A webhook's authtype must be 4 (WebhookKey), 5 (HttpHeader) or 6 (HttpQueryString).")
    if row.get("authvalue") is not None:
        value = str(row["authvalue"])
        auth_pairs(authtype, value)  # refuses a malformed value
        row[SECRET] = value
        row["authvalue"] = None  # write-only: never served back
    if not row.get(SECRET):
        raise invalid("A webhook needs its authentication values (authvalue).")
    auth_pairs(authtype, row[SECRET])  # the type changed: the kept value must suit it
    row["isauthvalueset"] = True


def _check_url(url: Any) -> None:
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise invalid("A webhook's url must be an absolute http or https URL.")
    if _loopback(parts.hostname):
        return
    default = 80 if parts.scheme == "http" else 443
    if (parts.port or default) not in (80, 443):
        raise invalid("Registered WebHooks support only port 80 for HTTP and port 443 for HTTPS.")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def auth_pairs(authtype: Any, value: str) -> list[tuple[str, str]]:
    """The key/value pairs of `authvalue`: the settings XML for HttpHeader and HttpQueryString, `code` for WebhookKey;
    400 for anything else."""
    if authtype == WEBHOOK_KEY:
        if not value.strip():
            raise bad_payload("A WebhookKey authvalue is the key's value: it cannot be empty.")
        return [("code", value)]
    try:
        root = ET.fromstring(value)  # noqa: S314 - the caller's own registration text, not fetched input
    except ET.ParseError:
        raise bad_payload('authvalue must be <settings><setting name="..." value="..." /></settings>.') from None
    pairs = [(item.get("name") or "", item.get("value") or "") for item in root if item.tag == "setting"]
    if root.tag != "settings" or not pairs or len(pairs) != len(root) or any(not name for name, _ in pairs):
        raise bad_payload('authvalue must be <settings><setting name="..." value="..." /></settings>.')
    return pairs


def _check_step(store: Store, schema: Schema, row: Row) -> None:
    if row.get("@lookup:eventhandler", ENDPOINT) != ENDPOINT or store.get(ENDPOINT, row["_eventhandler_value"]) is None:
        raise DataverseError(501, NOT_SUPPORTED, "Only steps on a webhook service endpoint are emulated.")
    if row.get("mode") != ASYNCHRONOUS:
        raise DataverseError(501, NOT_SUPPORTED, "Synchronous webhook steps are not emulated: register mode 1.")
    if row.get("stage") != POST_OPERATION:
        raise invalid("An asynchronous step runs in the post-operation stage (40) only.")
    message = store.get(MESSAGE, row["_sdkmessageid_value"]) or {}
    filter_row = store.get(FILTER, row.get("_sdkmessagefilterid_value") or "")
    if filter_row is not None and filter_row.get("_sdkmessageid_value") != row["_sdkmessageid_value"]:
        raise invalid("The step's sdkmessagefilterid belongs to another message than its sdkmessageid.")
    attributes = [a.strip() for a in str(row.get("filteringattributes") or "").split(",") if a.strip()]
    if attributes and message.get("name") != "Update":
        raise invalid("filteringattributes apply to steps on the Update message only.")
    if attributes and filter_row is not None:
        table = schema.tables[str(filter_row["primaryobjecttypecode"])]
        unknown = [a for a in attributes if a not in table.attributes]
        if unknown:
            raise invalid(f"'{unknown[0]}' in filteringattributes is not an attribute of {table.logical_name}.")


# -- the posts ---------------------------------------------------------------------------------------------------
@dataclass(order=True)
class _Job:
    due: float
    sequence: int
    url: str = field(compare=False)
    headers: dict[str, str] = field(compare=False)
    body: bytes = field(compare=False)
    summary: dict[str, Any] = field(compare=False)
    generation: int = field(compare=False)
    attempt: int = field(default=1, compare=False)


@dataclass
class Config:
    delaySeconds: float = DEFAULT_DELAY_SECONDS  # the admin route's JSON names
    retryDelaySeconds: float = DEFAULT_RETRY_DELAY_SECONDS
    timeoutSeconds: float = TIMEOUT_SECONDS


class Webhooks:
    """Matches committed writes to enabled steps and posts their contexts from one background thread."""

    def __init__(self, schema: Schema, store: EventStore) -> None:
        self.schema = schema
        self.store = store
        store.on_commit = self.committed
        raw = os.environ.get("DATAVERSE_WEBHOOK_DELAY_SECONDS", "").strip()
        self.config = Config(delaySeconds=float(raw) if raw else DEFAULT_DELAY_SECONDS)
        self._jobs: list[_Job] = []
        self._log: list[dict[str, Any]] = []
        self._sequence = itertools.count()
        self._generation = 0
        self._in_flight = 0
        self._ready = threading.Condition()
        self._thread: threading.Thread | None = None
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    # -- admin -------------------------------------------------------------------------------------------------
    def reset(self) -> None:
        with self._ready:
            self._generation += 1
            self._jobs.clear()
            self._log.clear()
            self.config = Config(delaySeconds=self.config.delaySeconds)

    def configure(self, body: Mapping[str, Any]) -> Config:
        for name, value in body.items():
            if name not in Config.__dataclass_fields__:
                raise ValueError(f"unknown webhook setting {name!r}")
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a non-negative number")
            setattr(self.config, name, float(value))
        return self.config

    def admin_routes(self) -> dict[tuple[str, str], Callable[[Request], Response]]:
        def get(request: Request) -> Response:
            with self._ready:
                pending = len(self._jobs) + self._in_flight
                return Response.json(200, {"config": vars(self.config), "pending": pending, "posts": list(self._log)})

        def post(request: Request) -> Response:
            return Response.json(200, vars(self.configure(admin_body(request))))

        return {("GET", "/_admin/webhooks"): get, ("POST", "/_admin/webhooks"): post}

    # -- events ------------------------------------------------------------------------------------------------
    def committed(self, events: list[WriteEvent]) -> None:
        """Called under the store's lock: decide which steps fire, queue their posts, return."""
        steps = [s for s in self.store.rows(STEP) if s.get("statecode") == ENABLED and s.get("mode") == ASYNCHRONOUS]
        if not steps:
            return
        jobs = [job for event in events for step in steps if (job := self._job(event, step)) is not None]
        if not jobs:
            return
        with self._ready:
            for job in jobs:
                heapq.heappush(self._jobs, job)
            self._ready.notify()
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="dataverse-webhooks", daemon=True)
                self._thread.start()

    def _job(self, event: WriteEvent, step: Row) -> _Job | None:
        message = self.store.get(MESSAGE, step.get("_sdkmessageid_value") or "") or {}
        if message.get("name") != event.message:
            return None
        filter_row = self.store.get(FILTER, step.get("_sdkmessagefilterid_value") or "")
        if filter_row is not None and filter_row.get("primaryobjecttypecode") != event.table:
            return None
        wanted = {a.strip() for a in str(step.get("filteringattributes") or "").split(",") if a.strip()}
        if event.message == "Update" and wanted and not wanted & event.attributes:
            return None
        endpoint = self.store.get(ENDPOINT, step.get("_eventhandler_value") or "")
        if endpoint is None:
            return None
        url, headers = str(endpoint["url"]), self._headers(event)
        pairs = auth_pairs(endpoint["authtype"], str(endpoint[SECRET]))
        if endpoint["authtype"] == HTTP_HEADER:
            headers.update(pairs)
        else:
            url += ("&" if urlsplit(url).query else "?") + urlencode(pairs)
        body = json.dumps(self.context(event, step)).encode("utf-8")
        summary = {
            "stepId": step["sdkmessageprocessingstepid"],
            "message": event.message,
            "entity": event.table,
            "id": event.row_id,
            "userId": event.user_id,
        }
        due = event.at + self.config.delaySeconds
        return _Job(due, next(self._sequence), url, headers, body, summary, self._generation)

    @staticmethod
    def _headers(event: WriteEvent) -> dict[str, str]:
        correlation = str(uuid.uuid4())
        return {
            "Content-Type": "application/json",
            "x-request-id": str(uuid.uuid4()),
            "x-ms-dynamics-organization": f"{organization.ROOT_BUSINESS_UNIT_NAME}.crm.dynamics.com",  # UNCONFIRMED
            "x-ms-dynamics-entity-name": event.table,
            "x-ms-dynamics-request-name": event.message,
            "x-ms-correlation-request-id": correlation,
        }

    def context(self, event: WriteEvent, step: Row) -> dict[str, Any]:
        """The `RemoteExecutionContext` of use-webhooks.md's sample, for this event and step."""
        operation_id = str(uuid.uuid4())
        table = self.schema.tables[event.table]
        target: dict[str, Any]
        if event.message == "Delete":
            target = _reference(event.table, event.row_id)
        else:
            target = {
                "__type": f"Entity:{CONTRACTS}",
                "Attributes": [{"key": k, "value": v} for k, v in _attributes(table, event).items()],
                "EntityState": None,
                "FormattedValues": [],
                "Id": event.row_id,
                "KeyAttributes": [],
                "LogicalName": event.table,
                "RelatedEntities": [],
                "RowVersion": None,
            }
        outputs = [{"key": "id", "value": event.row_id}] if event.message == "Create" else []
        return {
            "BusinessUnitId": organization.ROOT_BUSINESS_UNIT_ID,
            "CorrelationId": str(uuid.uuid4()),
            "Depth": 1,
            "InitiatingUserId": event.user_id,
            "InputParameters": [{"key": "Target", "value": target}],
            "IsExecutingOffline": False,
            "IsInTransaction": False,
            "IsOfflinePlayback": False,
            "IsolationMode": 1,
            "MessageName": event.message,
            "Mode": ASYNCHRONOUS,
            "OperationCreatedOn": _date(event.at),
            "OperationId": operation_id,
            "OrganizationId": organization.ORGANIZATION_ID,
            "OrganizationName": organization.ROOT_BUSINESS_UNIT_NAME,
            "OutputParameters": outputs,
            "OwningExtension": {**_reference(STEP, str(step["sdkmessageprocessingstepid"])), "Name": step.get("name")},
            "ParentContext": None,
            "PostEntityImages": [],
            "PreEntityImages": [],
            "PrimaryEntityId": event.row_id,
            "PrimaryEntityName": event.table,
            "RequestId": str(uuid.uuid4()),
            "SecondaryEntityName": "none",
            "SharedVariables": [],
            "Stage": POST_OPERATION,
            "UserId": event.user_id,
        }

    # -- the sender --------------------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._jobs or self._jobs[0].due > time.time():
                    wait = None if not self._jobs else max(0.0, self._jobs[0].due - time.time())
                    self._ready.wait(wait)
                job = heapq.heappop(self._jobs)
                if job.generation != self._generation:
                    continue
                self._in_flight += 1
                timeout = self.config.timeoutSeconds
            try:
                status = self._post(job, timeout)
            finally:
                with self._ready:
                    self._in_flight -= 1
            self._settle(job, status)

    def _post(self, job: _Job, timeout: float) -> int:
        request = urllib.request.Request(job.url, data=job.body, headers=job.headers, method="POST")  # noqa: S310
        try:
            with self._opener.open(request, timeout=timeout) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            return int(error.code)
        except (OSError, ValueError):
            return 0  # no answer (refused, reset, timed out): the job fails

    def _settle(self, job: _Job, status: int) -> None:
        with self._ready:
            if job.generation != self._generation:
                return
            retry = status in RETRIED_STATUSES and job.attempt < MAX_ATTEMPTS
            outcome = "delivered" if 200 <= status < 300 else "retrying" if retry else "failed"
            self._log.append({**job.summary, "attempt": job.attempt, "status": status, "outcome": outcome})
            if retry:
                job.attempt += 1
                job.due = time.time() + self.config.retryDelaySeconds
                job.sequence = next(self._sequence)
                heapq.heappush(self._jobs, job)
                self._ready.notify()


def _reference(logical_name: str, row_id: str) -> dict[str, Any]:
    return {
        "__type": f"EntityReference:{CONTRACTS}",
        "Id": row_id,
        "KeyAttributes": [],
        "LogicalName": logical_name,
        "Name": None,
        "RowVersion": None,
    }


def _date(at: float) -> str:
    return f"/Date({int(at * 1000)})/"


def _attributes(table: Table, event: WriteEvent) -> dict[str, Any]:
    """The Target's attributes in the data-contract JSON: lookups as EntityReference, choices as OptionSetValue,
    money as Money, date-times as `/Date(ms)/` (use-webhooks.md's sample). Create: every attribute the row has;
    Update: the ones the request set, with the primary id, modifiedon and modifiedby (as the sample shows)."""
    row = event.target
    names = [table.primary_id, *sorted(event.attributes), "modifiedon", "modifiedby"]
    if event.message == "Create":
        names = [a.name for a in table.attributes.values() if row.get(a.read_name) is not None]
    found: dict[str, Any] = {}
    for name in dict.fromkeys(names):
        attribute = table.attributes.get(name)
        if attribute is None:
            continue
        value = row.get(attribute.read_name)
        if value is None:
            found[name] = None
        elif attribute.kind == "lookup":
            found[name] = _reference(str(row.get("@lookup:" + name) or attribute.targets[0]), str(value))
        elif attribute.kind in ("picklist", "state", "status"):
            found[name] = {"__type": f"OptionSetValue:{CONTRACTS}", "Value": value}
        elif attribute.crm_type == "Money":
            found[name] = {"__type": f"Money:{CONTRACTS}", "Value": value}
        elif attribute.kind == "datetime" and isinstance(value, str):
            found[name] = _date(datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC).timestamp())
        else:
            found[name] = value
    return found
