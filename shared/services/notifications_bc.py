"""BC -> us change notifications (issue 23): keeping the company's webhook subscriptions, and turning a checked
notification into wakes.

Keeping them (`ensure_subscriptions`, run by `triggers/notifications_timer.py` every `NOTIFICATIONS_SCHEDULE`):
one subscription per BC entity set that a mapping reads towards Sales (`wake.mappings_reading_bc`) and BC supports
for webhooks (`SUPPORTED_RESOURCES`), each on `<NOTIFICATION_BASE_URL>/api/notifications/bc?company=<parameter>`
with a random `clientState` of its own. One read of BC's list per run tells what still lives: a stored subscription
BC no longer has (expired, deleted after our endpoint refused a notification, removed by hand) is created again;
one expiring within `RENEW_BEFORE` is renewed by PATCH (BC expires them after 3 days); one no mapping needs, a
duplicate, or one of ours BC lists but we do not store (a create whose answer was lost) is deleted. Cost in BC
requests per company and run: 1 (the list) + 1 per create, renewal or delete; with a 30-minute timer and a renewal
every ~2 days that is ~48 requests a day per company, against 6,000 per 5 minutes.

Notifications (`subscriptions_of`, `wake_for`): each entry must name a subscription stored for the company and carry
its `clientState` (compared in constant time); the entity set woken is the stored subscription's, never the
notification's `resource` (a notification is not trusted as data). `created`, `updated`, `deleted` and `collection`
all mean "read the entity set": the woken run is the mapping's incremental run, whose deletion policy handles deletes.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from shared.connectors.business_central.client import BusinessCentralClient
from shared.connectors.business_central.subscriptions import SUPPORTED_RESOURCES, BcSubscription, resource_of
from shared.domain.companies import Company
from shared.domain.errors import FatalError, SyncError
from shared.domain.mapping import TableMapping
from shared.mappings import mapping_names
from shared.services.wake import Wake, mappings_reading_bc, wake
from shared.settings import BcNotificationSettings
from shared.storage.bc_subscriptions import BcSubscriptionStore, StoredSubscription

if TYPE_CHECKING:
    from shared.bootstrap import Services

log = logging.getLogger("bc_sales_sync.notifications")
ROUTE = "notifications/bc"
RENEW_BEFORE = timedelta(hours=24)


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


def company_parameter(company: Company | None) -> str:
    """What the notification URL names the company by: its key, or the primary's label (`http_companies`)."""
    if company is None:
        return ""
    return company.key or company.label


def notification_url(base_url: str, company: Company | None) -> str:
    parameter = company_parameter(company)
    url = f"{base_url.rstrip('/')}/api/{ROUTE}"
    return f"{url}?company={quote(parameter, safe='')}" if parameter else url


def company_mappings(services: Services) -> list[TableMapping]:
    """The company's mappings, overrides applied (a mapping whose stored overrides no longer validate is left out:
    its poll reports it)."""
    found: list[TableMapping] = []
    for name in mapping_names():
        try:
            found.append(services.context.mapping(name))
        except SyncError:
            continue
    return found


def needed_entity_sets(mappings: Sequence[TableMapping]) -> set[str]:
    """The BC entity sets a webhook should watch: read by a mapping towards Sales, and supported by BC."""
    sets = {m.bc_entity_set for m in mappings if m.bc_entity_set}
    return {s for s in sets if s in SUPPORTED_RESOURCES and mappings_reading_bc(mappings, s)}


