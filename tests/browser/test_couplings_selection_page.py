"""The couplings of a mapping on the Couplings page (issue 24): a page of the list, Synchronize Now on three selected
records with one left out and reported (its Sales record changed since the last synchronization: BC's rule for a
selection), uncouple all as a background job whose progress the page shows, and the list worked by keyboard."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Console
from tests.browser.couplings_story import couplings_of, sales_city, three_changed_one_also_in_sales
from tests.browser.scenario import Scenario

pytestmark = pytest.mark.integration


def test_synchronize_now_on_three_selected_records_with_one_left_out_and_reported(
    console: Console, scenario: Scenario
) -> None:
    three, changed = three_changed_one_also_in_sales(scenario)
    page = console.open("couplings")
    panel = page.locator(".coupling-list-panel")
    expect(panel.locator("table.coupling-list tbody tr").first).to_be_visible()
    for coupling in three:
        panel.get_by_label(f"Select CUSTOMER coupling of BC {coupling['bcId']}").check()
    expect(panel.locator(".selected-count")).to_have_text("3 selected")
    panel.get_by_label("Business Central wins: overwrite Sales with Business Central's values").check()
    panel.get_by_role("button", name="Synchronize selected").click()

    result = panel.locator(".selection-result")
    expect(result.get_by_role("heading", name="Synchronized 2, left 1, failed 0 of 3 selected.")).to_be_visible()
    left = result.locator('li[data-reason="targetChanged"]')
    expect(left).to_contain_text(f"BC {changed['bcId']}")
    expect(left).to_contain_text("address1_city")
    expect(page.locator("#status")).to_have_text("Synchronized 2, left 1, failed 0 of 3 selected.")
    expect(panel.locator(".selected-count")).to_have_text("3 selected")  # the page read again keeps its selection
    result.scroll_into_view_if_needed()
    console.screenshot("couplings-list")

    assert sales_city(scenario, changed["dataverseId"]) == "Changed in Sales"  # left, not overwritten
    assert sales_city(scenario, three[0]["dataverseId"]) == "Selected city 0"
    assert sales_city(scenario, three[1]["dataverseId"]) == "Selected city 1"
    assert console.errors == []


def test_uncouple_all_with_progress(console: Console, scenario: Scenario) -> None:
    scenario.couple_customers()
    count = len(couplings_of(scenario, "CUSTOMER"))
    assert count > 3
    page = console.open("couplings")
    panel = page.locator(".coupling-list-panel")
    expect(panel.locator("table.coupling-list tbody tr")).to_have_count(count)
    panel.get_by_role("button", name="Uncouple all couplings of this mapping").click()
    confirm = panel.locator(".confirm")
    expect(confirm.get_by_role("heading", name="Uncouple every coupling of CUSTOMER?")).to_be_visible()
    expect(confirm.get_by_role("button", name="Cancel")).to_be_focused()
    confirm.get_by_role("button", name="Yes, uncouple all of CUSTOMER").click()

    job = panel.locator(".uncouple-job")
    expect(job.get_by_role("heading", name="Uncouple all CUSTOMER: finished")).to_be_visible(timeout=60_000)
    expect(job.locator(".uncoupled-count")).to_have_text(f"{count} uncoupled")
    expect(page.locator("#status")).to_contain_text(f"Uncoupled {count} coupling(s) of CUSTOMER")
    expect(panel.get_by_text("CUSTOMER has no couplings.")).to_be_visible()
    console.screenshot("couplings-uncouple-all")
    assert couplings_of(scenario, "CUSTOMER") == []
    assert len(couplings_of(scenario, "CURRENCY")) > 0  # another mapping's couplings stay
    assert console.errors == []


def test_the_list_works_by_keyboard(console: Console, scenario: Scenario) -> None:
    scenario.couple_customers()
    first = couplings_of(scenario, "CUSTOMER")[0]
    page = console.open("couplings")
    panel = page.locator(".coupling-list-panel")
    expect(panel.locator("table.coupling-list tbody tr").first).to_be_visible()
    panel.get_by_role("button", name="Show couplings").focus()
    for _ in range(5):  # Tab: the page checkbox of the header, then the first row's
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.closest('tbody') !== null"):
            break
    box = panel.get_by_label(f"Select CUSTOMER coupling of BC {first['bcId']}")
    expect(box).to_be_focused()
    page.keyboard.press("Space")
    expect(box).to_be_checked()
    expect(panel.locator(".selected-count")).to_have_text("1 selected")

    action = panel.get_by_role("button", name="Uncouple selected")
    for _ in range(80):  # on through the other rows and the choice of side, to the action
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent === 'Uncouple selected'"):
            break
    expect(action).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#status")).to_contain_text("Uncoupled 1 of 1 selected CUSTOMER coupling(s)")
    expect(panel.get_by_label(f"Select CUSTOMER coupling of BC {first['bcId']}")).to_have_count(0)
    scenario.api("GET", f"couplings/CUSTOMER?bcId={first['bcId']}", expect=404)

    page_box = panel.get_by_label("Select every coupling on this page")
    page_box.focus()
    page.keyboard.press("Space")  # the header's checkbox selects the page
    rows = panel.locator("table.coupling-list tbody tr")
    expect(panel.locator(".selected-count")).to_have_text(f"{rows.count()} selected")
    page.keyboard.press("Space")
    expect(panel.locator(".selected-count")).to_have_text("0 selected")
    assert console.errors == []
