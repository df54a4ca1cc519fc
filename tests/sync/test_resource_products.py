"""RESOURCE-PRODUCT products as BC's integration leaves them (behaviour `publishAndPrice`, as items): on the
emulators and Azurite, a product created from a BC resource is Active, on the default price list, with a price list
item per unit of the resource's unit group (amount = the resource's unit price x the unit's quantity)."""

from __future__ import annotations

from typing import Any

import pytest

from local.emulators.business_central.pages.seed import RESOURCES
from shared.services.matching import match_and_couple
from tests.sync.conftest import SyncStack
from tests.sync.test_incremental import dv_get
from tests.sync.test_product_behaviours import default_list

pytestmark = pytest.mark.integration
RESOURCE = "RESOURCE-PRODUCT"


def test_products_created_from_resources_are_published_and_priced(sync_stack: SyncStack) -> None:
    stack = sync_stack
    for name in ("SALESPEOPLE", "CURRENCY", "UNIT GROUP", "RESOURCE UOM"):
        report = match_and_couple(stack.context, name, create_if_no_match=name != "SALESPEOPLE").as_dict()
        assert not report["failed"], (name, report)
    report = match_and_couple(stack.context, RESOURCE, create_if_no_match=True).as_dict()
    assert not report["failed"], report
    select = "productid,productnumber,producttypecode,statecode,statuscode,_pricelevelid_value,price"
    rows: list[dict[str, Any]] = dv_get(stack, "products", **{"$select": select, "$filter": "producttypecode eq 3"})[
        "value"
    ]
    assert {r["productnumber"] for r in rows} == {number for number, *_ in RESOURCES}
    price_list = default_list(stack)
    assert {(r["statecode"], r["statuscode"], r["_pricelevelid_value"]) for r in rows} == {(0, 1, price_list)}
    unit_prices = {number: float(price) for number, _name, price, _cost in RESOURCES}
    for row in rows:
        items = dv_get(
            stack,
            "productpricelevels",
            **{"$filter": f"_pricelevelid_value eq {price_list} and _productid_value eq {row['productid']}"},
        )["value"]
        assert items, row
        for item in items:  # per unit of the resource's unit group: unit price x the unit's quantity
            unit = dv_get(stack, f"uoms({item['_uomid_value']})", **{"$select": "quantity"})
            assert item["amount"] == pytest.approx(unit_prices[row["productnumber"]] * unit["quantity"])
