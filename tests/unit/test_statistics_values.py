"""The pure half of customer statistics: what a row should hold, and when a held row already holds it."""

from __future__ import annotations

from datetime import date
from typing import Any

from shared.domain.statistics import NOT_IN_API, holds, row_body, statistics_id, statistics_values

CUSTOMER: dict[str, Any] = {
    "id": "7a1c5b0e-0000-4000-8000-000000000001",
    "number": "C00010",
    "displayName": "x" * 120,
    "creditLimit": 25000,
    "customerFinancialDetails": {"balance": 1200.5, "totalSalesExcludingTax": 800, "overdueAmount": 0},
}
CUSTOMER_ID = "7a1c5b0e-0000-4000-8000-000000000001"
USD = "11111111-2222-4333-8444-555555555555"


def test_values_take_bc_figures_workdate_and_leave_the_gaps_empty() -> None:
    values = statistics_values(CUSTOMER, date(2030, 1, 31), USD)
    assert values["nav_name"] == "x" * 100  # String(100)
    assert (values["nav_balancelcy"], values["nav_totalsaleslcy"], values["nav_overdueamountslcy"]) == (1200.5, 800, 0)
    assert (values["nav_creditlimitlcy"], values["nav_overdueamountsasof"]) == (25000, "2030-01-31")
    assert all(values[name] is None for name in NOT_IN_API)
    assert values["transactioncurrencyid"] == USD
    bare = statistics_values({"number": "C1", "customerFinancialDetails": None}, date(2030, 1, 31), None)
    assert (bare["nav_balancelcy"], bare["nav_creditlimitlcy"]) == (0, 0) and "transactioncurrencyid" not in bare


def test_a_row_holds_values_in_the_canonical_form_only() -> None:
    values = statistics_values(CUSTOMER, date(2030, 1, 31), USD)
    held = {**values, "nav_balancelcy": 1200.5000000001, "nav_overdueamountsasof": "2030-01-31T00:00:00Z"}
    held["_transactioncurrencyid_value"] = held.pop("transactioncurrencyid")
    assert holds(held, values)
    assert not holds({**held, "nav_balancelcy": 1200.49}, values)
    assert not holds({**held, "_transactioncurrencyid_value": None}, values)
    assert not holds({**held, "nav_totallcy": 5}, values)  # a stale figure in a gap is cleared


def test_the_row_id_is_stable_and_the_currency_is_bound() -> None:
    assert statistics_id(CUSTOMER_ID) == statistics_id(CUSTOMER_ID.upper()) != statistics_id(USD)
    body = row_body("row", statistics_values(CUSTOMER, date(2030, 1, 31), USD))
    assert body["nav_accountstatisticsid"] == "row"
    assert body["transactioncurrencyid@odata.bind"] == f"/transactioncurrencies({USD})"
    assert "transactioncurrencyid" not in body
