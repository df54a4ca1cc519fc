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

Criteria per job (`criteria`, BC's "Match Based Coupling Criteria" page): the fields chosen, each with its priority
and case, replace the mapping's own for this job (`match_rules.chosen_criteria`).

A queued job (`queued_on`: the time its route queued it, the start of its job entry) says how it goes: its entry goes
"running" when it starts, with its counters after matching, after creating and every `PROGRESS_EVERY` pairs it
synchronizes, then "finished", or "failed" with the reason when it raises (Service Bus then delivers it again, and
the next delivery takes the entry back to "running"). Its entry keeps one key throughout (the start time is the
queued time), so each update replaces the last; `services/job_entry.py` moves it, as every queued job's entry.

The coupling log (`keep_log`, `domain/match_log.py`): one entry per BC record the job looked at, written after the
job's couplings and errors, in transactions, under the job id; a redelivery writes the same entries again, with the
pairs its dead predecessor finished (`Matcher.resumed`). A full-sync chunk keeps none (its line counts what it left).

A dry run (`dry_run`) reads exactly what a real run reads and reports what it would couple and create (a created
record with the id the engine would give it), and writes nothing: no coupling, no record, no job log line. Its one
difference: nothing it would couple is claimed for other jobs, so two concurrent jobs could each count the same row.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace

from shared.domain.errors import InvalidInputError, SyncError
from shared.domain.mapping import Direction, TableMapping
from shared.domain.records import SyncJob
from shared.domain.watermarks import format_instant
from shared.engine.context import SyncContext
from shared.services.job_entry import JobEntry
from shared.services.match_report import MatchReport, log_entries
from shared.services.match_rules import Choice, Criterion, as_choices, match_criteria
from shared.services.matcher import Matcher

__all__ = ["Choice", "MatchReport", "check_match_job", "match_and_couple"]


def match_and_couple(
    context: SyncContext,
    mapping_name: str,
    *,
    fields: Sequence[str] | None = None,
    criteria: Sequence[Choice] | None = None,
    create_if_no_match: bool | None = None,
    synchronize_after: bool | None = None,
    job_id: str | None = None,
    bc_ids: Sequence[str] | None = None,
    dry_run: bool = False,
    keep_log: bool = False,
    queued_on: str | None = None,
) -> MatchReport:
    """Couple uncoupled BC records to their unique uncoupled Dataverse match (see the module docstring). The
    options default to the mapping's `create_if_no_match` / `sync_after_coupling`. Raises InvalidInputError for bad
    `fields` or `criteria`, or for create-if-no-match on a mapping that cannot carry data toDataverse. Per-record
    problems are reported, never raised. The job is logged under `job_id`. `bc_ids` limits it to those records (a
    chunk). `dry_run`: report what would be coupled and created, write nothing (see the module docstring).
    `keep_log`: write the coupling log (when the context has a store for it); `queued_on`: a queued job, whose entry
    tells its progress."""
    job_id = job_id or f"match-{uuid.uuid4()}"
    if queued_on is None or dry_run:
        options = _Options(fields, criteria, create_if_no_match, synchronize_after, bc_ids, keep_log)
        return _match(context, mapping_name, job_id, options, dry_run, format_instant(context.clock()))
    progress = _Progress(context, MatchReport(mapping_name, job_id), queued_on)
    try:  # whatever stops it, from a mapping that can no longer run on, is its entry's "failed"
        options = _Options(fields, criteria, create_if_no_match, synchronize_after, bc_ids, keep_log)
        return _match(context, mapping_name, job_id, options, dry_run, queued_on, progress)
    except Exception as error:
        progress.failed(error)
        raise


@dataclass(frozen=True)
class _Options:
    fields: Sequence[str] | None
    criteria: Sequence[Choice] | None
    create_if_no_match: bool | None
    synchronize_after: bool | None
    bc_ids: Sequence[str] | None
    keep_log: bool


def _match(
    context: SyncContext,
    mapping_name: str,
    job_id: str,
    options: _Options,
    dry_run: bool,
    started: str,
    progress: _Progress | None = None,
) -> MatchReport:
    mapping, chosen, create = _prepare(
        context, mapping_name, options.fields, options.criteria, options.create_if_no_match
    )
    report = MatchReport(mapping.name, job_id, dry_run=dry_run)
    matcher = Matcher(context, mapping, report)
    if progress is not None:
        progress.follow(report)
        matcher.progress = progress.running
    return _run(
        context, mapping, matcher, chosen, create, options.synchronize_after, options.bc_ids, options.keep_log,
        started, progress,
    )  # fmt: skip


def check_match_job(
    context: SyncContext,
    mapping_name: str,
    *,
    fields: Sequence[str] | None = None,
    criteria: Sequence[Choice] | None = None,
    create_if_no_match: bool | None = None,
) -> tuple[Choice, ...]:
    """What a job queued with these options would refuse, refused now (the same errors as `match_and_couple`), and
    its criteria as the queue message carries them: `fields` become one priority, each field with its own case."""
    _mapping, chosen, _create = _prepare(context, mapping_name, fields, criteria, create_if_no_match)
    return as_choices(chosen)


def _prepare(
    context: SyncContext,
    mapping_name: str,
    fields: Sequence[str] | None,
    criteria: Sequence[Choice] | None,
    create_if_no_match: bool | None,
) -> tuple[TableMapping, list[Criterion], bool]:
    mapping = context.runnable(mapping_name)
    chosen = match_criteria(mapping, fields, criteria)
    create = mapping.create_if_no_match if create_if_no_match is None else create_if_no_match
    if create and not mapping.direction.allows(Direction.TO_DATAVERSE):
        raise InvalidInputError(
            "directionNotAllowed", f"{mapping.name} cannot create records in Dataverse.", field="createIfNoMatch"
        )
    return mapping, chosen, create


def _run(
    context: SyncContext,
    mapping: TableMapping,
    matcher: Matcher,
    criteria: Sequence[Criterion],
    create: bool,
    synchronize_after: bool | None,
    bc_ids: Sequence[str] | None,
    keep_log: bool,
    started: str,
    progress: _Progress | None = None,
) -> MatchReport:
    report, dry_run = matcher.report, matcher.report.dry_run
    tell = progress.running if progress is not None else (lambda: None)
    tell()
    pending = matcher.uncoupled_bc_records(bc_ids)
    if not dry_run:
        matcher.work.read_errors()  # which records have an error row: one read, before anything is written
    matcher.match(criteria, pending)
    if not dry_run:
        matcher.write()  # the pairs, before any record is created
        tell()
    if create:
        matcher.create([*pending.values(), *matcher.unfinished.values()])
    else:
        matcher.unmatched(list(pending))
    report.names = {
        bc_id: name for bc_id, (_number, name) in matcher.labels.items() if name and bc_id in matcher.examined
    }
    if dry_run:
        return report
    matcher.write()  # the created records' completions, before they are synchronized
    tell()
    if synchronize_after if synchronize_after is not None else mapping.sync_after_coupling:
        matcher.synchronize(report.coupled)
    matcher.record_errors()
    finished = format_instant(context.clock())
    if keep_log and context.match_log is not None:
        context.match_log.write_entries(report.job_id, log_entries(report, matcher.labels, matcher.resumed, finished))
    note = f"{len(report.unmatched)} without a unique uncoupled match, {len(report.failed)} failed"
    entry = progress.entry if progress is not None else JobEntry(context, SyncJob(mapping.name, report.job_id, started))
    entry.finish(note, report.counters(), finished)
    return report


class _Progress:
    """A queued job's entry as the job goes (module docstring, `job_entry`): one key, each update replacing the last,
    with the counters of the report the job is writing (`follow`) and no message while running."""

    def __init__(self, context: SyncContext, report: MatchReport, started: str) -> None:
        self.report = report
        self.entry = JobEntry(context, SyncJob(report.mapping, report.job_id, started))

    def follow(self, report: MatchReport) -> None:
        self.report = report
        self.entry.job = replace(self.entry.job, mapping=report.mapping)

    def running(self) -> None:
        self.entry.progress("", self.report.counters())

    def failed(self, error: Exception) -> None:
        reason = (
            f"{error.code}: {error.message}" if isinstance(error, SyncError) else f"{type(error).__name__}: {error}"
        )
        self.entry.fail(reason, self.report.counters())
