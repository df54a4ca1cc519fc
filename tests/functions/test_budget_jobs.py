"""The job entries report each company's requests per budget scope and its share of the scope's window (issue 22,
item 7), through the registered functions over the real stack: the companies of `test_companies.py` (the primary
CRONUS and Fabrikam in BC environment production, a CRONUS in sandbox, one Dataverse org), wired to budgets as
`bootstrap.build_services` wires them (each company's BC client and the shared Dataverse client hold the company's
ticket on their scope's budget; the job log takes the company's count). What is checked: a queue job's entry names
the requests its company sent, exactly as many as the BC emulator received, and its share; two companies of one
environment share that environment's window (the later one's share is below 1); the sandbox company has a budget
of its own; `/api/jobs` returns the report."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from local.fakes.queue import InMemoryJobQueue
from shared.connectors.budget import METER, ScopeBudget
from shared.domain.budgets import Limits
from shared.domain.jobs import JobKind, JobMessage, with_company
from shared.storage.budgets import TableBudgetLedger
from shared.storage.tables import TableFactory
from tests.functions.conftest import Api
from tests.functions.test_companies import (  # noqa: F401 - the fixture, shared
    FABRIKAM,
    PRIMARY,
    SANDBOX_CO,
    Companies,
    companies,
    couple_all,
)
from tests.functions.test_full_sync_queue import drain
from tests.functions.test_queue_handler import SYNC_JOB, service_bus_message

pytestmark = pytest.mark.integration
BC_PRODUCTION, BC_SANDBOX, DATAVERSE = "bc:production", "bc:sandbox", "dataverse"


@dataclass
class Budgets:
    companies: Companies
    ledger: TableBudgetLedger
    production: ScopeBudget
    sandbox: ScopeBudget
    dataverse: ScopeBudget


@pytest.fixture
def budgets(companies: Companies, azurite: str) -> Iterator[Budgets]:  # noqa: F811 - the imported fixture
    ledger = TableBudgetLedger(TableFactory.from_connection_string(azurite, prefix=f"g{uuid.uuid4().hex[:12]}"))
    production = ScopeBudget("bc:tenant/production", Limits(6000, 5), ledger, label=BC_PRODUCTION)
    sandbox = ScopeBudget("bc:tenant/sandbox", Limits(6000, 5), ledger, label=BC_SANDBOX)
    dataverse = ScopeBudget("dataverse:emulator", Limits(6000, 52), ledger, label=DATAVERSE)
    for company in (PRIMARY, FABRIKAM, SANDBOX_CO):
        services = companies.services[company.key]
        services.company = company  # as build_services sets it: the for_run copy of Dataverse is the company's
        bc: Any = services.context.bc
        bc.http.budget = (sandbox if company is SANDBOX_CO else production).for_company(company.key)
        jobs: Any = services.context.jobs
        jobs.report = lambda key=company.key: METER.take(key)
    shared: Any = companies.api.stack.context.dataverse
    shared.http.budget = dataverse.for_company(PRIMARY.key)
    yield Budgets(companies, ledger, production, sandbox, dataverse)
    shared.http.budget = None


def latest_budget(budgets: Budgets, key: str, mapping: str = "CUSTOMER") -> dict[str, Any]:
    jobs = budgets.companies.services[key].context.jobs.list_jobs(mapping, 1)
    assert jobs, f"no {mapping} job of {key!r}"
    return dict(jobs[0].budget)


def test_a_job_entry_reports_its_companys_requests_and_share_per_scope(budgets: Budgets) -> None:
    couple_all(PRIMARY.key, "budget-primary")
    couple_all(FABRIKAM.key, "budget-fab")

    primary, fabrikam = latest_budget(budgets, PRIMARY.key), latest_budget(budgets, FABRIKAM.key)
    assert set(primary) == set(fabrikam) == {BC_PRODUCTION, DATAVERSE}  # both scopes, nothing of the sandbox
    for report in (primary, fabrikam):
        for scope in (BC_PRODUCTION, DATAVERSE):
            assert report[scope]["requests"] > 0 and 0 < report[scope]["windowShare"] <= 1
    # one environment's window, shared: fabrikam reserved after the primary, so neither has all of it
    assert fabrikam[BC_PRODUCTION]["windowShare"] < 1
    reserved = budgets.ledger.read("bc:tenant/production").used
    by_company = {key: sum(by.get(key, 0) for by in reserved.values()) for key in (PRIMARY.key, FABRIKAM.key)}
    assert all(count > 0 for count in by_company.values())  # both companies drew on the one production window


def test_a_runs_entry_counts_exactly_the_requests_its_company_sent(budgets: Budgets) -> None:
    couple_all(FABRIKAM.key, "budget-fab-couple")
    bc = budgets.companies.api.stack.bc_handle
    assert bc.admin("DELETE", "stats").status_code in (200, 204)
    run = with_company(JobMessage(JobKind.MAPPING_RUN, "budget-fab-run", {"mapping": "CUSTOMER"}), FABRIKAM.key)
    SYNC_JOB(service_bus_message(run))

    report = latest_budget(budgets, FABRIKAM.key)
    received = int(bc.admin("GET", "stats").json()["requests"])
    assert received > 0 and report[BC_PRODUCTION]["requests"] == received  # an incremental run sends no $batch


def test_the_sandbox_company_draws_on_its_own_environments_budget(budgets: Budgets) -> None:
    couple_all(SANDBOX_CO.key, "budget-sbx")
    report = latest_budget(budgets, SANDBOX_CO.key)
    assert report[BC_SANDBOX]["requests"] > 0 and BC_PRODUCTION not in report
    assert report[BC_SANDBOX]["windowShare"] == 1.0  # the only company of its environment
    assert not budgets.ledger.read("bc:tenant/production").used  # nothing of the production window


def test_the_jobs_route_returns_the_report(budgets: Budgets) -> None:
    couple_all(FABRIKAM.key, "budget-fab-route")
    status, body = budgets.companies.call("list_jobs", FABRIKAM.key, params={"mapping": "CUSTOMER"})
    assert status == 200, body
    assert body["value"][0]["budget"] == latest_budget(budgets, FABRIKAM.key)
    assert body["value"][0]["budget"][BC_PRODUCTION]["requests"] > 0


class HandClock:
    def __init__(self) -> None:
        self.now = 0.5

    def __call__(self) -> float:
        return self.now


def test_a_full_sync_chunk_that_spends_the_window_resumes_after_it_never_sending_over(
    api: Api, azurite: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A window of two BC requests: a route meeting a spent window answers 503 `budgetSpent`; each chunk (its
    split too) that meets the spent window is sent again after the wait the budget names (the 429 path), and the
    emulator never receives more than two requests in one window."""
    queue = api.services.queue
    assert isinstance(queue, InMemoryJobQueue)
    now = [datetime.now(UTC)]
    monkeypatch.setattr(queue, "_clock", lambda: now[0])
    clock = HandClock()
    ledger = TableBudgetLedger(TableFactory.from_connection_string(azurite, prefix=f"g{uuid.uuid4().hex[:12]}"))
    small = Limits(2, 5, window_seconds=5.0, margin_percent=100, slices=5, block=1)
    budget = ScopeBudget("bc:tenant/production", small, ledger, max_wait=0.0, clock=clock)
    bc: Any = api.services.context.bc
    bc.http.budget = budget.for_company("")
    emulator = api.stack.bc_handle
    budget.take("", small.allowance)  # another job spent the window
    status, refused = api.call("start_full_sync", "POST", {"mappings": ["UNIT GROUP"]})
    assert status == 503 and refused["error"]["code"] == "budgetSpent"  # a route answers as when throttled
    bc.http.budget = None  # planned outside the budget; its chunks within it
    status, review = api.call("start_full_sync", "POST", {"mappings": ["UNIT GROUP"]})
    assert status == 202, review
    bc.http.budget = budget.for_company("")
    clock.now += 6.0
    received: list[int] = []
    for _ in range(40):
        emulator.admin("DELETE", "stats")
        drain(queue)
        received.append(int(emulator.admin("GET", "stats").json()["requests"]))
        if not queue.scheduled_messages():
            break
        waiting = queue.scheduled_messages()
        assert all(at - now[0] >= timedelta(seconds=1) for _, at in waiting)  # after the budget's wait
        clock.now += 6.0  # a whole window later on the budget's clock...
        now[0] += timedelta(seconds=8)  # ...and past the wait (and its jitter) on the queue's
    _, review = api.call("get_full_sync", route={"runId": review["runId"]})
    assert review["status"] == "finished", review
    assert review["lines"][0]["counters"]["coupled"] == 9 and not queue.dead_letters()
    assert max(received) == 2 and len(received) >= 2  # never over the window, and it took more than one
