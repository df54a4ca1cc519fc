"""Sales orders from Sales become BC orders: BC's rules, proven on both emulators over HTTP."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from local.emulators.business_central.seed import seeded_id as bc_seeded
from shared.domain.errors import ConflictError, RecordError
from shared.domain.records import Side
from shared.processes.sales_orders import MAPPING, auto_create, create_in_business_central
from tests.sync.conftest import SyncStack
from tests.sync.sales_documents import (
    WRITE_IN_NUMBER,
    add_write_in_item,
    couple_sales_basics,
    make_setup,
    sales_order,
)

pytestmark = pytest.mark.integration
LONG_TEXT = (
    "Engraved brass plate with the customer's logo, mounted on the front edge of every desk, polished finish, "
    "delivered with the installation kit and a printed certificate of origin for the customer's records."
)  # 204 characters
SETUP = make_setup(writeInProductNumber=WRITE_IN_NUMBER)


def bc_orders(stack: SyncStack) -> list[dict[str, Any]]:
    return [
        r for p in stack.bc.list_changed_since("salesOrders", None, ["id", "externalDocumentNumber"]) for r in p.rows
    ]


def bc_lines(stack: SyncStack, bc_id: str) -> list[dict[str, Any]]:
    order = stack.bc.get_entity("salesOrders", bc_id, expand="salesOrderLines") or {}
    return sorted(order.get("salesOrderLines", []), key=lambda line: line["sequence"])


def test_an_order_with_a_write_in_and_long_descriptions_becomes_one_coupled_bc_order(sync_stack: SyncStack) -> None:
    context = sync_stack.context
    ids = couple_sales_basics(context)
    write_in_id = add_write_in_item(context)
    order_id = sales_order(
        context,
        ids["account"],
        [
            {"productid": ids["desk"], "quantity": 2, "priceperunit": 900, "description": "Height-adjustable\nOak top"},
            {"productdescription": LONG_TEXT, "quantity": 3, "priceperunit": 25, "manualdiscountamount": 5},
        ],
        name="Refit of the Birmingham office, phase two",
        ordernumber="ORD-1001",
        requestdeliveryby="2026-12-15",
    )
    result = create_in_business_central(context, SETUP, order_id)
    assert result.status == "created"
    assert result.warnings and "External Document No." in result.warnings[0]
    order = sync_stack.bc.get_entity("salesOrders", result.bc_id) or {}
    assert order["externalDocumentNumber"] == "REFIT OF THE BIRMINGHAM OFFICE, PHA"  # Code[35], upper-cased
    assert order["requestedDeliveryDate"] == "2026-12-15"
    lines = [
        (line["lineType"], line["lineObjectNumber"], line["description"]) for line in bc_lines(sync_stack, result.bc_id)
    ]
    assert lines == [
        ("Item", "1896-S", "ATHENS Desk"),  # BC keeps the item's own description ...
        ("Comment", "", "Height-adjustable"),  # ... and every memo line of the Sales text follows as a comment
        ("Comment", "", "Oak top"),
        (
            "Item",
            WRITE_IN_NUMBER,
            "Engraved brass plate with the customer's logo, mounted on the front edge of every desk, polished",
        ),
        (
            "Comment",
            "",
            "finish, delivered with the installation kit and a printed certificate of origin for the customer's",
        ),
        ("Comment", "", "records."),  # 204 characters: 96 + 98 + 8, no word cut
    ]
    write_in_line = bc_lines(sync_stack, result.bc_id)[3]
    assert (write_in_line["itemId"], write_in_line["quantity"], write_in_line["discountAmount"]) == (write_in_id, 3, 5)
    header = sync_stack.bc.get_entity("salesOrderHeaders", f"Order|{result.bc_number}") or {}
    assert header["yourReference"] == "ORD-1001"  # Sales' order number, on BC's Sales Order page (42)
    coupling = context.couplings.find_by_dataverse_id(MAPPING, order_id)
    assert coupling is not None and coupling.bc_id == result.bc_id
    sales = sync_stack.dataverse.get_row("salesorders", order_id) or {}
    assert (sales["statecode"], sales["bcbi_businesscentralordernumber"]) == (1, result.bc_number)
    assert sales["lastbackofficesubmit"]
    again = create_in_business_central(context, SETUP, order_id)
    assert (again.status, again.bc_id) == ("alreadyCreated", result.bc_id)
    assert len([o for o in bc_orders(sync_stack) if o["id"] == result.bc_id]) == 1


def test_a_contact_customer_uses_its_parent_account(sync_stack: SyncStack) -> None:
    context = sync_stack.context
    ids = couple_sales_basics(context)
    contact = context.dataverse.list_changed_since(
        "contacts", None, ["contactid"], extra_filter=f"_parentcustomerid_value eq {ids['account']}"
    )
    contact_id = next(iter(contact)).rows[0]["contactid"]
    order_id = sales_order(context, contact_id, [{"productid": ids["chair"], "quantity": 1}], customer_set="contacts")
    result = create_in_business_central(context, SETUP, order_id)
    assert (sync_stack.bc.get_entity("salesOrders", result.bc_id) or {})["customerName"] == "The Cannon Group PLC"


@pytest.mark.parametrize("problem", ["uncoupled customer", "missing write-in setup", "uncoupled product"])
def test_a_refused_order_leaves_nothing_in_bc_and_says_why(sync_stack: SyncStack, problem: str) -> None:
    context = sync_stack.context
    ids = couple_sales_basics(context)
    before = len(bc_orders(sync_stack))
    customer, details, setup = ids["account"], [{"productid": ids["desk"], "quantity": 1}], SETUP
    if problem == "uncoupled customer":
        customer = "4e0c1b9e-0000-4000-8000-0000000000c5"
        context.dataverse.create_row("accounts", customer, {"name": "Not in BC", "customertypecode": 3})
    elif problem == "missing write-in setup":
        details, setup = [*details, {"productdescription": "Gift wrapping", "quantity": 1}], make_setup()
    else:
        product = "4e0c1b9e-0000-4000-8000-0000000000d7"
        context.dataverse.create_row("products", product, {"name": "Sales only", "productnumber": "SO-1"})
        context.dataverse.set_state("products", product, 0, 1)  # published: a Draft product cannot go on a line
        details = [{"productid": product, "quantity": 1}]
    order_id = sales_order(context, customer, details)
    with pytest.raises(RecordError) as refused:
        create_in_business_central(context, setup, order_id)
    code = {"uncoupled customer": "customerNotCoupled", "missing write-in setup": "writeInProductMissing"}
    assert refused.value.code == code.get(problem, "productNotCoupled")
    assert len(bc_orders(sync_stack)) == before
    assert context.couplings.find_by_dataverse_id(MAPPING, order_id) is None
    error = context.errors.find_error(MAPPING, Side.DATAVERSE, order_id)
    assert error is not None and error.code == refused.value.code
    assert (sync_stack.dataverse.get_row("salesorders", order_id) or {}).get("lastbackofficesubmit") is None


def test_only_submitted_orders_are_created(sync_stack: SyncStack) -> None:
    context = sync_stack.context
    ids = couple_sales_basics(context)
    order_id = sales_order(context, ids["account"], [{"productid": ids["desk"], "quantity": 1}], submit=False)
    with pytest.raises(ConflictError) as refused:
        create_in_business_central(context, SETUP, order_id)
    assert refused.value.code == "orderNotSubmitted"


def test_racing_runs_make_exactly_one_bc_order(sync_stack: SyncStack) -> None:
    context = sync_stack.context
    ids = couple_sales_basics(context)
    order_id = sales_order(context, ids["account"], [{"productid": ids["desk"], "quantity": 1}], name="RACE-1")
    results: list[Any] = []

    def run() -> None:
        try:
            results.append(create_in_business_central(context, SETUP, order_id))
        except Exception as error:  # collected and asserted below
            results.append(error)

    threads = [threading.Thread(target=run) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(not isinstance(r, Exception) for r in results), results
    assert sorted(r.status for r in results) == ["alreadyCreated"] * 5 + ["created"]
    assert len({r.bc_id for r in results}) == 1
    assert len([o for o in bc_orders(sync_stack) if o["externalDocumentNumber"] == "RACE-1"]) == 1
    assert len(bc_lines(sync_stack, results[0].bc_id)) == 1


def test_auto_create_runs_only_when_enabled_and_once_per_order(sync_stack: SyncStack) -> None:
    context = sync_stack.context
    ids = couple_sales_basics(context)
    first = sales_order(context, ids["account"], [{"productid": ids["desk"], "quantity": 1}], name="AUTO-1")
    sales_order(context, ids["account"], [{"productid": ids["chair"], "quantity": 1}], name="AUTO-2")
    sales_order(context, ids["account"], [{"productid": ids["chair"], "quantity": 1}], name="DRAFT", submit=False)
    assert auto_create(context, make_setup(autoCreateSalesOrders=False)) == {
        "created": 0,
        "alreadyCreated": 0,
        "failed": 0,
    }
    assert auto_create(context, make_setup(autoCreateSalesOrders=True)) == {
        "created": 2,
        "alreadyCreated": 0,
        "failed": 0,
    }
    assert auto_create(context, make_setup(autoCreateSalesOrders=True)) == {
        "created": 0,
        "alreadyCreated": 0,
        "failed": 0,
    }
    assert context.couplings.find_by_dataverse_id(MAPPING, first) is not None
    assert {"AUTO-1", "AUTO-2"} <= {o["externalDocumentNumber"] for o in bc_orders(sync_stack)}
    assert "DRAFT" not in {o["externalDocumentNumber"] for o in bc_orders(sync_stack)}


def test_the_currency_comes_from_its_coupling_and_the_local_currency_is_blank(sync_stack: SyncStack) -> None:
    context = sync_stack.context
    ids = couple_sales_basics(context)
    alpine = context.couplings.find_by_bc_id("CUSTOMER", bc_seeded("customer", "Alpine Ski House"))
    euro = context.couplings.find_by_bc_id("CURRENCY", bc_seeded("currency", "EUR"))
    assert alpine is not None and euro is not None
    currency: dict[str, Any] = {"transactioncurrencyid@odata.bind": f"/transactioncurrencies({euro.dataverse_id})"}
    order_id = sales_order(context, alpine.dataverse_id, [{"productid": ids["desk"], "quantity": 1}], **currency)
    result = create_in_business_central(context, SETUP, order_id)
    assert (sync_stack.bc.get_entity("salesOrders", result.bc_id) or {})["currencyCode"] == "EUR"
    local = create_in_business_central(
        context, SETUP, sales_order(context, ids["account"], [{"productid": ids["desk"], "quantity": 1}])
    )
    assert (sync_stack.bc.get_entity("salesOrders", local.bc_id) or {})["currencyCode"] == "USD"  # BC's LCY (blank)


def test_a_header_discount_becomes_the_bc_invoice_discount(sync_stack: SyncStack) -> None:
    context = sync_stack.context
    ids = couple_sales_basics(context)
    order_id = sales_order(
        context,
        ids["account"],
        [{"productid": ids["desk"], "quantity": 2, "priceperunit": 500, "manualdiscountamount": 100}],
        discountpercentage=10,
        discountamount=20,
    )
    result = create_in_business_central(context, SETUP, order_id)
    order = sync_stack.bc.get_entity("salesOrders", result.bc_id) or {}
    assert order["discountAmount"] == 110.0  # 10 % of (2 x 500 - 100) + 20
    # BC reads Sales' calculated totals: totallineitemamount - totalamountlessfreight (the emulator computes them)
    totals = context.dataverse.get_row("salesorders", order_id, ["totallineitemamount", "totalamountlessfreight"]) or {}
    assert totals["totallineitemamount"] - totals["totalamountlessfreight"] == order["discountAmount"]
