"""How shared/bootstrap.py wires the budgets (issue 22, item 7), from app settings and without I/O: one budget per
scope shared by the companies on it, each company's BC client holding its own ticket, the shared Dataverse client
the primary's and a company's copy of it (same session and tokens) that company's, the settings' limits, and the
job log counting for its company."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from shared import bootstrap
from shared.connectors.budget import METER, ScopeBudget
from tests.unit.test_companies_settings import ENV
from tests.unit.test_company_composition import COMPANIES


@pytest.fixture
def configured(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {
        **ENV,
        "TABLE_PREFIX": "dep",
        "BC_COMPANIES": json.dumps(COMPANIES),
        "ServiceBusConnection__fullyQualifiedNamespace": "sync.servicebus.windows.net",
        "BC_BUDGET_REQUESTS": "1000",
        "BUDGET_MARGIN_PERCENT": "80",
    }.items():
        monkeypatch.setenv(name, value)
    bootstrap.set_services(None)
    yield
    bootstrap.set_services(None)


def ticket(client: Any) -> Any:
    return client.http.budget


def test_companies_of_one_environment_share_its_budget_and_hold_their_own_tickets(configured: None) -> None:
    primary, fabrikam, sandbox = (bootstrap.get_services(key) for key in ("", "fab", "sbx"))
    tickets = [ticket(s.context.bc) for s in (primary, fabrikam, sandbox)]
    assert [t.company for t in tickets] == ["", "fab", "sbx"]
    assert tickets[0].budget is tickets[1].budget  # production: one budget for CRONUS and Fabrikam
    assert tickets[0].budget.scope == "bc:tenant-1/production" and tickets[2].budget.scope == "bc:tenant-1/sandbox"
    assert tickets[2].budget is not tickets[0].budget
    limits = tickets[0].budget.limits
    assert (limits.allowance, limits.concurrency) == (800, 5)  # BC_BUDGET_REQUESTS x BUDGET_MARGIN_PERCENT
    dataverse = ticket(primary.context.dataverse)
    assert dataverse.company == "" and dataverse.budget.scope.startswith("dataverse:")
    assert dataverse.budget.limits.allowance == 4800 and dataverse.budget.limits.concurrency == 52


def test_a_company_sends_on_its_own_copy_of_the_shared_dataverse_client(configured: None) -> None:
    primary, fabrikam = bootstrap.get_services(), bootstrap.get_services("fab")
    shared: Any = primary.context.dataverse
    assert bootstrap._metered_dataverse(primary, shared) is shared  # the primary's ticket is the shared one's
    own: Any = bootstrap._metered_dataverse(fabrikam, shared)
    assert own is not shared and ticket(own).company == "fab" and ticket(own).budget is ticket(shared).budget
    assert own.http.session is shared.http.session and own.http.tokens is shared.http.tokens
    assert bootstrap._metered_dataverse(fabrikam, shared) is own  # made once
    assert ticket(shared).company == ""  # the shared client is left as it was


def test_the_job_log_takes_its_companys_count(configured: None) -> None:
    fabrikam = bootstrap.get_services("fab")
    budget: ScopeBudget = ticket(fabrikam.context.bc).budget
    METER.reset("fab")
    METER.add("fab", budget, 3)
    METER.add("", budget, 5)  # another company's requests on the same thread are not fabrikam's
    jobs: Any = fabrikam.context.jobs
    assert jobs.report() == {"bc:tenant-1/production": {"requests": 3, "windowShare": 0.0}}
    assert jobs.report() == {}  # taken
    assert METER.take("") == {"bc:tenant-1/production": {"requests": 5, "windowShare": 0.0}}
