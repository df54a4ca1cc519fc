"""Record errors on the real parts: skipped after the same error twice, restored and retried once the cause is fixed."""

from __future__ import annotations

import pytest

from local.emulators.business_central.seed import seeded_id as bc_seeded
from local.emulators.dataverse.seed import seeded_id as dv_seeded
from shared.domain.errors import InvalidInputError
from shared.domain.records import Side
from shared.engine.mapping_run import run_mapping
from shared.engine.sides import deterministic_id
from shared.services.coupling import couple_records
from shared.services.sync_errors import list_sync_errors, restore, retry
from tests.sync.conftest import SyncStack
from tests.sync.mappings_for_tests import currency_mapping, customer_mapping
from tests.sync.test_coupling import bc_customer, couple_currency, dv_get, patch_bc_customer

pytestmark = pytest.mark.integration
ALPINE = bc_seeded("customer", "Alpine Ski House")


@pytest.fixture
def skipped_alpine(sync_stack: SyncStack) -> SyncStack:
    """Alpine Ski House (currency EUR, not coupled) fails to be created in Sales twice and is skipped."""
    stack = sync_stack
    stack.use(currency_mapping(), customer_mapping())
    couple_currency(stack, "GBP")
    first = run_mapping(stack.context, "CUSTOMER")
    assert first.counters.failed == 1  # the other five BC customers and the four Sales accounts were created
    second = run_mapping(stack.context, "CUSTOMER")  # failed records are retried first: the same error again
    entry = stack.context.errors.find_error("CUSTOMER", Side.BC, ALPINE)
    assert second.counters.failed == 1 and entry is not None and entry.skipped and entry.code == "lookupNotCoupled"
    return stack


def alpine_account(stack: SyncStack) -> list[object]:
    created_id = deterministic_id("CUSTOMER", "bc", ALPINE)
    rows: list[object] = dv_get(stack, "accounts", **{"$filter": f"accountid eq {created_id}"})["value"]
    return rows


def test_a_skipped_record_is_left_alone_until_retried_and_then_synchronized(skipped_alpine: SyncStack) -> None:
    stack = skipped_alpine
    still = retry(stack.context, "CUSTOMER", [ALPINE])  # the cause is not fixed: skipped again at once
    [outcome] = still.records
    assert (outcome.outcome, outcome.code, outcome.skipped) == ("failed", "lookupNotCoupled", True)

    couple_currency(stack, "EUR")  # the cause is fixed
    third = run_mapping(stack.context, "CUSTOMER")
    assert third.counters.failed == 0 and alpine_account(stack) == []  # skipped: not even tried
    checkpoints = [stack.context.checkpoints.find_checkpoint("CUSTOMER", side) for side in Side]

    report = retry(stack.context, "CUSTOMER", [ALPINE.upper()])
    [outcome] = report.records
    assert (outcome.record_id, outcome.side, outcome.outcome) == (ALPINE, Side.BC, "created")
    assert report.job is not None and report.job.counters.inserted == 1
    assert stack.context.errors.find_error("CUSTOMER", Side.BC, ALPINE) is None  # no error, no skipped flag
    [account] = dv_get(stack, "accounts", **{"$filter": f"accountid eq {deterministic_id('CUSTOMER', 'bc', ALPINE)}"})[
        "value"
    ]
    assert (account["name"], account["_transactioncurrencyid_value"]) == (
        "Alpine Ski House",
        dv_seeded("currency", "EUR"),
    )
    assert bc_customer(stack, "C00040")["currencyCode"] == "EUR"
    coupling = stack.context.couplings.find_by_bc_id("CUSTOMER", ALPINE)
    assert coupling is not None and coupling.dataverse_id == account["accountid"]
    assert [stack.context.checkpoints.find_checkpoint("CUSTOMER", side) for side in Side] == checkpoints
    assert run_mapping(stack.context, "CUSTOMER").counters.inserted == 0  # in step: nothing left to do


