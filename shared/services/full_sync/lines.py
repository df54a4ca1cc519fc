"""How a full-synchronization review line changes (pure transitions), and how a finished line hands its mapping
over to the incremental runs. Kept apart from the fan-out in `services/full_sync/coordinator.py` so each stays
readable."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import replace

from shared.domain.errors import ConcurrencyError, InvalidInputError
from shared.domain.full_sync import Recommendation
from shared.domain.records import Checkpoint, LineStatus, ReviewLine, Side
from shared.domain.watermarks import after_full_sync
from shared.engine.context import SyncContext

SIDES = (Side.BC, Side.DATAVERSE)
OVERRIDABLE = frozenset({r.value for r in Recommendation} - {Recommendation.DEPENDENCY_NOT_SATISFIED.value})


def hand_over(context: SyncContext, line: ReviewLine) -> None:
    """A finished line hands its mapping to the incremental runs: their checkpoints move up to the moment the
    line started (never back), so the next timer run reads what changed since, not the whole table again (BC
    sets the mapping's modified-on filter after a full synchronization the same way).

    Both sides in one transaction (a mapping's two rows share a partition): first as new rows (a first full
    synchronization finds none: one request), else read both and move those that are older (two requests); when
    an incremental run moved one meanwhile, side by side, and the moved one keeps its place."""
    if not line.started_on:
        return
    store = context.checkpoints
    with contextlib.suppress(ConcurrencyError):  # one of them is stored already
        store.save_checkpoints([Checkpoint(line.mapping, side, line.started_on) for side in SIDES])
        return
    found = store.find_checkpoints(line.mapping)
    moves = [moved for side in SIDES if (moved := _moved(line, side, found.get(side))) is not None]
    with contextlib.suppress(ConcurrencyError):  # moved meanwhile: each side on its own below
        store.save_checkpoints(moves)
        return
    for side in SIDES:
        checkpoint = _moved(line, side, store.find_checkpoint(line.mapping, side))
        if checkpoint is not None:
            with contextlib.suppress(ConcurrencyError):  # an incremental run moved it meanwhile: its place wins
                store.save_checkpoint(checkpoint)


def _moved(line: ReviewLine, side: Side, found: Checkpoint | None) -> Checkpoint | None:
    """The side's checkpoint moved up to the line's start, or None when it is there or later already (the rule:
    `domain/watermarks.py`)."""
    return after_full_sync(found, line.mapping, side, line.started_on)


def overridden(lines: list[ReviewLine], overrides: Mapping[str, str]) -> list[ReviewLine]:
    """The lines with the administrator's recommendations (BC's Full Synch. Review, before Start): any line of the
    run may take fullSynchronization, coupleRecords or noRecords; a refusal names `recommendations.<mapping>`.
    Wider than BC's page, which offers only "Recommend Full Synchronization" on a Couple Records line
    (CRMFullSynchReview.Page.al): the same rules as when planning with `recommendations`, which took all three."""
    names = {line.mapping for line in lines}
    for name, value in overrides.items():
        where = f"recommendations.{name}"
        if name not in names:
            raise InvalidInputError("notInRun", f"{name} takes no part in this run.", field=where)
        if value not in OVERRIDABLE:
            allowed = ", ".join(sorted(OVERRIDABLE))
            raise InvalidInputError("invalidValue", f"'{value}' is not one of {allowed}.", field=where)
    return [replace(line, recommendation=overrides.get(line.mapping, line.recommendation)) for line in lines]


def reset(line: ReviewLine) -> ReviewLine | None:
    """A failed or stalled line starts again from nothing under a new attempt (older attempts' chunks are stale):
    for a line that never started (its dependency failed), and for a line started before splits were stored, whose
    chunks cannot be re-sent one by one (`full_sync_recovery.Recovery.restart` decides)."""
    if line.status not in (LineStatus.FAILED, LineStatus.RUNNING):
        return None
    return ReviewLine(line.mapping, line.recommendation, etag=line.etag, attempt=line.attempt + 1)


def running(line: ReviewLine, now: str) -> ReviewLine | None:
    if line.status is not LineStatus.WAITING:
        return None
    return replace(line, status=LineStatus.RUNNING, started_on=now, progressed_on=now, stores_chunks=True)


def resumed(line: ReviewLine, now: str) -> ReviewLine | None:
    """A failed or stalled line goes on where it stopped: same attempt (so late deliveries of its first messages
    still count, once), its counters and counted chunks kept, a new lease, and one more restart for the message ids
    of what is sent again (Service Bus would drop a re-send under the first id as a duplicate for 10 minutes)."""
    if line.status not in (LineStatus.RUNNING, LineStatus.FAILED) or not line.started_on:
        return None
    return replace(
        line, status=LineStatus.RUNNING, error="", finished_on="", progressed_on=now, restarts=line.restarts + 1
    )


def progressed(line: ReviewLine, now: str) -> ReviewLine | None:
    return replace(line, progressed_on=now) if line.status is LineStatus.RUNNING else None


def finished(line: ReviewLine, now: str) -> ReviewLine:
    """Closed, with its hand-over pending until the checkpoints moved and its dependents started (`FullSync.start`
    clears it), so a worker dying in between leaves a mark any reader can finish from."""
    return replace(
        line,
        status=LineStatus.FINISHED,
        started_on=line.started_on or now,
        finished_on=now,
        progressed_on=now,
        hand_over_pending=True,
    )


def failed(line: ReviewLine, reason: str, now: str) -> ReviewLine | None:
    if line.status in (LineStatus.FINISHED, LineStatus.FAILED):
        return None
    return replace(line, status=LineStatus.FAILED, error=reason, finished_on=now)
