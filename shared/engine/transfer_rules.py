"""A mapping's state rules (`behaviours.on_transferred`) on the pairs a run compared: BC runs them on the records
it transfers, so the engine runs them on the records it would have transferred, whether or not a field changed.
Most mappings declare none (`RunState.state_sides` is empty) and this costs nothing.
"""

from __future__ import annotations

from shared.domain.coupling import Coupling
from shared.domain.records import Side
from shared.engine.behaviours import hooks as behaviours
from shared.engine.run_state import RunState
from shared.ports import Row


def run_state_rules(
    run: RunState,
    couplings: dict[str, Coupling],
    bc_rows: dict[str, Row],
    dv_rows: dict[str, Row],
    partners: tuple[dict[str, Row], dict[str, Row]] | None,
) -> None:
    """The rules on the records of the pairs compared here that BC would have synchronized as sources: modified
    since their pair's last synchronization (BC transfers those), in the mapping's filter on their side (BC reads
    those), the pair neither skipped nor failed in this run. The candidates were read in the filters. A
    full-synchronization chunk (`partners`: every row it read, by id) synchronizes each pair once for both of its
    sides (the other side's chunk passes over it), so the rows of the other side count too, those still in their
    filter (read again in it)."""
    sides = run.state_sides
    if not sides:
        return
    kept = [c for c in couplings.values() if not c.skipped and not {c.bc_id, c.dataverse_id} & run.failed_now]
    bc_all, dv_all = partners or ({}, {})
    for side, rows, others, scope in (
        (Side.BC, bc_rows, bc_all, run.mapping.bc_filter),
        (Side.DATAVERSE, dv_rows, dv_all, run.mapping.dataverse_filter),
    ):
        if side not in sides:
            continue
        own = [(c, row) for c in kept if (row := rows.get(behaviours.record_id(c, side))) is not None]
        other = [
            (c, row)
            for c in kept
            if behaviours.record_id(c, side) not in rows and (row := others.get(behaviours.record_id(c, side)))
        ]
        for pairs, check_scope in ((own, False), (other, True)):
            changed = [(c, row) for c, row in pairs if behaviours.changed_since_synchronized(c, side, row)]
            failures, _ = behaviours.on_transferred(
                run.context, run.mapping, side, changed, scope, check_scope=check_scope
            )
            for failed_side, record_id, error in failures:
                run.fail(failed_side, record_id, error, None)
