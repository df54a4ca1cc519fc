"""Budgets shared through Azurite (shared/storage/budgets.py, shared/connectors/budget.py): two "processes" (two
ledgers and two scope budgets on one table) never reserve more than the allowance of a window together; a company
with a backlog takes only its share while another company wants the scope, and the rest once it stops; a spent
window waits within bounds or raises `budgetSpent`; and the in-flight cap holds against the BC emulator, counted at
the transport. Small windows on a shared hand-driven clock keep them fast."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter

from local.emulators.business_central.seed import COMPANY_ID
from shared.connectors.budget import METER, ScopeBudget
from shared.connectors.errors import ApiError
from shared.connectors.http import HttpClient
from shared.domain.budgets import Limits
from shared.domain.errors import ErrorKind, FatalError
from shared.storage.budgets import TableBudgetLedger
from shared.storage.tables import TableFactory
from tests.conftest import BC_RESOURCE, Authority, BusinessCentralHandle

pytestmark = pytest.mark.integration
SCOPE = "bc:tenant/production"


class Clock:
    """A clock the test moves; `sleep` moves it (no real waiting)."""

    def __init__(self, now: float = 0.5) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def tables(azurite: str) -> Iterator[TableFactory]:
    yield TableFactory.from_connection_string(azurite, prefix=f"b{uuid.uuid4().hex[:12]}")


def limits(requests_: int = 100, block: int = 10, concurrency: int = 5) -> Limits:
    return Limits(requests_, concurrency, window_seconds=5.0, margin_percent=100, slices=5, block=block)


def process(tables: TableFactory, clock: Clock, max_wait: float = 0.0, **kw: Any) -> ScopeBudget:
    """One process's budget of the scope: its own ledger object on the shared table."""
    return ScopeBudget(
        SCOPE, limits(**kw), TableBudgetLedger(tables), max_wait=max_wait, clock=clock, sleep=clock.sleep
    )


def take_until_spent(budget: ScopeBudget, company: str, sent: list[int], limit: int = 10_000) -> None:
    for _ in range(limit):
        try:
            budget.take(company, 1)
        except ApiError as error:
            assert error.code == "budgetSpent" and error.kind is ErrorKind.TRANSIENT and error.retry_after
            return
        sent.append(1)


