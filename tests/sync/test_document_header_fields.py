"""Orders and quotes from Sales carry what BC's conversions carry besides the lines: payment terms and freight terms
through their option mappings, Payment Discount %, each line's own unit (its item's unit, ITEM UOM) and the freight
as a G/L Account line (CRMSalesOrdertoSalesOrder / CRMQuotetoSalesQuote); what cannot go over is a record error
naming the field, and nothing is written to BC."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from local.emulators.business_central.seed import seeded_id as bc_seeded
from shared.domain.errors import RecordError, SyncError
from shared.engine.mapping_run import run_mapping
from shared.processes.quotes import process_quote
from shared.processes.sales_orders import create_in_business_central
from shared.storage.archive import TableQuoteArchive
from shared.storage.tables import TableFactory
from tests.sync.conftest import SyncStack
from tests.sync.sales_documents import couple_sales_basics, make_setup, sales_order

pytestmark = pytest.mark.integration
FREIGHT_ACCOUNT = "6810"  # seeded: a posting account with direct posting
SETUP = make_setup(freightGLAccountNumber=FREIGHT_ACCOUNT)
CM, EXW = bc_seeded("terms", "CM"), bc_seeded("shipment", "EXW")


def option_of(stack: SyncStack, mapping: str, bc_id: str) -> int:
    coupling = stack.context.couplings.find_by_bc_id(mapping, bc_id)
    assert coupling is not None
    return int(coupling.dataverse_id)


def lines_of(stack: SyncStack, entity_set: str, bc_id: str) -> list[dict[str, Any]]:
    lines = entity_set.removesuffix("s") + "Lines"
    document = stack.bc.get_entity(entity_set, bc_id, expand=lines) or {}
    return sorted(document.get(lines, []), key=lambda line: line["sequence"])


def unit_of(stack: SyncStack, item_number: str, code: str) -> str:
    """The Sales unit coupled to the item's own unit `code` (ITEM UOM)."""
    for coupling in stack.context.couplings.list_couplings("ITEM UOM"):
        row = stack.bc.get_entity("itemUnitsOfMeasure", coupling.bc_id) or {}
        if (row.get("itemNumber"), row.get("code")) == (item_number, code):
            return coupling.dataverse_id
    raise AssertionError(f"no Sales unit for {item_number} {code}")


def bc_order_count(stack: SyncStack) -> int:
    return sum(len(page.rows) for page in stack.bc.list_changed_since("salesOrders", None, ["id"]))


def test_an_order_carries_terms_discount_unit_and_freight(sync_stack: SyncStack) -> None:
    stack, context = sync_stack, sync_stack.context
    stack.bc.create_entity(
        "itemUnitsOfMeasure", {"itemNumber": "1896-S", "code": "BOX", "quantityPerUnitOfMeasure": 12}
    )
    ids = couple_sales_basics(context)
    run_mapping(context, "PAYMENT TERMS")
    run_mapping(context, "SHIPMENT METHOD")
    box = unit_of(stack, "1896-S", "BOX")
    order_id = sales_order(
        context,
        ids["account"],
        [{"productid": ids["desk"], "quantity": 2, "priceperunit": 9000, "uomid@odata.bind": f"/uoms({box})"}],
        paymenttermscode=option_of(stack, "PAYMENT TERMS", CM),
        freighttermscode=option_of(stack, "SHIPMENT METHOD", EXW),
        discountpercentage=2,
        freightamount=35.5,
    )
    result = create_in_business_central(context, SETUP, order_id)
    order = stack.bc.get_entity("salesOrders", result.bc_id) or {}
    assert (order["paymentTermsId"], order["shipmentMethodId"]) == (CM, EXW)
    header = stack.bc.get_entity("salesOrderHeaders", f"Order|{result.bc_number}") or {}
    assert float(header["paymentDiscountPercent"]) == 2  # BC: Payment Discount % = discountpercentage
    lines = [
        (line["lineType"], line["lineObjectNumber"], line["unitOfMeasureCode"], line["quantity"], line["unitPrice"])
        for line in lines_of(stack, "salesOrders", result.bc_id)
    ]
    assert lines == [("Item", "1896-S", "BOX", 2, 9000), ("Account", FREIGHT_ACCOUNT, "", 1, 35.5)]


