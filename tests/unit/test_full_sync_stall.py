"""Stalled full-sync lines, pure: when a running line counts as stalled, what a reader may settle, which stored
chunks a restart sends again, and the stall setting (its default tied to the deployment's host.json and queue)."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shared.domain.full_sync import (
    DEFAULT_STALL_AFTER,
    DEFAULT_STALL_MINUTES,
    FUNCTION_TIMEOUT,
    LOCK_DURATION,
    LineChunk,
    all_chunks_counted,
    count_chunk,
    counted_chunks,
    is_stalled,
    last_progress,
    needs_settling,
    stalled_lines,
    uncounted,
)
from shared.domain.records import LineStatus, ReviewLine
from shared.domain.watermarks import format_instant
from shared.settings import Settings, SettingsError, full_sync_stall_minutes

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
STALL = timedelta(minutes=15)


def at(minutes_ago: float) -> str:
    return format_instant(NOW - timedelta(minutes=minutes_ago))


def running(name: str, started: float, progressed: float | None = None) -> ReviewLine:
    return ReviewLine(
        name,
        "fullSynchronization",
        LineStatus.RUNNING,
        started_on=at(started),
        progressed_on=at(progressed) if progressed is not None else "",
    )


def test_a_running_line_is_stalled_once_its_run_made_no_progress_for_the_setting() -> None:
    line = running("CUSTOMER", started=60, progressed=15)
    assert is_stalled(line, [line], NOW, STALL)  # exactly the setting: stalled
    fresher = replace(line, progressed_on=format_instant(NOW - STALL + timedelta(milliseconds=1)))
    assert not is_stalled(fresher, [fresher], NOW, STALL)
    assert stalled_lines([line], NOW, STALL) == ["CUSTOMER"]


def test_a_line_without_a_progress_stamp_counts_from_its_start() -> None:
    """Lines started before the lease existed carry only their start."""
    assert is_stalled(running("CUSTOMER", started=16), [running("CUSTOMER", started=16)], NOW, STALL)
    assert not is_stalled(running("CUSTOMER", started=14), [running("CUSTOMER", started=14)], NOW, STALL)
    never = ReviewLine("CUSTOMER", "x", LineStatus.RUNNING)
    assert is_stalled(never, [never], NOW, STALL) and last_progress([never]) is None


def test_a_line_waiting_behind_another_lines_chunks_is_not_stalled_while_the_run_moves() -> None:
    """One queue for the whole run: ITEM-PRODUCT's chunks wait behind CUSTOMER's hundreds without progress of their
    own; the run moving is what counts."""
    quiet = running("ITEM-PRODUCT", started=50, progressed=50)
    busy = running("CUSTOMER", started=50, progressed=1)
    assert stalled_lines([quiet, busy], NOW, STALL) == []
    done = replace(busy, status=LineStatus.FINISHED, progressed_on=at(2))  # it finished two minutes ago
    assert stalled_lines([quiet, done], NOW, STALL) == []
    assert stalled_lines([quiet, replace(done, progressed_on=at(20))], NOW, STALL) == ["ITEM-PRODUCT"]
    assert last_progress([quiet, busy]) == NOW - timedelta(minutes=1)


@pytest.mark.parametrize("status", [LineStatus.WAITING, LineStatus.FINISHED, LineStatus.FAILED])
def test_only_running_lines_stall(status: LineStatus) -> None:
    line = replace(running("CUSTOMER", started=90, progressed=90), status=status)
    assert not is_stalled(line, [line], NOW, STALL)


def test_what_a_reader_settles() -> None:
    waiting = ReviewLine("CONTACT", "x")
    going = replace(running("CUSTOMER", started=5), planned=True, chunks_total=3, chunks_done=2)
    assert not needs_settling([going, waiting])  # a line in progress: its own messages move it
    assert not needs_settling([replace(going, planned=False, chunks_done=3)])  # listed only partly
    assert needs_settling([replace(going, chunks_done=3), waiting])  # all counted, never closed
    finished = replace(going, status=LineStatus.FINISHED, chunks_done=3)
    assert needs_settling([replace(finished, hand_over_pending=True), waiting])  # never handed over
    assert needs_settling([finished, waiting])  # nothing running could ever start CONTACT
    assert not needs_settling([finished, replace(waiting, status=LineStatus.FINISHED)])
    assert all_chunks_counted(replace(going, chunks_done=3)) and not all_chunks_counted(going)
    assert all_chunks_counted(replace(going, chunks_total=0, chunks_done=0))  # a line with no records


def test_a_restart_sends_the_stored_chunks_not_yet_counted_of_the_lines_attempt() -> None:
    bitmap = count_chunk(count_chunk("", 1), 3)
    line = replace(running("CUSTOMER", started=30), done_chunks=bitmap, attempt=1)
    chunks = [LineChunk("CUSTOMER", 1, 0, n, "bc", (f"id{n}",)) for n in (4, 1, 2, 3)]
    older = LineChunk("CUSTOMER", 0, 0, 2, "bc", ("old",))
    assert [c.number for c in uncounted(line, [*chunks, older])] == [2, 4]
    assert counted_chunks(bitmap) == {1, 3} and counted_chunks("") == set()


def test_the_default_outlasts_a_chunk_that_runs_to_the_timeout_and_comes_back_after_a_lock() -> None:
    """The figures the default is derived from are the deployment's own (a change there must revisit it)."""
    host = json.loads((ROOT / "host.json").read_text(encoding="utf-8"))
    hours, minutes, seconds = (int(part) for part in host["functionTimeout"].split(":"))
    assert timedelta(hours=hours, minutes=minutes, seconds=seconds) == FUNCTION_TIMEOUT
    renewal = host["extensions"]["serviceBus"]["maxAutoLockRenewalDuration"]
    assert timedelta(minutes=int(renewal.split(":")[1])) < FUNCTION_TIMEOUT
    bicep = (ROOT / "infra" / "app" / "servicebus.bicep").read_text(encoding="utf-8")
    lock = re.search(r"param lockDuration string = 'PT(\d+)M'", bicep)
    assert lock is not None and timedelta(minutes=int(lock.group(1))) == LOCK_DURATION
    assert FUNCTION_TIMEOUT + LOCK_DURATION < DEFAULT_STALL_AFTER == timedelta(minutes=DEFAULT_STALL_MINUTES) == STALL


