"""Delivery faults the local host injects on purpose (`LOCAL_HOST_CHAOS`, a JSON object), so end-to-end tests can
prove that the queue-triggered code survives what Service Bus and a dying worker do to it in Azure:

- `duplicate`: every message that succeeded is delivered once more (a duplicate the lock could not prevent);
- `crashRate`: that share of first deliveries crash *mid-work*: the invocation's n-th outgoing HTTP request
  (n drawn from 1..`crashAfterMax`, any service: BC, Dataverse, Table Storage) raises `WorkerCrashed`, a
  `BaseException` nothing in the app catches, so the work stops where it is, as if the process were killed there
  (the writes before it stand, nothing after it runs); the message goes back and is redelivered;
- `lostCompletionRate`: that share of successful deliveries lose their completion: delivered again;
- `seed`: makes the choices repeatable.

Why in the host and not in the app: the app must not know it is being tested; the host is where Azure's own
behaviour lives locally. Why patch `requests`: every outgoing call of the app (and the Azure SDKs' default
transport) goes through `HTTPAdapter.send`, so a crash point there lands between any two real effects.
"""

from __future__ import annotations

import json
import os
import random
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import requests.adapters

CHAOS_SETTING = "LOCAL_HOST_CHAOS"
_budget = threading.local()  # the outgoing requests this thread's invocation may still make before it "dies"
_patched = False
_patch_lock = threading.Lock()


class WorkerCrashed(BaseException):
    """The worker died here. A BaseException, so no `except Exception` in the app can swallow it."""


@dataclass(frozen=True)
class DeliveryPlan:
    crash_after: int | None = None  # crash on this outgoing request of the invocation
    lose_completion: bool = False
    duplicate: bool = False


@dataclass
class Chaos:
    duplicate: bool = False
    crash_rate: float = 0.0
    crash_after_max: int = 8
    lost_completion_rate: float = 0.0
    seed: int | None = None

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)  # noqa: S311 (fault injection, not security)
        self._lock = threading.Lock()
        self.counts = {"crashed": 0, "duplicated": 0, "lostCompletions": 0}

    @classmethod
    def from_environment(cls) -> Chaos | None:
        raw = os.environ.get(CHAOS_SETTING)
        if not raw:
            return None
        values: dict[str, Any] = json.loads(raw)
        known = {"duplicate", "crashRate", "crashAfterMax", "lostCompletionRate", "seed"}
        if unknown := sorted(set(values) - known):
            raise ValueError(f"{CHAOS_SETTING}: unknown keys {unknown}; known: {sorted(known)}")
        chaos = cls(
            duplicate=bool(values.get("duplicate", False)),
            crash_rate=float(values.get("crashRate", 0)),
            crash_after_max=int(values.get("crashAfterMax", 8)),
            lost_completion_rate=float(values.get("lostCompletionRate", 0)),
            seed=values.get("seed"),
        )
        if chaos.crash_rate:
            _install_crash_points()
        return chaos

    def plan(self, delivery_count: int) -> DeliveryPlan:
        """What happens to this delivery. Only first deliveries crash, so every message gets through in the end."""
        with self._lock:
            crash = delivery_count <= 1 and self._random.random() < self.crash_rate
            after = self._random.randint(1, max(1, self.crash_after_max)) if crash else None
            lose = self._random.random() < self.lost_completion_rate
            return DeliveryPlan(after, lose, self.duplicate)

    def count(self, what: str) -> None:
        with self._lock:
            self.counts[what] += 1


@contextmanager
def crash_point(after: int | None) -> Iterator[None]:
    """Arm this thread's crash point for the duration of one invocation."""
    _budget.left = after
    try:
        yield
    finally:
        _budget.left = None


def _install_crash_points() -> None:
    global _patched  # noqa: PLW0603 (one process-wide patch, installed once)
    with _patch_lock:
        if _patched:
            return
        original: Callable[..., Any] = requests.adapters.HTTPAdapter.send

        def send(self: requests.adapters.HTTPAdapter, request: Any, *args: Any, **kwargs: Any) -> Any:
            left = getattr(_budget, "left", None)
            if left is not None:
                _budget.left = left - 1
                if left <= 1:
                    _budget.left = None
                    raise WorkerCrashed(f"the worker died before {request.method} {request.url}")
            return original(self, request, *args, **kwargs)

        requests.adapters.HTTPAdapter.send = send  # type: ignore[method-assign]
        _patched = True