@pytest.mark.parametrize(
    ("problem", "field"),
    [
        ("an option Sales has but BC has not coupled", "paymenttermscode"),
        ("another item's unit", "uomid"),
        ("freight without a freight account", "freightGLAccountNumber"),
    ],
)
def test_what_cannot_go_over_refuses_the_order_naming_the_field(
    sync_stack: SyncStack, problem: str, field: str
) -> None:
    stack, context = sync_stack, sync_stack.context
    ids = couple_sales_basics(context)
    run_mapping(context, "PAYMENT TERMS")
    detail: dict[str, Any] = {"productid": ids["desk"], "quantity": 1, "priceperunit": 100}
    header: dict[str, Any] = {}
    setup = SETUP
    if problem.startswith("an option"):
        header["paymenttermscode"] = 1  # Net 30: Dataverse's own option, coupled to no BC payment terms
    elif problem.startswith("another"):
        detail["uomid@odata.bind"] = f"/uoms({unit_of(stack, '1900-S', 'PCS')})"  # the chair's unit on a desk line
    else:
        header["freightamount"] = 20
        setup = make_setup()
    before = bc_order_count(stack)
    order_id = sales_order(context, ids["account"], [detail], **header)
    with pytest.raises(RecordError) as refused:
        create_in_business_central(context, setup, order_id)
    assert refused.value.field == field, refused.value.message
    if field == "uomid":
        assert "Line 1" in refused.value.message and "PCS" in refused.value.message
    assert bc_order_count(stack) == before


def test_a_quote_carries_terms_unit_and_freight(sync_stack: SyncStack, azurite: str) -> None:
    stack, context = sync_stack, sync_stack.context
    ids = couple_sales_basics(context)
    run_mapping(context, "PAYMENT TERMS")
    quote_id = str(uuid.uuid4())
    stack.dataverse.create_row(
        "quotes",
        quote_id,
        {
            "name": "Boardroom",
            "customerid_account@odata.bind": f"/accounts({ids['account']})",
            "paymenttermscode": option_of(stack, "PAYMENT TERMS", CM),
            "freightamount": 12,
        },
    )
    stack.dataverse.create_row(
        "quotedetails",
        str(uuid.uuid4()),
        {
            "quoteid@odata.bind": f"/quotes({quote_id})",
            "productid@odata.bind": f"/products({ids['chair']})",
            "uomid@odata.bind": f"/uoms({unit_of(stack, '1900-S', 'PCS')})",
            "isproductoverridden": False,
            "sequencenumber": 1,
            "quantity": 4,
            "priceperunit": 150,
        },
    )
    stack.dataverse.set_state("quotes", quote_id, 1, 2)
    archive = TableQuoteArchive(TableFactory.from_connection_string(azurite, prefix=f"q{uuid.uuid4().hex[:12]}"))
    result = process_quote(context, SETUP, archive, quote_id)
    quote = stack.bc.get_entity("salesQuotes", result["bcId"]) or {}
    assert quote["paymentTermsId"] == CM
    lines = [
        (line["lineType"], line["lineObjectNumber"], line["unitOfMeasureCode"], line["quantity"])
        for line in lines_of(stack, "salesQuotes", result["bcId"])
    ]
    assert lines == [("Item", "1900-S", "PCS", 4), ("Account", FREIGHT_ACCOUNT, "", 1)]


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ({"lineType": "Item", "lineObjectNumber": "1900-S", "unitOfMeasureCode": "BOX"}, "Item Unit of Measure"),
        ({"lineType": "Account", "lineObjectNumber": "6820"}, "Blocked"),
        ({"lineType": "Account", "lineObjectNumber": "6110"}, "Direct Posting"),
        ({"lineType": "Account", "lineObjectNumber": "9999"}, "G/L Account does not exist"),
    ],
)
def test_the_bc_emulator_refuses_a_line_bc_would_refuse(
    sync_stack: SyncStack, line: dict[str, Any], words: str
) -> None:
    """Emulator first: an item line takes only the item's own units; a G/L line only a usable posting account."""
    body = {"customerId": bc_seeded("customer", "The Cannon Group PLC"), "salesOrderLines": [{**line, "quantity": 1}]}
    before = bc_order_count(sync_stack)
    with pytest.raises(SyncError) as refused:  # the client's record error for BC's 400
        sync_stack.bc.create_entity("salesOrders", body)
    assert words in str(refused.value)
    assert bc_order_count(sync_stack) == before
