"""Products as BC's integration leaves them (mapping behaviours `publishAndPrice` and `excludeWriteIn`), on the
emulators and Azurite: published and on the default price list right after creation, in bulk; the write-in item
never a product, by any path."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from local.emulators.business_central.seed import seeded_id as bc_seeded
from local.fakes.queue import InMemoryJobQueue
from local.fakes.storage import InMemoryRunStore
from shared.domain.errors import SyncError
from shared.domain.jobs import JobMessage, parse_command
from shared.engine.behaviours.products import DEFAULT_PRICE_LIST
from shared.engine.mapping_run import MappingRun, run_mapping
from shared.processes.sales_orders import create_in_business_central
from shared.services.coupling import create_in_dataverse
from shared.services.full_sync.coordinator import FullSync
from shared.services.job_handlers import JobHandler
from shared.services.matching import match_and_couple
from tests.sync.conftest import SyncStack
from tests.sync.sales_documents import WRITE_IN_NUMBER, add_write_in_item, make_setup, sales_order
from tests.sync.test_incremental import dv_get

pytestmark = pytest.mark.integration
ITEM = "ITEM-PRODUCT"
WRITE_IN_SETUP = {"writeInProductType": "Item", "writeInProductNumber": WRITE_IN_NUMBER}


def couple_units(stack: SyncStack) -> None:
    for name in ("SALESPEOPLE", "CURRENCY", "UNIT GROUP", "ITEM UOM"):
        match_and_couple(stack.context, name)


def products(stack: SyncStack) -> list[dict[str, Any]]:
    select = "productid,productnumber,statecode,statuscode,_pricelevelid_value,price"
    rows: list[dict[str, Any]] = dv_get(stack, "products", **{"$select": select})["value"]
    return rows


def default_list(stack: SyncStack) -> str:
    rows = dv_get(stack, "pricelevels", **{"$filter": f"name eq '{DEFAULT_PRICE_LIST}'"})["value"]
    assert len(rows) == 1, rows  # created once
    return str(rows[0]["pricelevelid"])


def requests_to_dataverse(stack: SyncStack) -> int:
    count = stack.dv_handle.stats()["requests"]
    assert isinstance(count, int)
    return count


def test_products_created_from_items_are_published_and_priced_in_bulk(sync_stack: SyncStack) -> None:
    stack = sync_stack
    couple_units(stack)
    stack.dv_handle.admin("DELETE", "stats")
    report = match_and_couple(stack.context, ITEM, create_if_no_match=True).as_dict()
    assert not report["failed"], report
    created = len(report["created"])
    assert created >= 2
    print(f"ITEM-PRODUCT create: {requests_to_dataverse(stack)} Dataverse requests for {created} products")
    price_list = default_list(stack)
    rows = products(stack)
    assert {(r["statecode"], r["statuscode"], r["_pricelevelid_value"]) for r in rows} == {(0, 1, price_list)}
    items = dv_get(stack, "productpricelevels", **{"$filter": f"_pricelevelid_value eq {price_list}"})["value"]
    by_product = {r["productid"]: r["price"] for r in rows}
    assert {i["_productid_value"] for i in items} == set(by_product)
    for item in items:  # per unit of the product's unit group: unit price x the unit's quantity
        unit = dv_get(stack, f"uoms({item['_uomid_value']})", **{"$select": "quantity"})
        assert item["amount"] == pytest.approx(by_product[item["_productid_value"]] * unit["quantity"])
    # publishing and pricing are bulk: their requests do not grow with the number of products
    assert requests_to_dataverse(stack) < 40


def test_a_price_change_in_bc_reaches_the_price_list_item(sync_stack: SyncStack) -> None:
    stack = sync_stack
    couple_units(stack)
    match_and_couple(stack.context, ITEM, create_if_no_match=True)
    desk = bc_seeded("item", "1896-S")
    coupling = stack.context.couplings.find_by_bc_id(ITEM, desk)
    assert coupling is not None
    row = stack.bc.get_entity("items", desk) or {}
    stack.bc.update_entity("items", desk, {"unitPrice": 1234.5}, str(row.get("@odata.etag") or "*"))
    job = run_mapping(stack.context, ITEM)
    assert job.counters.failed == 0, stack.context.errors.list_errors(ITEM)
    base = dv_get(stack, f"products({coupling.dataverse_id})", **{"$select": "_defaultuomid_value"})
    filter_text = f"_productid_value eq {coupling.dataverse_id} and _uomid_value eq {base['_defaultuomid_value']}"
    [item] = dv_get(stack, "productpricelevels", **{"$filter": filter_text})["value"]
    assert item["amount"] == pytest.approx(1234.5)


def write_in_coupled(stack: SyncStack, bc_id: str) -> bool:
    return stack.context.couplings.find_by_bc_id(ITEM, bc_id) is not None


def test_the_write_in_item_is_never_a_product_by_any_path(sync_stack: SyncStack) -> None:
    stack = sync_stack
    stack.context.setup = make_setup(**WRITE_IN_SETUP)
    couple_units(stack)
    write_in = add_write_in_item(stack.context)
    match_and_couple(stack.context, "ITEM UOM")
    # a Sales product with the write-in's number exists: match-based coupling must not take it
    stack.context.dataverse.create_row(
        "products", "4e0c1b9e-0000-4000-8000-0000000000e1", {"name": "W", "productnumber": WRITE_IN_NUMBER}
    )
    stack.context.dataverse.set_state("products", "4e0c1b9e-0000-4000-8000-0000000000e1", 0, 1)
    report = match_and_couple(stack.context, ITEM, create_if_no_match=True).as_dict()
    assert not write_in_coupled(stack, write_in), report
    run = MappingRun(stack.context, stack.context.mapping(ITEM))
    run.run_records([write_in], [])  # a full-sync chunk holding it
    assert not write_in_coupled(stack, write_in)
    run_mapping(stack.context, ITEM)
    assert not write_in_coupled(stack, write_in)
    with pytest.raises(SyncError):
        create_in_dataverse(stack.context, ITEM, write_in)
    assert not write_in_coupled(stack, write_in)


def full_sync(stack: SyncStack, names: list[str]) -> None:
    queue = InMemoryJobQueue()
    services = SimpleNamespace(context=stack.context, runs=InMemoryRunStore(), queue=queue)
    full = FullSync(stack.context, services.runs, queue)
    run, _ = full.plan(names, dict.fromkeys(names, "fullSynchronization"))
    full.start(run.run_id)
    while batch := queue.receive(1):
        [message] = batch
        command = parse_command(JobMessage.from_json(message.envelope.body))
        JobHandler(services.context, services.runs, queue).handle(command, message.delivery_count)
        queue.complete(message.lock_token)


def test_after_a_full_sync_products_are_sellable_and_a_write_in_order_converts(sync_stack: SyncStack) -> None:
    stack = sync_stack
    stack.context.setup = make_setup(**WRITE_IN_SETUP)
    write_in = add_write_in_item(stack.context)  # set up before the first full sync
    for name in ("SALESPEOPLE", "CURRENCY", "CUSTOMER"):  # coupled by matching (full-sync coupling: not this part)
        match_and_couple(stack.context, name)
    full_sync(stack, ["UNIT GROUP", "ITEM UOM", ITEM])
    assert not write_in_coupled(stack, write_in)
    price_list = default_list(stack)
    rows = products(stack)
    assert rows and all((r["statecode"], r["_pricelevelid_value"]) == (0, price_list) for r in rows)
    desk = stack.context.couplings.find_by_bc_id(ITEM, bc_seeded("item", "1896-S"))
    account = stack.context.couplings.find_by_bc_id("CUSTOMER", bc_seeded("customer", "The Cannon Group PLC"))
    assert desk is not None and account is not None
    details = [{"productid": desk.dataverse_id, "quantity": 2}, {"productdescription": "Gift wrapping", "quantity": 1}]
    order_id = sales_order(stack.context, account.dataverse_id, details)
    result = create_in_business_central(stack.context, make_setup(**WRITE_IN_SETUP), order_id)
    order = stack.bc.get_entity("salesOrders", result.bc_id) or {}
    assert order, result
