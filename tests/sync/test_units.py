"""BC's unit-group mode on the real stack: one Sales unit group per item and per resource (from BC's two read-only
Unit Group pages), each item/resource unit created in its own group against the group's base unit."""

from __future__ import annotations

import pytest

from local.emulators.business_central.pages.seed import RESOURCES
from local.emulators.business_central.seed import ITEMS
from shared.engine.mapping_run import run_mapping
from shared.services.matching import match_and_couple
from tests.sync.conftest import SyncStack
from tests.sync.test_incremental import dv_get, dv_writes

pytestmark = pytest.mark.integration


def _groups(stack: SyncStack) -> dict[str, str]:
    rows = dv_get(stack, "uomschedules", **{"$select": "name,baseuomname"})["value"]
    return {row["name"]: row["uomscheduleid"] for row in rows}


def test_unit_groups_then_units_are_created_in_their_own_group(sync_stack: SyncStack) -> None:
    context = sync_stack.context
    groups = match_and_couple(context, "UNIT GROUP").as_dict()
    expected = {f"ITEM {number} UOM GR" for number, *_ in ITEMS} | {f"RESOURCE {r[0]} UOM GR" for r in RESOURCES}
    assert len(groups["created"]) == len(expected), groups
    by_name = _groups(sync_stack)
    assert expected <= set(by_name)

    sync_stack.dv_handle.admin("DELETE", "stats")
    units = match_and_couple(context, "ITEM UOM").as_dict()
    assert len(units["created"]) == len(ITEMS) and not units["failed"], units
    # the match candidates, the base units of every group in one read (not one per unit), the created rows read back
    by_set = sync_stack.dv_handle.stats()["byEntitySet"]
    assert isinstance(by_set, dict) and by_set["uoms"]["GET"] == 3
    desk_group = by_name["ITEM 1896-S UOM GR"]
    rows = dv_get(
        sync_stack,
        "uoms",
        **{
            "$filter": f"_uomscheduleid_value eq {desk_group}",
            "$select": "name,quantity,isschedulebaseuom,_baseuom_value",
        },
    )["value"]
    base = next(r for r in rows if r["isschedulebaseuom"])
    pcs = next(r for r in rows if r["name"] == "PCS")
    assert base["name"] == "ITEM 1896-S UOM GR"
    assert (pcs["_baseuom_value"], float(pcs["quantity"])) == (base["uomid"], 1.0)

    hours = match_and_couple(context, "RESOURCE UOM").as_dict()
    assert len(hours["created"]) == len(RESOURCES) and not hours["failed"], hours
    lina = by_name["RESOURCE R0010 UOM GR"]
    names = {r["name"] for r in dv_get(sync_stack, "uoms", **{"$filter": f"_uomscheduleid_value eq {lina}"})["value"]}
    assert names == {"RESOURCE R0010 UOM GR", "HOUR"}

    sync_stack.dv_handle.admin("DELETE", "stats")
    for name in ("UNIT GROUP", "ITEM UOM", "RESOURCE UOM"):
        job = run_mapping(context, name)
        assert (job.counters.modified, job.counters.failed) == (0, 0), (name, job.counters)
    assert dv_writes(sync_stack, "uoms") == dv_writes(sync_stack, "uomschedules") == 0


def test_a_product_gets_the_base_unit_of_its_own_unit_group(sync_stack: SyncStack) -> None:
    """Every item has a unit coded PCS; a product's default unit must be the PCS of *its* group (Dataverse refuses
    a default unit from another group), so the lookup is scoped to the item, not just to the code."""
    context = sync_stack.context
    for name in ("UNIT GROUP", "ITEM UOM"):
        match_and_couple(context, name)
    job = run_mapping(context, "ITEM-PRODUCT")  # sync_only_coupled: nothing yet
    products = match_and_couple(context, "ITEM-PRODUCT", create_if_no_match=True).as_dict()
    assert len(products["created"]) == len(ITEMS) and not products["failed"], (products, job.counters)
    rows = dv_get(
        sync_stack, "products", **{"$select": "productnumber,_defaultuomid_value,_defaultuomscheduleid_value"}
    )
    units = dv_get(sync_stack, "uoms", **{"$select": "uomid,_uomscheduleid_value"})["value"]
    group_of = {u["uomid"]: u["_uomscheduleid_value"] for u in units}
    for row in (r for r in rows["value"] if r["productnumber"] in {number for number, *_ in ITEMS}):
        assert group_of[row["_defaultuomid_value"]] == row["_defaultuomscheduleid_value"], row
