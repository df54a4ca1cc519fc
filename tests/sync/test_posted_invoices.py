"""POSTEDSALESINV-INV: posted BC invoices become Sales invoices once, with lines; their payment status follows BC."""

from __future__ import annotations

from typing import Any

import pytest

from shared.domain.errors import RecordError
from shared.processes.invoices import MAPPING, create_in_dataverse, sync_posted_invoices
from shared.processes.sales_orders import create_in_business_central
from tests.sync.conftest import SyncStack
from tests.sync.sales_documents import (
    WRITE_IN_NUMBER,
    add_write_in_item,
    couple_sales_basics,
    make_setup,
    sales_order,
)

pytestmark = pytest.mark.integration
SETUP = make_setup(writeInProductNumber=WRITE_IN_NUMBER)


def invoiced_order(stack: SyncStack) -> tuple[str, str]:
    """A Sales order with a product line, a write-in line and a comment, made a BC order, shipped and invoiced."""
    context = stack.context
    ids = couple_sales_basics(context)
    add_write_in_item(context)
    order_id = sales_order(
        context,
        ids["account"],
        [
            {"productid": ids["desk"], "quantity": 2, "priceperunit": 500, "description": "With cable tray"},
            {"productdescription": "Gift wrap", "quantity": 1, "priceperunit": 20},
        ],
        name="Desk order",
        ordernumber="ORD-77",
    )
    created = create_in_business_central(context, SETUP, order_id)
    stack.bc.invoke_action("salesOrders", created.bc_id, "shipAndInvoice")
    invoice = [
        r
        for p in stack.bc.list_changed_since("salesInvoices", None, ["id", "orderNumber"])
        for r in p.rows
        if r["orderNumber"] == created.bc_number
    ]
    return order_id, str(invoice[0]["id"])


def sales_invoice(stack: SyncStack, dataverse_id: str) -> dict[str, Any]:
    return stack.dataverse.get_row("invoices", dataverse_id) or {}


def details(stack: SyncStack, dataverse_id: str) -> list[dict[str, Any]]:
    rows = [
        r
        for p in stack.dataverse.list_changed_since(
            "invoicedetails",
            None,
            [
                "_productid_value",
                "isproductoverridden",
                "productdescription",
                "quantity",
                "priceperunit",
                "sequencenumber",
            ],
            extra_filter=f"_invoiceid_value eq {dataverse_id}",
        )
        for r in p.rows
    ]
    return sorted(rows, key=lambda r: r["sequencenumber"])


def test_a_posted_invoice_becomes_a_billed_sales_invoice_linked_to_its_order(sync_stack: SyncStack) -> None:
    order_id, invoice_id = invoiced_order(sync_stack)
    result = sync_posted_invoices(sync_stack.context)
    assert (result.created, result.failed) == (1, 0), result
    coupling = sync_stack.context.couplings.find_by_bc_id(MAPPING, invoice_id)
    assert coupling is not None
    invoice = sales_invoice(sync_stack, coupling.dataverse_id)
    assert invoice["_salesorderid_value"] == order_id and invoice["name"] == "Desk order"
    assert (invoice["statecode"], invoice["statuscode"]) == (0, 4)  # Active / Billed
    lines = details(sync_stack, coupling.dataverse_id)
    assert [(d["isproductoverridden"], d["productdescription"], d["quantity"]) for d in lines] == [
        (False, None, 2.0),
        (True, f"{WRITE_IN_NUMBER} Gift wrap.", 1.0),  # BC's write-in text: "<No.> <Description>."
    ]  # the comment line is not an invoice detail
    assert lines[0]["_productid_value"] and lines[1]["priceperunit"] == 20
    again = sync_posted_invoices(sync_stack.context)
    assert (again.created, again.status_changed) == (0, 0)
    assert create_in_dataverse(sync_stack.context, invoice_id)["status"] == "alreadyCreated"
    all_invoices = list(sync_stack.dataverse.list_changed_since("invoices", None, ["invoiceid"]))
    assert sum(len(p.rows) for p in all_invoices) == 1


def test_payments_move_the_invoice_to_partial_then_complete_and_back_when_unapplied(sync_stack: SyncStack) -> None:
    _, invoice_id = invoiced_order(sync_stack)
    sync_posted_invoices(sync_stack.context)
    coupling = sync_stack.context.couplings.find_by_bc_id(MAPPING, invoice_id)
    assert coupling is not None
    total = float((sync_stack.bc.get_entity("salesInvoices", invoice_id) or {})["totalAmountIncludingTax"])

    def pay(amount: float) -> str:
        response = sync_stack.bc_handle.admin("POST", "payments", json={"invoiceId": invoice_id, "amount": amount})
        response.raise_for_status()
        return str(response.json()["paymentId"])

    def state() -> tuple[int, int]:
        row = sales_invoice(sync_stack, coupling.dataverse_id)
        return row["statecode"], row["statuscode"]

    first = pay(100)
    assert sync_posted_invoices(sync_stack.context).status_changed == 1 and state() == (2, 100002)  # Paid / Partial
    assert sync_posted_invoices(sync_stack.context).status_changed == 0  # nothing changed, nothing written
    pay(total - 100)
    assert sync_posted_invoices(sync_stack.context).status_changed == 1 and state() == (2, 100001)  # Complete
    sync_stack.bc_handle.admin("POST", "payments/unapply", json={"paymentId": first}).raise_for_status()
    assert sync_posted_invoices(sync_stack.context).status_changed == 1 and state() == (2, 100002)
    assert sync_stack.bc_handle.admin("POST", "payments/unapply", json={"paymentId": first}).status_code == 400


def test_a_cancelled_invoice_is_canceled_in_sales(sync_stack: SyncStack) -> None:
    _, invoice_id = invoiced_order(sync_stack)
    sync_posted_invoices(sync_stack.context)
    sync_stack.bc.invoke_action("salesInvoices", invoice_id, "cancel")
    assert sync_posted_invoices(sync_stack.context).status_changed == 1
    coupling = sync_stack.context.couplings.find_by_bc_id(MAPPING, invoice_id)
    assert coupling is not None
    row = sales_invoice(sync_stack, coupling.dataverse_id)
    assert (row["statecode"], row["statuscode"]) == (3, 100003)


def test_an_invoice_of_an_uncoupled_customer_is_left_out_and_refused_on_request(sync_stack: SyncStack) -> None:
    context = sync_stack.context
    couple_sales_basics(context)
    customer = context.bc.create_entity("customers", {"displayName": "Walk-in customer"})
    draft = context.bc.create_entity(
        "salesInvoices",
        {
            "customerId": customer["id"],
            "salesInvoiceLines": [{"lineType": "Item", "lineObjectNumber": "1900-S", "quantity": 1}],
        },
    )
    context.bc.invoke_action("salesInvoices", str(draft["id"]), "post")
    assert sync_posted_invoices(context).created == 0
    with pytest.raises(RecordError) as refused:
        create_in_dataverse(context, str(draft["id"]))
    assert refused.value.code == "customerNotCoupled"
    assert sum(len(p.rows) for p in sync_stack.dataverse.list_changed_since("invoices", None, ["invoiceid"])) == 0
