"""State rules BC runs in code, for records that leave a mapping's filter (issue 19 parts 2 and 6), on the emulators and
Azurite: an account deactivated in Sales blocks its customer (Blocked = All, one way only); a product retired in
Sales blocks its item; a blocked item retires its product. The records concerned are outside the mappings' own
filters (statecode eq 0, blocked eq false), so a run must read them by the rule's own query."""

from __future__ import annotations

from typing import Any

import pytest

from local.emulators.business_central.seed import seeded_id as bc_seeded
from shared.engine.mapping_run import run_mapping
from shared.services.matching import match_and_couple
from tests.sync.conftest import SyncStack
from tests.sync.test_incremental import dv_get
from tests.sync.test_product_behaviours import couple_units, full_sync

pytestmark = pytest.mark.integration
CUSTOMER = "CUSTOMER"
ITEM = "ITEM-PRODUCT"
CANNON = "The Cannon Group PLC"


def _coupled_customer(stack: SyncStack) -> tuple[str, str]:
    for name in ("SALESPEOPLE", "CURRENCY", CUSTOMER):
        match_and_couple(stack.context, name)
    bc_id = bc_seeded("customer", CANNON)
    coupling = stack.context.couplings.find_by_bc_id(CUSTOMER, bc_id)
    assert coupling is not None
    run_mapping(stack.context, CUSTOMER)  # the checkpoints now stand after the coupling
    return bc_id, coupling.dataverse_id


def _blocked(stack: SyncStack, entity_set: str, bc_id: str) -> Any:
    return (stack.bc.get_entity(entity_set, bc_id) or {}).get("blocked")


def _set_bc(stack: SyncStack, entity_set: str, bc_id: str, body: dict[str, Any]) -> None:
    row = stack.bc.get_entity(entity_set, bc_id) or {}
    stack.bc.update_entity(entity_set, bc_id, body, str(row.get("@odata.etag") or "*"))


def test_an_account_deactivated_in_sales_blocks_its_customer_once(sync_stack: SyncStack) -> None:
    stack = sync_stack
    bc_id, account = _coupled_customer(stack)
    assert _blocked(stack, "customers", bc_id) in (" ", "_x0020_", "")
    stack.context.dataverse.set_state("accounts", account, 1, 2)  # Inactive / Inactive
    job = run_mapping(stack.context, CUSTOMER)
    assert job.counters.failed == 0, stack.context.errors.list_errors(CUSTOMER)
    assert _blocked(stack, "customers", bc_id) == "All"
    # only that direction: reactivating the account does not unblock the customer
    stack.context.dataverse.set_state("accounts", account, 0, 1)
    run_mapping(stack.context, CUSTOMER)
    assert _blocked(stack, "customers", bc_id) == "All"


def test_a_deactivated_account_leaves_a_customer_blocked_otherwise_as_it_is(sync_stack: SyncStack) -> None:
    """BC sets Blocked = All only when Blocked is blank: a customer blocked for shipping stays so."""
    stack = sync_stack
    bc_id, account = _coupled_customer(stack)
    _set_bc(stack, "customers", bc_id, {"blocked": "Ship"})
    run_mapping(stack.context, CUSTOMER)
    stack.context.dataverse.set_state("accounts", account, 1, 2)
    run_mapping(stack.context, CUSTOMER)
    assert _blocked(stack, "customers", bc_id) == "Ship"


def test_a_full_sync_creates_no_customer_from_an_inactive_account(sync_stack: SyncStack) -> None:
    stack = sync_stack
    for name in ("SALESPEOPLE", "CURRENCY"):
        match_and_couple(stack.context, name)
    inactive = "4e0c1b9e-0000-4000-8000-0000000ac0c1"
    stack.context.dataverse.create_row("accounts", inactive, {"name": "Gone Trading Ltd", "customertypecode": 3})
    stack.context.dataverse.set_state("accounts", inactive, 1, 2)
    full_sync(stack, [CUSTOMER])
    assert stack.context.couplings.find_by_dataverse_id(CUSTOMER, inactive) is None
    names = [row["displayName"] for page in stack.bc.list_changed_since("customers", None, ["displayName"])
             for row in page.rows]  # fmt: skip
    assert "Gone Trading Ltd" not in names


def _coupled_desk(stack: SyncStack) -> tuple[str, str]:
    couple_units(stack)
    match_and_couple(stack.context, ITEM, create_if_no_match=True)
    desk = bc_seeded("item", "1896-S")
    coupling = stack.context.couplings.find_by_bc_id(ITEM, desk)
    assert coupling is not None
    run_mapping(stack.context, ITEM)
    return desk, coupling.dataverse_id


def _product_state(stack: SyncStack, product: str) -> tuple[int, int]:
    row = dv_get(stack, f"products({product})", **{"$select": "statecode,statuscode"})
    return int(row["statecode"]), int(row["statuscode"])


def test_a_product_retired_in_sales_blocks_its_item(sync_stack: SyncStack) -> None:
    stack = sync_stack
    desk, product = _coupled_desk(stack)
    assert _blocked(stack, "items", desk) is False
    stack.context.dataverse.set_state("products", product, 1, 2)  # Retired / Retired
    job = run_mapping(stack.context, ITEM)
    assert job.counters.failed == 0, stack.context.errors.list_errors(ITEM)
    assert _blocked(stack, "items", desk) is True


def test_a_blocked_item_retires_its_product(sync_stack: SyncStack) -> None:
    stack = sync_stack
    desk, product = _coupled_desk(stack)
    assert _product_state(stack, product) == (0, 1)
    _set_bc(stack, "items", desk, {"blocked": True})
    job = run_mapping(stack.context, ITEM)
    assert job.counters.failed == 0, stack.context.errors.list_errors(ITEM)
    assert _product_state(stack, product) == (1, 2)  # Retired / Retired
    # and the retired product does not block anything back, nor is it published again
    job = run_mapping(stack.context, ITEM)
    assert job.counters.failed == 0 and _product_state(stack, product) == (1, 2)
