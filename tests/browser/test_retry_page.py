"""An error retried from the console: a customer moved to a currency that is not coupled fails with
`lookupNotCoupled`; once the admin couples the currency again, "Retry" on the error synchronizes the record (the
retry runs the mapping for it) and the error is gone."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Console
from tests.browser.scenario import Scenario

pytestmark = pytest.mark.integration


def test_retry_an_error_once_its_cause_is_fixed(console: Console, scenario: Scenario) -> None:
    bc_id, currency = scenario.lookup_error("Trey Research", "CAD")
    assert [(e["id"], e["code"]) for e in scenario.errors("CUSTOMER")] == [(bc_id, "lookupNotCoupled")]

    page = console.open("errors")
    row = page.locator(f'tr[data-id="{bc_id}"]')  # "All mappings" is the default
    expect(row).to_contain_text("CURRENCY 'CAD' is not coupled")
    expect(page.get_by_role("heading", name="1 record error(s)")).to_be_visible()

    coupling = {"mapping": "CURRENCY", "bcId": currency["bcId"], "dataverseId": currency["dataverseId"]}
    scenario.api("POST", "couplings", coupling, expect=201)  # the fix: the currency is coupled again
    row.get_by_role("button", name="Retry").click()

    expect(page.locator("#status")).to_contain_text("Retried: CUSTOMER: synchronized 1.")
    expect(page.locator(f'tr[data-id="{bc_id}"]')).to_have_count(0)
    expect(page.get_by_text("No record errors.")).to_be_visible()
    assert scenario.errors("CUSTOMER") == []
    account = scenario.account_of("Trey Research")
    written = scenario.dataverse("GET", f"accounts({account})?$select=_transactioncurrencyid_value")
    assert written["_transactioncurrencyid_value"] == currency["dataverseId"]
    assert console.errors == []


def test_retry_selected_keeps_a_conflict_a_conflict(console: Console, scenario: Scenario) -> None:
    """A retry never resolves a conflict by itself: the record fails again and is skipped; "Restore skipped" then
    offers it once more, and the result says so."""
    bc_id, _ = scenario.conflict("Selangorian Ltd.", bc_city="Rugby", sales_city="Leamington Spa")
    page = console.open("errors")
    page.get_by_label(f"Select CUSTOMER {bc_id}").check()
    page.get_by_role("button", name="Retry selected").click()
    expect(page.locator("#status")).to_contain_text("Retried: CUSTOMER: failed 1.")
    row = page.locator(f'tr[data-id="{bc_id}"]')
    expect(row).to_contain_text("skipped")
    page.get_by_role("button", name="Restore skipped (1)").click()
    expect(page.locator("#status")).to_have_text("Restored and retried: CUSTOMER: failed 1.")
    [entry] = scenario.errors("CUSTOMER")
    assert (entry["code"], entry["skipped"]) == ("changedInBothApps", True)
    assert console.errors == []
