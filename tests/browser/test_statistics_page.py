"""Update Account Statistics from the console: on a coupled customer's card, the button writes the account's
statistics row (the figures shown, an empty one marked as not in API v2.0) and reports the invoices it changed."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from local.emulators.business_central.seed import seeded_id as bc_seeded
from local.emulators.dataverse.seed import seeded_id as dv_seeded
from tests.browser.conftest import Console
from tests.browser.scenario import Scenario

pytestmark = pytest.mark.integration


def test_update_account_statistics_from_a_customer_coupling(console: Console, scenario: Scenario) -> None:
    for mapping in ("SALESPEOPLE", "CURRENCY"):
        scenario.api("POST", f"couplings/{mapping}/match", {})
    bc_id, account = bc_seeded("customer", "Trey Research"), dv_seeded("account", "Trey Research")
    scenario.api("POST", "couplings", {"mapping": "CUSTOMER", "bcId": bc_id, "dataverseId": account}, expect=201)
    lines = [{"lineType": "Item", "lineObjectNumber": "1896-S", "quantity": 2, "unitPrice": 30}]
    scenario.bc("POST", "salesOrders", {"customerId": bc_id, "salesOrderLines": lines})

    page = console.open(f"couplings?mapping=CUSTOMER&bcId={bc_id}")
    card = page.locator(".coupling")
    card.get_by_role("button", name="Update account statistics").click()
    result = card.locator(".result")
    expect(result.get_by_role("heading", name="Account statistics created")).to_be_visible()
    expect(result.locator("dl.statistics")).to_contain_text("Outstanding orders60")
    expect(result.locator("dl.statistics")).to_contain_text("Total-- (not in API v2.0)")
    expect(result.locator(".invoices")).to_have_text("0 of 0 coupled invoice(s) got a new payment status.")
    assert console.errors == []
