"""What a run counts as a change notifications missed, and what it records as latency (`RunState.wrote`, issue 23),
on a run state over the real stack: only a poll's changes older than the side's expected delay, never a side read
for the first time or whole on every run, never a retried record, never a side whose notifications are off; the
latency of every written record, but none in a full-synchronization chunk."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from shared import telemetry
from shared.domain.notification_watch import NotificationWatch
from shared.domain.records import Checkpoint, RunTrigger, Side
from shared.domain.watermarks import SideCursor, format_instant
from shared.engine.run_state import RunState
from tests.sync.conftest import SyncStack
from tests.sync.mappings_for_tests import customer_mapping
from tests.unit.test_telemetry import points

pytestmark = pytest.mark.integration
WATCH = NotificationWatch({Side.BC: timedelta(seconds=95)})  # BC's notifications on, Dataverse's off


@pytest.fixture
def memory() -> Iterator[telemetry.InMemoryTelemetry]:
    recorded = telemetry.use_in_memory()
    try:
        yield recorded
    finally:
        telemetry.reset()


def _poll(stack: SyncStack, *, first_read: bool = False, in_full: bool = False) -> RunState:
    state = RunState(stack.context, customer_mapping(), trigger=RunTrigger.POLL, watch=WATCH)
    started = stack.context.clock()
    for side in Side:
        checkpoint = None if first_read else Checkpoint("CUSTOMER", side, format_instant(started - timedelta(hours=1)))
        state.cursors[side] = SideCursor.start("CUSTOMER", side, checkpoint, started, in_full=in_full)
    return state


def _bc(record_id: str, seconds_ago: float, stack: SyncStack) -> dict[str, Any]:
    moment = stack.context.clock() - timedelta(seconds=seconds_ago)
    return {"id": record_id, "lastModifiedDateTime": format_instant(moment)}


def _dv(record_id: str, seconds_ago: float, stack: SyncStack) -> dict[str, Any]:
    moment = stack.context.clock() - timedelta(seconds=seconds_ago)
    return {"accountid": record_id, "modifiedon": format_instant(moment)}


def test_a_poll_counts_only_changes_older_than_the_expected_delay_of_a_watched_side(
    sync_stack: SyncStack, memory: telemetry.InMemoryTelemetry
) -> None:
    state = _poll(sync_stack)
    state.retried.add("b-retried")
    state.wrote(
        Side.BC, [_bc("b-old", 600, sync_stack), _bc("b-new", 10, sync_stack), _bc("b-retried", 600, sync_stack)]
    )
    state.wrote(Side.DATAVERSE, [_dv("d-old", 600, sync_stack)])  # Dataverse's notifications are off
    assert state.missed == {Side.BC: 1}
    lags = {labels["direction"]: value for labels, value in points(memory, "sync.lag.seconds")}  # the sums
    assert 1210 <= lags["toDataverse"] <= 1215 and 600 <= lags["fromDataverse"] <= 605  # every written record
    assert {labels["trigger"] for labels, _ in points(memory, "sync.lag.seconds")} == {"poll"}


@pytest.mark.parametrize("how", ["first read", "read whole every run"])
def test_a_side_read_for_the_first_time_or_whole_counts_nothing(
    sync_stack: SyncStack, memory: telemetry.InMemoryTelemetry, how: str
) -> None:
    state = _poll(sync_stack, first_read=how == "first read", in_full=how != "first read")
    state.wrote(Side.BC, [_bc("b-old", 600, sync_stack)])
    assert state.missed == {} and points(memory, "sync.lag.seconds") == []


def test_a_woken_run_and_a_full_sync_chunk_count_nothing_and_a_chunk_records_no_latency(
    sync_stack: SyncStack, memory: telemetry.InMemoryTelemetry
) -> None:
    woken = _poll(sync_stack)
    woken.watch, woken.trigger = None, RunTrigger.WAKE  # a notification's run is given no watch
    woken.wrote(Side.BC, [_bc("b-old", 600, sync_stack)])
    assert woken.missed == {}
    assert [labels["trigger"] for labels, _ in points(memory, "sync.lag.seconds")] == ["wake"]
    chunk = RunState(sync_stack.context, customer_mapping(), trigger=RunTrigger.FULL_SYNC, measures_lag=False)
    chunk.wrote(Side.BC, [_bc("b-old", 600, sync_stack)])
    assert chunk.missed == {} and [labels["trigger"] for labels, _ in points(memory, "sync.lag.seconds")] == ["wake"]


def test_a_bc_set_bc_sends_no_webhook_for_has_no_notification_to_miss(sync_stack: SyncStack) -> None:
    """BC sends webhooks for its documented sets only (`SUPPORTED_RESOURCES`, api-facts A8: contacts and
    salespeople are not among them): a poll of such a mapping applies its changes without counting them missed,
    or its warning would never clear; the Sales side of that mapping is still counted when watched."""
    from shared.connectors.business_central.subscriptions import SUPPORTED_RESOURCES

    assert "customers" in SUPPORTED_RESOURCES and "contacts" not in SUPPORTED_RESOURCES
    both = NotificationWatch(
        {Side.BC: timedelta(seconds=95), Side.DATAVERSE: timedelta(seconds=70)},
        bc_resources=frozenset(SUPPORTED_RESOURCES),
    )
    started = sync_stack.context.clock()
    old = started - timedelta(minutes=10)
    assert both.missed(Side.BC, old, started, "customers")
    assert not both.missed(Side.BC, old, started, "contacts")
    assert both.missed(Side.DATAVERSE, old, started, "contacts")
    assert not both.watches(Side.BC, "salespeoplePurchasers") and both.watches(Side.DATAVERSE, "contacts")
