"""Connection and Mappings in the console, and what every page owes its users: a label on every control, a name on
every button, unique ids, keyboard navigation with a visible focus, and no console error."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Console
from tests.browser.scenario import Scenario

pytestmark = pytest.mark.integration
PAGES = ["connection", "mappings", "full-sync", "couplings", "matching", "errors", "documents", "jobs"]
AUDIT = """() => {
  const problems = [];
  for (const el of document.querySelectorAll("input, select, textarea")) {
    const named = el.labels.length || el.getAttribute("aria-label") || el.getAttribute("aria-labelledby");
    if (!named) problems.push(`unlabelled ${el.tagName.toLowerCase()} ${el.name}`);
  }
  for (const el of document.querySelectorAll("button, a[href]")) {
    const name = el.textContent.trim() || el.getAttribute("aria-label");
    if (!name) problems.push(`nameless ${el.tagName.toLowerCase()}`);
  }
  const ids = [...document.querySelectorAll("[id]")].map((el) => el.id);
  for (const id of new Set(ids)) {
    if (ids.filter((x) => x === id).length > 1) problems.push(`duplicate id ${id}`);
  }
  const fake = document.querySelectorAll("[onclick], div[tabindex='0'], span[tabindex='0']");
  if (fake.length) problems.push("clickable non-buttons");
  return problems;
}"""


def audit(page: Page) -> list[str]:
    problems: list[str] = page.evaluate(AUDIT)
    return problems


def test_every_page_is_labelled_and_keyboard_reachable(console: Console, scenario: Scenario) -> None:
    scenario.conflict("The Cannon Group PLC", bc_city="Solihull", sales_city="Redditch")  # rows with controls
    page = console.open("jobs")
    for route in PAGES:
        page.goto(f"{console.stack.urls['functions']}/console?code={console.stack.function_key}#/{route}")
        page.wait_for_load_state("networkidle")
        assert audit(page) == [], route
        assert page.locator("main h1").evaluate("el => el === document.activeElement"), route  # focus follows

    page.reload()  # a fresh load: the skip link comes first, then the tabs
    page.locator("main h1").wait_for()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Tab")
    connection = page.get_by_role("link", name="Connection")
    expect(connection).to_be_focused()
    outline = connection.evaluate("el => getComputedStyle(el).outlineStyle")
    assert outline not in ("", "none")  # the focus is visible
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1, name="Connection")).to_be_focused()
    expect(connection).to_have_attribute("aria-current", "page")
    page.get_by_role("link", name="Skip to content").focus()
    page.keyboard.press("Enter")  # to the content, and the route stays
    expect(page.locator("main")).to_be_focused()
    assert page.url.endswith("#/connection")
    assert console.errors == []


def test_connection_page_edits_the_setup_with_its_etag(console: Console, scenario: Scenario) -> None:
    page = console.open("connection")
    quotes = page.get_by_role("checkbox", name="Automatically process sales quotes")
    row = page.locator("tr", has=quotes)
    expect(row).to_contain_text("Default")
    expect(page.get_by_role("cell", name="OK").first).to_be_visible()  # health: each dependency checked
    expect(page.get_by_text("The app is healthy")).to_be_visible()
    quotes.check()
    page.get_by_role("button", name="Save setup").click()
    expect(page.locator("#status")).to_have_text("Setup saved: Automatically process sales quotes.")
    expect(row).to_contain_text("Override")
    assert scenario.api("GET", "setup")["values"]["autoProcessQuotes"] is True
    console.screenshot("connection")

    # Another admin saves meanwhile: this page's etag is stale, so its save is refused and it shows their values.
    scenario.api("PATCH", "setup", {"autoCreateSalesOrders": True})
    page.get_by_label("Write-in product type").select_option("Resource")
    page.get_by_role("button", name="Save setup").click()
    expect(page.locator("#alert")).to_contain_text("Someone else saved the setup meanwhile")
    expect(page.get_by_role("checkbox", name="Automatically create sales orders")).to_be_checked()
    assert scenario.api("GET", "setup")["values"]["writeInProductType"] == "Item"

    page.get_by_role("button", name="Drop the override of Automatically process sales quotes").click()
    expect(row).to_contain_text("Default")
    assert scenario.api("GET", "setup")["sources"]["autoProcessQuotes"] == "default"
    # the refused save is the API's documented 409, logged by the browser as a failed load; nothing else
    refused = [e for e in console.errors if "status of 409" in e and "/api/setup" in e]
    assert len(refused) == 1 and [e for e in console.errors if e not in refused] == []


def test_mappings_page_shows_each_mapping_and_enables_disables_resets(console: Console, scenario: Scenario) -> None:
    scenario.couple_customers()  # one successful CUSTOMER job: its lag is shown
    page = console.open("mappings")
    customer = page.locator('tr[data-mapping="CUSTOMER"]')
    expect(customer).to_contain_text("Both ways")
    expect(customer).to_contain_text("statecode eq 0 and customertypecode eq 3")
    expect(customer).to_contain_text("SYNC_SCHEDULE")
    expect(customer).to_contain_text("lag ")
    expect(page.locator('tr[data-mapping="SALESORDER-ORDER"]')).to_contain_text("Disabled")

    page.get_by_role("button", name="Disable CUSTOMER").click()
    expect(page.locator("#status")).to_have_text("CUSTOMER is now disabled.")
    expect(customer).to_contain_text("overrides: enabled")
    assert scenario.api("GET", "mappings/CUSTOMER")["enabled"] is False
    page.get_by_role("button", name="Reset to defaults: CUSTOMER").click()
    expect(page.locator("#status")).to_contain_text("CUSTOMER is back to its defaults")
    assert scenario.api("GET", "mappings/CUSTOMER")["enabled"] is True

    page.locator("summary", has_text="Field mappings of CUSTOMER").click()
    fields = page.get_by_role("table", name="Field mappings of CUSTOMER")
    expect(fields).to_contain_text("address1_city")
    expect(fields).to_contain_text("Not Null")  # the owner's coverage note
    page.get_by_role("button", name="Synchronize modified records of CUSTOMER").click()
    expect(page.locator("#status")).to_contain_text("CUSTOMER: job run-")
    page.evaluate("window.scrollTo(0, 0)")
    page.mouse.move(0, 0)  # no hover state in the screenshot
    console.screenshot("mappings")
    assert console.errors == []
