"""The document part of `make demo` (lead to cash), through the app's HTTP API and the host's timers:

a Sales order with a write-in line and a 250-character description becomes a BC order (the text continues on comment
lines); shipping and invoicing it in BC shows on the Sales order's timeline and sets it Invoiced; the posted invoice
reaches Sales as Billed, and a partial then a full payment move it to Partial then Complete; then an order with
BC's money (`cash.py`: two VAT rates, a unit other than the base unit, discounts, freight) goes from Sales to cash,
its invoice's totals in Sales shown next to BC's and its status after each Update Account Statistics; a quote revised
twice leaves two archived versions of its BC quote.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from local.demo.cash import (
    FREIGHT_ACCOUNT,
    CashResult,
    MixedOrder,
    add_chair_box,
    create_in_bc,
    same_totals,
    send_and_pay,
    set_tax_groups,
    ship_and_invoice,
    status_name,
    submit_mixed_order,
)
from local.demo.errors import StoryError
from local.emulators.business_central.seed import seeded_id as bc_id

if TYPE_CHECKING:
    from local.demo.story import Story

WRITE_IN = "WRITE-IN"
LONG_TEXT = (
    "Engraved brass name plate on every desk, fitted on site by our own carpenters after delivery, with the "
    "customer's logo etched at the left and the employee's name at the right, polished and lacquered against "
    "fingerprints, plus a spare plate."
)


def run_timer(story: Story, name: str) -> None:
    """Fire one of the app's timers now (the local host's admin API, as Core Tools offers)."""
    response = story.session.post(
        f"{story.stack.urls['functions'].removesuffix('/api')}/admin/functions/{name}?wait=true",
        json={"input": ""},
        headers={"x-functions-key": story.stack.function_key},
        timeout=120,
    )
    if response.status_code != 200:
        raise StoryError(f"the timer {name} failed: {response.status_code} {response.text[:300]}")


def submit_sales_order(story: Story, name: str, account: str, product: str, quantity: int, write_in: str) -> str:
    """A Sales order of `account` with a line of `product` and a write-in line, submitted (as a salesperson does it);
    returns its id."""
    order = story.dataverse(
        "POST", "salesorders", {"name": name, "customerid_account@odata.bind": f"/accounts({account})"}
    )
    order_id = str(order["salesorderid"])
    lines: list[dict[str, Any]] = [
        {
            "productid@odata.bind": f"/products({product})",
            "isproductoverridden": False,
            "quantity": quantity,
            "priceperunit": 950,
        },
        {"isproductoverridden": True, "productdescription": write_in, "quantity": quantity, "priceperunit": 35},
    ]
    for number, line in enumerate(lines, start=1):
        bind = {"sequencenumber": number, "salesorderid@odata.bind": f"/salesorders({order_id})"}
        story.dataverse("POST", "salesorderdetails", {**line, **bind})
    story.dataverse("PATCH", f"salesorders({order_id})", {"statecode": 1, "statuscode": 3})
    return order_id


def document_story(story: Story) -> None:
    story.step("Setup: sales order integration on, write-in product WRITE-IN (an item never coupled to a product)")
    story.bc("POST", "items", {"number": WRITE_IN, "displayName": "Write-in product"})
    story.api("PATCH", "setup", {"salesOrderIntegrationEnabled": True, "writeInProductNumber": WRITE_IN})
    account = story.api("GET", f"couplings/CUSTOMER?bcId={bc_id('customer', 'The Cannon Group PLC')}")["dataverseId"]
    desk = story.api("GET", f"couplings/ITEM-PRODUCT?bcId={bc_id('item', '1896-S')}")["dataverseId"]

    story.step("A Sales order with a desk and a write-in line of 250 characters, submitted")
    order_id = submit_sales_order(story, "Cannon office refit", account, desk, 4, LONG_TEXT[:250])
    created = story.api("POST", f"sales-orders/{order_id}/create-in-business-central", expect=201)
    bc_order = story.bc("GET", f"salesOrders({created['bcId']})?$expand=salesOrderLines")
    print(f"   BC order {created['bcNumber']} (External Document No. {bc_order['externalDocumentNumber']}):")
    for line in sorted(bc_order["salesOrderLines"], key=lambda row: row["sequence"]):
        print(f"     {line['sequence']:>6} {line['lineType']:<8} {line['lineObjectNumber']:<9} {line['description']}")
    story.summary.setdefault("documents", []).append(
        f"Sales order -> BC order {created['bcNumber']} with {len(bc_order['salesOrderLines'])} lines"
    )

    story.step("Releasing, shipping and invoicing the order in BC; the order status job informs Sales")
    story.session.post(
        f"{story.stack.urls['business_central']}/_admin/release", json={"orderId": created["bcId"]}, timeout=30
    ).raise_for_status()
    run_timer(story, "order_status")
    story.bc("POST", f"salesOrders({created['bcId']})/Microsoft.NAV.shipAndInvoice")
    run_timer(story, "order_status")
    posts = story.dataverse("GET", f"posts?$select=text&$filter=_regardingobjectid_value eq {order_id}")["value"]
    for post in posts:
        print(f"   timeline: {post['text']}")
    state = story.dataverse("GET", f"salesorders({order_id})?$select=statecode,statuscode")
    if len(posts) != 3 or state["statecode"] != 4:
        raise StoryError(f"expected 3 timeline posts and an Invoiced order, got {len(posts)} and {state}")
    story.summary["documents"].append("order timeline: released, shipped, invoiced; Sales order Invoiced")
    _payments(story, created["bcNumber"])
    _order_to_cash(story, account, desk)
    _quote_revisions(story, account, desk)


def _payments(story: Story, order_number: str) -> None:
    story.step("The posted invoice reaches Sales; a partial, then a full payment in BC")
    invoice = story.bc("GET", f"salesInvoices?$filter=orderNumber eq '{order_number}'")["value"][0]
    run_timer(story, "posted_invoices")
    states = []
    for amount in (1000.0, float(invoice["totalAmountIncludingTax"]) - 1000.0):
        story.session.post(
            f"{story.stack.urls['business_central']}/_admin/payments",
            json={"invoiceId": invoice["id"], "amount": amount},
            timeout=30,
        ).raise_for_status()
        run_timer(story, "posted_invoices")
        found = story.dataverse(
            "GET", f"invoices?$select=name,statecode,statuscode&$filter=invoicenumber eq '{invoice['number']}'"
        )
        states.append((found["value"][0]["statecode"], found["value"][0]["statuscode"]))
        print(f"   paid {amount:.2f}: Sales invoice state {states[-1]}")
    if states != [(2, 100002), (2, 100001)]:
        raise StoryError(f"expected Paid/Partial then Paid/Complete, got {states}")
    story.summary["documents"].append(f"invoice {invoice['number']}: Billed -> Partial -> Complete")


def _order_to_cash(story: Story, account: str, desk: str) -> None:
    story.step("BC's money: desk at 25 % VAT, chairs by the BOX at 10 %, a write-in line, discounts and freight")
    set_tax_groups(story)
    box = add_chair_box(story)
    story.api("PATCH", "setup", {"freightGLAccountNumber": FREIGHT_ACCOUNT})
    chair = story.api("GET", f"couplings/ITEM-PRODUCT?bcId={bc_id('item', '1900-S')}")["dataverseId"]
    order_id = submit_mixed_order(story, "Cannon boardroom", MixedOrder(account, desk, chair, box), "Cable tray")
    result = CashResult(order_id, create_in_bc(story, order_id))
    for line in sorted(result.bc_order["salesOrderLines"], key=lambda row: row["sequence"]):
        print(
            f"     {line['lineType']:<8} {line['lineObjectNumber']:<9} {line['quantity']:>3g} "
            f"{line['unitOfMeasureCode'] or '':<4} {line['unitPrice']:>9.2f} VAT {line['taxPercent']:>4.1f} %"
        )
    result.bc_invoice = ship_and_invoice(story, result.bc_order)
    send_and_pay(story, result, 1000.0)
    print(f"   {result.totals_line()}")
    print(f"   sent to Sales: {status_name(result.states[0])}")
    for number, state in enumerate(result.states[1:], start=1):
        print(f"   payment {number}, Update Account Statistics: {status_name(state)}")
    if not same_totals(result.sales_invoice, result.bc_invoice):
        raise StoryError(f"the Sales invoice's totals differ from BC's: {result.totals_line()}")
    if result.states != [(0, 4), (2, 100002), (2, 100001)]:
        raise StoryError(f"expected Billed, Paid / Partial, Paid / Complete, got {result.states}")
    story.summary["documents"].append(result.totals_line())
    story.summary["documents"].append(result.states_line())


def _quote_revisions(story: Story, account: str, desk: str) -> None:
    story.step("A quote, revised twice in Sales: BC keeps one quote and archives each earlier version")
    quote_id = str(uuid.uuid4())
    story.dataverse(
        "POST",
        "quotes",
        {"quoteid": quote_id, "name": "Boardroom", "customerid_account@odata.bind": f"/accounts({account})"},
    )
    story.dataverse("POST", "quotedetails", {"quoteid@odata.bind": f"/quotes({quote_id})", "isproductoverridden": False,
                                             "productid@odata.bind": f"/products({desk})", "quantity": 1})  # fmt: skip
    story.dataverse("PATCH", f"quotes({quote_id})", {"statecode": 1, "statuscode": 2})
    story.api("POST", f"quotes/{quote_id}/process")
    current = quote_id
    for quantity in (2, 3):
        revised = story.dataverse("POST", "ReviseQuote", {"QuoteId": current, "ColumnSet": {"AllColumns": True}})
        current = revised["quoteid"]
        details = story.dataverse("GET", f"quotedetails?$select=quotedetailid&$filter=_quoteid_value eq {current}")
        for detail in details["value"]:
            story.dataverse("PATCH", f"quotedetails({detail['quotedetailid']})", {"quantity": quantity})
        story.dataverse("PATCH", f"quotes({current})", {"statecode": 1, "statuscode": 2})
        result = story.api("POST", f"quotes/{current}/process")
        print(f"   revision {revised['revisionnumber']}: {result['status']} (BC quote {result['bcId']})")
    archive = story.api("GET", f"quotes/{current}/archive")
    for version in archive["value"]:
        quantities = [line["quantity"] for line in version["document"].get("salesQuoteLines", [])]
        print(f"   archived revision {version['revision']}: quantities {quantities}")
    if [v["revision"] for v in archive["value"]] != [0, 1]:
        raise StoryError(f"expected two archived versions, got {archive['value']}")
    story.summary["documents"].append(f"quote {archive['quoteNumber']}: revised twice, 2 archived versions")
