"""The Sync errors page's actions on a selection (issue 24): Find for Deleted (a queued job whose progress, then
counts, the page shows) lists the Sales account left by a customer deleted in Business Central; selected, Delete
Records shows what would be deleted, and "Confirm delete" deletes it in Sales and takes it off the list. Two selected
rows are retried at once. Everything by keyboard too."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from local.emulators.business_central.seed import seeded_id as bc_seeded
from tests.browser.conftest import Console
from tests.browser.errors_story import deleted_in_business_central, more_errors, sales_has, two_lookup_errors
from tests.browser.scenario import Scenario

pytestmark = pytest.mark.integration


def test_find_for_deleted_then_delete_the_record_left_in_sales(console: Console, scenario: Scenario) -> None:
    _, account = deleted_in_business_central(scenario, "Trey Research")
    page = console.open("errors")
    expect(page.get_by_text("No record errors.")).to_be_visible()
    page.get_by_label("Mapping", exact=True).select_option("CUSTOMER")
    page.get_by_role("button", name="Find for Deleted").click()

    job = page.locator(".find-job")  # a queued job: the page shows its entry until it ends
    expect(job.get_by_role("heading", name="Find for Deleted CUSTOMER: finished")).to_be_visible(timeout=60_000)
    expect(job.locator(".find-counts")).to_contain_text("with a record deleted, 1 newly listed")
    expect(job.locator("progress")).to_have_count(0)
    expect(page.locator("#status")).to_contain_text("Find for Deleted: Compared")
    expect(page.locator("#status")).to_contain_text(
        "1 record(s) deleted in Business Central, 0 in Dataverse, 0 in both (coupling removed)"
    )
    expect(page.locator("#status")).to_contain_text("1 recorded on the Sync errors list, 0 already there.")
    console.screenshot("sync-errors-find-deleted")
    row = page.locator(f'table.error-list tr[data-id="{account}"]')
    expect(row).to_contain_text("coupledRecordDeleted")
    expect(row).to_contain_text("The coupled record in Business Central was deleted.")
    expect(row).to_contain_text("Sales")  # the record that is left
    page.get_by_label(f"Select CUSTOMER {account}").check()
    expect(page.locator(".selection-count")).to_have_text("1 selected")
    console.screenshot("sync-errors-list")

    page.get_by_role("button", name="Delete Records").click()
    heading = page.get_by_role("heading", name="Delete Records: what would be deleted")
    expect(heading).to_be_focused()
    planned = page.locator(f'table.delete-list tr[data-id="{account}"]')
    expect(planned).to_contain_text("Will be deleted")
    expect(planned).to_contain_text("Trey Research")
    assert sales_has(scenario, "accounts", account)  # nothing deleted before the confirmation
    assert "null" not in page.locator("main").inner_text()
    page.locator(".delete-preview").scroll_into_view_if_needed()
    console.screenshot("sync-errors-delete")

    page.keyboard.press("Tab")  # from the focused heading to the first action
    confirm = page.get_by_role("button", name="Confirm delete")
    expect(confirm).to_be_focused()
    page.keyboard.press("Enter")

    expect(page.locator("#status")).to_have_text("Delete Records: 1 deleted.")
    expect(page.locator(f'table.delete-list tr[data-id="{account}"]')).to_contain_text("Deleted")
    expect(page.locator(f'table.error-list tr[data-id="{account}"]')).to_have_count(0)
    expect(page.get_by_text("No record errors.")).to_be_visible()
    assert not sales_has(scenario, "accounts", account)
    assert scenario.errors("CUSTOMER") == []
    assert console.errors == []


def test_two_selected_rows_are_retried_at_once_by_keyboard(console: Console, scenario: Scenario) -> None:
    customers = ("Trey Research", "Selangorian Ltd.")
    currency = two_lookup_errors(scenario, customers, "CAD")
    ids = [bc_seeded("customer", name) for name in customers]
    assert sorted(e["id"] for e in scenario.errors("CUSTOMER")) == sorted(ids)
    scenario.api(
        "POST",
        "couplings",
        {"mapping": "CURRENCY", "bcId": currency["bcId"], "dataverseId": currency["dataverseId"]},
        expect=201,
    )  # the fix

    page = console.open("errors")
    expect(page.get_by_role("heading", name="2 record error(s)")).to_be_visible()
    select_page = page.get_by_label("Select every error on this page")
    select_page.focus()
    page.keyboard.press("Space")
    for bc_id in ids:
        expect(page.get_by_label(f"Select CUSTOMER {bc_id}")).to_be_checked()
    expect(page.locator(".selection-count")).to_have_text("2 selected")
    page.get_by_label(f"Select CUSTOMER {ids[0]}").focus()
    page.keyboard.press("Space")  # one off: the header shows a partial selection
    assert select_page.evaluate("el => el.indeterminate && !el.checked")
    page.keyboard.press("Space")
    assert select_page.evaluate("el => el.checked && !el.indeterminate")

    page.get_by_role("button", name="Retry selected").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#status")).to_contain_text("Retried: CUSTOMER: synchronized 2.")
    expect(page.get_by_text("No record errors.")).to_be_visible()
    assert scenario.errors("CUSTOMER") == []
    assert console.errors == []


def test_the_list_pages_on_the_server_and_the_header_selects_one_page(console: Console, scenario: Scenario) -> None:
    two_lookup_errors(scenario, ("Trey Research", "Selangorian Ltd."), "CAD")
    more_errors(scenario, "CUSTOMER", 10)  # 12 in all: two pages of 10

    page = console.open("errors")
    page.get_by_label("Rows per page").select_option("10")
    expect(page.get_by_role("heading", name="10 record error(s) on page 1")).to_be_visible()
    rows = page.locator("table.error-list tbody tr")
    expect(rows).to_have_count(10)
    first_page = rows.evaluate_all("rows => rows.map((row) => row.dataset.id)")
    page.get_by_label("Select every error on this page").check()
    expect(page.locator(".selection-count")).to_have_text("10 selected")
    expect(page.get_by_role("button", name="Previous page")).to_be_disabled()

    page.get_by_role("button", name="Next page").click()
    expect(page.get_by_role("heading", name="2 record error(s) on page 2")).to_be_visible()
    second_page = rows.evaluate_all("rows => rows.map((row) => row.dataset.id)")
    assert len(second_page) == 2 and not set(first_page) & set(second_page)
    assert sorted(first_page + second_page) == sorted(e["id"] for e in scenario.errors("CUSTOMER"))
    expect(page.get_by_role("button", name="Next page")).to_be_disabled()
    expect(page.get_by_label("Select every error on this page")).not_to_be_checked()  # a new page, nothing selected

    page.get_by_role("button", name="Previous page").click()
    expect(page.get_by_role("heading", name="10 record error(s) on page 1")).to_be_visible()
    assert rows.evaluate_all("rows => rows.map((row) => row.dataset.id)") == first_page
    assert console.errors == []


def test_retry_all_of_all_mappings_retries_the_mappings_beyond_the_page_shown(
    console: Console, scenario: Scenario
) -> None:
    """ "Retry all" with "All mappings" retries every mapping that has errors, not only those on the page shown: here
    CUSTOMER's two errors are on page 2 (the list runs in mapping order, CONTACT first)."""
    currency = two_lookup_errors(scenario, ("Trey Research", "Selangorian Ltd."), "CAD")
    scenario.api(
        "POST",
        "couplings",
        {"mapping": "CURRENCY", "bcId": currency["bcId"], "dataverseId": currency["dataverseId"]},
        expect=201,
    )  # the fix of CUSTOMER's two errors
    more_errors(scenario, "CONTACT", 10, guid_ids=True)

    page = console.open("errors")
    page.get_by_label("Rows per page").select_option("10")
    expect(page.get_by_role("heading", name="10 record error(s) on page 1")).to_be_visible()
    assert set(
        page.locator("table.error-list tbody tr").evaluate_all("rows => rows.map((r) => r.dataset.mapping)")
    ) == {"CONTACT"}
    page.get_by_role("button", name="Retry all").click()
    expect(page.locator("#status")).to_contain_text("CUSTOMER: synchronized 2")
    assert scenario.errors("CUSTOMER") == []
    assert console.errors == []


