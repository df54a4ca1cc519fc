"""The watermark rules (shared/domain/watermarks.py), pure: a side's cursor from start to next, one rule per test.

The last test of the boundary rules was a contract test of two Dataverse client helpers (`dedupe_boundary`,
`advance_boundary`) the engine never called; they are deleted and their claims are proven here, on the rules the
engine does use (versions, not ids, so a record written twice in one second is never dropped).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.domain.candidate_sources import (
    CHANGED_SINCE,
    FAILED_RECORDS,
    ChangedSince,
    FailedRecords,
    TheseRecords,
)
from shared.domain.records import Checkpoint, Side
from shared.domain.watermarks import (
    DEFAULT_OVERLAP,
    MAX_BOUNDARY,
    SideCursor,
    after_full_sync,
    format_instant,
    version_key,
)

M = "CUSTOMER"
STARTED = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
MARK = "2026-11-25T11:00:00.000Z"


def at(hour: int, minute: int = 0, second: int = 0) -> str:
    return format_instant(datetime(2026, 11, 25, hour, minute, second, tzinfo=UTC))


def cursor(checkpoint: Checkpoint | None = None, *, in_full: bool = False) -> SideCursor:
    return SideCursor.start(M, Side.BC, checkpoint, STARTED, in_full=in_full)


def stored(watermark: str | None = MARK, *remembered: str, etag: str | None = "W/1") -> Checkpoint:
    return Checkpoint(M, Side.BC, watermark, tuple(remembered), etag=etag)


# -- start: where the read begins ----------------------------------------------------------------------------------
def test_a_side_never_read_reads_everything_and_keeps_what_it_reads() -> None:
    fresh = cursor(None)
    assert fresh.since is None and fresh.reads_from is None
    assert fresh.observe("a", "e1", at(10)) and fresh.observe("b", "e1", at(11))
    moved = fresh.next()
    assert moved == Checkpoint(M, Side.BC, at(11), (version_key("b", "e1"),))
    assert moved is not None and moved.etag is None  # inserted, not updated


def test_the_read_starts_an_overlap_before_the_watermark() -> None:
    mark = cursor(stored(MARK))
    assert timedelta(seconds=5) == DEFAULT_OVERLAP
    assert mark.since == datetime(2026, 11, 25, 10, 59, 55, tzinfo=UTC) == mark.reads_from


def test_a_side_read_in_full_reads_everything_passes_nothing_over_and_still_moves() -> None:
    whole = cursor(stored(MARK, version_key("a", "e1")), in_full=True)
    assert whole.reads_from is None and whole.since == datetime(2026, 11, 25, 10, 59, 55, tzinfo=UTC)
    assert whole.observe("a", "e1", MARK)  # read at the remembered version, and still looked at
    assert whole.observe("b", "e1", at(11, 30))
    moved = whole.next()
    assert moved is not None and moved.watermark == at(11, 30) and moved.boundary_ids == (version_key("b", "e1"),)


# -- observe: same-instant ties and re-reads -----------------------------------------------------------------------
def test_a_record_read_again_at_the_version_already_read_is_passed_over() -> None:
    again = cursor(stored(MARK, version_key("a", "e1")))
    assert not again.observe("a", "e1", MARK)


def test_a_record_written_again_in_the_same_second_is_read_again() -> None:
    again = cursor(stored(MARK, version_key("a", "e1")))
    assert again.observe("a", "e2", MARK)  # a new ETag: a new write, whatever its timestamp says


def test_a_record_at_the_watermark_that_was_not_read_then_is_kept() -> None:
    """Written later in the watermark's own second (or committed late): not among the versions remembered."""
    tie = cursor(stored(MARK, version_key("a", "e1")))
    assert tie.observe("b", "e1", MARK)


def test_ties_at_the_watermark_are_all_remembered_and_the_old_ones_kept_while_in_the_window() -> None:
    tie = cursor(stored(MARK, version_key("z", "e1")))
    assert not tie.observe("z", "e1", MARK)  # read again: passed over, and still remembered
    assert tie.observe("a", "e1", MARK) and tie.observe("b", "e1", MARK)
    moved = tie.next()
    assert moved is not None and moved.watermark == MARK
    assert moved.boundary_ids == tuple(sorted(version_key(i, "e1") for i in "abz"))


