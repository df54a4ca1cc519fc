"""The Sync errors page's Restore Records and Remove Coupling (issue 24): Find for Deleted lists the Sales account
left by a customer deleted in Business Central; selected by keyboard, Restore Records creates the customer again in
Business Central from the account, coupled to it, shows the outcome and takes the row off the list. Remove Coupling
uncouples a selected row's records and leaves both apps' records as they are."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from local.emulators.business_central.seed import seeded_id as bc_seeded
from tests.browser.conftest import Console
from tests.browser.errors_story import deleted_in_business_central, sales_has
from tests.browser.scenario import Scenario

pytestmark = pytest.mark.integration


def find_deleted(page: Page) -> None:
    page.get_by_label("Mapping", exact=True).select_option("CUSTOMER")
    page.get_by_role("button", name="Find for Deleted").click()
    expect(page.locator(".find-job").get_by_role("heading", name="Find for Deleted CUSTOMER: finished")).to_be_visible(
        timeout=60_000
    )


def test_restore_records_creates_the_deleted_customer_again_by_keyboard(console: Console, scenario: Scenario) -> None:
    deleted_bc_id, account = deleted_in_business_central(scenario, "Trey Research")
    page = console.open("errors")
    expect(page.get_by_text("No record errors.")).to_be_visible()
    find_deleted(page)
    row = page.locator(f'table.error-list tr[data-id="{account}"]')
    expect(row).to_contain_text("coupledRecordDeleted")

    page.get_by_label(f"Select CUSTOMER {account}").focus()
    page.keyboard.press("Space")
    expect(page.locator(".selection-count")).to_have_text("1 selected")
    page.get_by_role("button", name="Restore Records").focus()
    page.keyboard.press("Enter")

    expect(page.locator("#status")).to_have_text("Restore Records: 1 restored.")
    result = page.get_by_role("heading", name="Restore Records: result")
    expect(result).to_be_focused()
    outcome = page.locator(f'table.action-list tr[data-id="{account}"]')
    expect(outcome).to_contain_text("Restored in Business Central")
    expect(row).to_have_count(0)
    expect(page.get_by_text("No record errors.")).to_be_visible()
    page.locator(".action-result").scroll_into_view_if_needed()
    console.screenshot("sync-errors-restore")

    coupling = scenario.api("GET", f"couplings/CUSTOMER?dataverseId={account}")
    new_id = coupling["bcId"]
    assert new_id != deleted_bc_id
    expect(outcome).to_contain_text(new_id)
    customer = scenario.bc("GET", f"customers({new_id})")
    assert customer["displayName"] == "Trey Research"  # made again from the account left in Sales
    assert scenario.errors("CUSTOMER") == []

    page.keyboard.press("Tab")  # from the focused heading to Close, which gives the focus back to the list
    expect(page.get_by_role("button", name="Close")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("table.action-list")).to_have_count(0)
    assert console.errors == []


def test_remove_coupling_uncouples_the_selected_row_and_keeps_both_records(
    console: Console, scenario: Scenario
) -> None:
    bc_id = bc_seeded("customer", "Selangorian Ltd.")
    _, account = deleted_in_business_central(scenario, "Trey Research")
    kept_account = scenario.account_of("Selangorian Ltd.")
    page = console.open("errors")
    find_deleted(page)
    page.get_by_label(f"Select CUSTOMER {account}").check()
    page.get_by_role("button", name="Remove Coupling").click()

    expect(page.locator("#status")).to_have_text("Remove Coupling: 1 uncoupled.")
    expect(page.locator(f'table.action-list tr[data-id="{account}"]')).to_contain_text("Uncoupled")
    expect(page.locator(f'table.error-list tr[data-id="{account}"]')).to_have_count(0)
    scenario.api("GET", f"couplings/CUSTOMER?dataverseId={account}", expect=404)
    assert sales_has(scenario, "accounts", account)  # the record stays
    assert scenario.api("GET", f"couplings/CUSTOMER?bcId={bc_id}")["dataverseId"] == kept_account  # others untouched
    assert console.errors == []
