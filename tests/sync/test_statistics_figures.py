"""Update Account Statistics on the real parts (BC emulator, Dataverse emulator, Azurite), issue 20 item 3:

- the open-document figures of the FactBox equal BC's FlowField formulas on a known scenario (an order partly
  shipped, an order of another customer billed to this one, a draft and a posted invoice), and follow the documents
  when the order is invoiced;
- the action also sets the customer's coupled invoices to Paid / Partial, then Paid / Complete, as payments are
  posted in BC (BC's action runs UpdateStatusOfPaidInvoices for the customer; before this, only the invoice timer
  did).
"""

from __future__ import annotations

from typing import Any

import pytest

from shared.domain.statistics import NOT_IN_API
from shared.processes.customer_statistics_action import update_customer_statistics
from shared.processes.invoices import create_in_dataverse
from shared.processes.statistics_figures import line_amounts
from tests.sync.conftest import SyncStack
from tests.sync.sales_documents import CANNON, couple_sales_basics
from tests.sync.test_customer_statistics import TREY, admin, posted_invoice, rows_by_number
from tests.sync.test_item_availability import clear_stats, counts

pytestmark = pytest.mark.integration
FIGURES = ("nav_outstandingorderslcy", "nav_shippednotinvoicedlcy", "nav_outstandinginvoiceslcy")


def order(stack: SyncStack, customer: str, lines: list[dict[str, Any]], **header: Any) -> dict[str, Any]:
    body = {"customerId": customer, **header, "salesOrderLines": lines}
    created = stack.bc.create_entity("salesOrders", body)
    return created


def order_lines(stack: SyncStack, order_id: str) -> list[dict[str, Any]]:
    found = stack.bc.get_entity("salesOrders", order_id, expand="salesOrderLines")
    assert found is not None
    return sorted(found["salesOrderLines"], key=lambda line: int(line["sequence"]))


def item_line(quantity: float, price: float, discount: float = 0) -> dict[str, Any]:
    return {"lineType": "Item", "lineObjectNumber": "1896-S", "quantity": quantity, "unitPrice": price,
            "discountAmount": discount}  # fmt: skip


def figures(stack: SyncStack, number: str) -> tuple[Any, ...]:
    row = rows_by_number_all(stack)[number]
    return tuple(row[name] for name in FIGURES)


def rows_by_number_all(stack: SyncStack) -> dict[str, dict[str, Any]]:
    from tests.sync.test_incremental import dv_get

    select = ",".join(["nav_customerno", "nav_totallcy", "nav_invoicedprepaymentamountlcy", *FIGURES])
    rows = dv_get(stack, "nav_accountstatisticses", **{"$select": select})["value"]
    return {row["nav_customerno"]: row for row in rows}


def test_line_amounts_are_bcs_round_of_amount_times_quantity_share() -> None:
    # Outstanding = Round(Amount Incl. VAT * (Quantity - Shipped) / Quantity); Shipped Not Invoiced = Round(Amount
    # Incl. VAT * (Shipped - Invoiced) / Quantity); halves away from zero (5.025 -> 5.03, where float round gives 5.02)
    line = {"quantity": 2, "shippedQuantity": 1, "invoicedQuantity": 0, "netAmountIncludingTax": 10.05}
    assert tuple(map(float, line_amounts(line))) == (5.03, 5.03)
    assert tuple(map(float, line_amounts({**line, "invoicedQuantity": 1}))) == (5.03, 0)
    assert tuple(map(float, line_amounts({**line, "quantity": 0}))) == (0, 0)  # BC: a line of Quantity 0 counts 0
    assert tuple(map(float, line_amounts({**line, "netAmountIncludingTax": -10.05}))) == (-5.03, -5.03)


