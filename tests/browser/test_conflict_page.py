"""A conflict resolved in the console: the record changed in both apps shows as `changedInBothApps` on Sync errors; the
conflict view shows both values side by side with the differing field marked; "Keep Business Central" writes BC's
value to Sales and the error is gone."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Console
from tests.browser.scenario import Scenario

pytestmark = pytest.mark.integration


def test_resolve_a_conflict_by_keeping_business_central(console: Console, scenario: Scenario) -> None:
    bc_id, account = scenario.conflict("The Cannon Group PLC", bc_city="Solihull", sales_city="Redditch")
    assert [e["code"] for e in scenario.errors("CUSTOMER")] == ["changedInBothApps"]

    page = console.open("errors")
    page.get_by_label("Mapping").select_option("CUSTOMER")
    row = page.locator(f'tr[data-id="{bc_id}"]')
    expect(row).to_contain_text("changedInBothApps")
    row.get_by_role("button", name="Compare").click()

    city = page.locator('.compare-table tr[data-field="city>address1_city"]')
    expect(city.locator(".bc-value")).to_have_text("Solihull")
    expect(city.locator(".dv-value")).to_have_text("Redditch")
    expect(city).to_have_class("differs")
    expect(city).to_contain_text("Differs")
    expect(page.locator(".compare-table tr.differs")).to_have_count(1)  # only the field changed on both sides
    expect(page.get_by_role("heading", name="Compare CUSTOMER record")).to_be_focused()
    console.screenshot("sync-errors")

    page.get_by_role("button", name="Keep Business Central").click()
    expect(page.locator("#status")).to_contain_text("Kept Business Central's values")
    expect(page.locator(f'tr[data-id="{bc_id}"]')).to_have_count(0)
    expect(page.get_by_text("No record errors.")).to_be_visible()

    assert scenario.errors("CUSTOMER") == []
    assert scenario.dataverse("GET", f"accounts({account})?$select=address1_city")["address1_city"] == "Solihull"
    assert console.errors == []