SLOW_FIRST_PAGE = """(() => {
  const send = window.fetch.bind(window);
  window.fetch = (url, init) => {
    if (!String(url).includes("sync-errors?top=50")) return send(url, init);
    window.slowPageAsked = true;
    return new Promise((resolve) => setTimeout(resolve, 1500)).then(() => send(url, init));
  };
})();"""


def test_a_page_size_chosen_while_the_list_loads_is_the_one_shown(console: Console, scenario: Scenario) -> None:
    """The first load (50 rows, the default) is slow; the admin chooses 10 rows meanwhile: the 10-row page is shown,
    and stays shown when the slow answer arrives (before, the change was ignored while the first load ran: a CI
    failure)."""
    two_lookup_errors(scenario, ("Trey Research", "Selangorian Ltd."), "CAD")
    more_errors(scenario, "CUSTOMER", 10)  # 12 in all
    console.page.add_init_script(SLOW_FIRST_PAGE)

    page = console.open("errors")
    page.wait_for_function("() => window.slowPageAsked === true")  # the first load is on its way
    page.get_by_label("Rows per page").select_option("10")
    heading = page.get_by_role("heading", name="10 record error(s) on page 1")
    expect(heading).to_be_visible()
    page.wait_for_timeout(2000)  # the slow 50-row answer has arrived by now, and is dropped
    expect(heading).to_be_visible()
    expect(page.locator("table.error-list tbody tr")).to_have_count(10)
    assert console.errors == []
