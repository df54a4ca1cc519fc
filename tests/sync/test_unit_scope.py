"""Price list lines take the unit of their *own* item (issue 19 part 7): every item has a unit coded PCS, and a line
must point at the PCS of its item's unit group, never another item's (Sales prices per product and unit)."""

from __future__ import annotations

import pytest

from shared.engine.mapping_run import run_mapping
from shared.services.matching import match_and_couple
from tests.sync.conftest import SyncStack
from tests.sync.test_incremental import dv_get

pytestmark = pytest.mark.integration
LINES = "PLLINE-PRODPRICE"


def test_a_price_line_takes_the_unit_of_its_own_item(sync_stack: SyncStack) -> None:
    context = sync_stack.context
    for name in ("SALESPEOPLE", "CURRENCY", "UNIT GROUP", "ITEM UOM"):
        match_and_couple(context, name)
    match_and_couple(context, "ITEM-PRODUCT", create_if_no_match=True)
    header = match_and_couple(context, "PLHEADER-PRICE", create_if_no_match=True).as_dict()
    assert header["created"] and not header["failed"], header
    job = run_mapping(context, LINES)
    assert job.counters.failed == 0, context.errors.list_errors(LINES)
    lines = dv_get(sync_stack, "productpricelevels", **{"$select": "_productid_value,_uomid_value,amount"})["value"]
    products = dv_get(sync_stack, "products", **{"$select": "productid,productnumber,_defaultuomscheduleid_value"})
    group_of_product = {p["productid"]: p["_defaultuomscheduleid_value"] for p in products["value"]}
    units = dv_get(sync_stack, "uoms", **{"$select": "uomid,_uomscheduleid_value"})["value"]
    group_of_unit = {u["uomid"]: u["_uomscheduleid_value"] for u in units}
    item_lines = [line for line in lines if line["amount"] in (950.0, 180.0)]  # the two seeded item lines
    assert len(item_lines) == 2, lines
    for line in item_lines:  # both items' units are coded PCS: each line has its own item's
        assert group_of_unit[line["_uomid_value"]] == group_of_product[line["_productid_value"]], line


def test_a_unit_is_matched_by_name_within_its_own_unit_group(sync_stack: SyncStack) -> None:
    """Sales already has a PCS unit, in the group of item 1900-S only: the PCS of item 1896-S (read first) must not be
    coupled to it (a unit of another item's group), and the PCS of 1900-S must be (BC matches a unit by name within
    the unit group of its own item)."""
    context = sync_stack.context
    match_and_couple(context, "UNIT GROUP")
    groups = dv_get(sync_stack, "uomschedules", **{"$select": "uomscheduleid,name"})["value"]
    chair_group = next(g["uomscheduleid"] for g in groups if g["name"] == "ITEM 1900-S UOM GR")
    units = dv_get(sync_stack, "uoms", **{"$filter": f"_uomscheduleid_value eq {chair_group}"})["value"]
    base = next(u["uomid"] for u in units if u["isschedulebaseuom"])
    existing = "4e0c1b9e-0000-4000-8000-00000000c0c5"
    body = {
        "name": "PCS",
        "quantity": 1,
        "uomscheduleid@odata.bind": f"/uomschedules({chair_group})",
        "baseuom@odata.bind": f"/uoms({base})",
    }
    context.dataverse.create_row("uoms", existing, body)
    report = match_and_couple(context, "ITEM UOM").as_dict()
    assert not report["failed"], report
    units = dv_get(sync_stack, "uoms", **{"$select": "uomid,_uomscheduleid_value"})["value"]
    group_of_unit = {u["uomid"]: u["_uomscheduleid_value"] for u in units}
    group_named = {g["name"]: g["uomscheduleid"] for g in groups}
    chair = context.couplings.find_by_dataverse_id("ITEM UOM", existing)
    assert chair is not None and chair.bc_id == "1900-S|PCS", chair
    for coupling in context.couplings.list_couplings("ITEM UOM"):
        item = coupling.bc_id.split("|")[0]
        assert group_of_unit[coupling.dataverse_id] == group_named[f"ITEM {item} UOM GR"], coupling
