"""Order to cash with BC's money (issue 20), the steps `make demo` and the end-to-end test share:

a Sales order with a desk at BC's standard VAT and a line discount, chairs by the BOX (not the chair's base unit) at
the reduced VAT, a write-in line, a header discount and freight (a G/L Account line in BC), created in BC through the
app's API; BC ships and invoices it; the posted invoice reaches Sales with BC's totals and tax; BC records two
payments, and after each one Update Account Statistics (`POST /api/customers/{bcId}/update-statistics`) sets the
Sales invoice's status: Billed, then Paid / Partial, then Paid / Complete.

The tax groups are BC's VAT Product Posting Groups of the BC emulator (`document_tax.VAT_RATES`): an item's
`taxGroupCode` is what a sales line of it gets (BC copies the item's group to the line).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from local.demo.errors import StoryError
from local.emulators.business_central.seed import seeded_id as bc_id

if TYPE_CHECKING:
    from local.demo.story import Story

DESK, CHAIR = "1896-S", "1900-S"
TAX_GROUPS = {DESK: "STANDARD", CHAIR: "REDUCED"}  # 25 % and 10 % VAT in the BC emulator
BOX = "BOX"
BOX_SIZE = 12
FREIGHT_ACCOUNT = "6810"  # seeded G/L account "Freight and Delivery" (posting, direct posting)
STATUS_NAMES = {
    (0, 4): "Billed",
    (2, 100002): "Paid / Partial",
    (2, 100001): "Paid / Complete",
    (3, 100003): "Canceled",
}
INVOICE_SELECT = "invoiceid,invoicenumber,totalamount,totaltax,statecode,statuscode"


@dataclass
class MixedOrder:
    """What the Sales order is made of: the account and the Sales ids of the products and the chair's BOX unit."""

    account: str
    desk: str
    chair: str
    box: str


@dataclass
class CashResult:
    """What happened to the order, as each app shows it."""

    order_id: str
    bc_order: dict[str, Any]
    bc_invoice: dict[str, Any] = field(default_factory=dict)
    sales_invoice: dict[str, Any] = field(default_factory=dict)
    states: list[tuple[int, int]] = field(default_factory=list)  # after the invoice was sent, then each payment

    def totals_line(self) -> str:
        sales, bc = self.sales_invoice, self.bc_invoice
        return (
            f"invoice {bc['number']} in Sales {sales['totalamount']:.2f} (tax {sales['totaltax']:.2f}) "
            f"{'=' if same_totals(sales, bc) else '!='} BC {bc['totalAmountIncludingTax']:.2f} "
            f"(tax {bc['totalTaxAmount']:.2f})"
        )

    def states_line(self) -> str:
        return "; ".join(f"after payment {n}: {status_name(state)}" for n, state in enumerate(self.states[1:], start=1))


def status_name(state: tuple[int, int]) -> str:
    return STATUS_NAMES.get(state, f"statecode {state[0]} / statuscode {state[1]}")


def same_totals(sales: dict[str, Any], bc: dict[str, Any]) -> bool:
    """The Sales invoice's total and tax equal BC's, to the cent."""
    return round(float(sales["totalamount"]) * 100) == round(float(bc["totalAmountIncludingTax"]) * 100) and round(
        float(sales["totaltax"]) * 100
    ) == round(float(bc["totalTaxAmount"]) * 100)


def set_tax_groups(story: Story) -> None:
    """BC: the desk in the standard VAT group, the chair in the reduced one (Item card, VAT Prod. Posting Group)."""
    for number, group in TAX_GROUPS.items():
        item = story.bc("GET", f"items({bc_id('item', number)})")
        story.bc("PATCH", f"items({item['id']})", {"taxGroupCode": group}, etag=item["@odata.etag"])


def add_chair_box(story: Story) -> str:
    """BC: a BOX of 12 chairs as a second unit of the chair (Item Units of Measure), then ITEM UOM coupling so Sales
    gets it in the chair's unit group; returns the Sales unit (uom) id."""
    story.bc_page("POST", "ItemUnitsOfMeasure", {"Item_No": CHAIR, "Code": BOX, "Qty_per_Unit_of_Measure": BOX_SIZE})
    report = story.api("POST", "couplings/ITEM%20UOM/match", {"createIfNoMatch": True})
    if report["failed"]:
        raise StoryError(f"ITEM UOM coupling failed: {report['failed']}")
    return str(story.api("GET", f"couplings/ITEM%20UOM?bcId={quote(f'{CHAIR}|{BOX}', safe='')}")["dataverseId"])


