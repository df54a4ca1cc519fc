"""Item availability on the real parts: inventory changed in the BC emulator the way BC changes it (item ledger
entries: the item's lastModifiedDateTime and ETag stay put), products in the Dataverse emulator, couplings on Azurite.
Request counts come from the emulators' `/_admin/stats`."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from local.emulators.business_central.seed import COMPANY_NAME, ITEMS
from local.emulators.business_central.seed import seeded_id as bc_seeded
from shared.connectors.business_central.client import BusinessCentralClient
from shared.processes.availability import refresh_availability
from shared.services.matching import match_and_couple
from tests.sync.conftest import SyncStack
from tests.sync.test_incremental import dv_get

pytestmark = pytest.mark.integration
DESK, CHAIR = bc_seeded("item", "1896-S"), bc_seeded("item", "1900-S")


def set_inventory(stack: SyncStack, item_id: str, quantity: float) -> dict[str, Any]:
    response = stack.bc_handle.admin("POST", "inventory", json={"itemId": item_id, "inventory": quantity})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def counts(handle: Any, entity_set: str) -> dict[str, int]:
    by_set = handle.stats()["byEntitySet"]
    return dict(by_set.get(entity_set, {})) if isinstance(by_set, dict) else {}


def clear_stats(stack: SyncStack) -> None:
    for handle in (stack.bc_handle, stack.dv_handle):
        handle.admin("DELETE", "stats").raise_for_status()


def quantities(stack: SyncStack, coupled: dict[str, str]) -> dict[str, float]:
    rows = dv_get(stack, "products", **{"$select": "productid,quantityonhand"})["value"]
    by_id = {row["productid"]: row["quantityonhand"] for row in rows}
    return {bc_id: float(by_id[dv_id]) for bc_id, dv_id in coupled.items()}


def couple_items(stack: SyncStack) -> dict[str, str]:
    """Every demo item created as a product and coupled, through the normal create-and-couple path."""
    context = stack.context
    for name in ("UNIT GROUP", "ITEM UOM"):
        match_and_couple(context, name)
    report = match_and_couple(context, "ITEM-PRODUCT", create_if_no_match=True).as_dict()
    assert len(report["created"]) == len(ITEMS) and not report["failed"], report
    found = context.couplings.find_many_by_bc_ids("ITEM-PRODUCT", [bc_seeded("item", n) for n, *_ in ITEMS])
    return {bc_id: coupling.dataverse_id for bc_id, coupling in found.items()}


def test_the_emulator_changes_stock_without_touching_the_item(sync_stack: SyncStack) -> None:
    """Why the job exists: a stock change leaves lastModifiedDateTime and the ETag as they were."""
    before = sync_stack.bc.get_entity("items", DESK, select=["inventory", "lastModifiedDateTime"])
    assert before is not None
    answer = set_inventory(sync_stack, DESK, 42)
    after = sync_stack.bc.get_entity("items", DESK, select=["inventory", "lastModifiedDateTime"])
    assert after is not None and after["inventory"] == 42 == answer["inventory"]
    assert after["lastModifiedDateTime"] == before["lastModifiedDateTime"] == answer["lastModifiedDateTime"]
    assert after["@odata.etag"] == before["@odata.etag"]
    missing = sync_stack.bc_handle.admin("POST", "inventory", json={"itemNumber": "NOPE", "inventory": 1})
    assert missing.status_code == 404
    bad = sync_stack.bc_handle.admin("POST", "inventory", json={"itemId": DESK, "inventory": "many"})
    assert bad.status_code == 400


def test_changed_stock_reaches_the_coupled_products_in_one_bulk_write(sync_stack: SyncStack) -> None:
    coupled = couple_items(sync_stack)
    start = quantities(sync_stack, coupled)
    assert set(start.values()) == {0.0}  # created from BC's blank stock
    stranger = sync_stack.bc.create_entity("items", {"number": "1999-X", "displayName": "Not coupled"})
    set_inventory(sync_stack, str(stranger["id"]), 7)  # uncoupled: read, never written anywhere
    set_inventory(sync_stack, DESK, 12.5)
    set_inventory(sync_stack, CHAIR, 5)

    clear_stats(sync_stack)
    result = refresh_availability(sync_stack.context)
    assert result.as_dict() == {
        "read": len(ITEMS) + 1,
        "coupled": len(ITEMS),
        "updated": 2,
        "unchanged": len(ITEMS) - 2,
        "missing": 0,
        "failed": 0,
        "writeRequests": 1,
    }
    # BC: one page of items; Dataverse: one read of the page's products, ONE UpdateMultiple for both changes
    assert counts(sync_stack.bc_handle, "items") == {"GET": 1}
    assert counts(sync_stack.dv_handle, "products") == {"GET": 1, "POST": 1}
    assert sync_stack.dv_handle.stats()["requests"] == 2
    assert quantities(sync_stack, coupled) == {**start, DESK: 12.5, CHAIR: 5.0}

    clear_stats(sync_stack)
    again = refresh_availability(sync_stack.context)
    assert (again.updated, again.unchanged, again.write_requests) == (0, len(ITEMS), 0)
    assert counts(sync_stack.dv_handle, "products") == {"GET": 1}  # read, nothing written

    set_inventory(sync_stack, CHAIR, -4)  # oversold: BC sends 0, Dataverse never holds a negative quantity
    set_inventory(sync_stack, DESK, -1)
    clear_stats(sync_stack)
    negative = refresh_availability(sync_stack.context)
    assert (negative.updated, negative.write_requests) == (2, 1)
    assert counts(sync_stack.dv_handle, "products") == {"GET": 1, "POST": 1}
    assert quantities(sync_stack, coupled) == {**start, DESK: 0.0, CHAIR: 0.0}
    assert refresh_availability(sync_stack.context).updated == 0  # -4 and 0 compare equal once sent as 0


def test_a_coupled_product_gone_from_dataverse_is_counted_missing(sync_stack: SyncStack) -> None:
    coupled = couple_items(sync_stack)
    sync_stack.dataverse.delete_row("products", coupled[DESK])
    set_inventory(sync_stack, DESK, 3)
    set_inventory(sync_stack, CHAIR, 2)
    result = refresh_availability(sync_stack.context)
    assert (result.missing, result.updated, result.failed, result.write_requests) == (1, 1, 0, 1)


def test_pages_are_streamed_one_read_and_one_write_each(sync_stack: SyncStack) -> None:
    """BC pages of 3 items: each page is settled (couplings, one product read, one bulk write) before the next."""
    coupled = couple_items(sync_stack)
    for offset, bc_id in enumerate(coupled, start=1):
        set_inventory(sync_stack, bc_id, offset * 10)
    small_pages = BusinessCentralClient("unused", None, COMPANY_NAME, http=sync_stack.bc.http, page_size=3)
    clear_stats(sync_stack)
    result = refresh_availability(replace(sync_stack.context, bc=small_pages))
    assert (result.read, result.updated, result.write_requests) == (len(ITEMS), len(ITEMS), 2)
    assert counts(sync_stack.bc_handle, "items") == {"GET": 2}
    assert counts(sync_stack.dv_handle, "products") == {"GET": 2, "POST": 2}
    assert quantities(sync_stack, coupled) == {bc_id: n * 10.0 for n, bc_id in enumerate(coupled, start=1)}