def test_open_document_figures_equal_bcs_formulas_and_follow_the_documents(sync_stack: SyncStack) -> None:
    couple_sales_basics(sync_stack.context)
    # Cannon's order: 10 x 12.50 - 3.00 = 122.00 and 3 x 33.33 = 99.99; 4 and 1 shipped (BC's Post > Ship)
    first = order(sync_stack, CANNON, [item_line(10, 12.5, 3), item_line(3, 33.33)])
    lines = order_lines(sync_stack, first["id"])
    assert [line["netAmountIncludingTax"] for line in lines] == [122.0, 99.99]  # the emulator charges no tax
    admin(sync_stack, "ship", orderId=first["id"], quantities={str(lines[0]["sequence"]): 4,
                                                               str(lines[1]["sequence"]): 1})  # fmt: skip
    # Trey's order billed to Cannon: BC's FlowFields filter on Bill-to Customer No., so it is Cannon's
    order(sync_stack, TREY, [item_line(1, 50)], billToCustomerId=CANNON)
    # a draft invoice (outstanding) and a posted one (in the balance, not outstanding)
    sync_stack.bc.create_entity("salesInvoices", {"customerId": CANNON, "salesInvoiceLines": [item_line(2, 40)]})
    posted_invoice(sync_stack, CANNON, 1)

    clear_stats(sync_stack)
    answer = update_customer_statistics(sync_stack.context, CANNON)
    # BC's formula by hand: outstanding 122.00 * 6/10 + 99.99 * 2/3 + 50 = 73.20 + 66.66 + 50.00;
    # shipped not invoiced 122.00 * 4/10 + 99.99 * 1/3 = 48.80 + 33.33; outstanding invoices 80.00 (the draft)
    expected = (189.86, 82.13, 80.0)
    assert tuple(answer["values"][name] for name in FIGURES) == expected
    assert figures(sync_stack, "C00010") == expected
    row = rows_by_number_all(sync_stack)["C00010"]
    assert all(answer["values"][name] is None for name in NOT_IN_API)  # not derivable from API v2.0
    assert (row["nav_totallcy"], row["nav_invoicedprepaymentamountlcy"]) == (None, None)
    # one read per set for the customer: its orders with lines, its draft invoices, its posted invoices (status)
    assert counts(sync_stack.bc_handle, "salesOrders") == {"GET": 1}
    assert counts(sync_stack.bc_handle, "salesInvoices") == {"GET": 2}

    trey = update_customer_statistics(sync_stack.context, TREY)
    assert tuple(trey["values"][name] for name in FIGURES) == (0, 0, 0)  # its order is billed to Cannon

    # invoicing the shipped order removes it (BC deletes a fully invoiced order): only Trey's order is left
    sync_stack.bc.invoke_action("salesOrders", first["id"], "shipAndInvoice")
    again = update_customer_statistics(sync_stack.context, CANNON)
    assert (again["outcome"], tuple(again["values"][name] for name in FIGURES)) == ("updated", (50.0, 0, 80.0))
    assert rows_by_number(sync_stack)["C00010"]["nav_outstandingorderslcy"] == 50.0


def test_a_foreign_currency_document_leaves_its_figure_empty(sync_stack: SyncStack) -> None:
    couple_sales_basics(sync_stack.context)
    order(sync_stack, CANNON, [item_line(1, 10)], currencyCode="EUR")
    sync_stack.bc.create_entity("salesInvoices", {"customerId": CANNON, "salesInvoiceLines": [item_line(1, 40)]})
    answer = update_customer_statistics(sync_stack.context, CANNON)
    # API v2.0 has no currency factor to turn EUR into LCY: the order figures stay empty, the LCY invoice counts
    assert tuple(answer["values"][name] for name in FIGURES) == (None, 0, 40.0)


def test_update_account_statistics_sets_the_invoice_paid_partial_then_complete(sync_stack: SyncStack) -> None:
    context = sync_stack.context
    couple_sales_basics(context)
    invoice = posted_invoice(sync_stack, CANNON, 2)
    created = create_in_dataverse(context, str(invoice["id"]))
    sales_invoice = created["dataverseId"]
    total = float(invoice["totalAmountIncludingTax"])

    def state() -> tuple[int, int]:
        row = sync_stack.dataverse.get_row("invoices", sales_invoice, ["statecode", "statuscode"]) or {}
        return row["statecode"], row["statuscode"]

    assert state() == (0, 4)  # Active / Billed
    unchanged = update_customer_statistics(context, CANNON)
    assert state() == (0, 4)

    admin(sync_stack, "payments", invoiceId=invoice["id"], amount=round(total / 4, 2))
    partial = update_customer_statistics(context, CANNON)
    assert state() == (2, 100002)  # Paid / Partial
    assert unchanged["invoices"] == {"read": 1, "coupled": 1, "statusChanged": 0, "failed": 0, "errors": []}
    assert partial["invoices"]["statusChanged"] == 1
    assert update_customer_statistics(context, CANNON)["invoices"]["statusChanged"] == 0  # nothing new, no write

    admin(sync_stack, "payments", invoiceId=invoice["id"], amount=round(total - round(total / 4, 2), 2))
    complete = update_customer_statistics(context, CANNON)
    assert state() == (2, 100001) and complete["invoices"]["statusChanged"] == 1  # Paid / Complete
    assert complete["values"]["nav_balancelcy"] == 0

    # another customer's action leaves this invoice alone
    trey = update_customer_statistics(context, TREY)
    assert trey["invoices"] == {"read": 0, "coupled": 0, "statusChanged": 0, "failed": 0, "errors": []}


def test_the_emulators_ship_refuses_more_than_the_outstanding_quantity(sync_stack: SyncStack) -> None:
    created = order(sync_stack, CANNON, [item_line(2, 10)])
    sequence = str(order_lines(sync_stack, created["id"])[0]["sequence"])
    over = sync_stack.bc_handle.admin("POST", "ship", json={"orderId": created["id"], "quantities": {sequence: 3}})
    assert over.status_code == 400 and "cannot ship more than 2 units" in over.text
    admin(sync_stack, "ship", orderId=created["id"])  # default: the whole outstanding quantity
    line = order_lines(sync_stack, created["id"])[0]
    assert (line["shippedQuantity"], line["invoicedQuantity"]) == (2, 0)
    again = sync_stack.bc_handle.admin("POST", "ship", json={"orderId": created["id"]})
    assert again.status_code == 400 and "There is nothing to post." in again.text
