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
for the rows found. There is never one query per record.

A dry run (`dry_run`) reads exactly what a real run reads and reports what it would couple and create (a created
record with the id the engine would give it), and writes nothing: no coupling, no record, no job log line. Its one
difference: nothing it would couple is claimed for other jobs, so two concurrent jobs could each count the same row.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from itertools import groupby
from typing import Any

from shared.domain.coupling import Coupling
from shared.domain.errors import ConflictError, InvalidInputError, SyncError
from shared.domain.mapping import ConflictPolicy, Direction, FieldMapping, TableMapping
from shared.domain.records import Counters, LeftUncoupled, Side, SyncJob
from shared.domain.transforms import EMPTY_GUID, normalize, transform_named
from shared.domain.watermarks import format_instant
from shared.engine.behaviours import hooks as behaviours
from shared.engine.context import SyncContext
from shared.engine.identity import is_identity_pair
from shared.engine.lookups import LookupFailed
from shared.engine.outcomes import record_failure
from shared.engine.sides import deterministic_id
from shared.engine.values import read_name
from shared.ports import Row
from shared.services.coupling import MappingTools, dependency_message
from shared.services.synchronize import synchronize_record

RECORDS_PER_QUERY = 20  # an `or` of 20 criteria keeps the URL far below Dataverse's limit
Wanted = tuple[Any, ...]  # per criterion field: the value to find in Dataverse, None when not used


@dataclass(frozen=True)
class Matched:
    bc_id: str
    dataverse_id: str
    priority: int | None  # None: created in Dataverse because nothing matched


@dataclass(frozen=True)
class Unmatched:
    bc_id: str
    reason: str  # "noMatch" | "severalMatches" | "matchCoupled" (the one match is coupled to another record)
    count: int


@dataclass(frozen=True)
class MatchFailure:
    bc_id: str
    code: str  # e.g. dependencyNotCoupled, alreadyCoupled (a race), a create or sync error
    message: str


@dataclass
class MatchReport:
    mapping: str
    job_id: str
    examined: int = 0  # uncoupled BC records in the filter
    coupled: list[Matched] = field(default_factory=list)
    created: list[Matched] = field(default_factory=list)
    unmatched: list[Unmatched] = field(default_factory=list)
    failed: list[MatchFailure] = field(default_factory=list)
    synchronized: list[str] = field(default_factory=list)  # BC ids synchronized after coupling
    dry_run: bool = False  # what would be coupled and created: nothing was written
    # pairs this job made in an earlier delivery that died before its chunk was counted (a full-sync chunk's job id
    # is the same on every delivery): counted once now, since the line counts each chunk once
    resumed_created: int = 0
    resumed_coupled: int = 0

    def as_dict(self) -> dict[str, Any]:
        """The API's JSON shape (camelCase keys)."""
        shape: dict[str, Any] = _camel(asdict(self))
        return shape

    def counters(self) -> Counters:
        created = len(self.created) + self.resumed_created
        return Counters(
            inserted=created,
            coupled=len(self.coupled) + self.resumed_coupled + created,
            failed=len(self.failed) + len(self.unmatched),
            modified=len(self.synchronized),
        )

    def left(self) -> LeftUncoupled:
        """The BC records left uncoupled, by reason, for the full-sync review line."""
        reasons = [u.reason for u in self.unmatched]
        return LeftUncoupled(
            no_match=reasons.count("noMatch"),
            several_matches=reasons.count("severalMatches"),
            match_coupled=reasons.count("matchCoupled"),
        )


def _camel(value: Any) -> Any:
    if isinstance(value, dict):
        return {re.sub(r"_([a-z])", lambda m: m.group(1).upper(), k): _camel(v) for k, v in value.items()}
    return [_camel(v) for v in value] if isinstance(value, list) else value


@dataclass(frozen=True)
class Criterion:
    priority: int
    fields: tuple[FieldMapping, ...]


