"""POSTEDSALESINV-INV amounts (issue 20 item 2): a posted invoice reaches Sales with BC's tax, amounts, unit and line
number on its details, and totals equal to BC's to the cent for a mixed invoice (two VAT rates, a line discount, an
invoice discount); rules in shared/domain/invoices.py, BC's VAT in
local/emulators/business_central/api/document_tax.py."""

from __future__ import annotations

from typing import Any

import pytest

from shared.domain.errors import RecordError
from shared.processes.invoices import MAPPING, create_in_dataverse, sync_posted_invoices
from shared.services.matching import match_and_couple
from tests.conftest import TENANT
from tests.sync.conftest import SyncStack
from tests.sync.sales_documents import CANNON, couple_sales_basics

pytestmark = pytest.mark.integration
DETAIL_FIELDS = ["lineitemnumber", "quantity", "priceperunit", "manualdiscountamount", "tax", "baseamount",
                 "extendedamount", "_uomid_value", "_productid_value"]  # fmt: skip
TOTALS = ["totalamount", "totaltax", "totalamountlessfreight", "totaldiscountamount", "totallineitemdiscountamount",
          "totallineitemamount", "discountamount"]  # fmt: skip


def add_chair_box(stack: SyncStack) -> None:
    """A second unit of item 1900-S (BOX of 12), on BC's Item Units of Measure page, coupled to a Sales unit."""
    root = f"{stack.bc_handle.base_url}/{TENANT}/production/ODataV4/Company('CRONUS USA, Inc.')"
    body = {"Item_No": "1900-S", "Code": "BOX", "Qty_per_Unit_of_Measure": 12}
    response = stack.bc_handle.session.post(f"{root}/ItemUnitsOfMeasure", json=body)
    assert response.status_code == 201, response.text
    report = match_and_couple(stack.context, "ITEM UOM", create_if_no_match=True).as_dict()
    assert not report["failed"], report


def posted_mixed_invoice(stack: SyncStack) -> dict[str, Any]:
    """A BC order shipped and invoiced: desk at 25 % VAT with a line discount, a comment, chairs by the BOX at 10 %
    VAT, and an invoice discount of 100; returns the posted invoice with its lines."""
    lines = [
        {"lineType": "Item", "lineObjectNumber": "1896-S", "quantity": 2, "unitPrice": 1000.8, "discountAmount": 50.4,
         "taxCode": "STANDARD"},
        {"lineType": "Comment", "description": "Deliver to the back door"},
        {"lineType": "Item", "lineObjectNumber": "1900-S", "quantity": 3, "unitPrice": 192.8, "taxCode": "REDUCED",
         "unitOfMeasureCode": "BOX"},
    ]  # fmt: skip
    order = stack.bc.create_entity(
        "salesOrders", {"customerId": CANNON, "discountAmount": 100, "salesOrderLines": lines}
    )
    stack.bc.invoke_action("salesOrders", str(order["id"]), "shipAndInvoice")
    invoice = next(
        row
        for page in stack.bc.list_changed_since("salesInvoices", None, ["id", "orderNumber"])
        for row in page.rows
        if row["orderNumber"] == order["number"]
    )
    found = stack.bc.get_entity("salesInvoices", str(invoice["id"]), None, expand="salesInvoiceLines")
    assert found is not None
    return found


def details_of(stack: SyncStack, invoice_id: str) -> list[dict[str, Any]]:
    rows = [
        row
        for page in stack.dataverse.list_changed_since(
            "invoicedetails", None, DETAIL_FIELDS, extra_filter=f"_invoiceid_value eq {invoice_id}"
        )
        for row in page.rows
    ]
    return sorted(rows, key=lambda row: row["lineitemnumber"])


