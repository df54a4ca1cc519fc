"""Which coupled pairs a run compares, besides the couplings its candidates already have: uncoupled candidates that
are one pair by the identity rule are coupled again (`adopt_identity_pairs`), and a full-synchronization chunk
leaves the pairs its run synchronized already (`not_done_by_run`), so that every pair is counted once per run.
"""

from __future__ import annotations

from shared.domain.coupling import Coupling
from shared.engine.identity import adopt, former_pairs, identity_pairs
from shared.engine.run_state import RunState
from shared.ports import Row


def adopt_identity_pairs(
    run: RunState,
    bc_rows: dict[str, Row],
    dv_rows: dict[str, Row],
    by_bc: dict[str, Coupling],
    by_dv: dict[str, Coupling],
) -> dict[str, Coupling]:
    """Couple the uncoupled candidates that are each other's deterministic partner, or whose former partner (BC's
    Delete Coupling) is, when that partner still exists (`identity`). Their first comparison takes the side that
    came in as changed; both changed is a conflict for the mapping's policy, as for any pair."""
    uncoupled_bc = [key for key in bc_rows if key not in by_bc]
    uncoupled_dv = [key for key in dv_rows if key not in by_dv]
    pairs = identity_pairs(run.mapping.name, uncoupled_bc, uncoupled_dv)
    paired_dv = set(pairs.values())
    former = former_pairs(
        run.context,
        run.mapping.name,
        [b for b in uncoupled_bc if b not in pairs],
        [x for x in uncoupled_dv if x not in paired_dv],
    )
    if former:
        existing_bc = run.bc.get_many([b for b in former if b not in bc_rows])
        existing_dv = run.dv.get_many([x for x in former.values() if x not in dv_rows])
        pairs.update(
            {
                b: x
                for b, x in former.items()
                if (b in bc_rows or b in existing_bc) and (x in dv_rows or x in existing_dv)
            }
        )
    adopted = adopt(run.context, run.mapping.name, pairs)
    run.adopted.update(adopted)
    run.counters.coupled += len(adopted)
    return adopted


def not_done_by_run(run: RunState, couplings: dict[str, Coupling], prefix: str) -> dict[str, Coupling]:
    """A chunk of a full synchronization leaves the pairs this run has synchronized already: another chunk's (the
    other side's list holds the same pair), or this chunk's own earlier delivery that died before it was counted.
    The latter's pairs are counted now, once, since the line counts each chunk once (its bit in `done_chunks`)
    and the dead delivery's counters were lost: its creations as inserted, the rest as unchanged (whether it had
    written them cannot be told afterwards; the total is exact either way)."""
    kept: dict[str, Coupling] = {}
    for bc_id, coupling in couplings.items():
        jobs = (coupling.bc.last_job_id or "", coupling.dataverse.last_job_id or "")
        if coupling.creating is None and coupling.values_hash and any(j.startswith(prefix) for j in jobs):
            if coupling.created_by == run.job_id:
                run.counters.inserted += 1
                run.counters.coupled += 1
            elif run.job_id in jobs:
                run.counters.unchanged += 1
            continue
        kept[bc_id] = coupling
    return kept