def test_only_versions_from_the_new_window_start_on_are_remembered() -> None:
    later = cursor(stored(MARK))
    later.observe("old", "e1", at(11, 10, 0))  # 10 min before the new watermark: outside its window
    later.observe("edge", "e1", at(11, 19, 55))  # exactly the window's start: the closed bound reads it again
    later.observe("new", "e1", at(11, 20, 0))
    moved = later.next()
    assert moved is not None and moved.watermark == at(11, 20)
    assert moved.boundary_ids == (version_key("edge", "e1"), version_key("new", "e1"))


def test_past_the_cap_nothing_is_remembered_and_the_next_run_reads_them_again() -> None:
    bulk = cursor(stored(MARK))
    for n in range(MAX_BOUNDARY + 1):
        bulk.observe(f"r{n:05}", "e1", at(11, 30))
    moved = bulk.next()
    assert moved is not None and moved.watermark == at(11, 30) and moved.boundary_ids == ()
    assert cursor(moved).observe("r00000", "e1", at(11, 30))
    capped = cursor(stored(MARK))
    for n in range(MAX_BOUNDARY):
        capped.observe(f"r{n:05}", "e1", at(11, 30))
    kept = capped.next()
    assert kept is not None and len(kept.boundary_ids) == MAX_BOUNDARY


def test_a_record_read_without_a_modified_on_moves_nothing_and_is_not_remembered() -> None:
    """Page web services have no `lastModifiedDateTime`: their records are read in full on every run."""
    pages = cursor(stored(MARK))
    assert pages.observe("p", "e1", None)
    assert pages.next() is None
    assert cursor(None).observe("p", "e1", None) and cursor(None).next() is None


# -- fail: transient failures hold the watermark back --------------------------------------------------------------
def test_a_transient_failure_holds_the_watermark_at_its_record() -> None:
    held = cursor(stored(MARK))
    held.observe("ok", "e1", at(11, 40))
    held.observe("bad", "e1", at(11, 20))
    held.fail("bad", at(11, 20))
    moved = held.next()
    assert moved is not None and moved.watermark == at(11, 20)
    assert moved.boundary_ids == (version_key("ok", "e1"),)  # read again from 11:19:55 and passed over
    following = cursor(moved)
    assert following.observe("bad", "e1", at(11, 20)) and not following.observe("ok", "e1", at(11, 40))


def test_a_failed_record_is_never_remembered_as_read() -> None:
    held = cursor(stored(MARK))
    held.observe("ok", "e1", at(11, 30))
    held.observe("bad", "e1", at(11, 30))
    held.fail("bad", at(11, 30))
    moved = held.next()
    assert moved is not None and moved.watermark == at(11, 30)
    assert moved.boundary_ids == (version_key("ok", "e1"),)
    assert cursor(moved).observe("bad", "e1", at(11, 30))  # the next run looks at it again


def test_the_earliest_failure_holds_the_watermark() -> None:
    held = cursor(stored(MARK))
    for record_id, minute in (("a", 50), ("b", 30), ("c", 40)):
        held.observe(record_id, "e1", at(11, minute))
        held.fail(record_id, at(11, minute))
    moved = held.next()
    assert moved is not None and moved.watermark == at(11, 30)


def test_a_failure_never_moves_the_watermark_back() -> None:
    held = cursor(stored(MARK))
    held.observe("late", "e1", at(10, 59, 58))  # committed late, inside the overlap, before the watermark
    held.fail("late", at(10, 59, 58))
    held.observe("ok", "e1", at(11, 30))
    moved = held.next()
    assert moved is not None and moved.watermark == MARK  # held, not moved back


def test_a_failure_of_a_record_not_read_by_changes_still_holds_the_watermark() -> None:
    """A record read by id (a failed record retried, the other side of a pair) that fails transiently."""
    held = cursor(stored(MARK))
    held.observe("ok", "e1", at(11, 30))
    held.fail("partner", at(11, 10))
    moved = held.next()
    assert moved is not None and moved.watermark == at(11, 10)


def test_a_failure_without_a_modified_on_holds_nothing_back_but_its_record() -> None:
    held = cursor(stored(MARK))
    held.observe("ok", "e1", at(11, 30))
    held.observe("bad", "e1", at(11, 30))
    held.fail("bad", None)
    moved = held.next()
    assert moved is not None and moved.watermark == at(11, 30)
    assert moved.boundary_ids == (version_key("ok", "e1"),)


# -- next: forward only, capped at the run's start, saved only when it moved -------------------------------------
def test_an_empty_read_leaves_the_checkpoint_where_it_is() -> None:
    assert cursor(stored(MARK)).next() is None
    assert cursor(None).next() is None


