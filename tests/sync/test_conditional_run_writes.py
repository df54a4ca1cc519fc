"""A run's Dataverse updates are conditional on the version the run read (issue 17, "no silent swaps").

A user editing the Sales record between the run's read and its write must not be overwritten by values decided
without that edit: the update loses (412), the record fails transiently (never counted toward skipping) and the
next run reads both sides again and decides with the edit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from local.emulators.business_central.seed import seeded_id as bc_seeded
from shared.domain.mapping import ConflictPolicy
from shared.domain.records import Side
from shared.engine.mapping_run import run_mapping
from tests.sync.conftest import SyncStack
from tests.sync.mappings_for_tests import currency_mapping, customer_mapping
from tests.sync.test_incremental import bc_customer, couple_currencies, dv_get, patch_account, patch_bc_customer

pytestmark = pytest.mark.integration
SELANGORIAN = "C00020"


def before_the_dataverse_write(stack: SyncStack, edit: Callable[[], None], monkeypatch: pytest.MonkeyPatch) -> None:
    """Make `edit` happen once, after the run read the records and right before its Dataverse write goes out
    (whichever write message it uses)."""
    done: list[bool] = []
    for method in ("execute_batch", "upsert_multiple", "update_multiple"):
        original = getattr(stack.dataverse, method)

        def wrapped(*args: Any, _original: Any = original, **kwargs: Any) -> Any:
            if not done:
                done.append(True)
                edit()
            return _original(*args, **kwargs)

        monkeypatch.setattr(stack.dataverse, method, wrapped)


def synchronized_pair(stack: SyncStack, policy: ConflictPolicy) -> tuple[str, str]:
    stack.use(currency_mapping(), customer_mapping(conflict_policy=policy))
    couple_currencies(stack)
    run_mapping(stack.context, "CUSTOMER")
    coupling = stack.context.couplings.find_by_bc_id("CUSTOMER", bc_seeded("customer", "Selangorian Ltd."))
    assert coupling is not None
    return coupling.bc_id, coupling.dataverse_id


def test_an_edit_made_during_the_run_is_not_overwritten_and_the_next_run_merges_it(
    sync_stack: SyncStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = sync_stack
    bc_id, account_id = synchronized_pair(stack, ConflictPolicy.MERGE)
    patch_bc_customer(stack, SELANGORIAN, {"city": "Leamington"})
    before_the_dataverse_write(
        stack, lambda: patch_account(stack, account_id, {"telephone1": "+44 24 7600 0000"}), monkeypatch
    )
    lost = run_mapping(stack.context, "CUSTOMER")
    assert (lost.counters.failed, lost.counters.modified) == (1, 0)
    assert stack.context.errors.find_error("CUSTOMER", Side.BC, bc_id) is None  # transient: not counted
    account = dv_get(stack, f"accounts({account_id})")
    assert account["telephone1"] == "+44 24 7600 0000"  # the edit made meanwhile is kept
    assert account["address1_city"] != "Leamington"  # nothing decided without it was written
    monkeypatch.undo()
    applied = run_mapping(stack.context, "CUSTOMER")  # reads both again: BC's city one way, Sales's phone the other
    assert (applied.counters.failed, applied.counters.modified) == (0, 1)
    bc, dv = bc_customer(stack, SELANGORIAN), dv_get(stack, f"accounts({account_id})")
    assert (bc["city"], bc["phoneNumber"]) == ("Leamington", "+44 24 7600 0000")
    assert (dv["address1_city"], dv["telephone1"]) == ("Leamington", "+44 24 7600 0000")
    assert run_mapping(stack.context, "CUSTOMER").counters.modified == 0


def test_the_same_field_edited_during_the_run_becomes_a_conflict_not_an_overwrite(
    sync_stack: SyncStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = sync_stack
    bc_id, account_id = synchronized_pair(stack, ConflictPolicy.NONE)
    patch_bc_customer(stack, SELANGORIAN, {"city": "Leamington"})
    before_the_dataverse_write(
        stack, lambda: patch_account(stack, account_id, {"address1_city": "Edited in Sales"}), monkeypatch
    )
    lost = run_mapping(stack.context, "CUSTOMER")
    assert lost.counters.failed == 1
    assert stack.context.errors.find_error("CUSTOMER", Side.BC, bc_id) is None
    assert dv_get(stack, f"accounts({account_id})")["address1_city"] == "Edited in Sales"
    monkeypatch.undo()
    decided = run_mapping(stack.context, "CUSTOMER")  # both sides changed the city: the policy (none) decides
    assert decided.counters.failed == 1
    error = stack.context.errors.find_error("CUSTOMER", Side.BC, bc_id)
    assert error is not None and error.code == "changedInBothApps"
    assert bc_customer(stack, SELANGORIAN)["city"] == "Leamington"
    assert dv_get(stack, f"accounts({account_id})")["address1_city"] == "Edited in Sales"