def match_criteria(mapping: TableMapping, fields: Sequence[str] | None = None) -> list[Criterion]:
    """The criteria by priority. InvalidInputError (field `fields`): an unknown field, or none at all."""
    if fields is None:
        by_priority = groupby(mapping.match_fields(), key=lambda f: f.match_priority or 0)
        criteria = [Criterion(priority, tuple(group)) for priority, group in by_priority]
    else:
        enabled = [f for f in mapping.fields if f.enabled]
        picked: list[FieldMapping] = []
        for name in fields:
            found = [f for f in enabled if name in (f.key, f.bc_field)]
            if not found:
                raise InvalidInputError("unknownMatchField", f"{mapping.name} has no field '{name}'.", field="fields")
            picked += [f for f in found if f not in picked]
        criteria = [Criterion(0, tuple(picked))] if picked else []
    if not criteria:
        raise InvalidInputError("noMatchFields", f"{mapping.name} has no match fields: give `fields`.", field="fields")
    for f in (f for c in criteria for f in c.fields):
        if not f.bc_field or not f.dataverse_field:
            raise InvalidInputError("notMatchable", f"Field '{f.key}' is a constant: it cannot match.", field="fields")
    return criteria


def sync_directions(mapping: TableMapping) -> tuple[Direction, ...]:
    """Where a newly matched pair is synchronized. A one-way mapping goes its own way. With bcWins the pair goes
    toDataverse, and with dataverseWins fromDataverse. With none or merge it goes toDataverse first (BC's two-way
    values win, since the coupling was started from the BC records), then fromDataverse for the Dataverse-only
    fields, if any. This follows BC's "None -> both"."""
    if mapping.direction is not Direction.BIDIRECTIONAL:
        return (mapping.direction,)
    if mapping.conflict_policy is ConflictPolicy.BC_WINS:
        return (Direction.TO_DATAVERSE,)
    if mapping.conflict_policy is ConflictPolicy.DATAVERSE_WINS:
        return (Direction.FROM_DATAVERSE,)
    from_only = any(f.direction is Direction.FROM_DATAVERSE for f in mapping.fields if f.enabled)
    return (Direction.TO_DATAVERSE, Direction.FROM_DATAVERSE) if from_only else (Direction.TO_DATAVERSE,)


def odata_literal(value: Any, *, guid: bool = False) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if guid or isinstance(value, int | float | Decimal):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def _used(values: Wanted) -> tuple[bool, ...]:
    return tuple(value is not None for value in values)


def _key(fields: Sequence[FieldMapping], values: Sequence[Any], used: tuple[bool, ...]) -> tuple[Any, ...]:
    """What two records must share to match: per used field the canonical value, case-folded unless the field is
    case-sensitive (a lookup's id is compared without case)."""
    key: list[Any] = [used]
    for f, value, is_used in zip(fields, values, used, strict=True):
        canonical = normalize(value) if is_used else None
        case_blind = f.lookup is not None or not f.case_sensitive_match
        key.append(canonical.casefold() if isinstance(canonical, str) and case_blind else canonical)
    return tuple(key)


