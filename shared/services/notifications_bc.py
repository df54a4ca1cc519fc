"""BC -> us change notifications (issue 23): keeping the company's webhook subscriptions, and turning a checked
notification into wakes.

Keeping them (`keep_subscriptions`; `triggers/notifications_timer.ensure_subscriptions` wires it to a company's services
and runs it every `NOTIFICATIONS_SCHEDULE`): one subscription per BC entity set that a mapping reads towards Sales
(`wake.mappings_reading_bc`) or an enabled sales document process reads (`wake.processes_reading_bc`: salesInvoices
for the posted invoices and their payment status, salesOrders and salesInvoices for the order status) and BC supports
for webhooks
(`connectors/business_central/subscriptions.SUPPORTED_RESOURCES`), each on
`<NOTIFICATION_BASE_URL>/api/notifications/bc?company=<parameter>` with a random `clientState` of its own. One read of
BC's list per run tells what still lives: a stored subscription BC no longer has (expired, deleted after our endpoint
refused a notification, removed by hand) is created again; one expiring within `RENEW_BEFORE` is renewed by PATCH (BC
expires them after 3 days); one no mapping needs, a duplicate, or one of ours BC lists but we do not store (a create
whose answer was lost) is deleted. Cost in BC requests per company and run: 1 (the list) + 1 per create, renewal or
delete; with a 30-minute timer and a renewal every ~2 days that is ~48 requests a day per company, against 6,000 per 5
minutes.

This module holds the rules only: it talks to BC and to the table through the two small protocols below
(`SubscriptionsApi`, `SubscriptionStore`), which `connectors/business_central/subscriptions.py` and
`storage/bc_subscriptions.py` implement, as the layering asks (services know ports, never adapters).

Notifications (`subscriptions_of`, `wake_for`): each entry must name a subscription stored for the company and carry its
`clientState` (compared in constant time); the entity set woken is the stored subscription's, never the notification's
`resource` (a notification is not trusted as data). `created`, `updated`, `deleted` and `collection` all mean "read the
entity set": the woken run is the mapping's incremental run, whose deletion policy handles deletes, and the woken
document processes run once as their timers would (`processRun`).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol
from urllib.parse import quote

from shared.domain.errors import SyncError
from shared.domain.mapping import TableMapping
from shared.ports import JobQueue
from shared.services.wake import Wake, WatchedProcess, mappings_reading_bc, processes_reading_bc, wake

ROUTE = "notifications/bc"
RENEW_BEFORE = timedelta(hours=24)


class LiveSubscription(Protocol):
    """A subscription as BC lists it (never with its `clientState`)."""

    @property
    def subscription_id(self) -> str: ...
    @property
    def notification_url(self) -> str: ...
    @property
    def resource(self) -> str: ...
    @property
    def expires(self) -> datetime: ...
    @property
    def etag(self) -> str: ...


class SubscriptionRecord(Protocol):
    """A subscription as we keep it, with its secret."""

    @property
    def subscription_id(self) -> str: ...
    @property
    def entity_set(self) -> str: ...
    @property
    def resource(self) -> str: ...
    @property
    def notification_url(self) -> str: ...
    @property
    def expiration(self) -> datetime: ...
    @property
    def etag(self) -> str: ...
    @property
    def client_state(self) -> str: ...


class SubscriptionsApi(Protocol):
    def list(self) -> Sequence[LiveSubscription]: ...
    def create(self, notification_url: str, resource: str, client_state: str) -> LiveSubscription: ...
    def renew(self, subscription_id: str, etag: str, notification_url: str) -> LiveSubscription | None: ...
    def delete(self, subscription_id: str, etag: str = "*") -> None: ...


class SubscriptionStore(Protocol):
    def all(self) -> Sequence[SubscriptionRecord]: ...
    def find(self, subscription_id: str) -> SubscriptionRecord | None: ...
    def save(
        self,
        *,
        subscription_id: str,
        entity_set: str,
        resource: str,
        notification_url: str,
        expiration: datetime,
        etag: str,
        client_state: str,
    ) -> None: ...
    def delete(self, subscription_id: str) -> None: ...


@dataclass(frozen=True)
class Plan:
    """What a company needs: the notification URL and the entity sets to watch (empty: delete every one of ours);
    `company_id` is asked only when something must be created (one BC read, cached by the client)."""

    company: str
    url: str
    needed: frozenset[str]
    company_id: Callable[[], str]


@dataclass
class EnsureReport:
    """What one run did, by entity set (`errors`: entity set -> message; never a secret)."""

    company: str
    active: bool
    created: list[str] = field(default_factory=list)
    renewed: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


def notification_url(base_url: str, company_parameter: str) -> str:
    """`<base>/api/notifications/bc?company=<parameter>` (the parameter URL-encoded; none for an unnamed company)."""
    url = f"{base_url.rstrip('/')}/api/{ROUTE}"
    return f"{url}?company={quote(company_parameter, safe='')}" if company_parameter else url


def needed_entity_sets(
    mappings: Sequence[TableMapping], supported: Collection[str], processes: Sequence[WatchedProcess] = ()
) -> frozenset[str]:
    """The BC entity sets a webhook should watch: read by a mapping towards Sales or by an enabled document process,
    and supported by BC (a set a process reads that BC sends no webhook for, e.g. salesShipments, is left to what
    the other sets notify and to the process's timer)."""
    sets = {m.bc_entity_set for m in mappings if m.bc_entity_set} | {s for p in processes for s in p.bc_entity_sets}
    return frozenset(
        s for s in sets if s in supported and (mappings_reading_bc(mappings, s) or processes_reading_bc(processes, s))
    )


def keep_subscriptions(
    plan: Plan, api: SubscriptionsApi, store: SubscriptionStore, now: datetime, *, active: bool = True
) -> EnsureReport:
    """Create, renew, repair and delete the company's subscriptions (see the module docstring)."""
    report = EnsureReport(plan.company, active)
    listed = {s.subscription_id: s for s in api.list()}
    kept: dict[str, SubscriptionRecord] = {}
    for row in store.all():
        live = listed.get(row.subscription_id)
        try:
            if row.entity_set not in plan.needed or row.entity_set in kept or row.notification_url != plan.url:
                if live is not None:
                    api.delete(row.subscription_id, live.etag)
                store.delete(row.subscription_id)
                report.deleted.append(row.entity_set)
                continue
            if live is None:  # gone in BC: expired, or deleted after a refused notification
                store.delete(row.subscription_id)
                report.repaired.append(row.entity_set)
                continue
            if live.expires - now <= RENEW_BEFORE:
                renewed = api.renew(row.subscription_id, live.etag, plan.url)
                if renewed is None:
                    store.delete(row.subscription_id)
                    report.repaired.append(row.entity_set)
                    continue
                store.save(**{**_fields(row), "expiration": renewed.expires, "etag": renewed.etag})
                report.renewed.append(row.entity_set)
            else:
                report.kept.append(row.entity_set)
            kept[row.entity_set] = row
        except SyncError as error:
            report.errors[row.entity_set] = f"{error.code}: {error.message}"[:500]
            kept.setdefault(row.entity_set, row)  # not created twice in this run
    ours = {row.subscription_id for row in kept.values()}
    for subscription in listed.values():
        if plan.url and subscription.notification_url == plan.url and subscription.subscription_id not in ours:
            try:  # ours in BC but not kept (a create whose answer was lost): deleted
                api.delete(subscription.subscription_id, subscription.etag)
                report.deleted.append(subscription.resource.rsplit("/", 1)[-1])
            except SyncError as error:
                report.errors[subscription.subscription_id] = f"{error.code}: {error.message}"[:500]
    missing = sorted(plan.needed - set(kept))
    for entity_set in missing:
        try:
            resource = f"/api/v2.0/companies({plan.company_id()})/{entity_set}"
            client_state = secrets.token_urlsafe(32)
            created = api.create(plan.url, resource, client_state)
            store.save(
                subscription_id=created.subscription_id,
                entity_set=entity_set,
                resource=created.resource,
                notification_url=plan.url,
                expiration=created.expires,
                etag=created.etag,
                client_state=client_state,
            )
            if entity_set not in report.repaired:
                report.created.append(entity_set)
        except SyncError as error:
            report.errors[entity_set] = f"{error.code}: {error.message}"[:500]
    return report


def _fields(row: SubscriptionRecord) -> dict[str, Any]:
    return {
        "subscription_id": row.subscription_id,
        "entity_set": row.entity_set,
        "resource": row.resource,
        "notification_url": row.notification_url,
        "expiration": row.expiration,
        "etag": row.etag,
        "client_state": row.client_state,
    }


# -- notifications -----------------------------------------------------------------------------------------------
class Unauthorized(Exception):
    """A notification entry that names no stored subscription of the company, or the wrong `clientState`."""


def subscriptions_of(store: SubscriptionStore, entries: Iterable[Mapping[str, str]]) -> list[SubscriptionRecord]:
    """The stored subscription of every entry (each `subscriptionId` read once); `Unauthorized` at the first entry
    that does not match: a payload is accepted whole or refused whole, so a forged entry cannot ride along."""
    found: dict[str, SubscriptionRecord | None] = {}
    matched: list[SubscriptionRecord] = []
    for entry in entries:
        subscription_id = entry["subscriptionId"]
        if subscription_id not in found:
            found[subscription_id] = store.find(subscription_id)
        stored = found[subscription_id]
        given = entry["clientState"].encode()
        expected = (stored.client_state if stored is not None else secrets.token_urlsafe(32)).encode()
        if not hmac.compare_digest(given, expected) or stored is None:
            raise Unauthorized
        matched.append(stored)
    return matched


def wake_for(
    queue: JobQueue,
    company_key: str,
    mappings: Sequence[TableMapping],
    subscriptions: Iterable[SubscriptionRecord],
    at: datetime,
    window: timedelta,
    processes: Sequence[WatchedProcess] = (),
) -> list[Wake]:
    """Wake the mappings and the enabled document processes reading each notified entity set (one scheduled run per
    mapping or process and window)."""
    entity_sets = sorted({s.entity_set for s in subscriptions})
    names = [name for entity_set in entity_sets for name in mappings_reading_bc(mappings, entity_set)]
    woken = [name for entity_set in entity_sets for name in processes_reading_bc(processes, entity_set)]
    return wake(queue, company_key, names, at, window, woken) if names or woken else []
