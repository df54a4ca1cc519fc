"""A deterministic fault simulation of the sync (FoundationDB-style): the scheduler that kills the worker, and the
Service Bus that brings the work back.

Why kill at *writes*: every durable effect of the app is an outgoing HTTP write (Table Storage on Azurite, BC,
Dataverse); reads change nothing. So "the worker died before write n" for every n covers every state a real crash
can leave behind (a crash after write n and before write n + 1 leaves the same state as one just before n + 1).
Writes are POST/PUT/PATCH/MERGE/DELETE, `$batch` and Table transactions included (a BC `$batch` holding only GETs,
the batch runner reading back, is a read: a crash before it leaves the same state as one before the next write).

Why patch `requests`: the app must not know it is tested. Every outgoing call of the app (its connectors and the
Azure SDK's default transport) goes through `HTTPAdapter.send`, as `local/host/chaos.py` found; the crash is its
`WorkerCrashed`, a BaseException nothing in the app catches, so the work stops where it is. Unlike the host's hook,
this one counts writes across all threads of one invocation (the coupling store reads in a pool), and once the
worker is dead every later request of that invocation dies too, as a killed process sends nothing more.

Why a manual clock for the queue: a killed worker never settles its message; Service Bus delivers it again when
its lock expires. Moving the queue's clock a seeded number of seconds per delivery decides, repeatably, how many
other messages run before the redelivery.
"""

from __future__ import annotations

import json
import random
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

import requests.adapters

from local.fakes.queue import DEFAULT_LOCK_DURATION, InMemoryJobQueue, LockedMessage, MessageLockLost
from local.host.chaos import WorkerCrashed
from shared.domain.errors import SyncError

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "MERGE", "DELETE"})
AZURITE_ACCOUNT = "devstoreaccount1"
_TABLE_PREFIX = re.compile(r"^[a-z][0-9a-f]{12}(?=[A-Z])")  # the per-run prefix of `World.fresh_run`
_INNER_REQUEST = re.compile(r"^(GET|POST|PUT|PATCH|MERGE|DELETE) (\S+) HTTP/1\.1", re.MULTILINE)
_KEY = re.compile(r"\(.*\)")  # an entity key, on one (quoted) path segment
_ACTION = re.compile(r"^Microsoft\.(?:Dynamics\.CRM|NAV)\.")


# -- where a write goes ------------------------------------------------------------------------------------------
def write_site(method: str, url: str, body: object) -> str | None:
    """A crash point by place, not by number: service, method and entity set or table (the inner operations of a
    batch), e.g. `table $batch[POST Couplings]`, `bc $batch[POST customers]`, `dv POST accounts/UpsertMultiple`."""
    path = urlsplit(url).path  # still quoted: a `/` inside a key stays `%2F`
    service = "table" if f"/{AZURITE_ACCOUNT}" in path else "dv" if "/api/data/" in path else "bc"
    if not path.endswith("$batch"):
        return f"{service} {method} {_target(service, path)}"
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body if isinstance(body, str) else ""
    inner: list[tuple[str, str]] = []
    if service == "bc":
        try:
            inner = [(str(r.get("method", "")).upper(), str(r.get("url", ""))) for r in json.loads(text)["requests"]]
        except (ValueError, KeyError, TypeError, AttributeError):
            inner = []
    else:
        inner = _INNER_REQUEST.findall(text)
    operations = sorted(
        {f"{verb} {_target(service, urlsplit(target).path)}" for verb, target in inner if verb != "GET"}
    )
    return f"{service} $batch[{', '.join(operations)}]" if operations or not inner else None  # reads only: no write


def _target(service: str, path: str) -> str:
    raw = [p for p in path.split("/") if p]
    company = next((i for i, p in enumerate(raw) if p.startswith("companies(")), None)
    parts = [unquote(_KEY.sub("", p)) for p in raw]
    if service == "table":
        parts = parts[parts.index(AZURITE_ACCOUNT) + 1 :] if AZURITE_ACCOUNT in parts else parts
        return _TABLE_PREFIX.sub("", parts[0]) if parts else "?"
    if service == "dv":
        parts = parts[next((i + 1 for i, p in enumerate(parts) if re.fullmatch(r"v\d+\.\d+", p)), 0) :]
    else:  # BC: whatever follows the company (a batch operation's url may start with it or not)
        parts = parts[company + 1 :] if company is not None else parts[-1:]
    return "/".join(_ACTION.sub("", p) for p in parts) or "?"


# -- the crash scheduler -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Crash:
    ordinal: int  # the n-th write of the scenario (counted over all its invocations)
    site: str
    during: str  # what the worker was doing: a message id and its delivery, or an incremental tick


