"""Order to cash with BC's money (issue 20, "Done when"), end to end through the local Functions host: a Sales order
with a write-in line, chairs by the BOX (not the chair's base unit, PCS), a line discount and a header discount,
freight, and two VAT rates (desk 25 %, chair 10 %, the write-in item and the freight account 0 %) is submitted in
Sales, created in BC through the app's route, shipped and invoiced in BC; the posted invoice is sent to Sales through
the app's route and paid in BC in two parts, with Update Account Statistics after each payment. The Sales invoice's
total and tax equal BC's to the cent all along, and its status goes Billed -> Paid / Partial -> Paid / Complete.

Its own stack (as the fidelity test): it sets the items' VAT groups, a second unit of the chair and the freight
account in the setup, none of which the tests of the session stack expect. The steps are the demo's own
(`local/demo/cash.py`), so `make demo` shows what this test checks.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from local.demo.cash import (
    BOX,
    CHAIR,
    DESK,
    FREIGHT_ACCOUNT,
    CashResult,
    MixedOrder,
    add_chair_box,
    create_in_bc,
    pay,
    sales_invoice,
    set_tax_groups,
    ship_and_invoice,
    submit_mixed_order,
)
from local.demo.story import Story
from local.emulators.business_central.seed import seeded_id as bc_id
from tests.e2e.conftest import seeded_stack

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(240)]
WRITE_IN = "WRITE-IN"
CANNON = bc_id("customer", "The Cannon Group PLC")
BILLED, PARTIAL, COMPLETE = (0, 4), (2, 100002), (2, 100001)  # (statecode, statuscode) of a Sales invoice
DETAIL_SELECT = "lineitemnumber,quantity,priceperunit,manualdiscountamount,tax,baseamount,extendedamount,_uomid_value"


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    """Its own stack, seeded with the demo data; salespeople, currencies, units, customers and items coupled (the
    products created in Sales), the write-in item and the freight account set up."""
    for stack in seeded_stack(tmp_path_factory):  # stopped when the generator resumes after the module
        demo = Story(stack)
        demo.bc("POST", "items", {"number": WRITE_IN, "displayName": "Write-in product"})
        demo.api("PATCH", "setup", {"salesOrderIntegrationEnabled": True, "writeInProductNumber": WRITE_IN,
                                    "freightGLAccountNumber": FREIGHT_ACCOUNT})  # fmt: skip
        set_tax_groups(demo)
        for mapping in ("SALESPEOPLE", "CURRENCY", "UNIT%20GROUP", "ITEM%20UOM", "CUSTOMER", "ITEM-PRODUCT"):
            body = {"createIfNoMatch": True} if mapping == "ITEM-PRODUCT" else {}
            report = demo.api("POST", f"couplings/{mapping}/match", body)
            assert not report["failed"], (mapping, report)
        yield demo


def _parts(story: Story) -> MixedOrder:
    def coupled(mapping: str, bc_record: str) -> str:
        return str(story.api("GET", f"couplings/{mapping}?bcId={bc_record}")["dataverseId"])

    box = add_chair_box(story)
    return MixedOrder(
        account=coupled("CUSTOMER", CANNON),
        desk=coupled("ITEM-PRODUCT", bc_id("item", DESK)),
        chair=coupled("ITEM-PRODUCT", bc_id("item", CHAIR)),
        box=box,
    )


def _cents(value: Any) -> int:
    return round(float(value) * 100)


def _assert_same_totals(story: Story, result: CashResult) -> dict[str, Any]:
    """The Sales invoice's total and tax equal BC's to the cent; returns the Sales invoice."""
    bc = story.bc("GET", f"salesInvoices({result.bc_invoice['id']})")
    sales = sales_invoice(story, bc["number"])
    assert (_cents(sales["totalamount"]), _cents(sales["totaltax"])) == (
        _cents(bc["totalAmountIncludingTax"]),
        _cents(bc["totalTaxAmount"]),
    ), (sales, bc)
    return sales


def test_an_order_goes_from_sales_to_cash_with_bcs_totals_and_payment_status(story: Story) -> None:
    parts = _parts(story)
    order_id = submit_mixed_order(story, "Order to cash e2e", parts, "Cable tray, fitted under each desk")

    # Sales -> BC: product lines with their own unit and the item's VAT group, the write-in line, the freight line
    result = CashResult(order_id, create_in_bc(story, order_id))
    lines = [
        (line["lineType"], line["lineObjectNumber"], line["unitOfMeasureCode"], line["quantity"], line["unitPrice"],
         line["discountAmount"], line["taxCode"], line["taxPercent"])
        for line in sorted(result.bc_order["salesOrderLines"], key=lambda row: row["sequence"])
    ]  # fmt: skip
    assert lines == [
        ("Item", DESK, "PCS", 2, 1000.8, 50.4, "STANDARD", 25),
        ("Item", CHAIR, BOX, 2, 2199.95, 0, "REDUCED", 10),  # the Sales line's unit, not the chair's base unit
        ("Item", WRITE_IN, "", 3, 35.35, 0, "", 0),
        ("Account", FREIGHT_ACCOUNT, "", 1, 45.5, 0, "", 0),  # the Sales order's freight
    ], lines
    assert result.bc_order["discountAmount"] == 100  # the Sales header discount is BC's invoice discount

    # BC posts it; BC's money: lines 6502.65 - invoice discount 100 = 6402.65, VAT 480.30 + 433.22 = 913.52
    result.bc_invoice = ship_and_invoice(story, result.bc_order)
    invoice = result.bc_invoice
    assert (invoice["totalAmountExcludingTax"], invoice["totalTaxAmount"], invoice["totalAmountIncludingTax"]) == (
        6402.65, 913.52, 7316.17,
    ), invoice  # fmt: skip
    assert sorted({line["taxPercent"] for line in invoice["salesInvoiceLines"]}) == [0, 10, 25]

    # the posted invoice sent to Sales: BC's totals and tax, Billed
    sent = story.api("POST", f"posted-sales-invoices/{invoice['id']}/create-in-dataverse", expect=201)
    sales = _assert_same_totals(story, result)
    assert sales["invoiceid"] == sent["dataverseId"]
    assert (sales["statecode"], sales["statuscode"]) == BILLED, sales
    details = story.dataverse(
        "GET", f"invoicedetails?$select={DETAIL_SELECT}&$filter=_invoiceid_value eq {sales['invoiceid']}"
    )["value"]
    by_line = {detail["lineitemnumber"]: detail for detail in details}
    bc_lines = {line["sequence"]: line for line in invoice["salesInvoiceLines"]}
    assert sorted(by_line) == sorted(bc_lines), (details, invoice["salesInvoiceLines"])  # every line, BC's Line No.
    for number, detail in by_line.items():  # tax = Amount Incl. VAT - Amount, line by line
        line = bc_lines[number]
        assert _cents(detail["tax"]) == _cents(line["netAmountIncludingTax"]) - _cents(line["netAmount"]), (
            detail,
            line,
        )
    chair_line = next(n for n, line in bc_lines.items() if line["lineObjectNumber"] == CHAIR)
    assert by_line[chair_line]["_uomid_value"] == parts.box  # the BC line's unit, not the product's default

    # paid in two parts in BC, Update Account Statistics after each
    for amount, expected in ((1000.0, PARTIAL), (7316.17 - 1000.0, COMPLETE)):
        pay(story, invoice["id"], round(amount, 2))
        statistics = story.api("POST", f"customers/{CANNON}/update-statistics")
        assert statistics["invoices"]["statusChanged"] == 1 and statistics["invoices"]["failed"] == 0, statistics
        sales = _assert_same_totals(story, result)  # a status change keeps BC's totals
        assert (sales["statecode"], sales["statuscode"]) == expected, (amount, sales)
    paid = story.bc("GET", f"salesInvoices({invoice['id']})")
    assert (paid["remainingAmount"], paid["status"]) == (0, "Paid"), paid
