"""Synchronize Now raced against itself and against other writers, on the real stack (emulators + Azurite).

Issue 17 ("no silent swaps"): 50 calls `toDataverse` racing 50 `fromDataverse` on one coupled pair once ended with
each app holding the other's old values while every call answered 200. These tests hold the invariant the fix
promises, after every burst: both apps hold the same value, it is the value of the one call that says it won
(its direction's source value), and every other call either found nothing to do or lost with
`concurrencyConflict` (HTTP 409), never a 400 or a 500.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from local.emulators.business_central.seed import seeded_id as bc_seeded
from shared.domain.coupling import Coupling, SyncResult
from shared.domain.errors import ConcurrencyError
from shared.domain.mapping import Direction
from shared.engine.leases import lease_job_id
from shared.engine.mapping_run import run_mapping
from shared.ports import BatchOutcome
from shared.services.synchronize import SyncReport, synchronize_record
from tests.sync.conftest import SyncStack
from tests.sync.mappings_for_tests import currency_mapping, customer_mapping
from tests.sync.test_incremental import bc_customer, couple_currencies, dv_get, patch_account, patch_bc_customer

pytestmark = pytest.mark.integration
Pair = tuple[SyncStack, str, str]
BURSTS = 20
PER_DIRECTION = 50
CANNON = "C00010"


@pytest.fixture
def pair(sync_stack: SyncStack) -> Pair:
    """The Cannon Group (C00010) coupled and synchronized by a first run: (stack, BC id, account id)."""
    sync_stack.use(currency_mapping(), customer_mapping())
    couple_currencies(sync_stack)
    run_mapping(sync_stack.context, "CUSTOMER")
    bc_id = bc_seeded("customer", "The Cannon Group PLC")
    coupling = sync_stack.context.couplings.find_by_bc_id("CUSTOMER", bc_id)
    assert coupling is not None
    return sync_stack, bc_id, coupling.dataverse_id


def race(stack: SyncStack, bc_id: str, per_direction: int) -> list[SyncReport | Exception]:
    """`per_direction` calls each way, released at the same instant; each call's report or exception."""
    calls = [Direction.TO_DATAVERSE, Direction.FROM_DATAVERSE] * per_direction
    start = threading.Barrier(len(calls))
    results: list[SyncReport | Exception] = [RuntimeError("did not run")] * len(calls)

    def call(index: int) -> None:
        start.wait()
        try:
            results[index] = synchronize_record(stack.context, "CUSTOMER", calls[index], bc_id=bc_id)
        except Exception as error:  # every outcome is collected and judged below
            results[index] = error

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def cities(stack: SyncStack, account_id: str) -> tuple[str, str]:
    return bc_customer(stack, CANNON)["city"], dv_get(stack, f"accounts({account_id})")["address1_city"]


def city_change(report: SyncReport) -> Any:
    return next(change.new for change in report.changes if change.dataverse_field == "address1_city")


def assert_one_consistent_winner(results: Sequence[SyncReport | Exception], bc_city: str, dv_city: str) -> SyncReport:
    refused = [r for r in results if not isinstance(r, SyncReport | ConcurrencyError)]
    assert not refused, [f"{type(r).__name__}: {r}" for r in refused]
    lost = [r for r in results if isinstance(r, ConcurrencyError)]
    assert all(r.code == "concurrencyConflict" for r in lost), {r.code for r in lost}
    assert all("changed while it was being synchronized" in r.message for r in lost), lost[0].message
    reports = [r for r in results if isinstance(r, SyncReport)]
    winners = [r for r in reports if r.outcome == "modified"]
    assert len(winners) == 1, [(r.direction, r.outcome) for r in reports]
    assert all(r.outcome == "unchanged" and not r.changes for r in reports if r is not winners[0])
    winner = winners[0]
    expected = bc_city if winner.direction is Direction.TO_DATAVERSE else dv_city
    assert city_change(winner) == expected  # the winner's report names the value it applied
    return winner


