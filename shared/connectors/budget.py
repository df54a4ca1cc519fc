"""The request budgets the HTTP clients send within (issue 22, item 7; the arithmetic is `domain/budgets.py`).

One `ScopeBudget` per scope and process (`bc:<tenant>/<environment>`, `dataverse:<org host>`), shared by the clients
of every company on that scope; each company's client holds its `CompanyBudget` (`HttpClient.budget`). Before each
attempt the client takes the call's requests from its company's reserved block, reserving a new block on the
shared ledger (`storage/budgets.py`) when the block is spent or its slice has passed; an unused rest counts as used,
so the window never holds more than the allowance, whoever reserved it.

When the window (or the company's fair share of it, while others want the scope) is spent, the call waits for the
earliest slice with room when that is within `max_wait`; else it raises a transient `ApiError` `budgetSpent` with
`retry_after`, which takes the path a 429 takes once the client's retries are spent: a full-sync chunk is sent again
after that wait (`services/job_handlers.py`), a timer run waits for its next tick, an HTTP route answers 503. So
nothing is ever sent over the budget.

Concurrency: a semaphore per scope and process caps the requests in flight at `Limits.concurrency`. It does not
span instances: N instances may have N x the cap in flight. For BC that only queues at the service (5 processed,
up to 95 queued per principal); for Dataverse set `DATAVERSE_BUDGET_CONCURRENCY` to 52 / the instance count when
scaling out (docs/operations.md, "Service-protection budgets"). The requests are taken before the place is: a
company waiting for room must not hold a place another company could send with. So a request that waits for a
place across a slice boundary is sent one slice after the one that counted it; with one-minute slices and
requests of seconds that is rare, and the 10 % margin covers it.

The job entries' report: every request a company's client sends is counted on the sending thread for that company
(`METER`); `TableJobLog` takes the count when it records a job, and `bootstrap.for_run` clears it when an invocation
starts, so a job entry reports the requests its company sent on that thread since the invocation started or its
previous job entry, whichever is later, and the company's share of the scope's window at its last reservation.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from shared.connectors.errors import ApiError
from shared.domain.budgets import Grant, Limits
from shared.domain.errors import ErrorKind, FatalError


class Reserver(Protocol):
    def reserve(self, scope: str, company: str, want: int, limits: Limits, now: float) -> Grant: ...


@dataclass
class _Block:
    remaining: int = 0
    slice_index: int = -1


class ScopeBudget:
    """One scope's budget in this process: the shared reservations, the in-flight cap, the companies' blocks."""

    def __init__(
        self,
        scope: str,
        limits: Limits,
        ledger: Reserver,
        *,
        label: str | None = None,
        max_wait: float = 60.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.scope = scope
        self.label = label or scope  # the key of the job entries' report
        self.limits = limits
        self.max_wait = max_wait
        self._ledger = ledger
        self._clock = clock
        self._sleep = sleep
        self._slots = threading.BoundedSemaphore(limits.concurrency)
        self._lock = threading.Lock()
        self._company_locks: dict[str, threading.Lock] = {}
        self._blocks: dict[str, _Block] = {}
        self.shares: dict[str, float] = {}  # company -> its share of the window at its last reservation
        self.in_flight = 0
        self.peak_in_flight = 0  # the most requests this process had in flight at once (tests, diagnostics)

    def for_company(self, company: str) -> CompanyBudget:
        return CompanyBudget(self, company)

    def _company_lock(self, company: str) -> threading.Lock:
        with self._lock:
            return self._company_locks.setdefault(company, threading.Lock())

    def take(self, company: str, cost: int) -> float:
        """Take `cost` requests for `company` from its block, reserving more as needed; returns the seconds it
        waited. Raises `budgetSpent` (transient, `retry_after`) rather than wait beyond `max_wait`."""
        if cost > self.limits.allowance:
            raise FatalError(
                "budgetTooSmall",
                f"one call counts {cost} requests, more than the budget of {self.scope} allows in a window "
                f"({self.limits.allowance})",
            )
        waited = 0.0
        with self._company_lock(company):
            block = self._blocks.setdefault(company, _Block())
            while True:
                now = self._clock()
                current = self.limits.slice_of(now)
                if block.slice_index != current:  # a block serves its own slice only: its rest counts as used
                    block.remaining, block.slice_index = 0, current
                if block.remaining >= cost:
                    block.remaining -= cost
                    return waited
                want = max(self.limits.block, cost - block.remaining)
                grant = self._ledger.reserve(self.scope, company, want, self.limits, now)
                self.shares[company] = grant.share
                if grant.count > 0:
                    if grant.slice_index == block.slice_index:
                        block.remaining += grant.count
                    else:
                        block.remaining, block.slice_index = grant.count, grant.slice_index
                    continue
                if waited + grant.retry_after > self.max_wait:
                    raise ApiError(
                        status=None,
                        code="budgetSpent",
                        message=(
                            f"the request budget of {self.scope} is spent for this window; "
                            f"room again in {grant.retry_after:.0f}s"
                        ),
                        method="",
                        url="",
                        retry_after=grant.retry_after,
                        kind=ErrorKind.TRANSIENT,
                    )
                self._sleep(grant.retry_after)
                waited += grant.retry_after

    @contextmanager
    def slot(self) -> Iterator[None]:
        """One of the `concurrency` in-flight places of this process for the duration of a send."""
        with self._slots:
            with self._lock:
                self.in_flight += 1
                self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            try:
                yield
            finally:
                with self._lock:
                    self.in_flight -= 1


@dataclass(frozen=True)
class CompanyBudget:
    """A company's ticket on a scope's budget: what an `HttpClient` holds (`HttpClient.budget`)."""

    budget: ScopeBudget
    company: str

    @contextmanager
    def sending(self, cost: int) -> Iterator[None]:
        """Around one attempt: take its requests (waiting within bounds), count them for the company's job entry,
        then hold an in-flight place while it is sent."""
        self.budget.take(self.company, cost)
        METER.add(self.company, self.budget, cost)
        with self.budget.slot():
            yield


class JobMeter:
    """Requests sent per company and scope on each thread, since they were last taken (module docstring)."""

    def __init__(self) -> None:
        self._local = threading.local()

    def _counts(self) -> dict[str, dict[str, tuple[ScopeBudget, int]]]:
        counts: dict[str, dict[str, tuple[ScopeBudget, int]]] | None = getattr(self._local, "counts", None)
        if counts is None:
            counts = self._local.counts = {}
        return counts

    def add(self, company: str, budget: ScopeBudget, cost: int) -> None:
        by_scope = self._counts().setdefault(company, {})
        _, sent = by_scope.get(budget.label, (budget, 0))
        by_scope[budget.label] = (budget, sent + cost)

    def reset(self, company: str) -> None:
        self._counts().pop(company, None)

    def take(self, company: str) -> dict[str, Any]:
        """The company's report on this thread, cleared: `{label: {"requests", "windowShare"}}`."""
        by_scope = self._counts().pop(company, {})
        return {
            label: {"requests": sent, "windowShare": round(budget.shares.get(company, 0.0), 4)}
            for label, (budget, sent) in sorted(by_scope.items())
        }


METER = JobMeter()