def test_two_processes_never_reserve_more_than_the_window_together(tables: TableFactory) -> None:
    clock = Clock()
    first, second = process(tables, clock, block=7), process(tables, clock, block=7)
    sent: list[int] = []
    threads = [
        threading.Thread(target=take_until_spent, args=(budget, "cronus", sent))
        for budget in (first, second, first, second)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    reserved = sum(sum(by.values()) for by in TableBudgetLedger(tables).read(SCOPE).used.values())
    assert reserved == 100  # all of it, and not one more: the ETag races were lost and re-decided
    assert 100 - 4 * 7 <= len(sent) <= 100  # each block's unused rest counts as used, never sent
    clock.now += 5.5  # slice 6: slice 0 has left every window that ends here: room again
    assert first.take("cronus", 1) == 0.0


def test_a_backlog_takes_its_share_while_another_company_wants_the_scope(tables: TableFactory) -> None:
    clock = Clock()
    big, small = process(tables, clock), process(tables, clock)
    small.take("fabrikam", 1)  # fabrikam wants the scope (a block of 10)
    backlog: list[int] = []
    take_until_spent(big, "cronus", backlog)
    assert len(backlog) == 50  # its half: fabrikam's share stays free for it
    few: list[int] = []
    for _ in range(39):
        small.take("fabrikam", 1)
        few.append(1)
    assert len(few) == 39  # fabrikam's requests all went, behind a backlog that came first
    assert big.shares["cronus"] == pytest.approx(50 / 60)  # its part of the window when it was refused
    clock.now += 1.1  # fabrikam stopped asking a slice ago: its unused share is cronus's now
    more: list[int] = []
    take_until_spent(big, "cronus", more)
    assert len(more) == 10  # 100 - 50 (cronus) - 40 (fabrikam's blocks)
    assert big.shares["cronus"] == pytest.approx(0.6)


def test_a_spent_window_waits_for_the_slice_with_room_within_max_wait_else_raises(tables: TableFactory) -> None:
    clock = Clock(0.5)
    patient = process(tables, clock, max_wait=10.0)
    for _ in range(100):
        patient.take("cronus", 1)
    assert patient.take("cronus", 1) == pytest.approx(5.5)  # slept until slice 6, when slice 0 leaves the window
    assert clock.slept == [pytest.approx(5.5)]
    hasty = process(tables, clock, max_wait=0.0)
    for _ in range(90):  # patient's block of slice 6 holds the other 10, its 9 unused ones included
        hasty.take("cronus", 1)
    with pytest.raises(ApiError) as raised:
        hasty.take("cronus", 1)
    assert raised.value.code == "budgetSpent" and raised.value.retry_after == pytest.approx(6.0)  # all in slice 6
    with pytest.raises(FatalError) as too_big:
        hasty.take("cronus", 101)  # one call larger than a window can never be sent within it
    assert too_big.value.code == "budgetTooSmall"


class CountingAdapter(HTTPAdapter):
    """The real transport to the emulator, counting the requests in flight (and holding each a little)."""

    def __init__(self) -> None:
        super().__init__(pool_connections=16, pool_maxsize=16, max_retries=0)
        self.lock = threading.Lock()
        self.in_flight = 0
        self.peak = 0

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        with self.lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        try:
            time.sleep(0.03)
            return super().send(request, **kwargs)
        finally:
            with self.lock:
                self.in_flight -= 1


def test_no_more_requests_are_in_flight_than_the_cap_and_each_is_counted_for_its_company(
    tables: TableFactory, business_central: BusinessCentralHandle, authority: Authority
) -> None:
    seeded = business_central.admin("POST", "seed", json={"profile": "demo"})
    assert seeded.status_code == 200, seeded.text
    clock = Clock()  # one slice throughout: a block's rest is never dropped for a new slice
    ledger = TableBudgetLedger(tables)
    budget = ScopeBudget(SCOPE, limits(1000, block=5, concurrency=2), ledger, label="bc:production", clock=clock)
    client = HttpClient(business_central.api_root, authority.token_provider(BC_RESOURCE))
    adapter = CountingAdapter()
    client.session.mount("http://", adapter)
    client.budget = budget.for_company("cronus")
    counted: list[dict[str, Any]] = []

    def worker() -> None:
        METER.reset("cronus")
        for _ in range(3):
            client.get_json(f"companies({COMPANY_ID})/customers", params={"$top": "1"})
        counted.append(METER.take("cronus"))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert adapter.peak == 2 and budget.peak_in_flight == 2  # 8 threads, never more than the cap at once
    assert [report["bc:production"]["requests"] for report in counted] == [3] * 8  # each thread its own
    assert all(0 < report["bc:production"]["windowShare"] <= 1 for report in counted)
    reserved = TableBudgetLedger(tables).read(SCOPE).used
    assert 24 <= sum(sum(by.values()) for by in reserved.values()) <= 24 + 4  # one block's rest at most


def test_a_call_stopped_by_a_spent_window_is_named_and_never_reaches_the_service(
    tables: TableFactory, business_central: BusinessCentralHandle, authority: Authority
) -> None:
    clock = Clock()
    budget = process(tables, clock, requests_=1)
    budget.take("cronus", 1)  # the window is spent
    client = HttpClient(business_central.api_root, authority.token_provider(BC_RESOURCE))
    client.budget = budget.for_company("cronus")
    assert business_central.admin("DELETE", "stats").status_code in (200, 204)
    with pytest.raises(ApiError) as raised:
        client.get_json("companies")
    assert raised.value.code == "budgetSpent" and raised.value.method == "GET"
    assert raised.value.url.endswith("/companies") and raised.value.retry_after == pytest.approx(5.5)
    assert business_central.admin("GET", "stats").json()["requests"] == 0