@pytest.mark.slow
def test_opposite_synchronize_now_bursts_never_swap_the_apps(pair: Pair) -> None:
    stack, bc_id, account_id = pair
    for burst in range(BURSTS):
        bc_city, dv_city = f"BC city {burst}", f"Sales city {burst}"
        patch_bc_customer(stack, CANNON, {"city": bc_city})
        patch_account(stack, account_id, {"address1_city": dv_city})
        results = race(stack, bc_id, PER_DIRECTION)
        winner = assert_one_consistent_winner(results, bc_city, dv_city)
        final_bc, final_dv = cities(stack, account_id)
        assert final_bc == final_dv, f"burst {burst}: the apps differ ({final_bc!r} / {final_dv!r})"
        assert final_bc == city_change(winner), f"burst {burst}: the apps do not hold the winner's value"
    coupling = stack.context.couplings.find_by_bc_id("CUSTOMER", bc_id)
    assert coupling is not None and coupling.bc.last_result is SyncResult.SUCCESS  # no lease left behind
    job = run_mapping(stack.context, "CUSTOMER")  # the run agrees with the last winner: nothing left to do
    assert (job.counters.modified, job.counters.failed) == (0, 0)


def interfere_once(target: object, method: str, before: Callable[[], None], monkeypatch: pytest.MonkeyPatch) -> None:
    """Run `before` (another writer's edit) right before the first call of `target.method`, then call it."""
    original = getattr(target, method)
    done: list[bool] = []

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not done:
            done.append(True)
            before()
        return original(*args, **kwargs)

    monkeypatch.setattr(target, method, wrapped)


