"""The Sales documents page: a write-in order created in BC from its row (and a refused one showing why), a quote
processed, an invoice sent to Sales and then shown paid after Update Account Statistics; every control labelled and
reachable by keyboard; no console error beyond the refusal the page expects."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Console
from tests.browser.documents_story import active_quote, pay, posted_invoice, sales_ready, submitted_order
from tests.browser.scenario import Scenario
from tests.browser.test_pages import audit

pytestmark = pytest.mark.integration


def test_a_write_in_order_created_from_the_sales_documents_page(console: Console, scenario: Scenario) -> None:
    account = sales_ready(scenario)
    order = submitted_order(scenario, account, "Cannon gift order", "Gift wrap, blue ribbon")
    walk_in = str(uuid.uuid4())
    scenario.dataverse("POST", "accounts", {"accountid": walk_in, "name": "Walk-in customer"})
    refused = submitted_order(scenario, walk_in, "Walk-in order", "Gift wrap")

    page = console.open("documents")
    row = page.locator(f'table.order-list tr[data-id="{order}"]')
    expect(row).to_contain_text("Ready to create")
    expect(row).to_contain_text("Submitted (In Progress)")
    row.get_by_role("button", name="Create in Business Central").click()
    expect(page.locator("#status")).to_contain_text("(Cannon gift order) is Business Central order")
    number = row.locator(".bc-number").inner_text()
    expect(row.get_by_role("button")).to_have_count(0)  # created once: no second Create
    found = scenario.bc("GET", f"salesOrders?$filter=number eq '{number}'&$expand=salesOrderLines")["value"]
    assert len(found) == 1 and found[0]["externalDocumentNumber"] == "CANNON GIFT ORDER"  # a Code field: upper case
    assert [line["description"] for line in found[0]["salesOrderLines"]] == ["Gift wrap, blue ribbon"]

    other = page.locator(f'table.order-list tr[data-id="{refused}"]')
    other.get_by_role("button", name="Create in Business Central").click()
    expect(page.locator("#alert")).to_contain_text("customerNotCoupled")
    expect(other.locator(".outcome")).to_contain_text("is not coupled to a Business Central customer")
    console.screenshot("sales-documents-orders")
    page.get_by_role("button", name="Refresh Sales orders").click()  # the reason is the kept sync error entry
    expect(other.locator(".reason")).to_contain_text("refused")
    expect(row.locator(".bc-number")).to_have_text(number)
    expected = [e for e in console.errors if "status of 422" in e and "create-in-business-central" in e]
    assert console.errors == expected and len(expected) == 1


def test_a_quote_processed(console: Console, scenario: Scenario) -> None:
    account = sales_ready(scenario)
    quote = active_quote(scenario, account, "Boardroom survey", "Boardroom survey, two days")

    page = console.open("documents")
    row = page.locator(f'table.quote-list tr[data-id="{quote}"]')
    expect(row).to_contain_text("Ready to process")
    expect(row).to_contain_text("Active (In Progress)")
    row.get_by_role("button", name="Process in Business Central").click()
    expect(page.locator("#status")).to_contain_text(": created.")
    expect(row).to_contain_text("Processed")
    number = row.locator(".bc-number").inner_text()
    expect(row.get_by_role("button")).to_have_count(0)
    found = scenario.bc("GET", f"salesQuotes?$filter=number eq '{number}'&$expand=salesQuoteLines")["value"]
    assert len(found) == 1 and found[0]["externalDocumentNumber"] == "BOARDROOM SURVEY"
    page.get_by_label("State").select_option("Active")
    expect(page.locator("table.quote-list tbody tr")).to_have_count(1)
    console.screenshot("sales-documents-quotes")
    assert console.errors == []


def test_an_invoice_sent_and_then_marked_paid_after_update_account_statistics(
    console: Console, scenario: Scenario
) -> None:
    account = sales_ready(scenario)
    invoice = posted_invoice(scenario, account)
    invoice_id, number = str(invoice["id"]), str(invoice["number"])

    page = console.open("documents")
    row = page.locator(f'table.invoice-list tr[data-id="{invoice_id}"]')
    expect(row.locator(".status-text")).to_have_text("not in Sales")
    row.get_by_role("button", name="Create Invoice in Sales").click()
    expect(page.locator("#status")).to_have_text(f"Invoice {number} created in Sales.")
    expect(row.locator(".status-text")).to_have_text("Billed")

    pay(scenario, invoice_id, float(str(invoice["totalAmountIncludingTax"])))
    page.get_by_role("button", name="Refresh Posted sales invoices").click()
    expect(row).to_contain_text("Business Central: Paid Complete")  # paid in BC, not yet in Sales
    expect(row.locator(".status-text")).to_have_text("Billed")
    console.screenshot("sales-documents-invoices")

    page.get_by_label("Customer number").fill("C00010")
    page.get_by_role("button", name="Show statistics").click()
    result = page.locator(".documents-statistics .result")
    expect(result).to_contain_text("No account statistics in Sales yet.")
    result.get_by_role("button", name="Update Account Statistics").click()
    expect(page.locator("#status")).to_contain_text("1 of 1 coupled invoice(s) got a new payment status")
    expect(result.locator("dl.statistics")).to_contain_text("Balance")
    expect(result.locator("dl.statistics")).to_contain_text("Total-- (not in API v2.0)")
    console.screenshot("sales-documents-statistics")

    page.get_by_role("button", name="Refresh Posted sales invoices").click()
    expect(row.locator(".status-text")).to_have_text("Paid Complete")
    coupling = scenario.api("GET", f"couplings/POSTEDSALESINV-INV?bcId={invoice_id}")
    sales = scenario.dataverse("GET", f"invoices({coupling['dataverseId']})?$select=statecode,statuscode")
    assert (sales["statecode"], sales["statuscode"]) == (2, 100001)  # Paid / Complete
    assert console.errors == []


def test_the_documents_page_is_labelled_and_keyboard_operable(console: Console, scenario: Scenario) -> None:
    account = sales_ready(scenario)
    order = submitted_order(scenario, account, "Keyboard order", "Gift wrap")
    page = console.open("documents")
    row = page.locator(f'table.order-list tr[data-id="{order}"]')
    expect(row).to_contain_text("Ready to create")
    page.wait_for_load_state("networkidle")
    assert audit(page) == []

    create = row.get_by_role("button", name="Create in Business Central")
    page.locator("main h1").focus()
    for _ in range(30):  # Tab through the page until the row's action has the focus
        page.keyboard.press("Tab")
        if create.evaluate("el => el === document.activeElement"):
            break
    expect(create).to_be_focused()
    page.keyboard.press("Enter")
    expect(row.locator(".outcome")).to_be_focused()  # the focus follows the result: the BC order number
    expect(row.locator(".bc-number")).not_to_be_empty()

    page.get_by_role("link", name="Customer statistics").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Customer statistics")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_label("Customer number")).to_be_focused()
    page.keyboard.type("C00010")
    page.keyboard.press("Enter")
    update = page.get_by_role("button", name="Update Account Statistics")
    expect(update).to_be_visible()
    update.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#status")).to_contain_text("Account statistics of C00010 created")
    expect(update).to_be_focused()
    assert console.errors == []


def test_sales_orders_page_server_side_with_next_and_previous(console: Console, scenario: Scenario) -> None:
    account = sales_ready(scenario)
    made = {submitted_order(scenario, account, f"Paged order {n}", "Gift wrap") for n in range(3)}
    page = console.open("documents?top=2")
    orders = page.locator("table.order-list tbody tr")
    expect(orders).to_have_count(2)
    first = set(orders.evaluate_all("rows => rows.map((row) => row.dataset.id)"))
    previous = page.get_by_role("button", name="Previous page of Sales orders")
    expect(previous).to_be_disabled()
    page.get_by_role("button", name="Next page of Sales orders").click()
    expect(page.locator("#status")).to_have_text("Page 2 of Sales orders.")
    expect(orders).to_have_count(1)
    second = set(orders.evaluate_all("rows => rows.map((row) => row.dataset.id)"))
    assert first | second == made and not first & second
    expect(page.get_by_role("button", name="Next page of Sales orders")).to_be_disabled()
    previous.click()
    expect(orders).to_have_count(2)
    assert set(orders.evaluate_all("rows => rows.map((row) => row.dataset.id)")) == first
    assert console.errors == []