def test_an_empty_read_forgets_remembered_versions_that_did_not_come_back() -> None:
    """They were inside the window and were not read again: gone from the source or from the mapping's filter."""
    moved = cursor(stored(MARK, version_key("a", "e1"))).next()
    assert moved == stored(MARK)


def test_a_read_of_what_was_read_already_leaves_the_checkpoint_where_it_is() -> None:
    same = cursor(stored(MARK, version_key("a", "e1")))
    assert not same.observe("a", "e1", MARK)
    assert same.next() is None


def test_the_watermark_never_moves_back() -> None:
    back = cursor(stored(MARK))
    back.observe("a", "e1", at(10, 59, 57))  # inside the overlap: committed late
    moved = back.next()
    assert moved is not None and moved.watermark == MARK  # the version is remembered, the watermark stays
    assert moved.boundary_ids == (version_key("a", "e1"),)


def test_the_watermark_never_passes_the_run_start_and_a_clock_ahead_is_caught_by_the_overlap() -> None:
    """A source whose clock runs ahead of ours stamps records after our run began: the watermark stops at the
    start (a record modified during the run may not have been read), the record is remembered, and the next run
    reads it again through the overlap and passes over it until it is written again."""
    ahead = cursor(stored(MARK))
    future = format_instant(STARTED + timedelta(seconds=3))
    ahead.observe("a", "e1", future)
    moved = ahead.next()
    assert moved is not None and moved.watermark == format_instant(STARTED)
    assert moved.boundary_ids == (version_key("a", "e1"),)
    following = SideCursor.start(M, Side.BC, moved, STARTED + timedelta(minutes=5))
    assert following.since is not None and following.since <= STARTED + timedelta(seconds=3)
    assert not following.observe("a", "e1", future) and following.observe("a", "e2", future)


def test_a_clock_behind_is_read_within_the_overlap() -> None:
    """A record stamped up to the overlap before the watermark (a clock behind ours, a late commit) is read."""
    behind = cursor(stored(MARK))
    assert behind.since is not None
    assert behind.since <= datetime(2026, 11, 25, 10, 59, 56, tzinfo=UTC)


def test_the_saved_checkpoint_is_conditional_on_the_one_read() -> None:
    moved_on = cursor(stored(MARK, etag="W/7"))
    moved_on.observe("a", "e1", at(11, 30))
    moved = moved_on.next()
    assert moved is not None and moved.etag == "W/7" and moved.mapping == M and moved.side is Side.BC


def test_watermarks_are_written_in_one_format() -> None:
    odd = cursor(stored("2026-11-25T11:00:00Z"))  # an older format, read as the same instant
    odd.observe("a", "e1", "2026-11-25T11:30:00+00:00")
    moved = odd.next()
    assert moved is not None and moved.watermark == "2026-11-25T11:30:00.000Z"


# -- the hand-over of a full synchronization -----------------------------------------------------------------------
def test_a_full_sync_hands_over_at_the_line_start_and_never_back() -> None:
    line_started = at(11, 30)
    assert after_full_sync(None, M, Side.DATAVERSE, line_started) == Checkpoint(M, Side.DATAVERSE, line_started)
    behind = stored(MARK, version_key("a", "e1"), etag="W/3")
    assert after_full_sync(behind, M, Side.BC, line_started) == Checkpoint(M, Side.BC, line_started, (), etag="W/3")
    assert after_full_sync(stored(line_started), M, Side.BC, line_started) is None
    assert after_full_sync(stored(at(11, 45)), M, Side.BC, line_started) is None
    assert after_full_sync(stored(None), M, Side.BC, line_started) == Checkpoint(M, Side.BC, line_started, etag="W/1")


# -- the candidate sources -----------------------------------------------------------------------------------------
def test_only_the_incremental_run_moves_checkpoints_and_a_chunk_retries_no_failed_records() -> None:
    assert isinstance(CHANGED_SINCE, ChangedSince) and isinstance(FAILED_RECORDS, FailedRecords)
    assert (CHANGED_SINCE.moves_checkpoints, CHANGED_SINCE.retries_failed) == (True, True)
    assert (FAILED_RECORDS.moves_checkpoints, FAILED_RECORDS.retries_failed) == (False, True)
    chunk = TheseRecords.of(["b1", "b2"], [])
    assert (chunk.moves_checkpoints, chunk.retries_failed) == (False, False)
    assert chunk == TheseRecords(("b1", "b2"), ()) and hash(chunk) == hash(TheseRecords(("b1", "b2")))
