"""Deciding one coupled pair in a run: both sides' mapped values, the stored per-field hashes (`domain/changes.py`)
and the mapping's conflict policy say what goes where; an unchanged pair is remembered when its coupling must
follow (so the next run can pass over it), a conflict is a record error, and the rest becomes a `Pending` write
(`engine/pair_writes.py`).

Why hints: a pair with no stored hashes (coupled by matching, or interrupted while being created) cannot tell from
its values which side changed; `change_hints` says which, the way BC's first synchronization after coupling does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.domain.changes import Outcome, decide, decode_hashes, encode_hashes, field_hashes
from shared.domain.coupling import Coupling, SyncResult
from shared.domain.errors import SyncError
from shared.domain.mapping import ConflictPolicy, TableMapping
from shared.domain.records import Side
from shared.engine.candidates import etag_of, needs_versions
from shared.engine.deletions import handle_missing
from shared.engine.outcomes import final_values, save_synchronized
from shared.engine.run_state import RunState
from shared.ports import Row

CHANGED_IN_BOTH = "changedInBothApps"


@dataclass
class Pending:
    """A pair decided for writing: the fields to send each way and the values both sides hold afterwards."""

    coupling: Coupling
    bc_row: Row
    dv_row: Row
    values: dict[str, Any]
    to_dv: tuple[str, ...]
    to_bc: tuple[str, ...]


def change_hints(
    mapping: TableMapping, coupling: Coupling, bc_changed: dict[str, Row], dv_changed: dict[str, Row]
) -> tuple[bool, bool]:
    """Which side changed, when the coupling has no stored values to tell (it was never synchronized, e.g. coupled
    by matching without "synchronize after"). Like BC's first synchronization after bulk coupling, the conflict
    policy picks the initial source: Dataverse when it wins, else BC (BC's own run sends BC -> Sales first). Once
    synchronized, the stored hashes decide and these hints are not used. A pair the engine was creating when it was
    interrupted (its coupling written, the follow-up not) takes its source: the record it was created from."""
    if coupling.creating is not None and decode_hashes(coupling.values_hash) is None:
        return coupling.source_side is Side.BC, coupling.source_side is Side.DATAVERSE
    if decode_hashes(coupling.values_hash) is None and coupling.bc.last_result is SyncResult.NONE:
        dataverse_first = mapping.conflict_policy is ConflictPolicy.DATAVERSE_WINS
        return not dataverse_first, dataverse_first
    return coupling.bc_id in bc_changed, coupling.dataverse_id in dv_changed


def decide_pair(
    run: RunState,
    coupling: Coupling,
    bc_all: dict[str, Row],
    dv_all: dict[str, Row],
    bc_changed: dict[str, Row],
    dv_changed: dict[str, Row],
) -> Pending | None:
    """The pair's write, or None when nothing is to be written (skipped, a side missing, unchanged, failed)."""
    if coupling.skipped:
        run.counters.skipped += 1
        return None
    bc_row, dv_row = bc_all.get(coupling.bc_id), dv_all.get(coupling.dataverse_id)
    if bc_row is None or dv_row is None:
        handle_missing(run.creator, coupling, bc_row, dv_row, run.counters)
        return None
    bc_values = run.mapper.from_bc(bc_row)
    if bc_values.failures:
        run.fail(Side.BC, coupling.bc_id, next(iter(bc_values.failures.values())), bc_row)
        return None
    dv_values = run.mapper.from_dataverse(dv_row)
    run.mapper.align(bc_values.values, dv_values.values)
    bc_hint, dv_hint = change_hints(run.mapping, coupling, bc_changed, dv_changed)
    if coupling.bc_id in run.adopted:  # coupled again this run: the side that came in is the one that changed
        bc_hint, dv_hint = coupling.bc_id in bc_changed, coupling.dataverse_id in dv_changed
    if coupling.values_hash is None and {coupling.bc_id, coupling.dataverse_id} & run.conflicted:
        # a conflict with no stored values stays one until someone chooses (Synchronize Now): the next run must
        # not let the policy's initial source settle it silently
        bc_hint = dv_hint = True
    decision = decide(
        run.mapper.rules(),
        bc_values.values,
        dv_values.values,
        decode_hashes(coupling.values_hash),
        table_direction=run.mapping.direction,
        policy=run.mapping.conflict_policy,
        bc_changed_hint=bc_hint,
        dataverse_changed_hint=dv_hint,
    )
    if decision.outcome is Outcome.CONFLICT:
        fields = ", ".join(decision.conflicting)
        error = SyncError(
            CHANGED_IN_BOTH,
            f"The record was changed in both apps since the last sync "
            f"({fields}); choose which side to keep with Synchronize Now.",
        )
        run.fail(Side.BC, coupling.bc_id, error, bc_row)
        return None
    values = final_values(decision, bc_values.values, dv_values.values)
    if decision.outcome is Outcome.UNCHANGED:
        run.tally(coupling, "unchanged")
        _remember_unchanged(run, coupling, values, bc_row, dv_row)
        return None
    return Pending(coupling, bc_row, dv_row, values, decision.to_dataverse, decision.to_bc)


def _remember_unchanged(run: RunState, coupling: Coupling, values: dict[str, Any], bc_row: Row, dv_row: Row) -> None:
    """Save an unchanged pair when it was never synchronized (or was skipped), when both sides moved to the
    same values (the stored hashes must follow, or a later revert on one side would read as the other side's
    change), or when its recorded versions are stale, so that the next run passes over it without a read."""
    fresh = decode_hashes(coupling.values_hash) is None or coupling.skipped or coupling.creating is not None
    moved = coupling.values_hash != encode_hashes(field_hashes(values))
    if not (fresh or moved or needs_versions(coupling, bc_row, dv_row)):
        return
    save_synchronized(
        run.context,
        coupling,
        values,
        bc_modified=run.bc.modified_on(bc_row),
        dv_modified=run.dv.modified_on(dv_row),
        job_id=run.job_id,
        bc_version=etag_of(bc_row),
        dv_version=etag_of(dv_row),
        clear_errors=fresh or coupling.bc_id in run.retried or coupling.dataverse_id in run.retried,
        work=run.work,
    )
