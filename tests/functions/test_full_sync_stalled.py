"""No stuck runs (issue 17): a full synchronization whose messages are lost (the host killed mid-run and the queue
purged, so nothing is replayed) shows its line `stalled` once the run made no progress for FULL_SYNC_STALL_MINUTES,
`/api/health` warns naming the run and the line, the incremental timer no longer waits for it, and `restart` finishes
it exactly: each chunk counted once (also when the first messages come back late), every record once on each side,
the checkpoints handed over at the line's start.

Real parts: the registered functions over the emulators and Azurite (`tests/functions/conftest.py`), the in-memory
queue with Service Bus semantics. Time is moved by the context's clock, never slept.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from local.fakes.queue import Envelope, InMemoryJobQueue, LockedMessage, to_function_message
from shared.domain.full_sync import counted_chunks
from shared.domain.jobs import JobMessage
from shared.domain.records import LineStatus, ReviewLine, Side, SyncJob
from shared.engine.context import SyncContext
from shared.mappings import run_list
from shared.services import scheduled_runs
from shared.services.full_sync import coordinator as full_sync_module
from shared.services.full_sync import splitting
from shared.services.full_sync.coordinator import FullSync
from shared.storage.tables import TableFactory
from shared.triggers import health
from shared.triggers.timers import SYNC_SCHEDULE, run_scheduled_mappings
from tests.functions.conftest import FUNCTIONS, Api

pytestmark = pytest.mark.integration
SYNC_JOB = FUNCTIONS["sync_job"].get_user_function()
RUN = ["UNIT GROUP", "ITEM UOM"]  # 9 and 6 BC records copied to Dataverse: 5 and 3 chunks of 2; ITEM UOM waits
BOTH_WAYS = list(run_list("CUSTOMER", "CONTACT"))  # with what they depend on (SALESPEOPLE ...); CONTACT: 2 phases
STALL_MINUTES = 5
LATER = timedelta(minutes=STALL_MINUTES, seconds=1)


@dataclass
class Clock:
    """Real time plus an offset the test moves (the context's clock: the review, the timer, health, the lines)."""

    offset: timedelta = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


@pytest.fixture
def clock(api: Api, azurite: str, monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The moved clock, a short stall setting, small chunks, and the storage probe health asks in Azure."""
    moved = Clock()
    monkeypatch.setattr(api.services.context, "clock", moved)
    monkeypatch.setattr(full_sync_module, "CHUNK_RECORDS", 2)  # several chunks per line on the demo data
    monkeypatch.setattr(health, "CACHE_SECONDS", 0.0)
    api.services.environment = {**api.services.environment, "FULL_SYNC_STALL_MINUTES": str(STALL_MINUTES)}
    api.services.storage = TableFactory.from_connection_string(azurite, prefix=f"h{uuid.uuid4().hex[:12]}")
    return moved


def queue_of(api: Api) -> InMemoryJobQueue:
    queue = api.services.queue
    assert isinstance(queue, InMemoryJobQueue)
    return queue


def deliver(queue: InMemoryJobQueue, until: Callable[[], bool] = lambda: False) -> None:
    """Deliver as the host does (complete on success, abandon on an exception) until `until()` or the queue is
    empty."""
    while not until() and (locked := queue.receive(max_messages=1)):
        message = locked[0]
        try:
            SYNC_JOB(to_function_message(message))
        except Exception:
            queue.abandon(message.lock_token)
            continue
        queue.complete(message.lock_token)


def kill_host(queue: InMemoryJobQueue) -> list[Envelope]:
    """The host dies and its messages are gone: everything left on the queue is taken off without being worked on
    (returned, for a test that delivers some of them late)."""
    lost: list[Envelope] = []
    while locked := queue.receive(max_messages=10):
        for message in locked:
            lost.append(message.envelope)
            queue.complete(message.lock_token)
    assert queue.active_messages() == [] and queue.scheduled_messages() == []
    return lost


def deliver_late(envelope: Envelope) -> None:
    """A first message that comes back after the restart (a delivery the purge did not catch)."""
    now = datetime.now(UTC)
    SYNC_JOB(to_function_message(LockedMessage(envelope, "late", 2, now + timedelta(minutes=1), 0, now)))


def line(api: Api, run_id: str, name: str) -> ReviewLine:
    _, lines = api.services.runs.get_run(run_id)
    return next(ln for ln in lines if ln.mapping == name)


def review_lines(api: Api, run_id: str) -> dict[str, dict[str, object]]:
    status, review = api.call("get_full_sync", route={"runId": run_id})
    assert status == 200, review
    return {entry["mapping"]: entry for entry in review["lines"]}


def start(api: Api, mappings: Sequence[str] = tuple(RUN)) -> str:
    status, review = api.call("start_full_sync", "POST", {"mappings": list(mappings)})
    assert status == 202, review
    return str(review["runId"])


def counted(api: Api, run_id: str, at_least: int, name: str = "UNIT GROUP") -> Callable[[], bool]:
    def done() -> bool:
        found = line(api, run_id, name)
        return found.status is LineStatus.RUNNING and found.chunks_done >= at_least

    return done


def records(api: Api, name: str) -> tuple[list[str], list[str]]:
    """Every id of the mapping's records on BC's side and on Dataverse's."""
    mapping = api.services.context.mapping(name)
    context = api.services.context
    bc = [i for page in context.bc.list_ids(mapping.bc_entity_set, mapping.bc_filter) for i in page]
    dv_pages = context.dataverse.list_ids(mapping.dataverse_entity_set, mapping.dataverse_filter)
    dv = [i for page in dv_pages for i in page]
    return bc, dv


def assert_exact(api: Api, run_id: str, before: dict[str, tuple[list[str], list[str]]] | None = None) -> None:
    """Finished; every chunk counted once; each coupling one-to-one between records that exist, the counters equal
    to what was done; the checkpoints handed over at each line's start. With `before` (the run's records before it
    started), also: every BC record of RUN coupled once, and the unit groups created once each in Dataverse."""
    run, lines = api.services.runs.get_run(run_id)
    assert run.status == "finished", [(ln.mapping, ln.status, ln.error) for ln in lines]
    for ln in lines:
        assert ln.status is LineStatus.FINISHED and not ln.hand_over_pending, ln
        assert ln.chunks_done == ln.chunks_total == len(counted_chunks(ln.done_chunks)), ln
        assert counted_chunks(ln.done_chunks) == set(range(1, ln.chunks_total + 1)), ln
        couplings = list(api.services.context.couplings.list_couplings(ln.mapping))
        assert ln.counters.coupled == len(couplings), ln  # nothing was coupled before: no chunk counted twice
        assert len({c.bc_id for c in couplings}) == len({c.dataverse_id for c in couplings}) == len(couplings)
        for side in (Side.BC, Side.DATAVERSE):
            found = api.services.context.checkpoints.find_checkpoint(ln.mapping, side)
            assert found is not None and found.watermark == ln.started_on, (ln.mapping, side, found)
        if before is None or ln.mapping not in before:
            continue
        bc_ids, dv_ids = records(api, ln.mapping)
        assert {c.bc_id for c in couplings} == set(bc_ids) == set(before[ln.mapping][0])  # each BC record once
        assert {c.dataverse_id for c in couplings} <= set(dv_ids)
        assert ln.counters.inserted == len(couplings), ln  # Dataverse had none of them
    if before:  # each unit group made once in Dataverse (which makes a base unit per group itself: uoms differ)
        made = len(records(api, "UNIT GROUP")[1]) - len(before["UNIT GROUP"][1])
        assert made == line(api, run_id, "UNIT GROUP").counters.inserted == 9


def snapshot(api: Api) -> dict[str, tuple[list[str], list[str]]]:
    return {name: records(api, name) for name in RUN}


def test_a_run_whose_messages_are_lost_stalls_warns_and_a_restart_finishes_it_exactly(api: Api, clock: Clock) -> None:
    before = snapshot(api)
    queue = queue_of(api)
    run_id = start(api)
    deliver(queue, until=counted(api, run_id, 2))
    kill_host(queue)
    groups = line(api, run_id, "UNIT GROUP")
    assert groups.planned and 2 <= groups.chunks_done < groups.chunks_total == 5

    lines = review_lines(api, run_id)
    assert (lines["UNIT GROUP"]["status"], lines["ITEM UOM"]["status"]) == ("running", "waiting")  # not stalled yet
    status, answer = api.call("restart_full_sync", "POST", route={"runId": run_id})
    assert (status, answer["error"]["code"]) == (400, "nothingToRestart")  # a line still in its lease is left alone
    status, health = api.call("health")
    assert health["checks"]["fullSync"] == {"ok": True, "stallAfterMinutes": STALL_MINUTES}
    assert "fullSync" not in health.get("warnings", [])

    clock.offset = LATER
    lines = review_lines(api, run_id)
    assert (lines["UNIT GROUP"]["status"], lines["ITEM UOM"]["status"]) == ("stalled", "waiting")
    assert lines["UNIT GROUP"]["lastProgressOn"] == groups.progressed_on
    status, health = api.call("health")
    assert status == 200 and health["status"] == "healthy" and health["warnings"] == ["fullSync"], health
    assert health["checks"]["fullSync"]["ok"] is False
    assert health["checks"]["fullSync"]["stalled"] == [
        {"runId": run_id, "mapping": "UNIT GROUP", "lastProgressOn": groups.progressed_on}
    ]

    status, review = api.call("restart_full_sync", "POST", route={"runId": run_id})
    assert status == 202, review
    assert [entry["status"] for entry in review["lines"]] == ["running", "waiting"]
    missing = set(range(1, 6)) - counted_chunks(groups.done_chunks)
    sent = {envelope.message_id for envelope in queue.active_messages()}
    assert sent == {f"{run_id}/UNIT GROUP/{n}/s1" for n in missing}  # exactly the chunks not yet counted
    deliver(queue)
    assert_exact(api, run_id, before)
    assert line(api, run_id, "UNIT GROUP").attempt == 0  # it went on: not re-run whole
    status, health = api.call("health")
    assert health["checks"]["fullSync"]["ok"] is True and "fullSync" not in health.get("warnings", []), health


def test_late_first_messages_and_their_re_sent_copies_count_once_between_them(api: Api, clock: Clock) -> None:
    before = snapshot(api)
    queue = queue_of(api)
    run_id = start(api)
    deliver(queue, until=counted(api, run_id, 1))
    lost = kill_host(queue)
    assert len(lost) == 4  # UNIT GROUP's chunks 2 to 5
    clock.offset = LATER
    status, _ = api.call("restart_full_sync", "POST", route={"runId": run_id})
    assert status == 202

    early, late = lost[0], lost[1:]
    number = int(early.message_id.rsplit("/", 1)[1])
    deliver_late(early)  # a first message beats its re-sent copy: it counts (it is not stale) ...
    groups = line(api, run_id, "UNIT GROUP")
    assert number in counted_chunks(groups.done_chunks) and groups.chunks_done == 2
    deliver(queue)  # ... and its copy counts nothing; the other copies count
    for envelope in late:  # the other first messages come back after their copies: they count nothing
        deliver_late(envelope)
    assert_exact(api, run_id, before)


def test_a_split_killed_between_storing_and_sending_goes_on_where_it_stopped(
    api: Api, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(splitting, "SEND_BATCH", 2)
    before = snapshot(api)
    queue = queue_of(api)
    real_send = queue.send
    killed = {"done": False}

    def dies_sending_chunk_3(messages: Sequence[JobMessage], *, delay: timedelta | None = None) -> None:
        if not killed["done"] and any(m.message_id == f"{m.payload['runId']}/UNIT GROUP/3" for m in messages):
            killed["done"] = True
            raise RuntimeError("host killed")  # chunks 3 and 4 are stored, never sent
        real_send(messages, delay=delay)

    monkeypatch.setattr(queue, "send", dies_sending_chunk_3)
    run_id = start(api)
    deliver(queue, until=lambda: killed["done"])
    kill_host(queue)  # chunks 1 and 2 were sent: gone too
    stored = api.services.runs.list_chunks(run_id, "UNIT GROUP", 0)
    assert not line(api, run_id, "UNIT GROUP").planned and [c.number for c in stored] == [1, 2, 3, 4]

    clock.offset = LATER
    assert review_lines(api, run_id)["UNIT GROUP"]["status"] == "stalled"
    api.call("restart_full_sync", "POST", route={"runId": run_id})
    assert [e.message_id for e in queue.active_messages()] == [f"{run_id}/UNIT GROUP/0/s1"]  # the split goes on
    deliver(queue)
    assert_exact(api, run_id, before)
    chunks = api.services.runs.list_chunks(run_id, "UNIT GROUP", 0)
    assert [c.number for c in chunks] == [1, 2, 3, 4, 5] and chunks[:4] == stored  # stored ids never change
    ids = [i for c in chunks for i in c.ids]
    assert len(ids) == len(set(ids)) == 9  # the split listed only what no stored chunk held


def test_a_second_phase_whose_split_was_lost_stalls_and_a_restart_sends_it(api: Api, clock: Clock) -> None:
    """CONTACT couples BC's records (phase 0), then copies Dataverse's still uncoupled ones (phase 1): the host dies
    right after phase 0's last chunk moved the line on, before phase 1's split ran."""
    queue = queue_of(api)
    run_id = start(api, BOTH_WAYS)
    deliver(queue, until=lambda: line(api, run_id, "CONTACT").phase == 1)
    kill_host(queue)
    contact = line(api, run_id, "CONTACT")
    assert contact.status is LineStatus.RUNNING and not contact.planned
    phase_0 = api.services.runs.list_chunks(run_id, "CONTACT", 0, phase=0)
    assert contact.chunks_done == contact.chunks_total == len(phase_0) > 0

    clock.offset = LATER
    assert review_lines(api, run_id)["CONTACT"]["status"] == "stalled"
    api.call("restart_full_sync", "POST", route={"runId": run_id})
    assert [e.message_id for e in queue.active_messages()] == [f"{run_id}/CONTACT/0/p1/s1"]
    deliver(queue)
    assert_exact(api, run_id)
    chunks = api.services.runs.list_chunks(run_id, "CONTACT", 0)
    assert [c.number for c in chunks] == list(range(1, len(chunks) + 1)) and chunks[: len(phase_0)] == phase_0
    assert {c.side for c in chunks[len(phase_0) :]} == {"dv"} and len(chunks) > len(phase_0)


def test_a_line_done_whose_finishing_message_was_lost_is_handed_over_by_the_timer(
    api: Api, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last chunk was counted and closed the line, then the host died before the checkpoints moved and ITEM UOM
    started: the next timer tick finishes it, without a restart."""
    before = snapshot(api)
    queue = queue_of(api)
    real_start = FullSync.start
    died = {"done": False}

    def dies_after_closing_groups(self: FullSync, run_id: str) -> list[str]:
        groups = line(api, run_id, "UNIT GROUP")
        if not died["done"] and groups.status is LineStatus.FINISHED and groups.hand_over_pending:
            died["done"] = True
            raise RuntimeError("host killed")
        return real_start(self, run_id)

    monkeypatch.setattr(FullSync, "start", dies_after_closing_groups)
    ran: list[str] = []

    def incremental_run(context: SyncContext, name: str, **options: Any) -> SyncJob:  # the timer's runs: its choice
        ran.append(name)
        return SyncJob(name, f"job-{name}", "2025-01-01T00:00:00.000Z", status="finished")

    monkeypatch.setattr(scheduled_runs, "run_mapping", incremental_run)  # where the timer's loop calls it
    run_id = start(api)
    deliver(queue, until=lambda: died["done"])
    kill_host(queue)
    groups = line(api, run_id, "UNIT GROUP")
    assert groups.status is LineStatus.FINISHED and groups.hand_over_pending
    assert line(api, run_id, "ITEM UOM").status is LineStatus.WAITING
    assert api.services.context.checkpoints.find_checkpoint("UNIT GROUP", Side.BC) is None
    assert review_lines(api, run_id)["UNIT GROUP"]["status"] == "finished"  # nothing for an admin to restart

    outcomes = run_scheduled_mappings(SYNC_SCHEDULE)  # the timer settles the run first
    assert line(api, run_id, "ITEM UOM").status is LineStatus.RUNNING, outcomes
    assert outcomes["ITEM UOM"].startswith("skipped") and "ITEM UOM" not in ran, outcomes  # its line holds it now
    assert "UNIT GROUP" in ran and not line(api, run_id, "UNIT GROUP").hand_over_pending
    deliver(queue)
    assert_exact(api, run_id, before)


def test_a_stalled_line_no_longer_holds_the_incremental_timer_back(api: Api, clock: Clock) -> None:
    queue = queue_of(api)
    run_id = start(api)
    deliver(queue, until=counted(api, run_id, 1))
    kill_host(queue)
    chunk_jobs = api.services.context.jobs.list_jobs("UNIT GROUP")
    outcomes = run_scheduled_mappings(SYNC_SCHEDULE)
    assert outcomes["UNIT GROUP"] == "skipped: its full synchronization line is running", outcomes
    assert api.services.context.jobs.list_jobs("UNIT GROUP") == chunk_jobs  # no incremental run

    clock.offset = LATER
    outcomes = run_scheduled_mappings(SYNC_SCHEDULE)
    assert outcomes["UNIT GROUP"].startswith("finished"), outcomes
    assert len(api.services.context.jobs.list_jobs("UNIT GROUP")) == len(chunk_jobs) + 1
    assert review_lines(api, run_id)["UNIT GROUP"]["status"] == "stalled"  # still there for an admin to restart


def test_a_stalled_line_started_before_chunks_were_stored_is_re_run_whole(api: Api, clock: Clock) -> None:
    """A line an older version started has no stored chunks to re-send: its restart re-runs it under a new attempt,
    and the old attempt's messages, should they come back, count nothing."""
    queue = queue_of(api)
    run_id = start(api)
    deliver(queue, until=counted(api, run_id, 1))
    old = kill_host(queue)
    api.services.runs.update_line(run_id, replace(line(api, run_id, "UNIT GROUP"), stores_chunks=False))
    clock.offset = LATER
    status, review = api.call("restart_full_sync", "POST", route={"runId": run_id})
    assert status == 202, review
    assert [e.message_id for e in queue.active_messages()] == [f"{run_id}/UNIT GROUP/0/r1"]
    deliver(queue)
    for envelope in old:
        deliver_late(envelope)
    run, _ = api.services.runs.get_run(run_id)
    groups = line(api, run_id, "UNIT GROUP")
    assert run.status == "finished" and groups.attempt == 1 and groups.stores_chunks
    assert groups.chunks_done == groups.chunks_total == len(counted_chunks(groups.done_chunks)) == 5
    couplings = list(api.services.context.couplings.list_couplings("UNIT GROUP"))
    assert len({c.bc_id for c in couplings}) == len({c.dataverse_id for c in couplings}) == len(couplings) == 9


def test_chunks_faster_than_their_split_still_start_the_second_phase(
    api: Api, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every phase-0 chunk of CONTACT is done before its split records the total: the split's own write moves the
    line on, so the split sends phase 1's split (the line used to stay running with nothing left to move it)."""
    queue = queue_of(api)
    real_send = queue.send

    def chunks_run_at_once(messages: Sequence[JobMessage], *, delay: timedelta | None = None) -> None:
        real_send(messages, delay=delay)
        for message in messages:  # another worker takes each chunk the moment it is sent
            if message.payload.get("mapping") == "CONTACT" and message.payload.get("chunk") != 0:
                deliver_late(Envelope.of_job(message))

    monkeypatch.setattr(queue, "send", chunks_run_at_once)
    run_id = start(api, BOTH_WAYS)
    deliver(queue)
    assert_exact(api, run_id)
    contact = line(api, run_id, "CONTACT")
    assert contact.phase == 1 and {c.phase for c in api.services.runs.list_chunks(run_id, "CONTACT", 0)} == {0, 1}


def test_a_dead_letter_of_a_chunk_a_re_sent_copy_counted_does_not_fail_the_line(api: Api, clock: Clock) -> None:
    """The first message of a chunk kept failing somewhere and was dead-lettered after the restart's copy counted
    the chunk: nothing to record. A chunk nobody counted still fails the line, as before."""
    queue = queue_of(api)
    run_id = start(api)
    deliver(queue, until=counted(api, run_id, 1))
    kill_host(queue)
    clock.offset = LATER
    api.call("restart_full_sync", "POST", route={"runId": run_id})
    deliver(queue, until=counted(api, run_id, 2))
    groups = line(api, run_id, "UNIT GROUP")
    done, waiting = sorted(counted_chunks(groups.done_chunks))[-1], 5
    assert waiting not in counted_chunks(groups.done_chunks)
    full_sync = FullSync(api.services.context, api.services.runs, api.services.queue)
    full_sync.record_dead_letter(run_id, "UNIT GROUP", done, 0, "MaxDeliveryCountExceeded")
    full_sync.fail_chunk(run_id, "UNIT GROUP", done, RuntimeError("worker died"))
    assert line(api, run_id, "UNIT GROUP").status is LineStatus.RUNNING
    full_sync.record_dead_letter(run_id, "UNIT GROUP", waiting, 0, "MaxDeliveryCountExceeded")
    failed = line(api, run_id, "UNIT GROUP")
    assert failed.status is LineStatus.FAILED and "chunk 5 dead-lettered" in failed.error


def test_a_line_whose_stored_chunks_do_not_cover_its_total_is_re_run_whole(api: Api, clock: Clock) -> None:
    """Cannot happen when every chunk is stored before it is sent; should a row be lost anyway, the restart does
    not guess which ids it held: the line runs again from nothing."""
    queue = queue_of(api)
    run_id = start(api)
    deliver(queue, until=counted(api, run_id, 1))
    kill_host(queue)
    table = api.services.runs._table  # type: ignore[attr-defined]  # losing a row on purpose
    table.delete_entity(f"{run_id}|chunks", "UNIT GROUP|0|0|0000005")
    clock.offset = LATER
    status, _ = api.call("restart_full_sync", "POST", route={"runId": run_id})
    assert status == 202
    assert [e.message_id for e in queue.active_messages()] == [f"{run_id}/UNIT GROUP/0/r1"]
    deliver(queue)
    assert_exact(api, run_id)
    assert line(api, run_id, "UNIT GROUP").attempt == 1