def test_a_retry_picks_up_no_unrelated_change_and_leaves_it_to_the_next_run(skipped_alpine: SyncStack) -> None:
    """A retry's candidates are the failed records alone (`FailedRecords`): a change made meanwhile elsewhere in the
    mapping is neither synchronized by it nor passed by a checkpoint; the next scheduled run takes it."""
    stack = skipped_alpine
    couple_currency(stack, "EUR")  # the cause is fixed
    cannon = stack.context.couplings.find_by_bc_id("CUSTOMER", bc_seeded("customer", "The Cannon Group PLC"))
    assert cannon is not None
    patch_bc_customer(stack, "C00010", {"city": "Changed Meanwhile"})
    checkpoints = [stack.context.checkpoints.find_checkpoint("CUSTOMER", side) for side in Side]
    report = retry(stack.context, "CUSTOMER", [ALPINE])
    assert [(r.record_id, r.outcome) for r in report.records] == [(ALPINE, "created")]
    assert report.job is not None and (report.job.counters.inserted, report.job.counters.modified) == (1, 0)
    assert dv_get(stack, f"accounts({cannon.dataverse_id})")["address1_city"] != "Changed Meanwhile"
    assert [stack.context.checkpoints.find_checkpoint("CUSTOMER", side) for side in Side] == checkpoints
    after = run_mapping(stack.context, "CUSTOMER")
    assert (after.counters.modified, after.counters.inserted) == (1, 0)
    assert dv_get(stack, f"accounts({cannon.dataverse_id})")["address1_city"] == "Changed Meanwhile"


def test_restore_clears_the_flag_keeping_the_history_and_the_next_run_retries(skipped_alpine: SyncStack) -> None:
    stack = skipped_alpine
    assert [(e.record_id, e.skipped) for e in list_sync_errors(stack.context, "CUSTOMER")] == [(ALPINE, True)]
    assert [e.record_id for e in list_sync_errors(stack.context)] == [ALPINE]
    restored = restore(stack.context, "CUSTOMER", [ALPINE])
    assert [e.record_id for e in restored] == [ALPINE]
    entry = stack.context.errors.find_error("CUSTOMER", Side.BC, ALPINE)
    assert entry is not None and not entry.skipped and entry.count == 2
    assert restore(stack.context, "CUSTOMER", [ALPINE]) == []  # nothing skipped any more: a no-op
    couple_currency(stack, "EUR")
    job = run_mapping(stack.context, "CUSTOMER")
    assert job.counters.inserted == 1 and len(alpine_account(stack)) == 1


def test_retry_keeps_a_conflict_a_conflict(sync_stack: SyncStack) -> None:
    """Why retry decides like a run: Synchronize Now would overwrite one side's change without a word."""
    stack = sync_stack
    stack.use(currency_mapping(), customer_mapping(sync_only_coupled=True))
    cannon_bc, cannon_dv = bc_seeded("customer", "The Cannon Group PLC"), dv_seeded("account", "The Cannon Group PLC")
    couple_records(stack.context, "CUSTOMER", cannon_bc, cannon_dv)
    run_mapping(stack.context, "CUSTOMER")
    patch_bc_customer(stack, "C00010", {"city": "From BC"})
    response = stack.dv_handle.session.patch(
        f"{stack.dv_handle.base_url}/api/data/v9.2/accounts({cannon_dv})", json={"address1_city": "From Sales"}
    )
    assert response.status_code == 204
    run_mapping(stack.context, "CUSTOMER")
    report = retry(stack.context, "CUSTOMER", "all")
    [outcome] = report.records
    assert (outcome.record_id, outcome.outcome, outcome.code) == (cannon_bc, "failed", "changedInBothApps")
    assert bc_customer(stack, "C00010")["city"] == "From BC"
    assert dv_get(stack, f"accounts({cannon_dv})")["address1_city"] == "From Sales"


def test_retry_input_is_checked_and_ids_without_errors_are_reported(sync_stack: SyncStack) -> None:
    stack = sync_stack
    stack.use(currency_mapping(), customer_mapping())
    bad_inputs: list[list[str] | str] = [[], "everything"]  # a bare string is not a list of ids
    for bad in bad_inputs:
        with pytest.raises(InvalidInputError) as refused:
            retry(stack.context, "CUSTOMER", bad)
        assert refused.value.field == "ids"
    report = retry(stack.context, "CUSTOMER", [ALPINE])
    assert report.job is None and [(r.record_id, r.outcome) for r in report.records] == [(ALPINE, "noError")]
    assert report.as_dict()["records"][0]["outcome"] == "noError"
