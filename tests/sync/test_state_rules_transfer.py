"""State rules on every path that synchronizes a coupled record, as BC's transfer subscribers run them
(CRMIntTableSubscriber OnAfterTransferRecordFields), on the emulators and Azurite:
- Synchronize Now of one record applies its source's rules whatever the mapping's filter (BC's EnqueueSyncJob
  replaces the child mapping's filters by the record's ids);
- an unblocked item publishes its retired product again (CRMSynchHelper UpdateCRMProductStateCodeIfChanged; BC's
  UnblockingItemActivatesProduct), in an incremental run, a full synchronization and Synchronize Now;
- a full synchronization applies them to the records it reads, which are those in the mapping's filters: with the
  default filters an inactive account is not read (its customer is left as it is), with a filter that admits it
  the account blocks its customer."""

from __future__ import annotations

from dataclasses import replace

import pytest

from shared.domain.mapping import Direction
from shared.engine.mapping_run import run_mapping
from shared.mappings import get_mapping
from shared.services.synchronize import synchronize_record
from tests.sync.conftest import SyncStack
from tests.sync.test_product_behaviours import full_sync
from tests.sync.test_state_rules import (
    CUSTOMER,
    ITEM,
    _blocked,
    _coupled_customer,
    _coupled_desk,
    _product_state,
    _set_bc,
)

pytestmark = pytest.mark.integration
NOT_BLOCKED = (" ", "_x0020_", "")


# -- Synchronize Now -------------------------------------------------------------------------------------------
def test_synchronize_now_from_sales_of_an_inactive_account_blocks_its_customer(sync_stack: SyncStack) -> None:
    stack = sync_stack
    bc_id, account = _coupled_customer(stack)
    stack.context.dataverse.set_state("accounts", account, 1, 2)  # Inactive / Inactive: outside the filter
    report = synchronize_record(stack.context, CUSTOMER, Direction.FROM_DATAVERSE, bc_id=bc_id)
    assert _blocked(stack, "customers", bc_id) == "All"
    assert report.outcome == "modified"
    [change] = [c for c in report.changes if c.field == "blocked"]
    assert (change.bc_field, change.dataverse_field, change.new) == ("blocked", None, "All")
    assert change.old in NOT_BLOCKED


def test_synchronize_now_to_sales_runs_no_rule_of_the_account(sync_stack: SyncStack) -> None:
    """The account's rule runs when the account is the source: sending the customer to Sales leaves it unblocked."""
    stack = sync_stack
    bc_id, account = _coupled_customer(stack)
    stack.context.dataverse.set_state("accounts", account, 1, 2)
    report = synchronize_record(stack.context, CUSTOMER, Direction.TO_DATAVERSE, bc_id=bc_id)
    assert _blocked(stack, "customers", bc_id) in NOT_BLOCKED
    assert all(c.field != "blocked" for c in report.changes)


def test_synchronize_now_to_sales_of_a_blocked_item_retires_its_product(sync_stack: SyncStack) -> None:
    stack = sync_stack
    desk, product = _coupled_desk(stack)
    _set_bc(stack, "items", desk, {"blocked": True})  # outside the BC filter; no run in between
    report = synchronize_record(stack.context, ITEM, Direction.TO_DATAVERSE, bc_id=desk)
    assert _product_state(stack, product) == (1, 2)  # Retired / Retired
    states = {c.field: (c.old, c.new, c.dataverse_field) for c in report.changes if c.bc_field is None}
    assert states["statecode"] == (0, 1, "statecode") and states["statuscode"] == (1, 2, "statuscode")


def test_synchronize_now_from_sales_of_a_retired_product_blocks_its_item(sync_stack: SyncStack) -> None:
    stack = sync_stack
    desk, product = _coupled_desk(stack)
    stack.context.dataverse.set_state("products", product, 1, 2)
    synchronize_record(stack.context, ITEM, Direction.FROM_DATAVERSE, dataverse_id=product)
    assert _blocked(stack, "items", desk) is True


