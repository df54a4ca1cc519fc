"""The budgets' arithmetic (shared/domain/budgets.py) and the settings naming it (shared/settings.py): the sliced
sliding window never holds more than the allowance, fair shares while several companies want a scope, an idle
company's share free for the others, the wait until the earliest slice with room, and what one call counts."""

from __future__ import annotations

import json
import random

import pytest

from shared.domain.budgets import (
    Ledger,
    Limits,
    request_cost,
    reserve,
    scope_of_bc,
    scope_of_dataverse,
    window_share,
)
from shared.settings import BudgetSettings, Settings, SettingsError
from tests.unit.test_companies_settings import ENV


def small(requests: int = 100, slices: int = 5, block: int = 10) -> Limits:
    """100 requests per 5-second window of one-second slices, all of it ours."""
    return Limits(requests, 2, window_seconds=5.0, margin_percent=100, slices=slices, block=block)


def test_the_defaults_are_the_documented_limits_less_the_margin() -> None:
    budgets = BudgetSettings()
    bc, dataverse = budgets.bc_limits(), budgets.dataverse_limits()
    assert (bc.requests, bc.concurrency, bc.window_seconds) == (6000, 5, 300.0)
    assert (dataverse.requests, dataverse.concurrency) == (6000, 52)
    assert bc.allowance == dataverse.allowance == 5400  # 90 %
    assert bc.slice_seconds == 60.0 and bc.block == 50


def test_every_stretch_of_one_window_holds_at_most_the_allowance() -> None:
    """Reservations at random moments by three companies: whatever slices a sliding window touches (`slices + 1`
    of them at most, its requests being sent within their reservation's slice), their sum stays within it."""
    limits, ledger, rng = small(slices=4), Ledger(), random.Random(7)
    granted: dict[int, int] = {}
    now = 0.0
    for _ in range(3000):
        now += rng.uniform(0, 0.05)
        grant = reserve(ledger, limits, rng.choice("abc"), rng.randint(1, 30), now)
        granted[grant.slice_index] = granted.get(grant.slice_index, 0) + grant.count
    last = max(granted)
    sums = [sum(granted.get(i, 0) for i in range(s, s + limits.slices + 1)) for s in range(last + 1)]
    assert max(sums) <= limits.allowance
    assert max(sums) >= limits.allowance - 2  # and the demand used it (three thirds of 100 round down by 1 or 2)


def test_a_company_alone_takes_the_whole_allowance_then_waits_for_the_slice_that_frees_it() -> None:
    limits, ledger = small(), Ledger()
    assert reserve(ledger, limits, "a", 70, 0.5).count == 70
    assert reserve(ledger, limits, "a", 70, 1.5).count == 30  # what is left of the window
    refused = reserve(ledger, limits, "a", 10, 2.2)
    assert refused.count == 0
    # slice 0 (70) leaves the window at slice 6 (slices 1..6 are the 6 any stretch ending in 6 can touch)
    assert refused.retry_after == pytest.approx(6.0 - 2.2)
    assert reserve(ledger, limits, "a", 100, 6.0).count == 70


def test_while_two_companies_want_the_scope_neither_takes_the_others_share() -> None:
    limits, ledger = small(), Ledger()
    assert reserve(ledger, limits, "b", 5, 0.1).count == 5  # b wants the scope too (for one slice)
    assert reserve(ledger, limits, "a", 100, 0.2).count == 50  # a backlog: its half only
    refused = reserve(ledger, limits, "a", 10, 0.3)
    assert refused.count == 0 and refused.retry_after > 0
    assert reserve(ledger, limits, "b", 100, 0.4).count == 45  # b's share stayed free for it
    assert window_share(ledger, limits, "a", 0.4) == pytest.approx(0.5)


def test_an_idle_companys_share_is_free_for_the_others_once_it_stops_asking() -> None:
    limits, ledger = small(), Ledger()
    reserve(ledger, limits, "b", 10, 0.1)  # b asked once, then stays idle
    assert reserve(ledger, limits, "a", 100, 0.5).count == 50  # b still wants (until 1.1): its share is held
    assert reserve(ledger, limits, "a", 100, 1.2).count == 40  # b stopped wanting: all that is left
    assert set(ledger.wants) == {"a"}


def test_slices_out_of_every_window_are_dropped_and_the_ledger_round_trips() -> None:
    limits, ledger = small(), Ledger()
    reserve(ledger, limits, "a", 10, 0.5)
    reserve(ledger, limits, "b", 10, 20.5)
    assert set(ledger.used) == {20}
    used, wants = ledger.to_json()
    again = Ledger.from_json(used, wants)
    assert again == ledger and json.loads(used) == {"20": {"b": 10}}


def test_a_call_counts_one_request_or_each_request_of_its_batch() -> None:
    assert request_cost("GET", "https://h/v2.0/t/p/api/v2.0/customers", None, None) == 1
    bc_batch = {"requests": [{"id": str(i)} for i in range(7)]}
    assert request_cost("POST", "https://h/v2.0/t/p/api/v2.0/$batch", bc_batch, None) == 7
    parts = "\r\n".join("--b\r\nContent-Type: application/http\r\n\r\nPATCH x HTTP/1.1\r\n" for _ in range(3))
    assert request_cost("POST", "https://org.crm.dynamics.com/api/data/v9.2/$batch", None, parts.encode()) == 3
    assert request_cost("POST", "https://org.crm.dynamics.com/api/data/v9.2/accounts", {"name": "x"}, None) == 1


def test_scopes_name_the_environment_and_the_org() -> None:
    assert scope_of_bc("https://api.businesscentral.dynamics.com/v2.0/Tenant-1/Production") == "bc:tenant-1/production"
    assert scope_of_bc("http://127.0.0.1:8080/tenant/sandbox") == "bc:127.0.0.1:8080/tenant/sandbox"
    assert scope_of_dataverse("https://Contoso.crm4.dynamics.com/") == "dataverse:contoso.crm4.dynamics.com"


def test_budget_settings_are_read_and_a_bad_one_is_named() -> None:
    settings = Settings.from_env({**ENV, "BC_BUDGET_REQUESTS": "1200", "BUDGET_MARGIN_PERCENT": "50"})
    assert settings.budgets.bc_limits().allowance == 600
    assert settings.budgets.dataverse_limits().allowance == 3000
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({**ENV, "DATAVERSE_BUDGET_CONCURRENCY": "0", "BUDGET_WINDOW_SECONDS": "x"})
    assert any("DATAVERSE_BUDGET_CONCURRENCY" in p for p in raised.value.problems)
    assert any("BUDGET_WINDOW_SECONDS" in p for p in raised.value.problems)
    assert Settings.from_env(ENV).budgets == BudgetSettings()  # nothing set: the documented limits