class WriteCrasher:
    """Counts the writes of the app's invocations and kills the worker just before the chosen ones."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed = False
        self._dead = False
        self._during = ""
        self.crash_at: frozenset[int] = frozenset()
        self.sites: list[str] = []  # the site of every write made while armed, in order
        self.crashes: list[Crash] = []

    def reset(self, crash_at: frozenset[int] = frozenset()) -> None:
        with self._lock:
            self.crash_at, self.sites, self.crashes = crash_at, [], []

    @contextmanager
    def installed(self) -> Iterator[WriteCrasher]:
        """Patch `HTTPAdapter.send` for the duration (restored after, so other tests see plain `requests`)."""
        original: Callable[..., Any] = requests.adapters.HTTPAdapter.send
        crasher = self

        def send(adapter: requests.adapters.HTTPAdapter, request: Any, *args: Any, **kwargs: Any) -> Any:
            crasher.before_send(str(request.method or "GET").upper(), str(request.url), request.body)
            return original(adapter, request, *args, **kwargs)

        requests.adapters.HTTPAdapter.send = send  # type: ignore[method-assign, assignment]
        try:
            yield self
        finally:
            requests.adapters.HTTPAdapter.send = original  # type: ignore[method-assign]

    @contextmanager
    def invocation(self, during: str) -> Iterator[None]:
        """One invocation of the app (a message delivery, a timer tick): counted, and killable. Requests outside
        (setting up data, reading the end state) are neither."""
        with self._lock:
            self._armed, self._dead, self._during = True, False, during
        try:
            yield
        finally:
            with self._lock:
                self._armed = self._dead = False

    def before_send(self, method: str, url: str, body: object) -> None:
        with self._lock:
            if not self._armed:
                return
            if self._dead:
                raise WorkerCrashed(f"the worker is dead ({method} {url})")
            if method not in WRITE_METHODS:
                return
            site = write_site(method, url, body)
            if site is None:
                return
            self.sites.append(site)
            if len(self.sites) in self.crash_at:
                self._dead = True
                self.crashes.append(Crash(len(self.sites), site, self._during))
                raise WorkerCrashed(f"the worker died before write #{len(self.sites)}: {site}")


def choose_crashes(rng: random.Random, sites: Sequence[str], most: int) -> frozenset[int]:
    """1 to `most` crash points among the clean run's writes (`sites`, in order): one most often (a single fault
    is the common case; several find what a redelivery of a redelivery breaks). Each is drawn by site first, then
    among that site's writes, so a rare write (one Dataverse bulk upsert) is hit as often as a frequent one (an
    error-table delete per record)."""
    by_site: dict[str, list[int]] = {}
    for ordinal, site in enumerate(sites, start=1):
        by_site.setdefault(site, []).append(ordinal)
    if not by_site:
        return frozenset()
    names = sorted(by_site)
    count = rng.choices(range(1, most + 1), weights=[7, 2, 1, 1, 1][:most])[0]
    return frozenset(rng.choice(by_site[rng.choice(names)]) for _ in range(count))


# -- Service Bus, as one worker of the Functions host sees it ----------------------------------------------------
class ManualClock:
    def __init__(self) -> None:
        self.now = datetime(2030, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass(frozen=True)
class DeliveryChaos:
    """What Service Bus may do besides redelivering a killed message (seeded; off for the clean run)."""

    duplicate_rate: float = 0.0  # a message that succeeded is handled once more at once (the lock could not stop it)
    lost_completion_rate: float = 0.0  # the completion is lost: delivered again after the lock expires


@dataclass
class DeliveryLog:
    deliveries: int = 0
    crashed: int = 0
    duplicates: int = 0
    lost_completions: int = 0
    failures: list[str] = field(default_factory=list)  # exceptions the handler raised (abandoned, as the host does)
    drained: bool = True


def drain(
    queue: InMemoryJobQueue,
    clock: ManualClock,
    handle: Callable[[LockedMessage], None],
    crasher: WriteCrasher,
    rng: random.Random,
    chaos: DeliveryChaos,
    limit: int = 400,
) -> DeliveryLog:
    """Deliver until the queue is empty: complete on success, abandon on an exception (the host's behaviour), and
    nothing at all when the worker is killed (its lock expires, then the message comes back with its delivery
    count up, up to the queue's maximum). Each delivery moves the clock 5-30 s, so how many messages run before a
    killed one returns (60 s lock) is the seed's choice."""
    log = DeliveryLog()
    lock = DEFAULT_LOCK_DURATION.total_seconds()
    while log.deliveries < limit:
        locked = queue.receive(max_messages=1)
        if not locked:
            if not queue.active_messages() and not queue.scheduled_messages():
                return log
            clock.advance(lock + 1)  # only locked (killed) or scheduled messages left: wait for them
            continue
        message = locked[0]
        log.deliveries += 1
        during = f"{message.envelope.message_id} (delivery {message.delivery_count})"
        try:
            with crasher.invocation(during):
                handle(message)
        except WorkerCrashed:
            log.crashed += 1
            clock.advance(rng.uniform(5, 30))
            continue
        except Exception as error:  # the host abandons a failed invocation
            log.failures.append(f"{during}: {describe_error(error)}")
            clock.advance(rng.uniform(5, 30))
            queue.abandon(message.lock_token)
            continue
        if rng.random() < chaos.duplicate_rate:  # another worker got the same message (its own invocation)
            log.duplicates += 1
            try:
                with crasher.invocation(f"{during}, a duplicate"):
                    handle(message)
            except WorkerCrashed:
                log.crashed += 1
            except Exception as error:
                log.failures.append(f"{during}, a duplicate: {describe_error(error)}")
        clock.advance(rng.uniform(5, 30))
        if rng.random() < chaos.lost_completion_rate:
            log.lost_completions += 1
            continue
        try:
            queue.complete(message.lock_token)
        except MessageLockLost:  # the delivery outlived its lock: Service Bus delivers it again
            log.lost_completions += 1
    log.drained = False
    return log


def describe_error(error: BaseException) -> str:
    if isinstance(error, SyncError):
        return f"{type(error).__name__} {error.code}: {error.message}"
    return f"{type(error).__name__}: {error}"
