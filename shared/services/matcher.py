"""One match-based coupling job's work (`services/matching.py` runs it): the uncoupled BC records read, their
unique uncoupled Dataverse match found priority by priority, the unmatched ones created when the job creates, the
new pairs synchronized when it should, and the records' errors recorded.

Why a unit of work (issue 21): the job's writes to Table Storage are collected in `work` and written in transactions
(`engine/unit_of_work.py`), the pairs it matched 50 to a transaction before any record is created (as each pair
used to be written before the creates, one transaction each), then the completions of the created records 100 to a
transaction, then the errors, from one read of the mapping's errors. A worker dying before a flush leaves the pairs
unwritten: the next delivery of the job (a full-sync chunk's job id is the same) matches them again and counts
what its dead predecessor did write once (`_resume`), so nothing is lost or counted twice; a claim is still written
before its create (`Creator._claim`), so a create is never made twice.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any

from shared.domain.coupling import Coupling
from shared.domain.errors import SyncError
from shared.domain.mapping import TableMapping
from shared.domain.records import Counters, Side
from shared.domain.transforms import EMPTY_GUID, transform_named
from shared.engine.behaviours import hooks as behaviours
from shared.engine.context import SyncContext
from shared.engine.creation import Creator
from shared.engine.identity import is_identity_pair
from shared.engine.lookups import LookupFailed
from shared.engine.sides import deterministic_id
from shared.engine.unit_of_work import UnitOfWork
from shared.engine.values import read_name
from shared.ports import Row
from shared.services.coupling import MappingTools, dependency_message
from shared.services.match_report import Matched, MatchFailure, MatchReport, Unmatched
from shared.services.match_rules import (
    Criterion,
    Wanted,
    fields_used,
    match_key,
    odata_literal,
    sync_directions,
)
from shared.services.synchronize import synchronize_record

RECORDS_PER_QUERY = 20  # an `or` of 20 criteria keeps the URL far below Dataverse's limit
PROGRESS_EVERY = 50  # a queued job's entry is updated every 50 pairs it synchronizes


def record_label(row: Row) -> tuple[str, str]:
    """The BC record's No. (or Code) and name (or description) as its row holds them ("" when it has none)."""
    number = row.get("number") or row.get("code") or row.get("No") or ""
    name = row.get("displayName") or row.get("name") or row.get("description") or row.get("Name") or ""
    return str(number), str(name)


def ids_of(rows: Sequence[Row]) -> list[str]:
    return [str(row["id"]) for row in rows]


