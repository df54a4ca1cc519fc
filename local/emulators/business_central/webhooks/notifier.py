"""Change notifications of the BC emulator: after a committed write, each live subscription on the changed resource
gets a notification, batched per notification URL, sent as one `POST {"value": [...]}`.

The rules (api-facts A8; Microsoft Learn, BC dev-itpro api-reference/v2.0/dynamics-subscriptions.md):
- Notifications follow committed changes only: the notifier reads the store's change log while holding the store
  lock, which every transaction holds from start to end, so a change it sees is committed (a rolled-back change set
  or `Isolation: snapshot` batch has left the log before the lock is released). Every write path feeds the log: API
  v2.0 requests, their `$batch` operations, bound actions and the page web services that write the API tables (the
  tests cover requests, `$batch` and page 42 writing a sales order).
- Payload entries: `subscriptionId`, `clientState`, `expirationDateTime`, `resource` (the entity:
  `api/v2.0/companies({id})/customers({id})`), `changeType` (`created|updated|deleted|collection`),
  `lastModifiedDateTime`. One POST bundles the entries of every subscription with that notification URL.
- Batching: BC waits 30 s after the first change (`batch_delay`, configurable for tests: `POST /_admin/webhooks` or
  the environment variable `BC_EMULATOR_WEBHOOK_DELAY_SECONDS`).
- More than 1,000 records changed in the window (`collection_threshold`): one `collection` entry instead, whose
  resource is the entity set filtered on `lastModifiedDateTime gt <start of the window>`.
- A line change notifies the document header: the writer moves the header (its totals and lastModifiedDateTime) on
  every line write (`api/writer.py` `_touch_parent`), so the header's change is in the log; line entity sets take no
  subscription (not in the supported list).
- Receiver answers 408, 429 or 5xx (or no answer at all: UNCONFIRMED, taken as retriable): retried with doubling
  backoff (`retry_delay`, first wait) for up to 36 hours (`retry_for`); any other non-2xx answer deletes the
  subscriptions of that payload. UNCONFIRMED: what BC does once 36 h of retries are spent (the emulator drops
  the payload and keeps the subscription).
- An expired subscription gets no notifications (its pending entries are dropped at send time).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import requests

from local.emulators.business_central.webhooks.subscriptions import Registry, Subscription, iso
from local.emulators.clock import utc_now
from local.emulators.store import Store

DELAY_ENV = "BC_EMULATOR_WEBHOOK_DELAY_SECONDS"
RETRIABLE = frozenset({408, 429})
Post = Callable[[str, dict[str, Any]], int]  # (url, payload) -> status (0: no answer)


def default_delay() -> float:
    text = os.environ.get(DELAY_ENV, "")
    try:
        return max(0.0, float(text)) if text else 30.0
    except ValueError:
        return 30.0


@dataclass
class WebhookSettings:
    batch_delay: float = field(default_factory=default_delay)
    collection_threshold: int = 1000
    retry_delay: float = 30.0
    retry_for: float = 36 * 3600.0

    def configure(self, body: dict[str, Any]) -> None:
        names = {
            "batchDelaySeconds": "batch_delay",
            "collectionThreshold": "collection_threshold",
            "retryDelaySeconds": "retry_delay",
            "retryForSeconds": "retry_for",
        }
        for key, value in body.items():
            if key not in names:
                raise ValueError(f"unknown webhook setting {key!r}; known: {', '.join(names)}")
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"{key} must be a non-negative number")
            setattr(self, names[key], int(value) if key == "collectionThreshold" else float(value))

    def json(self) -> dict[str, Any]:
        return {
            "batchDelaySeconds": self.batch_delay,
            "collectionThreshold": self.collection_threshold,
            "retryDelaySeconds": self.retry_delay,
            "retryForSeconds": self.retry_for,
        }


@dataclass
class _Batch:
    due: float
    started: datetime  # the window's start: a `collection` entry reads what changed after it
    entries: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)  # sub id -> (resource, type, at)


@dataclass
class _Retry:
    url: str
    payload: dict[str, Any]
    subscription_ids: list[str]
    first: float
    due: float
    attempt: int


def http_post(url: str, payload: dict[str, Any]) -> int:
    session = requests.Session()
    session.trust_env = False
    try:
        return session.post(url, json=payload, timeout=30).status_code
    except requests.RequestException:
        return 0
    finally:
        session.close()


class Notifier:
    """One background thread per emulator process, started with the first subscription."""

    def __init__(self, store: Store, registry: Registry, post: Post = http_post, tick: float = 0.05) -> None:
        self.store, self.registry, self.post, self.tick = store, registry, post, tick
        self.settings = WebhookSettings()
        self.deliveries: list[dict[str, Any]] = []  # what was sent, for `/_admin/webhooks` (tests, the benchmark)
        self._lock = threading.Lock()
        self._cursor = 0
        self._known: set[tuple[str, str]] = set()
        self._batches: dict[str, _Batch] = {}
        self._retries: list[_Retry] = []
        self._thread: threading.Thread | None = None

    def reset(self) -> None:
        with self.store.lock, self._lock:
            self.settings = WebhookSettings()
            self.deliveries.clear()
            self._cursor, self._known = 0, set()
            self._batches.clear()
            self._retries.clear()

    def start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="bc-webhooks", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                self.step()
            except Exception:  # the notifier must outlive one bad round (an emulator, not a service)
                time.sleep(self.tick)
            time.sleep(self.tick)

    # -- one round ---------------------------------------------------------------------------------------------
    def step(self) -> None:
        """Queue the committed changes since the last round, then send what is due."""
        self._collect()
        self._send_due()

    def _collect(self) -> None:
        subscriptions = self.registry.live()
        now = utc_now()
        with self.store.lock:  # no transaction is open while we hold it: every change in the log is committed
            changes = self.store.changes
            if len(changes) < self._cursor:  # the store was cleared
                self._cursor, self._known = 0, set()
            fresh = changes[self._cursor :]
            self._cursor = len(changes)
            rows = {(c.table, c.row_id): self.store.get(c.table, c.row_id) for c in fresh if not c.deleted}
        with self._lock:
            for change in fresh:
                key = (change.table, change.row_id)
                if change.deleted:
                    kind = "deleted"
                    self._known.discard(key)
                else:
                    kind = "updated" if key in self._known else "created"
                    self._known.add(key)
                company, _, entity_set = change.table.partition("/")
                for subscription in subscriptions:
                    if (
                        subscription.company_id != company
                        or subscription.entity_set != entity_set
                        or change.version <= subscription.since_version
                    ):
                        continue
                    row = rows.get(key) or {}
                    at = str(row.get("lastModifiedDateTime") or iso(now))
                    resource = f"api/v2.0/companies({company})/{entity_set}({change.row_id})"
                    batch = self._batches.get(subscription.notification_url)
                    if batch is None:
                        batch = _Batch(time.monotonic() + self.settings.batch_delay, now)
                        self._batches[subscription.notification_url] = batch
                    batch.entries.setdefault(subscription.subscription_id, []).append((resource, kind, at))

    def _send_due(self) -> None:
        clock = time.monotonic()
        with self._lock:
            due = [(url, b) for url, b in self._batches.items() if b.due <= clock]
            for url, _ in due:
                del self._batches[url]
            retries = [r for r in self._retries if r.due <= clock]
            self._retries = [r for r in self._retries if r.due > clock]
        live = {s.subscription_id: s for s in self.registry.live()}
        for url, batch in due:
            payload, ids = self._payload(batch, live)
            if ids:
                self._deliver(_Retry(url, payload, ids, clock, clock, 0))
        for retry in retries:
            if any(i in live for i in retry.subscription_ids):
                self._deliver(retry)

    def _payload(self, batch: _Batch, live: dict[str, Subscription]) -> tuple[dict[str, Any], list[str]]:
        value: list[dict[str, Any]] = []
        ids: list[str] = []
        for subscription_id, entries in batch.entries.items():
            subscription = live.get(subscription_id)
            if subscription is None:  # expired or deleted meanwhile: no notifications
                continue
            ids.append(subscription_id)
            base = {
                "subscriptionId": subscription_id,
                "clientState": subscription.client_state,
                "expirationDateTime": iso(subscription.expires),
            }
            if len({resource for resource, _, _ in entries}) > self.settings.collection_threshold:
                since = iso(batch.started)
                resource = (
                    f"api/v2.0/companies({subscription.company_id})/{subscription.entity_set}"
                    f"?$filter=lastModifiedDateTime%20gt%20{since}"
                )
                value.append({**base, "resource": resource, "changeType": "collection", "lastModifiedDateTime": since})
                continue
            for resource, kind, at in entries:
                value.append({**base, "resource": resource, "changeType": kind, "lastModifiedDateTime": at})
        return {"value": value}, ids

    def _deliver(self, attempt: _Retry) -> None:
        status = self.post(attempt.url, attempt.payload)
        with self._lock:
            self.deliveries.append(
                {
                    "url": attempt.url,
                    "status": status,
                    "attempt": attempt.attempt + 1,
                    "count": len(attempt.payload["value"]),
                    "changeTypes": sorted({e["changeType"] for e in attempt.payload["value"]}),
                }
            )
            if 200 <= status < 300:
                return
            if status == 0 or status in RETRIABLE or status >= 500:
                wait = self.settings.retry_delay * (2**attempt.attempt)
                clock = time.monotonic()
                if clock + wait - attempt.first <= self.settings.retry_for:
                    attempt.attempt += 1
                    attempt.due = clock + wait
                    self._retries.append(attempt)
                return
        for subscription_id in attempt.subscription_ids:  # any other error code deletes the subscription
            self.registry.delete(subscription_id)