def ensure_subscriptions(services: Services, now: datetime | None = None) -> EnsureReport:
    """Create, renew, repair and delete the company's subscriptions (see the module docstring)."""
    settings = BcNotificationSettings.from_env(services.environment)
    now = now or datetime.now(UTC)
    label = services.company.label if services.company is not None else ""
    report = EnsureReport(label, settings.active)
    store = BcSubscriptionStore.of(services.storage)
    bc = services.context.bc
    if not isinstance(bc, BusinessCentralClient):  # the port has no subscriptions: they are the real client's
        raise FatalError("notificationsUnsupported", "BC webhook subscriptions need the Business Central client.")
    api = bc.subscriptions()
    url = notification_url(settings.base_url, services.company) if settings.base_url else ""
    needed = needed_entity_sets(company_mappings(services)) if settings.active else set()
    listed = {s.subscription_id: s for s in api.list()}
    kept: dict[str, StoredSubscription] = {}
    for stored in store.all():
        row = stored
        live = listed.get(row.subscription_id)
        try:
            if row.entity_set not in needed or row.entity_set in kept or row.notification_url != url:
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
                renewed = api.renew(row.subscription_id, live.etag, url)
                if renewed is None:
                    store.delete(row.subscription_id)
                    report.repaired.append(row.entity_set)
                    continue
                row = replace(stored, expiration=renewed.expires, etag=renewed.etag)
                store.save(row)
                report.renewed.append(row.entity_set)
            else:
                report.kept.append(row.entity_set)
            kept[row.entity_set] = row
        except SyncError as error:
            report.errors[row.entity_set] = f"{error.code}: {error.message}"[:500]
            kept.setdefault(row.entity_set, row)  # not created twice in this run
    ours = {row.subscription_id for row in kept.values()}
    for subscription in listed.values():
        if url and subscription.notification_url == url and subscription.subscription_id not in ours:
            _delete_quietly(api, subscription, report)
    if needed - set(kept):
        company_id = bc.company_identity()[0]
        for entity_set in sorted(needed - set(kept)):
            try:
                _create(api, store, url, company_id, entity_set)
                if entity_set not in report.repaired:
                    report.created.append(entity_set)
            except SyncError as error:
                report.errors[entity_set] = f"{error.code}: {error.message}"[:500]
    return report


def _create(api: Any, store: BcSubscriptionStore, url: str, company_id: str, entity_set: str) -> None:
    client_state = secrets.token_urlsafe(32)
    created: BcSubscription = api.create(url, resource_of(company_id, entity_set), client_state)
    store.save(
        StoredSubscription(
            created.subscription_id,
            entity_set,
            created.resource,
            url,
            created.expires,
            created.etag,
            client_state,
        )
    )


def _delete_quietly(api: Any, subscription: BcSubscription, report: EnsureReport) -> None:
    try:
        api.delete(subscription.subscription_id, subscription.etag)
        report.deleted.append(subscription.resource.rsplit("/", 1)[-1])
    except SyncError as error:
        report.errors[subscription.subscription_id] = f"{error.code}: {error.message}"[:500]


# -- notifications -----------------------------------------------------------------------------------------------
class Unauthorized(Exception):
    """A notification entry that names no stored subscription of the company, or the wrong `clientState`."""


def subscriptions_of(store: BcSubscriptionStore, entries: Iterable[Mapping[str, str]]) -> list[StoredSubscription]:
    """The stored subscription of every entry (each `subscriptionId` read once); `Unauthorized` at the first entry
    that does not match: a payload is accepted whole or refused whole, so a forged entry cannot ride along."""
    found: dict[str, StoredSubscription | None] = {}
    matched: list[StoredSubscription] = []
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


def wake_for(services: Services, subscriptions: Iterable[StoredSubscription], at: datetime) -> list[Wake]:
    """Wake the mappings reading each notified entity set (one scheduled run per mapping and window)."""
    settings = BcNotificationSettings.from_env(services.environment)
    entity_sets = sorted({s.entity_set for s in subscriptions})
    if not entity_sets:
        return []
    mappings = company_mappings(services)
    names = [name for entity_set in entity_sets for name in mappings_reading_bc(mappings, entity_set)]
    key = services.company.key if services.company is not None else ""
    return wake(services.queue, key, names, at, timedelta(seconds=settings.wake_window_seconds))
