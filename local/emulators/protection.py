"""Service protection, injected faults and request statistics, shared by both emulators.

Real Dataverse and Business Central throttle per principal (application user / Entra app) in a sliding window
and by concurrency, and answer 429 with `Retry-After`. The connectors' retry and batching logic is only proven if the
emulators push back the same way, and the benchmarks only mean something if the emulators count what the real
services would charge. Faults (429 storms, 5xx, dropped connections, latency) are injected here, before any
handler runs, except `dropAfterProcessingRate`, which drops the connection after the change was applied: the
"outcome unknown" case that only idempotent writes survive.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from local.emulators.clock import set_offset


class Throttled(Exception):
    """Raised when a principal is over a limit; `kind` says which (requests or concurrency)."""

    def __init__(self, kind: str, retry_after: int, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.retry_after = retry_after
        self.message = message


@dataclass
class Limits:
    """Service-protection limits; defaults are Dataverse's (BC passes its own)."""

    requestsPerWindow: int = 6000
    windowSeconds: float = 300.0
    maxConcurrent: int = 52
    maxQueued: int = 0


class ServiceProtection:
    """Sliding-window request counting and a concurrency gate per principal."""

    def __init__(self, limits: Limits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._lock = threading.Condition()
        self._charges: dict[str, deque[tuple[float, int]]] = defaultdict(deque)
        self._in_flight: dict[str, int] = defaultdict(int)
        self._queued: dict[str, int] = defaultdict(int)

    def configure(self, values: Mapping[str, Any]) -> None:
        known = {f.name: f.type for f in fields(Limits)}
        with self._lock:
            for name, value in values.items():
                if name not in known:
                    raise ValueError(f"unknown limit '{name}'")
                if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                    raise ValueError(f"limit '{name}' must be a non-negative number")
                setattr(self.limits, name, float(value) if name == "windowSeconds" else int(value))

    def reset(self, limits: Limits) -> None:
        with self._lock:
            self.limits = limits
            self._charges.clear()

    def _window_total(self, key: str, now: float) -> int:
        charges = self._charges[key]
        while charges and charges[0][0] <= now - self.limits.windowSeconds:
            charges.popleft()
        return sum(units for _, units in charges)

    def charge(self, key: str, units: int) -> None:
        """Count units after the fact: like the real services, limits are enforced once exceeded."""
        if units <= 0:
            return
        with self._lock:
            self._charges[key].append((self._clock(), units))

    def check_window(self, key: str) -> None:
        with self._lock:
            now = self._clock()
            if self._window_total(key, now) >= self.limits.requestsPerWindow:
                charges = self._charges[key]
                oldest = charges[0][0] if charges else now
                retry_after = max(1, math.ceil(oldest + self.limits.windowSeconds - now))
                raise Throttled(
                    "requests",
                    retry_after,
                    f"Number of requests exceeded the limit of {self.limits.requestsPerWindow} over time window of "
                    f"{int(self.limits.windowSeconds)} seconds.",
                )

    @contextmanager
    def admit(self, key: str) -> Iterator[None]:
        """Hold a concurrency slot for one request; queue (BC) or refuse at once (Dataverse) when full."""
        self.check_window(key)
        with self._lock:
            if self._in_flight[key] >= self.limits.maxConcurrent:
                if self._queued[key] >= self.limits.maxQueued:
                    raise Throttled(
                        "concurrency",
                        1,
                        f"Number of concurrent requests exceeded the limit of {self.limits.maxConcurrent}.",
                    )
                self._queued[key] += 1
                try:
                    while self._in_flight[key] >= self.limits.maxConcurrent:
                        self._lock.wait()
                finally:
                    self._queued[key] -= 1
            self._in_flight[key] += 1
        try:
            yield
        finally:
            with self._lock:
                self._in_flight[key] -= 1
                self._lock.notify_all()


@dataclass
class Faults:
    """Fault rates (0..1) and fixed latency, set through `POST /_admin/faults`."""

    status429Rate: float = 0.0
    status5xxRate: float = 0.0
    dropRate: float = 0.0
    dropAfterProcessingRate: float = 0.0
    latencyMs: int = 0
    retryAfterSeconds: int = 1
    clockOffsetSeconds: float = 0.0  # this emulator's clock ahead (+) or behind (-) the machine's
    failRecordId: str = ""  # a record id: the next `failRecordTimes` batch operations on it answer 503
    failRecordTimes: int = 0
    seed: int | None = None


class FaultInjector:
    """Decides per request which fault (if any) to inject; seedable so a test can replay the same storm."""

    RATE_FIELDS = ("status429Rate", "status5xxRate", "dropRate", "dropAfterProcessingRate")

    def __init__(self) -> None:
        self.faults = Faults()
        self._random = random.Random()  # noqa: S311 - fault dice, not cryptography
        self._lock = threading.Lock()

    def configure(self, values: Mapping[str, Any]) -> Faults:
        merged = asdict(self.faults)
        for name, value in values.items():
            if name not in merged:
                raise ValueError(f"unknown fault '{name}'")
            if name == "failRecordId":
                if not isinstance(value, str):
                    raise ValueError("fault 'failRecordId' must be a record id (a string)")
            elif name == "seed":
                if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                    raise ValueError("fault 'seed' must be an integer or null")
            elif name == "clockOffsetSeconds":
                if not isinstance(value, int | float) or isinstance(value, bool) or abs(value) > 3600:
                    raise ValueError("fault 'clockOffsetSeconds' must be a number of seconds within an hour")
            elif not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise ValueError(f"fault '{name}' must be a non-negative number")
            elif name in self.RATE_FIELDS and value > 1:
                raise ValueError(f"fault '{name}' is a rate between 0 and 1")
            merged[name] = value
        with self._lock:
            self.faults = Faults(**merged)
            if self.faults.seed is not None:
                self._random.seed(self.faults.seed)
        set_offset(self.faults.clockOffsetSeconds)
        return self.faults

    def fails_record(self, url: str) -> bool:
        """Whether this batch operation (by its URL) is one of the targeted record's failures; counts it down, so
        a transient error can be repeated on one record exactly N times while every other record goes through."""
        with self._lock:
            target = self.faults.failRecordId
            if not target or self.faults.failRecordTimes <= 0 or target.lower() not in url.lower():
                return False
            self.faults = replace(self.faults, failRecordTimes=self.faults.failRecordTimes - 1)
            return True

    def roll(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self._lock:
            return self._random.random() < rate

    def choose_5xx(self) -> int:
        with self._lock:
            return self._random.choice((502, 503, 504))


class Stats:
    """What a test or benchmark asks of `GET /_admin/stats`: requests and charged units, by method and entity set."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.requests = 0
            self.charged_units = 0
            self.throttled = 0
            self.faults: dict[str, int] = defaultdict(int)
            self.by_method: dict[str, dict[str, int]] = defaultdict(lambda: {"requests": 0, "units": 0})
            self.by_entity_set: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))

    def record_request(self, method: str, entity_set: str, units: int) -> None:
        with self._lock:
            self.requests += 1
            self._record_units(method, entity_set, units)
            self.by_method[method]["requests"] += 1

    def record_operation(self, method: str, entity_set: str, units: int) -> None:
        """An operation inside a `$batch`: charged like a request, but not an HTTP request of its own."""
        with self._lock:
            self._record_units(method, entity_set, units)

    def _record_units(self, method: str, entity_set: str, units: int) -> None:
        self.charged_units += units
        self.by_method[method]["units"] += units
        self.by_entity_set[entity_set][method] += 1

    def record_fault(self, kind: str) -> None:
        with self._lock:
            self.faults[kind] += 1

    def record_throttled(self) -> None:
        with self._lock:
            self.throttled += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": self.requests,
                "chargedUnits": self.charged_units,
                "throttled": self.throttled,
                "faults": dict(self.faults),
                "byMethod": {k: dict(v) for k, v in self.by_method.items()},
                "byEntitySet": {k: dict(v) for k, v in self.by_entity_set.items()},
            }
