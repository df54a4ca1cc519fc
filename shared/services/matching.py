"""Match-based coupling (BC's "Match-Based Coupling"): couple each uncoupled BC record in the mapping's BC filter
to the one uncoupled Dataverse row in its Dataverse filter that holds the same values in the match fields.

Rules, as BC has them. Criteria come in priorities, lowest first. All fields of one priority must match, and the next
priority is tried only when no row was found, or only one that is coupled to another record. An empty BC value is
not used, so a priority whose values are all empty is skipped. Text is compared without case unless the field is
`case_sensitive_match`. Dataverse's `eq` ignores case, so for such a field the rows returned are checked again
exactly. One uncoupled row: couple. Several rows, coupled or not: `severalMatches`, and nothing is coupled, because
a guess could couple the wrong pair (BC counts every row that matches, coupled ones included). Such a record is never
created either, since that would add one more duplicate. One row, coupled to another record: `matchCoupled`. None:
`noMatch`. Those two are created in Dataverse when create-if-no-match is on (as BC does with its unmatched records).
`fields` (field keys or BC field names) replaces the mapping's criteria with one criterion, all of whose fields must
match, as BC treats criteria fields left at the same priority.

Cost per priority: one Dataverse query for every 20 BC records (an `or` of their criteria) and one coupling read
for the rows found. There is never one query per record. The job's writes are collected and written in transactions
(`services/matcher.py`): the pairs 50 to a transaction, the created records' completions 100 to one, the errors
from one read of the mapping's errors.

The modules: this one runs a job; `match_rules.py` holds the rules without I/O (criteria, keys, directions),
`matcher.py` the job's reads and writes, `match_report.py` what it reports.

A dry run (`dry_run`) reads exactly what a real run reads and reports what it would couple and create (a created
record with the id the engine would give it), and writes nothing: no coupling, no record, no job log line. Its one
difference: nothing it would couple is claimed for other jobs, so two concurrent jobs could each count the same row.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from shared.domain.errors import InvalidInputError
from shared.domain.mapping import Direction
from shared.domain.records import SyncJob
from shared.domain.watermarks import format_instant
from shared.engine.context import SyncContext
from shared.services.match_report import MatchReport
from shared.services.match_rules import match_criteria
from shared.services.matcher import Matcher

__all__ = ["MatchReport", "match_and_couple"]


def match_and_couple(
    context: SyncContext,
    mapping_name: str,
    *,
    fields: Sequence[str] | None = None,
    create_if_no_match: bool | None = None,
    synchronize_after: bool | None = None,
    job_id: str | None = None,
    bc_ids: Sequence[str] | None = None,
    dry_run: bool = False,
) -> MatchReport:
    """Couple uncoupled BC records to their unique uncoupled Dataverse match (see the module docstring). The
    options default to the mapping's `create_if_no_match` / `sync_after_coupling`. Raises InvalidInputError for bad
    `fields`, or for create-if-no-match on a mapping that cannot carry data toDataverse. Per-record problems are
    reported, never raised. The job is logged under `job_id`. `bc_ids` limits it to those records (a chunk).
    `dry_run`: report what would be coupled and created, write nothing (see the module docstring)."""
    mapping = context.runnable(mapping_name)
    criteria = match_criteria(mapping, fields)
    create = mapping.create_if_no_match if create_if_no_match is None else create_if_no_match
    if create and not mapping.direction.allows(Direction.TO_DATAVERSE):
        raise InvalidInputError(
            "directionNotAllowed", f"{mapping.name} cannot create records in Dataverse.", field="createIfNoMatch"
        )
    started = context.clock()
    report = MatchReport(mapping.name, job_id or f"match-{uuid.uuid4()}", dry_run=dry_run)
    matcher = Matcher(context, mapping, report)
    pending = matcher.uncoupled_bc_records(bc_ids)
    if not dry_run:
        matcher.work.read_errors()  # which records have an error row: one read, before anything is written
    matcher.match(criteria, pending)
    if not dry_run:
        matcher.write()  # the pairs, before any record is created
    if create:
        matcher.create([*pending.values(), *matcher.unfinished.values()])
    else:
        matcher.unmatched(list(pending))
    if dry_run:
        return report
    matcher.write()  # the created records' completions, before they are synchronized
    if synchronize_after if synchronize_after is not None else mapping.sync_after_coupling:
        matcher.synchronize(report.coupled)
    matcher.record_errors()
    counters = report.counters()
    note = f"{len(report.unmatched)} without a unique uncoupled match, {len(report.failed)} failed"
    finished = format_instant(context.clock())
    context.jobs.record_job(
        SyncJob(mapping.name, report.job_id, format_instant(started), finished, "finished", counters, note)
    )
    return report
