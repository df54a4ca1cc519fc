"""Re-reading unchanged records costs one read of that side, nothing of the other (`candidates.settled`), and
never hides a change: on the real parts (emulators over HTTP, couplings on Azurite)."""

from __future__ import annotations

import pytest

from local.emulators.business_central.seed import seeded_id as bc_seeded
from shared.domain.coupling import Coupling, SideState
from shared.domain.records import Checkpoint, Side
from shared.engine.mapping_run import run_mapping
from tests.sync.conftest import SyncStack
from tests.sync.test_incremental import bc_customer, bc_writes, customers, dv_get, dv_writes, patch_account
from tests.sync.test_incremental import patch_bc_customer as patch_bc

pytestmark = pytest.mark.integration
__all__ = ["customers"]  # the fixture, imported for pytest
LONG_AGO = "2000-01-01T00:00:00.000Z"


def rewind(stack: SyncStack, side: Side) -> None:
    """Make the next run read every record of this side again (a bulk load past the checkpoint's memory, or a page
    source that is always read in full)."""
    current = stack.context.checkpoints.find_checkpoint("CUSTOMER", side)
    assert current is not None
    stack.context.checkpoints.save_checkpoint(Checkpoint("CUSTOMER", side, LONG_AGO, (), etag=current.etag))


def requests(stack: SyncStack, entity_set: str, *, bc: bool = False) -> int:
    handle = stack.bc_handle if bc else stack.dv_handle
    by_set = handle.stats()["byEntitySet"]
    return int(sum((by_set.get(entity_set) or {}).values())) if isinstance(by_set, dict) else 0


def clear_stats(stack: SyncStack) -> None:
    stack.dv_handle.admin("DELETE", "stats")
    stack.bc_handle.admin("DELETE", "stats")


def settle(stack: SyncStack) -> int:
    """Create and couple everything, then let one more run absorb the echoes of those writes."""
    run_mapping(stack.context, "CUSTOMER")
    run_mapping(stack.context, "CUSTOMER")
    return sum(1 for _ in stack.context.couplings.list_couplings("CUSTOMER"))


def test_records_read_again_unchanged_cost_no_read_of_the_other_side(customers: SyncStack) -> None:
    stack = customers
    coupled = settle(stack)
    rewind(stack, Side.BC)
    clear_stats(stack)
    job = run_mapping(stack.context, "CUSTOMER")
    assert (job.counters.unchanged, job.counters.modified, job.counters.inserted) == (coupled, 0, 0)
    assert requests(stack, "accounts") == 1  # the one read of changed accounts, no read of the coupled ones by id
    assert requests(stack, "customers", bc=True) == 1
    assert dv_writes(stack) == 0 and bc_writes(stack) == 0


def test_a_change_on_a_side_read_again_is_still_applied(customers: SyncStack) -> None:
    stack = customers
    settle(stack)
    patch_bc(stack, "C00030", {"city": "Savannah"})
    rewind(stack, Side.BC)
    job = run_mapping(stack.context, "CUSTOMER")
    assert job.counters.modified == 1
    coupling = stack.context.couplings.find_by_bc_id("CUSTOMER", bc_seeded("customer", "Trey Research"))
    assert coupling is not None
    assert dv_get(stack, f"accounts({coupling.dataverse_id})", **{"$select": "address1_city"})["address1_city"] == (
        "Savannah"
    )


def test_a_record_whose_last_sync_failed_is_compared_even_at_its_synchronized_version(customers: SyncStack) -> None:
    stack = customers
    settle(stack)
    coupling = stack.context.couplings.find_by_bc_id("CUSTOMER", bc_seeded("customer", "Adatum Corporation"))
    assert coupling is not None
    patch_account(stack, coupling.dataverse_id, {"telephone1": "+1 404 555 0123"})
    run_mapping_past_dataverse_change(stack)
    stack.context.errors.record_error("CUSTOMER", Side.BC, coupling.bc_id, "HTTP500", "BC failed last time.")
    rewind(stack, Side.BC)
    job = run_mapping(stack.context, "CUSTOMER")
    assert job.counters.modified == 1
    assert bc_customer(stack, "C00050")["phoneNumber"] == "+1 404 555 0123"
    assert stack.context.errors.find_error("CUSTOMER", Side.BC, coupling.bc_id) is None


def run_mapping_past_dataverse_change(stack: SyncStack) -> None:
    """Move the Dataverse checkpoint past the change without applying it, as if that read had been lost: only the
    retry of the failed record can bring it in now."""
    current = stack.context.checkpoints.find_checkpoint("CUSTOMER", Side.DATAVERSE)
    assert current is not None
    stack.context.checkpoints.save_checkpoint(
        Checkpoint("CUSTOMER", Side.DATAVERSE, "2999-01-01T00:00:00.000Z", (), etag=current.etag)
    )


def test_couplings_without_recorded_versions_are_compared_once_then_passed_over(customers: SyncStack) -> None:
    stack = customers
    coupled = settle(stack)
    for coupling in list(stack.context.couplings.list_couplings("CUSTOMER")):  # as stored before versions existed
        stack.context.couplings.update_coupling(
            coupling.with_changes(bc=_versionless(coupling.bc), dataverse=_versionless(coupling.dataverse))
        )
    rewind(stack, Side.BC)
    clear_stats(stack)
    first = run_mapping(stack.context, "CUSTOMER")
    assert first.counters.unchanged == coupled and requests(stack, "accounts") > 1  # read by id to compare
    rewind(stack, Side.BC)
    clear_stats(stack)
    second = run_mapping(stack.context, "CUSTOMER")
    assert second.counters.unchanged == coupled and requests(stack, "accounts") == 1
    assert dv_writes(stack) == 0 and bc_writes(stack) == 0


def _versionless(state: SideState) -> SideState:
    return SideState(state.modified_on, None, state.last_result, state.last_job_id)


def test_both_sides_moved_to_the_same_value_then_one_reverts_the_revert_wins(customers: SyncStack) -> None:
    """The stored hashes follow values both sides reached on their own; otherwise BC going back to its old city
    would look unchanged and Sales' city would be written over it."""
    stack = customers
    settle(stack)
    trey = bc_seeded("customer", "Trey Research")
    coupling: Coupling | None = stack.context.couplings.find_by_bc_id("CUSTOMER", trey)
    assert coupling is not None
    old_city = bc_customer(stack, "C00030")["city"]
    patch_bc(stack, "C00030", {"city": "Macon"})
    patch_account(stack, coupling.dataverse_id, {"address1_city": "Macon"})
    assert run_mapping(stack.context, "CUSTOMER").counters.modified == 0
    patch_bc(stack, "C00030", {"city": old_city})
    job = run_mapping(stack.context, "CUSTOMER")
    assert (job.counters.modified, job.counters.failed) == (1, 0)
    assert bc_customer(stack, "C00030")["city"] == old_city
    account = dv_get(stack, f"accounts({coupling.dataverse_id})", **{"$select": "address1_city"})
    assert account["address1_city"] == old_city