class Matcher:
    def __init__(self, context: SyncContext, mapping: TableMapping, report: MatchReport) -> None:
        self.context, self.mapping, self.report = context, mapping, report
        self.tools = MappingTools(context, mapping)
        self.claimed: set[str] = set()
        self.unfinished: dict[str, Row] = {}  # this job's claims an earlier delivery left (see `_resume`)
        self.match_coupled: set[str] = set()  # BC ids whose one match is coupled to another record
        self.examined: set[str] = set()  # the uncoupled BC records this job looked at
        self.transient: set[str] = set()  # BC ids whose failure was transient: retried, never a record error

    def uncoupled_bc_records(self, bc_ids: Sequence[str] | None = None) -> dict[str, Row]:
        """The uncoupled BC records in the filter (all, or these ids: one full-sync chunk, in `list_ids`' order)
        whose lookups are coupled (the others are reported as failed)."""
        if bc_ids is None:
            rows = {str(row["id"]): row for row in self.tools.bc.changed_since(None)}
        else:
            rows = self.tools.bc.get_listed(bc_ids) if bc_ids else {}
        rows = behaviours.without_excluded(self.context, self.mapping, rows)  # e.g. the write-in item
        self.tools.mapper.prefetch(rows.values(), ())
        coupled = self.context.couplings.find_many_by_bc_ids(self.mapping.name, rows)
        self._resume(coupled, rows)
        pending: dict[str, Row] = {}
        for bc_id, row in ((bc_id, row) for bc_id, row in rows.items() if bc_id not in coupled):
            self.report.examined += 1
            self.examined.add(bc_id)
            if missing := self.tools.missing_bc_dependencies(row):
                self.report.failed.append(MatchFailure(bc_id, "dependencyNotCoupled", dependency_message(missing)))
            else:
                pending[bc_id] = row
        return pending

    def _resume(self, coupled: dict[str, Coupling], rows: dict[str, Row]) -> None:
        """What this job's earlier delivery did before it died: its finished pairs are counted, its unfinished
        creations (a claim whose record may not exist yet) are finished by `create`."""
        for bc_id, coupling in coupled.items():
            if coupling.created_by != self.report.job_id:
                continue
            if coupling.creating is not None:
                self.unfinished[bc_id] = rows[bc_id]
            elif is_identity_pair(self.mapping.name, bc_id, coupling.dataverse_id):
                self.report.resumed_created += 1
            else:
                self.report.resumed_coupled += 1

    def wanted(self, criterion: Criterion, row: Row) -> Wanted:
        """The BC record's values in Dataverse's terms: through the transform, or the coupled id for a lookup."""
        values: list[Any] = []
        for f in criterion.fields:
            raw, value = row.get(f.bc_field or ""), None
            if raw not in ("", None, EMPTY_GUID) and f.lookup is not None:
                with contextlib.suppress(LookupFailed):
                    value = self.tools.mapper.resolver.to_dataverse_id(
                        f.lookup, self.tools.mapper.bc_lookup_value(f, row)
                    )
            elif raw not in ("", None, EMPTY_GUID):
                value = transform_named(f.transform, self.context.option_maps).to_dataverse(raw)
            values.append(None if isinstance(value, str) and not value.strip() else value)
        return tuple(values)

    def candidates(self, criterion: Criterion, wanted: dict[str, Wanted]) -> dict[str, list[str]]:
        """BC id -> the Dataverse ids (in the filter, coupled or not) that hold all of its values."""
        primary, fields = self.mapping.dataverse_id, criterion.fields
        names = [read_name(f.dataverse_field or "", f.lookup is not None) for f in fields]

        def clause(values: Wanted) -> str:
            parts = zip(names, fields, values, strict=True)
            return " and ".join(
                f"{n} eq {odata_literal(v, guid=f.lookup is not None)}" for n, f, v in parts if v is not None
            )

        clauses = sorted({clause(values) for values in wanted.values()})
        rows: dict[str, Row] = {}
        for start in range(0, len(clauses), RECORDS_PER_QUERY):
            any_of = " or ".join(f"({clause})" for clause in clauses[start : start + RECORDS_PER_QUERY])
            scope = f"({self.mapping.dataverse_filter}) and ({any_of})" if self.mapping.dataverse_filter else any_of
            for page in self.context.dataverse.list_changed_since(
                self.mapping.dataverse_entity_set, None, [primary, *names], extra_filter=scope
            ):
                rows.update({str(row[primary]): row for row in page.rows})
        index: dict[tuple[Any, ...], list[str]] = {}
        for used in {_used(values) for values in wanted.values()}:
            for dv_id, row in rows.items():
                index.setdefault(_key(fields, [row.get(name) for name in names], used), []).append(dv_id)
        return {bc_id: index.get(_key(fields, values, _used(values)), []) for bc_id, values in wanted.items()}

    def match(self, criteria: Sequence[Criterion], pending: dict[str, Row]) -> None:
        """Priority by priority, couple what has exactly one match, uncoupled. What remains in `pending` matched
        nothing, or only a row coupled to another record (`match_coupled`)."""
        for criterion in criteria:
            values = {bc_id: self.wanted(criterion, row) for bc_id, row in pending.items()}
            wanted = {bc_id: wanted for bc_id, wanted in values.items() if any(_used(wanted))}
            if not wanted:
                continue
            found = self.candidates(criterion, wanted)
            every_id = {dv_id for ids in found.values() for dv_id in ids}
            taken = self.context.couplings.find_many_by_dataverse_ids(self.mapping.name, every_id)
            for bc_id in wanted:
                rows = found[bc_id]
                if len(rows) > 1:  # coupled ones count: coupling the one free row could pair the wrong records
                    self.report.unmatched.append(Unmatched(bc_id, "severalMatches", len(rows)))
                    del pending[bc_id]
                elif rows and rows[0] not in taken and rows[0] not in self.claimed:
                    self.match_coupled.discard(bc_id)
                    self._couple(bc_id, rows[0], criterion.priority)
                    del pending[bc_id]
                elif rows:
                    self.match_coupled.add(bc_id)

    def _couple(self, bc_id: str, dataverse_id: str, priority: int) -> None:
        if self.report.dry_run:
            self.claimed.add(dataverse_id)
            self.report.coupled.append(Matched(bc_id, dataverse_id, priority))
            return
        try:
            coupling = Coupling(self.mapping.name, bc_id, dataverse_id, created_by=self.report.job_id)
            self.context.couplings.create_coupling(coupling)
        except ConflictError as error:  # coupled by someone else since we read
            self.report.failed.append(MatchFailure(bc_id, error.code, error.message))
        else:
            self.claimed.add(dataverse_id)
            self.report.coupled.append(Matched(bc_id, dataverse_id, priority))

    def create(self, rows: Sequence[Row]) -> None:
        if self.report.dry_run:  # the id `create_in_dataverse` would give it
            name = self.mapping.name
            self.report.created += [Matched(bc, deterministic_id(name, "bc", bc), None) for bc in _ids(rows)]
            return

        def fail(_side: object, record_id: str, error: SyncError, _row: object) -> None:
            self.report.failed.append(MatchFailure(record_id, error.code, error.message))
            if error.is_transient:
                self.transient.add(record_id)

        creator = self.tools.creator("match", job_id=self.report.job_id)  # claims carry the job's own id
        for coupling in creator.create_in_dataverse(rows, Counters(), fail):
            self.report.created.append(Matched(coupling.bc_id, coupling.dataverse_id, None))

    def unmatched(self, pending: Sequence[str]) -> None:
        for bc_id in pending:
            coupled = bc_id in self.match_coupled
            self.report.unmatched.append(Unmatched(bc_id, "matchCoupled" if coupled else "noMatch", int(coupled)))

    def record_errors(self) -> None:
        """Each record that failed (a lookup not coupled, a create or sync error) is recorded as a record error of
        the BC record, as a run records one, so the sync-errors list and a full-sync review line show it; a record
        examined now without failing (coupled, created, or without a unique match) loses the error an earlier job
        recorded. A race lost to another job (`alreadyCoupled`) is no error of the record, nor is a transient
        failure (tried again). BC's records without a unique match are counted (`unmatched`, the review's `left`), as
        BC logs one error with their count rather than one per record."""
        failed = {
            f.bc_id: f for f in self.report.failed if f.code != "alreadyCoupled" and f.bc_id not in self.transient
        }
        for failure in failed.values():
            record_failure(
                self.context, self.mapping.name, Side.BC, failure.bc_id, SyncError(failure.code, failure.message)
            )
        done = self.examined - {f.bc_id for f in self.report.failed}
        if done:
            known = {e.record_id for e in self.context.errors.list_errors(self.mapping.name) if e.side is Side.BC}
            for bc_id in sorted(done & known):
                self.context.errors.clear_error(self.mapping.name, Side.BC, bc_id)

    def synchronize(self, pairs: Sequence[Matched]) -> None:
        directions = sync_directions(self.mapping)
        for pair in pairs:
            try:
                for direction in directions:
                    synchronize_record(self.context, self.mapping.name, direction, bc_id=pair.bc_id)
            except SyncError as error:
                self.report.failed.append(MatchFailure(pair.bc_id, error.code, error.message))
                if error.is_transient:
                    self.transient.add(pair.bc_id)
                continue
            self.report.synchronized.append(pair.bc_id)


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
    matcher.match(criteria, pending)
    if create:
        matcher.create([*pending.values(), *matcher.unfinished.values()])
    else:
        matcher.unmatched(list(pending))
    if dry_run:
        return report
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


def _ids(rows: Sequence[Row]) -> list[str]:
    return [str(row["id"]) for row in rows]