def submit_mixed_order(story: Story, name: str, parts: MixedOrder, write_in: str) -> str:
    """A Sales order (submitted) with a desk (line discount), chairs by the BOX, a write-in line, a header discount of
    100 and freight of 45.50; returns its id."""
    order = story.dataverse(
        "POST",
        "salesorders",
        {"name": name, "customerid_account@odata.bind": f"/accounts({parts.account})", "discountamount": 100,
         "freightamount": 45.5},
    )  # fmt: skip
    order_id = str(order["salesorderid"])
    lines: list[dict[str, Any]] = [
        {"productid@odata.bind": f"/products({parts.desk})", "isproductoverridden": False, "quantity": 2,
         "priceperunit": 1000.8, "manualdiscountamount": 50.4},
        {"productid@odata.bind": f"/products({parts.chair})", "isproductoverridden": False, "quantity": 2,
         "priceperunit": 2199.95, "uomid@odata.bind": f"/uoms({parts.box})"},
        {"isproductoverridden": True, "productdescription": write_in, "quantity": 3, "priceperunit": 35.35},
    ]  # fmt: skip
    for number, line in enumerate(lines, start=1):
        bind = {"sequencenumber": number, "salesorderid@odata.bind": f"/salesorders({order_id})"}
        story.dataverse("POST", "salesorderdetails", {**line, **bind})
    story.dataverse("PATCH", f"salesorders({order_id})", {"statecode": 1, "statuscode": 3})
    return order_id


def create_in_bc(story: Story, order_id: str) -> dict[str, Any]:
    """The app's Create in Business Central; returns the BC order with its lines."""
    created = story.api("POST", f"sales-orders/{order_id}/create-in-business-central", expect=201)
    return dict(story.bc("GET", f"salesOrders({created['bcId']})?$expand=salesOrderLines"))


def ship_and_invoice(story: Story, bc_order: dict[str, Any]) -> dict[str, Any]:
    """BC posts the order (Ship and Invoice); returns the posted invoice with its lines."""
    story.bc("POST", f"salesOrders({bc_order['id']})/Microsoft.NAV.shipAndInvoice")
    found = story.bc("GET", f"salesInvoices?$filter=orderNumber eq '{bc_order['number']}'")["value"]
    if len(found) != 1:
        raise StoryError(f"expected one posted invoice of order {bc_order['number']}, found {len(found)}")
    return dict(story.bc("GET", f"salesInvoices({found[0]['id']})?$expand=salesInvoiceLines"))


def sales_invoice(story: Story, number: str) -> dict[str, Any]:
    found = story.dataverse("GET", f"invoices?$select={INVOICE_SELECT}&$filter=invoicenumber eq '{number}'")["value"]
    if len(found) != 1:
        raise StoryError(f"expected one Sales invoice {number}, found {len(found)}")
    return dict(found[0])


def pay(story: Story, invoice_id: str, amount: float) -> None:
    """A customer payment posted in BC and applied to the invoice (the emulator's admin event)."""
    story.session.post(
        f"{story.stack.urls['business_central']}/_admin/payments",
        json={"invoiceId": invoice_id, "amount": amount},
        timeout=30,
    ).raise_for_status()


def send_and_pay(story: Story, result: CashResult, first_payment: float) -> CashResult:
    """The posted invoice sent to Sales (the app's route), then paid in two parts, Update Account Statistics after
    each; fills `states` and `sales_invoice` (as it is after the last payment)."""
    invoice = result.bc_invoice
    story.api("POST", f"posted-sales-invoices/{invoice['id']}/create-in-dataverse", expect=201)
    result.sales_invoice = sales_invoice(story, invoice["number"])
    result.states.append((result.sales_invoice["statecode"], result.sales_invoice["statuscode"]))
    total = float(invoice["totalAmountIncludingTax"])
    for amount in (first_payment, round(total - first_payment, 2)):
        pay(story, invoice["id"], amount)
        story.api("POST", f"customers/{invoice['customerId']}/update-statistics")
        result.sales_invoice = sales_invoice(story, invoice["number"])  # its totals as Sales shows them now
        result.states.append((result.sales_invoice["statecode"], result.sales_invoice["statuscode"]))
    return result
