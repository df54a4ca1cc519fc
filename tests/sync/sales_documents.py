"""Test data for the sales document processes: coupled customers and products, Sales orders with lines."""

from __future__ import annotations

from typing import Any

from local.emulators.business_central.seed import seeded_id as bc_seeded
from shared.engine.context import SyncContext
from shared.engine.setup import KEYS, Setup
from shared.services.matching import match_and_couple

CANNON = bc_seeded("customer", "The Cannon Group PLC")
DESK = bc_seeded("item", "1896-S")
CHAIR = bc_seeded("item", "1900-S")
WRITE_IN_NUMBER = "WRITE-IN"


def make_setup(**values: Any) -> Setup:
    merged = {key.name: key.default for key in KEYS} | {"salesOrderIntegrationEnabled": True} | values
    return Setup(merged, {name: "override" for name in merged}, None)


def couple_sales_basics(context: SyncContext) -> dict[str, str]:
    """Salespeople, currencies, customers, units and items coupled (created in Sales where missing); returns the
    Dataverse ids of the Cannon account and of the desk and chair products."""
    for name in ("SALESPEOPLE", "CURRENCY", "UNIT GROUP", "ITEM UOM"):
        match_and_couple(context, name)
    for name in ("CUSTOMER", "ITEM-PRODUCT"):
        report = match_and_couple(context, name, create_if_no_match=True).as_dict()
        assert not report["failed"], report
    found = {
        "account": context.couplings.find_by_bc_id("CUSTOMER", CANNON),
        "desk": context.couplings.find_by_bc_id("ITEM-PRODUCT", DESK),
        "chair": context.couplings.find_by_bc_id("ITEM-PRODUCT", CHAIR),
    }
    assert all(found.values()), found
    return {name: coupling.dataverse_id for name, coupling in found.items() if coupling}


def add_write_in_item(context: SyncContext) -> str:
    """A BC item used only for write-in lines (never coupled to a product)."""
    row = context.bc.create_entity("items", {"number": WRITE_IN_NUMBER, "displayName": "Write-in product"})
    return str(row["id"])


def sales_order(
    context: SyncContext,
    customer: str,
    details: list[dict[str, Any]],
    *,
    name: str = "Office refit",
    customer_set: str = "accounts",
    submit: bool = True,
    **header: Any,
) -> str:
    """A Sales order with its details, Submitted unless told otherwise; returns its id."""
    import uuid

    order_id = str(uuid.uuid4())
    quote = header.pop("quoteid_bind", None)
    if quote:
        header["quoteid@odata.bind"] = f"/quotes({quote})"
    context.dataverse.create_row(
        "salesorders",
        order_id,
        {"name": name, f"customerid_{customer_set[:-1]}@odata.bind": f"/{customer_set}({customer})", **header},
    )
    for sequence, detail in enumerate(details, start=1):
        body = {"salesorderid@odata.bind": f"/salesorders({order_id})", "sequencenumber": sequence, **detail}
        if "productid" in detail:
            body.pop("productid")
            body["productid@odata.bind"] = f"/products({detail['productid']})"
            body.setdefault("isproductoverridden", False)
        else:
            body.setdefault("isproductoverridden", True)
        context.dataverse.create_row("salesorderdetails", str(uuid.uuid4()), body)
    if submit:
        context.dataverse.set_state("salesorders", order_id, 1, 3)
    return order_id
