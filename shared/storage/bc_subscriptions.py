"""The company's BC webhook subscriptions in Table Storage (`services/notifications_bc.SubscriptionStore`): table
`BcSubscriptions`, one per company like the others; PartitionKey `bc`, RowKey the subscription id; properties
`entitySet`, `resource`, `notificationUrl`, `clientState`, `expiration` (UTC), `etag` (BC's, for the renewal's
`If-Match`).

Why keep the `clientState` here: it is the secret a notification must carry (`triggers/notifications_bc.py` compares it
with this copy), random per subscription (`secrets.token_urlsafe(32)`); BC also shows it to whoever may read the
environment's subscriptions (our own app registration), so it protects the endpoint from the internet, not from BC's
admins. The table is the company's, readable only by the app's identity (Storage Table Data Contributor). It is never
logged and never part of a `repr`.

Why the subscription id as RowKey: a notification names its subscription, so checking it is one point read.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient

from shared.domain.errors import FatalError
from shared.storage.conditional import read_entity
from shared.storage.keys import escape_key
from shared.storage.tables import BC_SUBSCRIPTIONS, TableFactory

PARTITION = "bc"


@dataclass(frozen=True)
class StoredSubscription:
    subscription_id: str
    entity_set: str
    resource: str
    notification_url: str
    expiration: datetime
    etag: str = "*"
    client_state: str = field(default="", repr=False)


class BcSubscriptionStore:
    """The `BcSubscriptions` table of one company."""

    def __init__(self, tables: TableFactory) -> None:
        self._tables = tables

    @classmethod
    def of(cls, storage: object) -> BcSubscriptionStore:
        """The store on a company's `Services.storage` (its `TableFactory`)."""
        if not isinstance(storage, TableFactory):
            raise FatalError("storageMissing", "The company's Table Storage is not configured.")
        return cls(storage)

    @property
    def _table(self) -> TableClient:
        return self._tables.table(BC_SUBSCRIPTIONS)

    def all(self) -> list[StoredSubscription]:
        rows = self._table.query_entities(f"PartitionKey eq '{PARTITION}'")
        return [_subscription(row) for row in rows]

    def find(self, subscription_id: str) -> StoredSubscription | None:
        row = read_entity(self._table, PARTITION, escape_key(subscription_id))
        return None if row is None else _subscription(row)

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
    ) -> None:
        """Insert or replace (`services/notifications_bc.SubscriptionStore`): one row per subscription, written by
        the timer only, so there is no concurrent writer to guard against but another instance's timer, whose
        duplicate the next run deletes."""
        subscription = StoredSubscription(
            subscription_id, entity_set, resource, notification_url, expiration, etag, client_state
        )
        self._table.upsert_entity(_entity(subscription))

    def delete(self, subscription_id: str) -> None:
        with contextlib.suppress(ResourceNotFoundError):  # gone already: fine
            self._table.delete_entity(PARTITION, escape_key(subscription_id))


def _entity(subscription: StoredSubscription) -> dict[str, Any]:
    return {
        "PartitionKey": PARTITION,
        "RowKey": escape_key(subscription.subscription_id),
        "subscriptionId": subscription.subscription_id,
        "entitySet": subscription.entity_set,
        "resource": subscription.resource,
        "notificationUrl": subscription.notification_url,
        "clientState": subscription.client_state,
        "expiration": subscription.expiration.astimezone(UTC),
        "etag": subscription.etag,
    }


def _subscription(row: Any) -> StoredSubscription:
    expiration = row["expiration"]
    if isinstance(expiration, datetime) and expiration.tzinfo is None:
        expiration = expiration.replace(tzinfo=UTC)
    return StoredSubscription(
        str(row["subscriptionId"]),
        str(row["entitySet"]),
        str(row["resource"]),
        str(row["notificationUrl"]),
        expiration,
        str(row.get("etag") or "*"),
        str(row.get("clientState") or ""),
    )
