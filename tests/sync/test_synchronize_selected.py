"""Synchronize Now on several selected records, on the real stack: BC's rule for a selection (a record whose target
changed since the last synchronization is left and reported, so is a skipped coupling and an id not coupled), the
others synchronized as Synchronize Now of one record would; one selected record alone is overwritten, as in BC."""

from __future__ import annotations

from dataclasses import replace

import pytest

from shared.domain.mapping import Direction
from shared.domain.records import Side
from shared.engine.mapping_run import run_mapping
from shared.services.synchronize_selected import synchronize_selected
from tests.sync.conftest import SyncStack
from tests.sync.mappings_for_tests import currency_mapping, customer_mapping
from tests.sync.test_incremental import bc_customer, couple_currencies, dv_get, patch_account, patch_bc_customer

pytestmark = pytest.mark.integration
NUMBERS = ("C00010", "C00020", "C00030", "C00040", "C00050")


@pytest.fixture
def synchronized(sync_stack: SyncStack) -> tuple[SyncStack, dict[str, tuple[str, str]]]:
    """Every customer coupled and synchronized; number -> (BC id, account id)."""
    sync_stack.use(currency_mapping(), customer_mapping())
    couple_currencies(sync_stack)
    run_mapping(sync_stack.context, "CUSTOMER")
    pairs: dict[str, tuple[str, str]] = {}
    for number in NUMBERS:
        bc_id = bc_customer(sync_stack, number)["id"]
        coupling = sync_stack.context.couplings.find_by_bc_id("CUSTOMER", bc_id)
        assert coupling is not None and coupling.values_hash is not None
        pairs[number] = (bc_id, coupling.dataverse_id)
    return sync_stack, pairs


def city(stack: SyncStack, account_id: str) -> str:
    return str(dv_get(stack, f"accounts({account_id})")["address1_city"])


def test_a_changed_target_a_skipped_coupling_and_an_uncoupled_id_are_left_and_reported(
    synchronized: tuple[SyncStack, dict[str, tuple[str, str]]],
) -> None:
    stack, pairs = synchronized
    couplings = stack.context.couplings
    for number in NUMBERS:
        patch_bc_customer(stack, number, {"city": f"City of {number}"})
    changed_bc, changed_account = pairs["C00030"]
    patch_account(stack, changed_account, {"address1_city": "Changed in Sales"})  # after the last sync
    uncoupled_bc = pairs["C00040"][0]
    couplings.delete_coupling("CUSTOMER", uncoupled_bc)
    skipped = couplings.find_by_bc_id("CUSTOMER", pairs["C00050"][0])
    assert skipped is not None
    couplings.update_coupling(skipped.with_changes(skipped=True))

    ids = [pairs[n][0] for n in NUMBERS]
    report = synchronize_selected(stack.context, "CUSTOMER", Direction.TO_DATAVERSE, Side.BC, [*ids, ids[0]])

    assert [r.bc_id for r in report.synchronized] == [pairs["C00010"][0], pairs["C00020"][0]]
    assert {r.outcome for r in report.synchronized} == {"modified"}
    assert city(stack, pairs["C00010"][1]) == "City of C00010"
    left = {r.record_id: (r.reason, r.message) for r in report.left}
    assert left[changed_bc][0] == "targetChanged" and "address1_city" in left[changed_bc][1]
    assert city(stack, changed_account) == "Changed in Sales"  # not overwritten
    assert left[uncoupled_bc][0] == "notCoupled"
    assert left[pairs["C00050"][0]][0] == "skipped"
    assert city(stack, pairs["C00050"][1]) != "City of C00050"
    assert report.failed == [] and len(report.left) == 3


def test_from_sales_the_target_is_business_central_and_ids_may_be_sales_ids(
    synchronized: tuple[SyncStack, dict[str, tuple[str, str]]],
) -> None:
    stack, pairs = synchronized
    for number in ("C00010", "C00020"):
        patch_account(stack, pairs[number][1], {"address1_city": f"Sales city {number}"})
    patch_bc_customer(stack, "C00020", {"city": "Changed in BC"})  # the target of fromDataverse
    accounts = [pairs["C00010"][1], pairs["C00020"][1]]
    report = synchronize_selected(stack.context, "CUSTOMER", Direction.FROM_DATAVERSE, Side.DATAVERSE, accounts)
    assert [r.dataverse_id for r in report.synchronized] == [pairs["C00010"][1]]
    assert [(r.record_id, r.reason, r.partner) for r in report.left] == [
        (pairs["C00020"][1], "targetChanged", pairs["C00020"][0])
    ]
    assert bc_customer(stack, "C00010")["city"] == "Sales city C00010"
    assert bc_customer(stack, "C00020")["city"] == "Changed in BC"


def test_one_selected_record_is_overwritten_as_synchronize_now_of_one_record_is(
    synchronized: tuple[SyncStack, dict[str, tuple[str, str]]],
) -> None:
    stack, pairs = synchronized
    bc_id, account = pairs["C00030"]
    patch_account(stack, account, {"address1_city": "Changed in Sales"})
    report = synchronize_selected(stack.context, "CUSTOMER", Direction.TO_DATAVERSE, Side.BC, [bc_id])
    assert [r.bc_id for r in report.synchronized] == [bc_id] and report.left == []
    assert city(stack, account) == bc_customer(stack, "C00030")["city"]


def test_a_coupling_never_synchronized_is_judged_by_the_targets_modified_on_as_bc_does(
    synchronized: tuple[SyncStack, dict[str, tuple[str, str]]],
) -> None:
    """No stored values: changed when the target's modified-on is later than the one recorded, or none is."""
    stack, pairs = synchronized
    couplings = stack.context.couplings
    for number in ("C00010", "C00020"):
        patch_bc_customer(stack, number, {"city": f"City of {number}"})
        bc_id, account = pairs[number]
        coupling = couplings.find_by_bc_id("CUSTOMER", bc_id)
        assert coupling is not None
        recorded = dv_get(stack, f"accounts({account})")["modifiedon"] if number == "C00010" else None
        couplings.update_coupling(
            coupling.with_changes(values_hash=None, dataverse=replace(coupling.dataverse, modified_on=recorded))
        )
    ids = [pairs["C00010"][0], pairs["C00020"][0]]
    report = synchronize_selected(stack.context, "CUSTOMER", Direction.TO_DATAVERSE, Side.BC, ids)
    assert [r.bc_id for r in report.synchronized] == [pairs["C00010"][0]]  # Sales not modified since
    assert [(r.record_id, r.reason) for r in report.left] == [(pairs["C00020"][0], "targetChanged")]  # none recorded
    assert city(stack, pairs["C00020"][1]) != "City of C00020"
