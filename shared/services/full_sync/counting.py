"""Counting on a full-synchronization line: a chunk's counters, the split's total, and the save that closes a line
or moves it to its second phase (pure, but for `save_line`). Kept apart from the fan-out in
`services/full_sync/coordinator.py`.

Why a conditional read-modify-write: the chunks of a line finish on several workers at once and each adds its
counters to the one line row; the save is conditional on the ETag read, so two chunks finishing together cannot lose
each other's counters (the loser reads again and adds on top). The chunk's bit in `done_chunks` makes every other
copy of it (a redelivery, a restart's re-send) count nothing, and a chunk of an older attempt (sent before its line
was re-run whole) counts nothing either. A chunk no longer reads its line before its work (its message carries
what it needs, `messages.chunk_message`), so this save is where both are checked, on the line as stored.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from shared.domain.errors import ConcurrencyError, InvalidInputError
from shared.domain.full_sync import all_chunks_counted, chunk_counted, count_chunk
from shared.domain.records import Counters, LeftUncoupled, LineStatus, ReviewLine
from shared.ports import RunStore
from shared.services.full_sync.chunks import dry_left
from shared.services.full_sync.lines import finished

SAVE_ATTEMPTS = 50  # a line's conditional save, tried again after lost races (many chunks finishing at once)
Change = Callable[[ReviewLine], ReviewLine | None]


def named(lines: Sequence[ReviewLine], run_id: str, name: str) -> ReviewLine:
    for line in lines:
        if line.mapping == name:
            return line
    raise InvalidInputError("unknownLine", f"Run {run_id} has no line for {name}.", field="mapping")


def read_line(runs: RunStore, run_id: str, name: str) -> ReviewLine:
    return named(runs.get_run(run_id)[1], run_id, name)


@dataclass(frozen=True)
class Saved:
    """What `save_line` did: the line it stored (None: `change` found nothing to do) and the line as last seen."""

    stored: ReviewLine | None
    seen: ReviewLine


def save_line(runs: RunStore, run_id: str, line: ReviewLine, change: Change) -> Saved:
    """Apply `change` to `line` (as its caller read it) and store it conditionally on its ETag; on a lost race read
    the line again and apply `change` again. One write when nobody changed the line since it was read."""
    for _ in range(SAVE_ATTEMPTS):
        changed = change(line)
        if changed is None:
            return Saved(None, line)
        try:
            stored = runs.update_line(run_id, changed)
            return Saved(stored, stored)
        except ConcurrencyError:
            line = read_line(runs, run_id, line.mapping)
    raise ConcurrencyError("lineBusy", f"line {line.mapping} of run {run_id} kept changing; try again")


@dataclass(frozen=True)
class Count:
    """What to add to a line: a chunk's counters and what it left uncoupled, and/or the split's total; with neither
    chunk nor total it only closes a line whose chunks are all counted (`settle`). `attempt`: the chunk's, when it
    did its work without reading the line (a chunk of another attempt counts nothing)."""

    chunk: int | None = None
    counters: Counters = field(default_factory=Counters)
    left: LeftUncoupled = field(default_factory=LeftUncoupled)
    total: int | None = None
    attempt: int | None = None


def counted(line: ReviewLine, count: Count, now: str, *, second_phase: bool, dry_coupling: bool) -> ReviewLine | None:
    """The line with `count` added (None: nothing to store). A running line whose chunks are now all counted is
    finished, or moved on to its second phase (`second_phase`: a coupling line that lists Dataverse's rows next);
    a dry coupling line finishes with its Dataverse rows left as the second phase would have found them."""
    chunk = count.chunk
    if chunk is not None and (chunk_counted(line.done_chunks, chunk) or count.attempt not in (None, line.attempt)):
        return None
    if chunk is not None:
        line = replace(
            line,
            counters=line.counters.add(count.counters),
            left=line.left.add(count.left),
            chunks_done=line.chunks_done + 1,
            done_chunks=count_chunk(line.done_chunks, chunk),
            progressed_on=now,
        )
    if count.total is not None:
        line = replace(line, chunks_total=count.total, planned=True, progressed_on=now)
    if all_chunks_counted(line) and line.status is LineStatus.RUNNING:
        if second_phase and line.phase == 0:
            return replace(line, phase=1, planned=False, progressed_on=now)
        if dry_coupling:
            line = replace(line, left=dry_left(line.left, line.counters))
        return finished(line, now)
    return line if chunk is not None or count.total is not None else None