class Matcher:
    """One matching job's work (see the module docstring); `work` collects what it writes: its pairs, the
    completions of the records it creates, and the records' errors and clears."""

    def __init__(self, context: SyncContext, mapping: TableMapping, report: MatchReport) -> None:
        self.context, self.mapping, self.report = context, mapping, report
        self.tools = MappingTools(context, mapping)
        self.work = UnitOfWork(context, mapping.name, report.job_id)
        self.claimed: set[str] = set()
        self.unfinished: dict[str, Row] = {}  # this job's claims an earlier delivery left (see `_resume`)
        self.match_coupled: set[str] = set()  # BC ids whose one match is coupled to another record
        self.examined: set[str] = set()  # the uncoupled BC records this job looked at
        self.etags: dict[str, Any] = {}  # Dataverse id -> the ETag its candidate read found (the claim's condition)
        self.transient: set[str] = set()  # BC ids whose failure was transient: retried, never a record error
        self.labels: dict[str, tuple[str, str]] = {}  # BC id -> its No. and name, for the coupling log
        # BC id -> ("coupled" | "created", Dataverse id): the pairs an earlier delivery of this job finished (`_resume`)
        self.resumed: dict[str, tuple[str, str]] = {}
        self.progress: Callable[[], None] | None = None  # told every `PROGRESS_EVERY` records synchronized

    def uncoupled_bc_records(self, bc_ids: Sequence[str] | None = None) -> dict[str, Row]:
        """The uncoupled BC records in the filter (all, or these ids: one full-sync chunk, in `list_ids`' order)
        whose lookups are coupled (the others are reported as failed)."""
        if bc_ids is None:
            rows = {str(row["id"]): row for row in self.tools.bc.changed_since(None)}
        else:
            rows = self.tools.bc.get_listed(bc_ids) if bc_ids else {}
        rows = behaviours.without_excluded(self.context, self.mapping, rows)  # e.g. the write-in item
        self.labels.update({bc_id: record_label(row) for bc_id, row in rows.items()})
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
                self.resumed[bc_id] = ("created", coupling.dataverse_id)
            else:
                self.report.resumed_coupled += 1
                self.resumed[bc_id] = ("coupled", coupling.dataverse_id)

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
        self.etags.update({dv_id: row.get("@odata.etag") for dv_id, row in rows.items()})
        index: dict[tuple[Any, ...], list[str]] = {}
        for used in {fields_used(values) for values in wanted.values()}:
            for dv_id, row in rows.items():
                index.setdefault(match_key(fields, [row.get(name) for name in names], used), []).append(dv_id)
        return {bc_id: index.get(match_key(fields, vals, fields_used(vals)), []) for bc_id, vals in wanted.items()}

    def match(self, criteria: Sequence[Criterion], pending: dict[str, Row]) -> None:
        """Priority by priority, couple what has exactly one match, uncoupled. What remains in `pending` matched
        nothing, or only a row coupled to another record (`match_coupled`)."""
        for criterion in criteria:
            values = {bc_id: self.wanted(criterion, row) for bc_id, row in pending.items()}
            wanted = {bc_id: wanted for bc_id, wanted in values.items() if any(fields_used(wanted))}
            if not wanted:
                continue
            found = self.candidates(criterion, wanted)
            every_id = {dv_id for ids in found.values() for dv_id in ids}
            taken = self.context.couplings.find_many_by_dataverse_ids(self.mapping.name, every_id)
            free = self._ours([ids[0] for ids in found.values() if len(ids) == 1 and ids[0] not in taken])
            for bc_id in wanted:
                rows = found[bc_id]
                if len(rows) > 1:  # coupled ones count: coupling the one free row could pair the wrong records
                    self.report.unmatched.append(Unmatched(bc_id, "severalMatches", len(rows)))
                    del pending[bc_id]
                elif rows and rows[0] in free and rows[0] not in self.claimed:
                    self.match_coupled.discard(bc_id)
                    self._couple(bc_id, rows[0], criterion.priority)
                    del pending[bc_id]
                elif rows:
                    self.match_coupled.add(bc_id)

    def _ours(self, dataverse_ids: Sequence[str]) -> set[str]:
        """The unique matches this job may couple: with several BC companies on the org, those the company's view
        stamped for it (`DataverseClientPort.claim_rows`: a row another company stamped since it was read is that
        company's, reported as a match coupled elsewhere); a dry run claims nothing."""
        wanted = list(dict.fromkeys(dataverse_ids))
        if self.report.dry_run or not wanted:
            return set(wanted)
        entity_set = self.mapping.dataverse_entity_set
        return self.context.dataverse.claim_rows(entity_set, {dv_id: self.etags.get(dv_id) for dv_id in wanted})

    def _couple(self, bc_id: str, dataverse_id: str, priority: int) -> None:
        """The pair is coupled by `write` (a dry run only counts it); its Dataverse row is taken for this job."""
        if not self.report.dry_run:
            self.work.couple(Coupling(self.mapping.name, bc_id, dataverse_id, created_by=self.report.job_id))
        self.claimed.add(dataverse_id)
        self.report.coupled.append(Matched(bc_id, dataverse_id, priority))

    def write(self) -> None:
        """Write what the job collected (its pairs, 50 to a transaction; the completions of its new records, 100 to
        one). A pair whose BC or Dataverse id someone else coupled since it was read is not coupled: a race lost
        (`alreadyCoupled`), reported as the record's failure and recorded as no error of it."""
        self.work.flush()
        refused = {coupling.bc_id: coupling for coupling in self.work.refused}
        if not refused:
            return
        self.report.coupled = [pair for pair in self.report.coupled if pair.bc_id not in refused]
        self.report.failed += [
            MatchFailure(bc_id, "alreadyCoupled", f"{bc_id} or {c.dataverse_id} is already coupled in {c.mapping}")
            for bc_id, c in refused.items()
        ]

    def create(self, rows: Sequence[Row]) -> None:
        if self.report.dry_run:  # the id `create_in_dataverse` would give it
            name = self.mapping.name
            self.report.created += [Matched(bc, deterministic_id(name, "bc", bc), None) for bc in ids_of(rows)]
            return

        def fail(_side: object, record_id: str, error: SyncError, _row: object) -> None:
            self.report.failed.append(MatchFailure(record_id, error.code, error.message))
            if error.is_transient:
                self.transient.add(record_id)

        tools, job_id = self.tools, self.report.job_id  # claims carry the job's own id; completions go to `work`
        creator = Creator(self.context, self.mapping, tools.mapper, tools.bc, tools.dv, job_id, work=self.work)
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
        BC logs one error with their count rather than one per record. Written in transactions by the job's unit of
        work, which read the mapping's errors once before the job wrote anything (`read_errors`): only rows that
        exist are deleted."""
        failed = {
            f.bc_id: f for f in self.report.failed if f.code != "alreadyCoupled" and f.bc_id not in self.transient
        }
        for failure in failed.values():
            self.work.failed(Side.BC, failure.bc_id, SyncError(failure.code, failure.message))
        for bc_id in sorted(self.examined - {f.bc_id for f in self.report.failed}):
            self.work.succeeded(Side.BC, bc_id)  # its error row goes, if the job's one read found one
        self.work.flush()

    def synchronize(self, pairs: Sequence[Matched]) -> None:
        directions = sync_directions(self.mapping)
        for done, pair in enumerate(pairs, start=1):
            if self.progress is not None and done % PROGRESS_EVERY == 0:
                self.progress()
            try:
                for direction in directions:
                    synchronize_record(self.context, self.mapping.name, direction, bc_id=pair.bc_id)
            except SyncError as error:
                self.report.failed.append(MatchFailure(pair.bc_id, error.code, error.message))
                if error.is_transient:
                    self.transient.add(pair.bc_id)
                continue
            self.report.synchronized.append(pair.bc_id)
