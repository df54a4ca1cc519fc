"""Demo data behind the page web services: resources, customer price groups, one active sales price list, unit of
measure conversions and the Sales & Receivables Setup record.

Seeded through the same write path as POST/PATCH (not by writing rows directly), so the demo data obeys every
rule a client's writes obey (relations, header defaults on lines, the base unit creating its unit row) and cannot
drift into a state the emulator would refuse. SystemIds are uuid5 of a readable name: stable across runs.
Currency_Code stays blank on the price list: in BC blank means the local currency (USD for CRONUS USA).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from local.emulators.business_central.pages.context import Context
from local.emulators.business_central.pages.data import SETUP, ensure_setup, find
from local.emulators.business_central.pages.schema import load_pages
from local.emulators.business_central.pages.write import create, update

_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "bc-sales-sync/emulator/pages")

RESOURCES = [
    ("R0010", "Lina Townsend", 80, 55),
    ("R0020", "Marty Horst", 70, 48),
    ("R0030", "Terry Dodds", 90, 62),
]
PRICE_GROUPS = [("RETAIL", "Retail customers"), ("WHOLESALE", "Wholesale customers")]
PRICE_LIST = "S00001"
PRICE_LINES = [
    (10000, "Item", "1896-S", 950.0),
    (20000, "Item", "1900-S", 180.0),
    (30000, "Resource", "R0010", 75.0),
]


def seeded_id(kind: str, name: str, scope: str = "") -> str:
    """`scope` keeps the SystemIds of another company's rows apart (blank: the demo company's, as they always were)."""
    return str(uuid.uuid5(_NAMESPACE, f"{scope}|{kind}:{name}" if scope else f"{kind}:{name}"))


def seed_resources(ctx: Context, resources: Sequence[tuple[str, str, float, float]], scope: str = "") -> int:
    """Resources (No, Name, Unit Price, Unit Cost) with base unit HOUR, through the Resource Card."""
    service = load_pages().services["ResourceCard"]
    for number, name, price, cost in resources:
        body: dict[str, object] = {"No": number, "Name": name, "Base_Unit_of_Measure": "HOUR"}
        body.update({"Unit_Price": price, "Unit_Cost": cost})
        create(ctx, service, body, system_id=seeded_id("resource", number, scope))
    return len(resources)


def seed_demo(ctx: Context) -> dict[str, int]:
    services = load_pages().services
    seed_resources(ctx, RESOURCES)
    for code, description in PRICE_GROUPS:
        body = {"Code": code, "Description": description}
        create(ctx, services["CustomerPriceGroups"], body, system_id=seeded_id("price-group", code))
    header = {
        "Code": PRICE_LIST,
        "Description": "Retail prices",
        "SourceType": "Customer Price Group",
        "SourceNo": "RETAIL",
        "AmountType": "Price",
    }
    create(ctx, services["SalesPriceList"], header, system_id=seeded_id("price-list", PRICE_LIST))
    for line_no, asset_type, number, line_price in PRICE_LINES:
        line: dict[str, object] = {"Price_List_Code": PRICE_LIST, "Line_No": line_no, "Asset_Type": asset_type}
        line.update({"Asset_No": number, "Unit_Price": line_price})
        create(ctx, services["PriceListLines"], line, system_id=seeded_id("price-line", f"{PRICE_LIST}/{line_no}"))
    shown = find(ctx, services["SalesPriceList"], {"Code": PRICE_LIST})
    update(ctx, services["SalesPriceList"], shown, {"Status": "Active"}, "*")
    items = seed_item_units(ctx)
    ensure_setup(ctx)
    return {
        "resources": len(RESOURCES),
        "customerPriceGroups": len(PRICE_GROUPS),
        "priceListHeaders": 1,
        "priceListLines": len(PRICE_LINES),
        "itemUnitsOfMeasure": items,
        "resourceUnitsOfMeasure": len(ctx.rows("resourceUnitsOfMeasure")),
        SETUP: len(ctx.rows(SETUP)),
    }


def seed_item_units(ctx: Context, scope: str = "") -> int:
    """Every item's base unit as its Item Unit of Measure row (what BC creates when the base unit is set)."""
    service = load_pages().services["ItemUnitsOfMeasure"]
    items = sorted(ctx.rows("items"), key=lambda item: str(item.get("number")))
    for item in items:
        body = {"Item_No": item["number"], "Code": item.get("baseUnitOfMeasureCode") or "PCS"}
        create(ctx, service, body, system_id=seeded_id("item-unit", str(item["number"]), scope))
    return len(items)