ENV = {
    "BC_BASE_URL": "https://bc.example/v2.0/t/production",
    "BC_COMPANY": "CRONUS",
    "DATAVERSE_URL": "https://org.crm.dynamics.com",
    "TENANT_ID": "t",
    "CLIENT_ID": "c",
    "CLIENT_SECRET": "s",
    "AzureWebJobsStorage": "UseDevelopmentStorage=true",
}


def test_the_stall_setting_is_read_validated_and_defaulted() -> None:
    assert Settings.from_env(ENV).full_sync_stall_minutes == DEFAULT_STALL_MINUTES
    assert Settings.from_env({**ENV, "FULL_SYNC_STALL_MINUTES": " 3 "}).full_sync_stall_minutes == 3
    for bad in ("0", "abc", "-5", "1441", "2.5"):
        with pytest.raises(SettingsError) as raised:
            Settings.from_env({**ENV, "FULL_SYNC_STALL_MINUTES": bad})
        assert raised.value.problems == ["FULL_SYNC_STALL_MINUTES must be a whole number from 1 to 1440"], bad
        assert full_sync_stall_minutes({"FULL_SYNC_STALL_MINUTES": bad}) == DEFAULT_STALL_MINUTES
    assert full_sync_stall_minutes({"FULL_SYNC_STALL_MINUTES": "1"}) == 1 and full_sync_stall_minutes({}) == 15