def test_a_mixed_invoice_reaches_sales_with_bcs_tax_amounts_units_and_totals_to_the_cent(
    sync_stack: SyncStack,
) -> None:
    context = sync_stack.context
    ids = couple_sales_basics(context)
    add_chair_box(sync_stack)
    invoice = posted_mixed_invoice(sync_stack)
    assert (invoice["totalAmountIncludingTax"], invoice["totalTaxAmount"]) == (2953.67, 524.07)  # BC's figures

    result = sync_posted_invoices(context)
    assert (result.created, result.failed) == (1, 0), result
    coupling = context.couplings.find_by_bc_id(MAPPING, str(invoice["id"]))
    assert coupling is not None
    header = context.dataverse.get_row("invoices", coupling.dataverse_id, TOTALS) or {}
    assert header["totalamount"] == invoice["totalAmountIncludingTax"]  # to the cent
    assert (header["totaltax"], header["totalamountlessfreight"]) == (524.07, invoice["totalAmountExcludingTax"])
    assert (header["totaldiscountamount"], header["totallineitemdiscountamount"]) == (100.0, 50.4)

    bc_lines = sorted(invoice["salesInvoiceLines"], key=lambda line: line["sequence"])
    desk, chair = bc_lines[0], bc_lines[2]
    box = context.couplings.find_by_bc_id("ITEM UOM", "1900-S|BOX")
    pcs = context.couplings.find_by_bc_id("ITEM UOM", "1896-S|PCS")
    assert box is not None and pcs is not None
    details = details_of(sync_stack, coupling.dataverse_id)
    assert [(d["lineitemnumber"], d["_productid_value"], d["_uomid_value"]) for d in details] == [
        (desk["sequence"], ids["desk"], pcs.dataverse_id),
        (chair["sequence"], ids["chair"], box.dataverse_id),  # the BC line's unit, not the product's default
    ]  # the comment line is no detail
    # tax = Amount Incl. VAT - Amount; baseamount = Amount + Inv. Discount + Line Discount; extendedamount = Amount
    # Incl. VAT + Inv. Discount (desk: Amount 1874.07, its share of the invoice discount 77.13; chair: 555.53, 22.87)
    assert [(d["tax"], d["baseamount"], d["extendedamount"], d["manualdiscountamount"]) for d in details] == [
        (468.52, 2001.6, 2419.72, 50.4),
        (55.55, 578.4, 633.95, 0.0),
    ]
    # what Sales computes from those details and the header discount is BC's total as well
    computed = sum(d["baseamount"] - d["manualdiscountamount"] + d["tax"] for d in details) - header["discountamount"]
    assert round(computed, 2) == invoice["totalAmountIncludingTax"]
    context.dataverse.update_row("invoices", coupling.dataverse_id, {"freightamount": 0})  # Sales recalculates
    again = context.dataverse.get_row("invoices", coupling.dataverse_id, TOTALS) or {}
    assert (again["totalamount"], again["totaltax"]) == (2953.67, 524.07)

    # payments: Paid / Partial, then Paid / Complete (a paid invoice is paid again only from Active: set back first)
    def pay_and_sync(amount: float) -> tuple[int, int]:
        body = {"invoiceId": invoice["id"], "amount": amount}
        sync_stack.bc_handle.admin("POST", "payments", json=body).raise_for_status()
        assert sync_posted_invoices(context).status_changed == 1
        row = context.dataverse.get_row("invoices", coupling.dataverse_id, ["statecode", "statuscode"]) or {}
        return row["statecode"], row["statuscode"]

    assert pay_and_sync(1000) == (2, 100002)
    assert pay_and_sync(1953.67) == (2, 100001)


def test_an_invoice_line_whose_unit_is_not_coupled_is_a_record_error_naming_line_and_unit(
    sync_stack: SyncStack,
) -> None:
    context = sync_stack.context
    couple_sales_basics(context)
    root = f"{sync_stack.bc_handle.base_url}/{TENANT}/production/ODataV4/Company('CRONUS USA, Inc.')"
    body = {"Item_No": "1900-S", "Code": "BOX", "Qty_per_Unit_of_Measure": 12}
    assert sync_stack.bc_handle.session.post(f"{root}/ItemUnitsOfMeasure", json=body).status_code == 201
    invoice = posted_mixed_invoice(sync_stack)  # BOX is not coupled
    with pytest.raises(RecordError) as raised:
        create_in_dataverse(context, str(invoice["id"]))
    assert raised.value.code == "unitNotCoupled" and "line 30000" in raised.value.message
    assert "'BOX'" in raised.value.message and "1900-S" in raised.value.message
    assert context.couplings.find_by_bc_id(MAPPING, str(invoice["id"])) is None
    invoices = [
        row for page in context.dataverse.list_changed_since("invoices", None, ["invoiceid"]) for row in page.rows
    ]
    assert invoices == []  # refused before anything was written
