"""`publishAndPrice` creates a new product's price list items without reading the price list first (issue 19's
request budget); on the emulators: repeating it (a redelivered chunk whose predecessor priced the products) is
harmless, and an item already there under another id (same list, product and unit) is corrected, not duplicated."""

from __future__ import annotations

from typing import Any

import pytest

from shared.engine.behaviours.products import publish_and_price
from shared.services.matching import match_and_couple
from tests.sync.conftest import SyncStack
from tests.sync.test_incremental import dv_get
from tests.sync.test_product_behaviours import ITEM, couple_units, default_list

pytestmark = pytest.mark.integration
SELECT = "productid,price,statecode,_pricelevelid_value,_defaultuomid_value,_defaultuomscheduleid_value"


def items_of(stack: SyncStack, price_list: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = dv_get(
        stack,
        "productpricelevels",
        **{"$filter": f"_pricelevelid_value eq {price_list}", "$select": "_productid_value,_uomid_value,amount"},
    )["value"]
    return rows


def priced(stack: SyncStack) -> tuple[str, list[dict[str, Any]]]:
    couple_units(stack)
    report = match_and_couple(stack.context, ITEM, create_if_no_match=True).as_dict()
    assert not report["failed"], report
    return default_list(stack), dv_get(stack, "products", **{"$select": SELECT})["value"]


def test_pricing_new_products_again_changes_nothing(sync_stack: SyncStack) -> None:
    stack = sync_stack
    price_list, products = priced(stack)
    before = items_of(stack, price_list)
    publish_and_price(stack.context, stack.context.mapping(ITEM), products)  # the redelivered chunk's turn
    assert sorted(map(str, items_of(stack, price_list))) == sorted(map(str, before))


def test_an_item_of_the_same_unit_under_another_id_is_corrected_not_duplicated(sync_stack: SyncStack) -> None:
    stack = sync_stack
    price_list, products = priced(stack)
    product = products[0]
    unit = str(product["_defaultuomid_value"])
    [mine] = dv_get(
        stack,
        "productpricelevels",
        **{"$filter": f"_productid_value eq {product['productid']} and _uomid_value eq {unit}"},
    )["value"]
    stack.context.dataverse.delete_row("productpricelevels", mine["productpricelevelid"])
    stack.context.dataverse.create_row(
        "productpricelevels",
        "7a1d0c55-0000-4000-8000-00000000beef",
        {
            "pricelevelid@odata.bind": f"/pricelevels({price_list})",
            "productid@odata.bind": f"/products({product['productid']})",
            "uomid@odata.bind": f"/uoms({unit})",
            "pricingmethodcode": 1,
            "amount": 1.0,
        },
    )
    publish_and_price(stack.context, stack.context.mapping(ITEM), products)
    found = [i for i in items_of(stack, price_list) if i["_productid_value"] == product["productid"]]
    same_unit = [i for i in found if i["_uomid_value"] == unit]
    assert len(same_unit) == 1 and same_unit[0]["amount"] == pytest.approx(float(product["price"]))