def test_bc_changed_between_read_and_write_is_a_409_and_keeps_the_other_edit(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    """BC answers the stale If-Match with 409 `Request_EntityChanged`: Synchronize Now says concurrencyConflict
    (HTTP 409), not the 400 `bcRejectedUpdate` of issue 17, and the edit made meanwhile stays."""
    stack, bc_id, account_id = pair
    patch_account(stack, account_id, {"address1_city": "Sales city"})
    before = stack.context.couplings.find_by_bc_id("CUSTOMER", bc_id)
    interfere_once(
        stack.bc, "execute_batch", lambda: patch_bc_customer(stack, CANNON, {"city": "Edited in BC"}), monkeypatch
    )
    with pytest.raises(ConcurrencyError) as lost:
        synchronize_record(stack.context, "CUSTOMER", Direction.FROM_DATAVERSE, bc_id=bc_id)
    assert lost.value.code == "concurrencyConflict"
    assert "changed while it was being synchronized" in lost.value.message
    assert cities(stack, account_id) == ("Edited in BC", "Sales city")
    after = stack.context.couplings.find_by_bc_id("CUSTOMER", bc_id)
    assert before is not None and after is not None
    assert (after.bc, after.dataverse, after.values_hash) == (before.bc, before.dataverse, before.values_hash)


def test_sales_changed_between_read_and_write_is_a_409_and_keeps_the_other_edit(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Dataverse write carries the version read (If-Match): a 412 ConcurrencyVersionMismatch is a 409 too."""
    stack, bc_id, account_id = pair
    patch_bc_customer(stack, CANNON, {"city": "BC city"})
    interfere_once(
        stack.dataverse,
        "update_row",
        lambda: patch_account(stack, account_id, {"address1_city": "Edited in Sales"}),
        monkeypatch,
    )
    with pytest.raises(ConcurrencyError) as lost:
        synchronize_record(stack.context, "CUSTOMER", Direction.TO_DATAVERSE, bc_id=bc_id)
    assert lost.value.code == "concurrencyConflict"
    assert cities(stack, account_id) == ("BC city", "Edited in Sales")


def test_a_source_changed_while_writing_is_copied_again_before_answering(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Someone edits the source after it was read: the call sees it changed (its version moved) when it checks after
    writing, copies the new value too, and only then answers; both apps end with the newest source value."""
    stack, bc_id, account_id = pair
    patch_bc_customer(stack, CANNON, {"city": "First BC city"})
    interfere_once(
        stack.dataverse, "update_row", lambda: patch_bc_customer(stack, CANNON, {"city": "Newer BC city"}), monkeypatch
    )
    report = synchronize_record(stack.context, "CUSTOMER", Direction.TO_DATAVERSE, bc_id=bc_id)
    assert report.outcome == "modified" and city_change(report) == "Newer BC city"
    assert cities(stack, account_id) == ("Newer BC city", "Newer BC city")
    assert run_mapping(stack.context, "CUSTOMER").counters.modified == 0


def with_lease(stack: SyncStack, bc_id: str, job_id: str) -> Coupling:
    coupling = stack.context.couplings.find_by_bc_id("CUSTOMER", bc_id)
    assert coupling is not None
    leased = coupling.with_changes(
        bc=replace(coupling.bc, last_result=SyncResult.NONE, last_job_id=job_id),
        dataverse=replace(coupling.dataverse, last_result=SyncResult.NONE, last_job_id=job_id),
    )
    return stack.context.couplings.update_coupling(leased)


def test_a_call_in_progress_makes_another_wait_its_turn_with_a_409(pair: Pair) -> None:
    stack, bc_id, account_id = pair
    patch_bc_customer(stack, CANNON, {"city": "BC city"})
    with_lease(stack, bc_id, lease_job_id(datetime.now(UTC)))
    with pytest.raises(ConcurrencyError) as busy:
        synchronize_record(stack.context, "CUSTOMER", Direction.TO_DATAVERSE, bc_id=bc_id)
    assert busy.value.code == "concurrencyConflict" and "try again" in busy.value.message.lower()
    assert cities(stack, account_id)[1] != "BC city"  # nothing written while the other call holds the pair


def test_a_lease_left_by_a_crashed_call_expires(pair: Pair) -> None:
    stack, bc_id, account_id = pair
    patch_bc_customer(stack, CANNON, {"city": "BC city"})
    with_lease(stack, bc_id, lease_job_id(datetime.now(UTC) - timedelta(minutes=5)))
    report = synchronize_record(stack.context, "CUSTOMER", Direction.TO_DATAVERSE, bc_id=bc_id)
    assert report.outcome == "modified"
    assert cities(stack, account_id) == ("BC city", "BC city")


def test_bc_refusing_for_another_reason_is_not_a_conflict(pair: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only a changed record is a 409; a refusal of the data keeps its own answer."""
    stack, bc_id, account_id = pair
    patch_account(stack, account_id, {"address1_city": "Sales city"})

    def refused(requests: Sequence[Mapping[str, Any]], **_: Any) -> list[BatchOutcome]:
        body = {"error": {"code": "Application_StringExceededLength", "message": "too long"}}
        return [BatchOutcome(400, body) for _ in requests]

    monkeypatch.setattr(stack.bc, "execute_batch", refused)
    with pytest.raises(Exception) as error:
        synchronize_record(stack.context, "CUSTOMER", Direction.FROM_DATAVERSE, bc_id=bc_id)
    assert not isinstance(error.value, ConcurrencyError)
    coupling = stack.context.couplings.find_by_bc_id("CUSTOMER", bc_id)
    assert coupling is not None and coupling.bc.last_result is SyncResult.SUCCESS  # the lease was given back


def test_a_run_saving_the_pair_leaves_a_call_in_progress_its_lease(pair: Pair) -> None:
    """A run may write a pair a call holds (its writes are conditional), but recording the pair must not end the
    call's lease: a second call could then start while the first is still writing, and the two could swap."""
    from shared.engine.leases import lease_holder

    stack, bc_id, account_id = pair
    holder = lease_job_id(datetime.now(UTC))
    with_lease(stack, bc_id, holder)
    patch_bc_customer(stack, CANNON, {"city": "Run city"})
    job = run_mapping(stack.context, "CUSTOMER")
    assert job.counters.failed == 0
    assert cities(stack, account_id) == ("Run city", "Run city")  # the run's own write went through
    coupling = stack.context.couplings.find_by_bc_id("CUSTOMER", bc_id)
    assert coupling is not None and lease_holder(coupling, datetime.now(UTC)) == holder
    with pytest.raises(ConcurrencyError):
        synchronize_record(stack.context, "CUSTOMER", Direction.FROM_DATAVERSE, bc_id=bc_id)