def test_synchronize_now_to_sales_of_an_unblocked_item_publishes_its_retired_product(sync_stack: SyncStack) -> None:
    stack = sync_stack
    desk, product = _coupled_desk(stack)
    stack.context.dataverse.set_state("products", product, 1, 2)  # retired in Sales, the item left unblocked
    synchronize_record(stack.context, ITEM, Direction.TO_DATAVERSE, bc_id=desk)
    assert _product_state(stack, product) == (0, 1)
    assert _blocked(stack, "items", desk) is False


# -- unblocking ------------------------------------------------------------------------------------------------
def test_unblocking_an_item_publishes_its_retired_product_on_the_next_run(sync_stack: SyncStack) -> None:
    stack = sync_stack
    desk, product = _coupled_desk(stack)
    _set_bc(stack, "items", desk, {"blocked": True})
    run_mapping(stack.context, ITEM)
    assert _product_state(stack, product) == (1, 2)
    _set_bc(stack, "items", desk, {"blocked": False})
    job = run_mapping(stack.context, ITEM)
    assert job.counters.failed == 0, stack.context.errors.list_errors(ITEM)
    assert _product_state(stack, product) == (0, 1)  # Active / Active
    # and it stays so: the next runs neither retire it nor block the item again
    for _ in range(2):
        job = run_mapping(stack.context, ITEM)
        assert job.counters.failed == 0 and _product_state(stack, product) == (0, 1)
        assert _blocked(stack, "items", desk) is False


def test_an_unchanged_item_does_not_publish_a_product_retired_in_sales(sync_stack: SyncStack) -> None:
    """BC transfers (and runs the rule for) a record modified since its last synchronization only: retiring the
    product in Sales blocks the item (the product's rule); the item's own rule does not undo it."""
    stack = sync_stack
    desk, product = _coupled_desk(stack)
    stack.context.dataverse.set_state("products", product, 1, 2)
    run_mapping(stack.context, ITEM)
    run_mapping(stack.context, ITEM)
    assert _product_state(stack, product) == (1, 2)
    assert _blocked(stack, "items", desk) is True


# -- full synchronization --------------------------------------------------------------------------------------
def test_a_full_sync_publishes_the_retired_product_of_an_unblocked_item(sync_stack: SyncStack) -> None:
    stack = sync_stack
    desk, product = _coupled_desk(stack)
    _set_bc(stack, "items", desk, {"blocked": True})
    run_mapping(stack.context, ITEM)
    assert _product_state(stack, product) == (1, 2)
    _set_bc(stack, "items", desk, {"blocked": False})  # no incremental run: the full sync reads it
    full_sync(stack, [ITEM])
    assert _product_state(stack, product) == (0, 1)


def test_a_full_sync_with_the_default_filter_leaves_the_customer_of_an_inactive_account(sync_stack: SyncStack) -> None:
    """BC's full synchronization reads the accounts in the mapping's filter (statecode Active): an inactive account
    is not read, so its customer is not blocked by it (an incremental run's own query does that)."""
    stack = sync_stack
    bc_id, account = _coupled_customer(stack)
    stack.context.dataverse.set_state("accounts", account, 1, 2)
    full_sync(stack, [CUSTOMER])
    assert _blocked(stack, "customers", bc_id) in NOT_BLOCKED


def test_a_full_sync_reading_an_inactive_account_blocks_its_customer(sync_stack: SyncStack) -> None:
    """An administrator's filter that admits inactive accounts: the full sync reads the account and, as BC's
    subscriber on that transfer, blocks its customer."""
    stack = sync_stack
    bc_id, account = _coupled_customer(stack)
    stack.use(replace(get_mapping(CUSTOMER), dataverse_filter="customertypecode eq 3"))
    stack.context.dataverse.set_state("accounts", account, 1, 2)
    full_sync(stack, [CUSTOMER])
    assert _blocked(stack, "customers", bc_id) == "All"
