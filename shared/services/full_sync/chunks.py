"""What one full-synchronization chunk does with its ids, by the line's recommendation (kept apart from
`services/full_sync/coordinator.py`, which counts the result on the line exactly once).

Why a `coupleRecords` line creates only what the mapping's "create new if unable to find a match" says: that line is
BC's "Couple Records" recommendation, which runs match-based coupling of BC's uncoupled records (CDS Int. Table
Couple with the full-sync flag) and nothing else. Its unmatched records are created in Dataverse only when the
mapping creates (never for CUSTOMER or CONTACT by default), and Dataverse's uncoupled rows are never copied to BC by
that line. So the second phase of such a line only counts the Dataverse rows left uncoupled, for the review: copying
them is a `fullSynchronization` line's job, or the user's choice record by record.

A `fullSynchronization` line's chunk runs the mapping's state rules (`engine/behaviours/states.py`) on the pairs it
synchronizes (`MappingRun.run_records`): BC's full synchronization transfers the coupled records in the mapping's
filters that changed since their last synchronization, with the same subscribers as any run. So with the default
filters an unblocked item publishes its retired product, while an inactive account, a retired product or a blocked
item is not read and its rule does not run (an incremental run's own query does that); a filter that admits them
lets the chunk apply their rules. A `coupleRecords` line only couples: it runs no rule. A dry run runs none either.

A dry run (`SyncRun.dry_run`) reads what the real chunk would read and writes nothing: a coupling chunk reports what
it would couple and create (`match_and_couple(dry_run=True)`); a copying chunk (a `fullSynchronization` line, or an
option mapping) is estimated from the couplings alone, each uncoupled record counted as one that would be created
(or, for an option mapping, coupled by its label or created) and each coupled one as compared (`unchanged`: whether
it differs is not computed).
"""

from __future__ import annotations

from collections.abc import Sequence

from shared.domain.full_sync import Recommendation
from shared.domain.mapping import Direction, TableMapping
from shared.domain.records import Counters, LeftUncoupled
from shared.engine.context import SyncContext
from shared.engine.mapping_run import MappingRun
from shared.engine.option_runs import is_option_mapping, run_option_mapping
from shared.services.matching import match_and_couple

Outcome = tuple[Counters, LeftUncoupled]


def chunk_work(
    context: SyncContext,
    mapping: TableMapping,
    mode: object,
    side_bc: bool,
    ids: Sequence[str],
    job_id: str,
    *,
    dry_run: bool,
) -> Outcome:
    """The chunk's counters and what it left uncoupled (see the module docstring). A redelivered chunk returns the
    same figures: `match_and_couple` counts its dead predecessor's pairs (same `job_id`) once."""
    name = mapping.name
    couple = mode == Recommendation.COUPLE_RECORDS.value
    if is_option_mapping(mapping):  # matching, creating and relabelling options are one and the same run
        if dry_run:
            return estimate(context, name, side_bc, ids), LeftUncoupled()
        return run_option_mapping(context, name, bc_ids=ids, job_id=job_id).counters, LeftUncoupled()
    if couple and not side_bc:
        coupled = context.couplings.find_many_by_dataverse_ids(name, ids)
        return Counters(), LeftUncoupled(dataverse_only=len(set(ids) - set(coupled)))
    if couple:
        create = mapping.create_if_no_match and mapping.direction.allows(Direction.TO_DATAVERSE)
        report = match_and_couple(context, name, job_id=job_id, bc_ids=ids, create_if_no_match=create, dry_run=dry_run)
        return report.counters(), report.left()  # a redelivery counts its dead predecessor's pairs once
    if dry_run:
        return estimate(context, name, side_bc, ids), LeftUncoupled()
    run = MappingRun(context, mapping, job_id)
    return run.run_records(ids if side_bc else [], [] if side_bc else ids).counters, LeftUncoupled()


def estimate(context: SyncContext, name: str, side_bc: bool, ids: Sequence[str]) -> Counters:
    store = context.couplings
    coupled = store.find_many_by_bc_ids(name, ids) if side_bc else store.find_many_by_dataverse_ids(name, ids)
    return Counters(inserted=len(set(ids) - set(coupled)), unchanged=len(coupled))


def dry_left(line_left: LeftUncoupled, counters: Counters) -> LeftUncoupled:
    """A dry coupling line's Dataverse rows left: its second phase counted every uncoupled row, including those the
    first phase would have coupled (one distinct row per pair it would couple; created rows are new ones)."""
    would_couple = counters.coupled - counters.inserted
    return LeftUncoupled(
        line_left.no_match,
        line_left.several_matches,
        line_left.match_coupled,
        max(0, line_left.dataverse_only - would_couple),
    )
