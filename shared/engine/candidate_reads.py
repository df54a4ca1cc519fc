"""Reading a run's candidates from its source (`domain/candidate_sources.py`), each side only when the mapping's
direction reads it:

- `ChangedSince`: each side's changes since its checkpoint, through the side's cursor (`domain/watermarks.py`),
  which drops what the last run read at the same version and remembers what this run read;
- `FailedRecords`: no changes at all;
- `TheseRecords`: the listed records, those still in the mapping's filters;

then, for the sources that retry them, the records whose last sync failed and are not skipped, read by id (in the
filters), changed or not. A mapping whose values are read per run (exchange rates: `ValueMapper.run_dependent`)
compares every BC record on every run but a chunk, so its BC side is read in full.
"""

from __future__ import annotations

from datetime import datetime

from shared.domain.candidate_sources import CandidateSource, TheseRecords
from shared.domain.mapping import Direction
from shared.domain.records import Side
from shared.domain.watermarks import SideCursor
from shared.engine.pair_decisions import CHANGED_IN_BOTH
from shared.engine.run_state import RunState
from shared.ports import Row

Candidates = tuple[dict[str, Row], dict[str, Row]]


def read_candidates(run: RunState, source: CandidateSource, started: datetime) -> Candidates:
    """The source's candidates by id, BC's and Dataverse's; a source that moves the checkpoints gets its cursors
    (`run.cursors`) here, started at the stored checkpoints."""
    if isinstance(source, TheseRecords):
        return _listed(run, source)
    in_full = run.mapper.run_dependent
    if source.moves_checkpoints:
        for side in (Side.BC, Side.DATAVERSE):
            found = run.context.checkpoints.find_checkpoint(run.mapping.name, side)
            whole = in_full and side is Side.BC
            run.cursors[side] = SideCursor.start(run.mapping.name, side, found, started, in_full=whole)
        bc_rows, dv_rows = _changes(run, Side.BC), _changes(run, Side.DATAVERSE)
    else:  # failed records only: nothing changed is read, but the records a per-run value can change
        bc_rows = _read_bc(run, None) if in_full else {}
        dv_rows = {}
    if source.retries_failed:
        _add_failed_records(run, bc_rows, dv_rows)
    return bc_rows, dv_rows


def _reads(run: RunState, direction: Direction) -> bool:
    return run.mapping.direction.allows(direction)


def _read_bc(run: RunState, since: datetime | None) -> dict[str, Row]:
    if not _reads(run, Direction.TO_DATAVERSE):
        return {}
    return {str(row["id"]): row for row in run.bc.changed_since(since)}


def _read_dv(run: RunState, since: datetime | None) -> dict[str, Row]:
    if not _reads(run, Direction.FROM_DATAVERSE):
        return {}
    return {str(row[run.mapping.dataverse_id]): row for row in run.dv.changed_since(since)}


def _changes(run: RunState, side: Side) -> dict[str, Row]:
    """The side's changes since its cursor, without those the last run read at the same version."""
    cursor = run.cursors[side]
    read = _read_bc(run, cursor.reads_from) if side is Side.BC else _read_dv(run, cursor.reads_from)
    return {
        key: row
        for key, row in read.items()
        if cursor.observe(key, str(row.get("@odata.etag", "")), run.modified_on(side, row))
    }


def _listed(run: RunState, source: TheseRecords) -> Candidates:
    bc_ids, dv_ids = source.bc_ids, source.dataverse_ids
    bc_rows = run.bc.get_listed(bc_ids) if bc_ids and _reads(run, Direction.TO_DATAVERSE) else {}
    dv_rows = run.dv.get_listed(dv_ids) if dv_ids and _reads(run, Direction.FROM_DATAVERSE) else {}
    run.work.read_errors()  # the chunk's page knows which records have an error row (one read)
    return bc_rows, dv_rows


def _add_failed_records(run: RunState, bc_rows: dict[str, Row], dv_rows: dict[str, Row]) -> None:
    """Records whose last sync failed (and are not skipped) are retried first, changed or not."""
    listed = run.context.errors.list_errors(run.mapping.name)
    run.work.know(listed)  # which records have an error row, for the unit of work's clears
    failed = [e for e in listed if not e.skipped]
    run.retried = {e.record_id for e in failed}
    run.conflicted = {e.record_id for e in failed if e.code == CHANGED_IN_BOTH}
    bc_ids = [e.record_id for e in failed if e.side is Side.BC and e.record_id not in bc_rows]
    dv_ids = [e.record_id for e in failed if e.side is Side.DATAVERSE and e.record_id not in dv_rows]
    bc_rows.update(run.bc.get_many(bc_ids, in_scope_only=True))
    dv_rows.update(run.dv.get_many(dv_ids, in_scope_only=True))
