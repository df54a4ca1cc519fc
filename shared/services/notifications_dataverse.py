"""Sales -> us in seconds (issue 23): what a post of the app's Dataverse webhook does.

The webhook itself (one `serviceendpoint` and its steps) is registered by `notifications_dataverse_registration.py`;
this module holds what both halves share (the endpoint as stored, a company's mappings, the deployment's client) and
the handling of a post, which runs on every change and must stay small and cheap.

A post (`notification`): its secret checked (`hmac.compare_digest`, never logged), its body read only for what
table changed, which message and who made the change; never trusted as data. A change the app itself made
(`InitiatingUserId` = the app's own user, read once by WhoAmI) wakes nothing: the app's writes must not bounce back
(echo suppression of the runs would drop them anyway; this spares the runs). Otherwise every company whose mappings
read the table gets those mappings woken (`services/wake.py`): one org serves all companies, and a change says nothing
reliable about which company's data it is (the row's `bcbi_companyid` is not in the Target of an update that did
not set it), so each company's incremental run reads what is its own.

Service-protection cost: the posts are made by Dataverse's asynchronous service, not by the app, so they are no requests
of the app's user (api-facts B10 counts requests per user; what an async step costs the org's own capacity is
UNCONFIRMED; each post is a system job, deleted once it succeeds: `asyncautodelete`). Each wake is one incremental run
per mapping per window, the same reads a timer tick makes; a post itself reads one Settings row per company (its mapping
overrides) and, at most every few seconds, the endpoint row.
"""

from __future__ import annotations

import hmac
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from shared.domain.errors import FatalError, InvalidInputError
from shared.domain.mapping import TableMapping
from shared.mappings import mapping_names
from shared.services.catalog import CatalogSnapshot, valid_mappings
from shared.services.wake import mappings_reading_dataverse, wake

Companies = Sequence[tuple[str, Any]]  # (company key, its services) for every company served


class Endpoint(Protocol):
    """`storage/dataverse_endpoints.EndpointRecord`: the registered endpoint id, URL, header name and secret."""

    @property
    def endpoint_id(self) -> str: ...

    @property
    def url(self) -> str: ...

    @property
    def secret(self) -> str: ...

    @property
    def header(self) -> str: ...


def company_mappings(services: Any) -> list[TableMapping]:
    """A company's mappings as its runs see them (stored overrides applied, one Settings read)."""
    return valid_mappings(CatalogSnapshot.read(services.settings_store, services.context.mapping), mapping_names())


def deployment_client(dataverse: Any) -> Any:
    """The client itself under a company's view (`company_scope.py` wraps it as `inner`): a registration is the
    deployment's, never a company's. Its `query_rows` and `who_am_i` are `connectors/dataverse/registrations.py`'s."""
    inner = getattr(dataverse, "inner", dataverse)
    if not hasattr(inner, "query_rows") or not hasattr(inner, "who_am_i"):
        raise FatalError("NotADataverseClient", f"{type(inner).__name__} cannot register webhooks")
    return inner


# -- a post --------------------------------------------------------------------------------------------------------
class Unauthorized(Exception):
    """A post without the registered secret: 401, nothing read, nothing woken."""


@dataclass(frozen=True)
class Notice:
    """What the app takes from a RemoteExecutionContext: which table, which message, whose change."""

    message: str
    table: str
    row_id: str
    initiating_user: str


_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,127}$")


def parse_context(body: Any) -> Notice:
    """The fields the app reads, each checked: 400 naming the first one missing or malformed."""
    if not isinstance(body, dict):
        raise InvalidInputError("invalidJson", "The body must be a RemoteExecutionContext JSON object.", field="body")

    def text(name: str, pattern: re.Pattern[str]) -> str:
        value = body.get(name)
        if not isinstance(value, str) or not pattern.match(value):
            raise InvalidInputError("invalidField", f"'{name}' is missing or malformed.", field=name)
        return value

    message = body.get("MessageName")
    if not isinstance(message, str) or not message or len(message) > 100:
        raise InvalidInputError("invalidField", "'MessageName' is missing or malformed.", field="MessageName")
    return Notice(
        message,
        text("PrimaryEntityName", _NAME),
        text("PrimaryEntityId", _GUID).lower(),
        text("InitiatingUserId", _GUID).lower(),
    )


_app_users: dict[int, str] = {}
_app_user_lock = threading.Lock()


def app_user(services: Any) -> str:
    """The app's own `systemuserid` (WhoAmI once per Dataverse client and process)."""
    dataverse = services.context.dataverse
    key = id(getattr(dataverse, "inner", dataverse))
    with _app_user_lock:
        if key not in _app_users:
            _app_users[key] = str(deployment_client(dataverse).who_am_i())
        return _app_users[key]


def check_secret(record: Endpoint | None, headers: Mapping[str, str]) -> None:
    """The header secret Dataverse was registered with, compared in constant time; `Unauthorized` otherwise (no
    registration, no header, another value). The secret is never logged."""
    if record is None:
        raise Unauthorized
    presented = next((v for k, v in headers.items() if k.lower() == record.header), None)
    if not presented or not hmac.compare_digest(presented.encode("utf-8"), record.secret.encode("utf-8")):
        raise Unauthorized


@dataclass(frozen=True)
class Outcome:
    """What a post did: the mappings woken per company key (empty when the change was the app's own)."""

    own_change: bool
    woken: dict[str, list[str]]


def notification(
    services: Any, notice: Notice, companies: Companies, window: timedelta, now: datetime | None = None
) -> Outcome:
    """Wake the mappings reading `notice.table` for every company whose mappings read it, unless the app made the
    change itself (`services`: the deployment's, whose Dataverse client is the app's user)."""
    if notice.initiating_user == app_user(services):
        return Outcome(True, {})
    at = now or datetime.now(UTC)
    woken: dict[str, list[str]] = {}
    for key, company in companies:
        names = mappings_reading_dataverse(company_mappings(company), notice.table)
        if names:
            wake(company.queue, key, names, at, window)
            woken[key] = names
    return Outcome(False, woken)
