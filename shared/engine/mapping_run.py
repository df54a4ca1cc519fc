"""One incremental run of one table mapping (ARCHITECTURE section 5).

1. Candidates: records changed since each side's checkpoint (with an overlap), plus records whose last sync failed
   and are not skipped (retried first, like BC).
2. Decide per coupled pair with the per-field hashes (`domain/changes.py`); uncoupled candidates are created on the
   other side and coupled unless the mapping syncs only coupled records.
3. Write in bulk (Dataverse UpsertMultiple, BC $batch), then record couplings and errors: collected in the run's
   unit of work and flushed in transactions of 100 (`engine/unit_of_work.py`; claims of new records go before their
creates). 4. Advance the checkpoints last, after the flush, and never past a record that failed transiently (it must be
   read again).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.domain.changes import Outcome, decide, decode_hashes, encode_hashes, field_hashes
from shared.domain.coupling import Coupling
from shared.domain.errors import SyncError
from shared.domain.jobs import run_prefix
from shared.domain.mapping import Direction, TableMapping
from shared.domain.records import Checkpoint, Counters, Side, SyncJob
from shared.domain.watermarks import format_instant, read_from
from shared.engine.behaviours import hooks as behaviours
from shared.engine.candidates import change_hints, etag_of, needs_versions, next_checkpoint, not_seen, settled
from shared.engine.context import SyncContext
from shared.engine.creation import Creator
from shared.engine.deletions import handle_missing
from shared.engine.identity import adopt, former_pairs, identity_pairs
from shared.engine.lookups import LookupResolver
from shared.engine.option_runs import is_option_mapping, run_option_mapping
from shared.engine.outcomes import final_values, outcome_error, record_failure, save_synchronized
from shared.engine.sides import BcSide, DataverseSide
from shared.engine.unit_of_work import UnitOfWork
from shared.engine.values import ValueMapper
from shared.ports import Row
from shared.telemetry import job_span, log_event

LOG = logging.getLogger("bc_sales_sync.sync")
CHANGED_IN_BOTH = "changedInBothApps"


@dataclass
class _Pending:
    coupling: Coupling
    bc_row: Row
    dv_row: Row
    values: dict[str, Any]
    to_dv: tuple[str, ...]
    to_bc: tuple[str, ...]


@dataclass
class MappingRun:
    context: SyncContext
    mapping: TableMapping
    job_id: str = field(default_factory=lambda: f"run-{uuid.uuid4()}")
    counters: Counters = field(default_factory=Counters)
    transient_bc: dict[str, str] = field(default_factory=dict)  # id -> modified-on of records failed transiently
    transient_dv: dict[str, str] = field(default_factory=dict)
    retried: set[str] = field(default_factory=set)  # ids of records whose last sync failed (always compared)
    adopted: set[str] = field(default_factory=set)  # BC ids of identity pairs coupled again by this run
    conflicted: set[str] = field(default_factory=set)  # ids whose last sync was a conflict (changedInBothApps)
    failed_now: set[str] = field(default_factory=set)  # ids of the records that failed in this run

    def __post_init__(self) -> None:
        self.mapper = ValueMapper(self.mapping, LookupResolver(self.context), self.context.option_maps)
        self.state_sides = behaviours.state_sides(self.mapping)  # sides with state rules (usually none)
        self.bc = BcSide(self.context.bc, self.mapping, self.mapper)
        self.dv = DataverseSide(self.context.dataverse, self.mapping, self.mapper)
        self.work = UnitOfWork(self.context, self.mapping.name, self.job_id)
        self.creator = Creator(self.context, self.mapping, self.mapper, self.bc, self.dv, self.job_id, work=self.work)

    # -- the run ---------------------------------------------------------------------------------------------
    def run(self) -> SyncJob:
        started = self.context.clock()
        bc_checkpoint = self.context.checkpoints.find_checkpoint(self.mapping.name, Side.BC)
        dv_checkpoint = self.context.checkpoints.find_checkpoint(self.mapping.name, Side.DATAVERSE)
        every = self.mapper.run_dependent  # values read per run (exchange rates): every BC record is compared
        bc_read = self._bc_candidates(None if every else bc_checkpoint)
        dv_read = self._dv_candidates(dv_checkpoint)
        bc_rows = bc_read if every else not_seen(bc_read, bc_checkpoint)
        dv_rows = not_seen(dv_read, dv_checkpoint)
        self._add_failed_records(bc_rows, dv_rows)
        self._synchronize(bc_rows, dv_rows, create=not self.mapping.sync_only_coupled, pass_settled=not every)
        since = {Side.BC: read_from(bc_checkpoint.watermark if bc_checkpoint else None)}
        since[Side.DATAVERSE] = read_from(dv_checkpoint.watermark if dv_checkpoint else None)
        for side, record_id, error in behaviours.out_of_filter(self.context, self.mapping, since):  # state rules
            self._fail(side, record_id, error, None)
        self.work.flush()  # couplings and errors, then the checkpoints
        self._save_checkpoints(started, bc_checkpoint, dv_checkpoint, bc_read, dv_read)
        return self._log_job(started)

    def run_records(self, bc_ids: Sequence[str], dv_ids: Sequence[str]) -> SyncJob:
        """One chunk of a full synchronization (ids as `list_ids` gave them, in its order): these records (those
        still in the mapping's filters), decided and written as a run would, and uncoupled ones created on the other
        side whatever `sync_only_coupled` says (BC's full sync clears it). A chunk moves no checkpoint; the finished
        line hands the mapping over to the incremental runs (`full_sync_lines.hand_over`)."""
        started = self.context.clock()
        bc_rows = self.bc.get_listed(bc_ids) if bc_ids and self._reads(Direction.TO_DATAVERSE) else {}
        dv_rows = self.dv.get_listed(dv_ids) if dv_ids and self._reads(Direction.FROM_DATAVERSE) else {}
        self.work.read_errors()  # the chunk's page knows which records have an error row (one read)
        self._synchronize(bc_rows, dv_rows, create=True, chunk_of=run_prefix(self.job_id))
        self.work.flush()
        return self._log_job(started)

    def _reads(self, direction: Direction) -> bool:
        return self.mapping.direction.allows(direction)

    def _synchronize(
        self,
        bc_rows: dict[str, Row],
        dv_rows: dict[str, Row],
        *,
        create: bool,
        pass_settled: bool = False,
        chunk_of: str | None = None,
    ) -> None:
        """Compare the coupled candidates (reading the other side of each pair) and write what changed, then create
        the uncoupled ones. An incremental run passes over pairs still at their synchronized versions
        (`run_candidates.settled`); a full-sync chunk compares every pair, as BC's full synchronization does, except
        those another chunk of the same run (`chunk_of`: the run's job-id prefix) already synchronized: a pair is
        counted once per run. Uncoupled candidates that are each other's deterministic partner are coupled, not
        copied (`identity`)."""
        bc_rows = behaviours.without_excluded(self.context, self.mapping, bc_rows)
        by_bc = self.context.couplings.find_many_by_bc_ids(self.mapping.name, bc_rows)
        by_dv = self.context.couplings.find_many_by_dataverse_ids(self.mapping.name, dv_rows)
        if create:
            adopted = self._adopt_identity_pairs(bc_rows, dv_rows, by_bc, by_dv)
            by_bc.update(adopted)
            by_dv.update({c.dataverse_id: c for c in adopted.values()})
        couplings = {c.bc_id: c for c in [*by_bc.values(), *by_dv.values()]}
        if chunk_of is not None:
            couplings = self._not_done_by_run(couplings, chunk_of)
        if pass_settled:
            quiet = settled(couplings.values(), bc_rows, dv_rows, self.retried)
            self.counters.unchanged += len(quiet)
            quiet_dv = {couplings[bc_id].dataverse_id for bc_id in quiet}
            couplings = {bc_id: c for bc_id, c in couplings.items() if bc_id not in quiet}
            bc_rows = {key: row for key, row in bc_rows.items() if key not in quiet}  # nor their lookups resolved
            dv_rows = {key: row for key, row in dv_rows.items() if key not in quiet_dv}
        missing_bc = [c.bc_id for c in couplings.values() if c.bc_id not in bc_rows]
        missing_dv = [c.dataverse_id for c in couplings.values() if c.dataverse_id not in dv_rows]
        bc_all = {**self.bc.get_many(missing_bc), **bc_rows}
        dv_all = {**self.dv.get_many(missing_dv), **dv_rows}
        self.mapper.prefetch(bc_all.values(), dv_all.values())
        pending = [p for c in couplings.values() if (p := self._decide(c, bc_all, dv_all, bc_rows, dv_rows))]
        self._write(pending)
        partners = (bc_all, dv_all) if chunk_of is not None else None
        self._state_rules(couplings, bc_rows, dv_rows, partners)
        if create:
            self._create_uncoupled(bc_rows, dv_rows, by_bc, by_dv)
        self.work.flush()  # the page's unit of work: after its writes to the apps

    def _state_rules(
        self,
        couplings: dict[str, Coupling],
        bc_rows: dict[str, Row],
        dv_rows: dict[str, Row],
        partners: tuple[dict[str, Row], dict[str, Row]] | None,
    ) -> None:
        """The mapping's state rules (`behaviours.on_transferred`) on the records of the pairs compared here that BC
        would have synchronized as sources: modified since their pair's last synchronization (BC transfers those),
        in the mapping's filter on their side (BC reads those), the pair neither skipped nor failed in this run.
        The candidates were read in the filters. A full-synchronization chunk (`partners`: every row it read, by
        id) synchronizes each pair once for both of its sides (the other side's chunk passes over it), so the rows
        of the other side count too, those still in their filter (read again in it)."""
        sides = self.state_sides
        if not sides:
            return
        kept = [c for c in couplings.values() if not c.skipped and not {c.bc_id, c.dataverse_id} & self.failed_now]
        bc_all, dv_all = partners or ({}, {})
        for side, rows, others, scope in (
            (Side.BC, bc_rows, bc_all, self.mapping.bc_filter),
            (Side.DATAVERSE, dv_rows, dv_all, self.mapping.dataverse_filter),
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
                    self.context, self.mapping, side, changed, scope, check_scope=check_scope
                )
                for failed_side, record_id, error in failures:
                    self._fail(failed_side, record_id, error, None)

    def _adopt_identity_pairs(
        self, bc_rows: dict[str, Row], dv_rows: dict[str, Row], by_bc: dict[str, Coupling], by_dv: dict[str, Coupling]
    ) -> dict[str, Coupling]:
        """Couple the uncoupled candidates that are each other's deterministic partner, or whose former partner (BC's
        Delete Coupling) is, when that partner still exists (`identity`). Their first comparison takes the side that
        came in as changed; both changed is a conflict for the mapping's policy, as for any pair."""
        uncoupled_bc = [key for key in bc_rows if key not in by_bc]
        uncoupled_dv = [key for key in dv_rows if key not in by_dv]
        pairs = identity_pairs(self.mapping.name, uncoupled_bc, uncoupled_dv)
        paired_dv = set(pairs.values())
        former = former_pairs(
            self.context,
            self.mapping.name,
            [b for b in uncoupled_bc if b not in pairs],
            [x for x in uncoupled_dv if x not in paired_dv],
        )
        if former:
            existing_bc = self.bc.get_many([b for b in former if b not in bc_rows])
            existing_dv = self.dv.get_many([x for x in former.values() if x not in dv_rows])
            pairs.update(
                {
                    b: x
                    for b, x in former.items()
                    if (b in bc_rows or b in existing_bc) and (x in dv_rows or x in existing_dv)
                }
            )
        adopted = adopt(self.context, self.mapping.name, pairs)
        self.adopted.update(adopted)
        self.counters.coupled += len(adopted)
        return adopted

    def _not_done_by_run(self, couplings: dict[str, Coupling], prefix: str) -> dict[str, Coupling]:
        """A chunk of a full synchronization leaves the pairs this run has synchronized already: another chunk's (the
        other side's list holds the same pair), or this chunk's own earlier delivery that died before it was counted.
        The latter's pairs are counted now, once, since the line counts each chunk once (its bit in `done_chunks`)
        and the dead delivery's counters were lost: its creations as inserted, the rest as unchanged (whether it had
        written them cannot be told afterwards; the total is exact either way)."""
        kept: dict[str, Coupling] = {}
        for bc_id, coupling in couplings.items():
            jobs = (coupling.bc.last_job_id or "", coupling.dataverse.last_job_id or "")
            if coupling.creating is None and coupling.values_hash and any(j.startswith(prefix) for j in jobs):
                if coupling.created_by == self.job_id:
                    self.counters.inserted += 1
                    self.counters.coupled += 1
                elif self.job_id in jobs:
                    self.counters.unchanged += 1
                continue
            kept[bc_id] = coupling
        return kept

    def _log_job(self, started: datetime) -> SyncJob:
        job = SyncJob(
            self.mapping.name,
            self.job_id,
            format_instant(started),
            format_instant(self.context.clock()),
            "finished",
            self.counters,
        )
        self.context.jobs.record_job(job)
        return job

    def _bc_candidates(self, checkpoint: Checkpoint | None) -> dict[str, Row]:
        if not self.mapping.direction.allows(Direction.TO_DATAVERSE):
            return {}
        since = read_from(checkpoint.watermark if checkpoint else None)
        return {str(row["id"]): row for row in self.bc.changed_since(since)}

    def _dv_candidates(self, checkpoint: Checkpoint | None) -> dict[str, Row]:
        if not self.mapping.direction.allows(Direction.FROM_DATAVERSE):
            return {}
        since = read_from(checkpoint.watermark if checkpoint else None)
        return {str(row[self.mapping.dataverse_id]): row for row in self.dv.changed_since(since)}

    def _add_failed_records(self, bc_rows: dict[str, Row], dv_rows: dict[str, Row]) -> None:
        """Records whose last sync failed (and are not skipped) are retried first, changed or not."""
        listed = self.context.errors.list_errors(self.mapping.name)
        self.work.know(listed)  # which records have an error row, for the unit of work's clears
        failed = [e for e in listed if not e.skipped]
        self.retried = {e.record_id for e in failed}
        self.conflicted = {e.record_id for e in failed if e.code == CHANGED_IN_BOTH}
        bc_ids = [e.record_id for e in failed if e.side is Side.BC and e.record_id not in bc_rows]
        dv_ids = [e.record_id for e in failed if e.side is Side.DATAVERSE and e.record_id not in dv_rows]
        bc_rows.update(self.bc.get_many(bc_ids, in_scope_only=True))
        dv_rows.update(self.dv.get_many(dv_ids, in_scope_only=True))

    # -- per pair --------------------------------------------------------------------------------------------
    def _decide(
        self,
        coupling: Coupling,
        bc_all: dict[str, Row],
        dv_all: dict[str, Row],
        bc_changed: dict[str, Row],
        dv_changed: dict[str, Row],
    ) -> _Pending | None:
        if coupling.skipped:
            self.counters.skipped += 1
            return None
        bc_row, dv_row = bc_all.get(coupling.bc_id), dv_all.get(coupling.dataverse_id)
        if bc_row is None or dv_row is None:
            handle_missing(self.creator, coupling, bc_row, dv_row, self.counters)
            return None
        bc_values = self.mapper.from_bc(bc_row)
        if bc_values.failures:
            self._fail(Side.BC, coupling.bc_id, next(iter(bc_values.failures.values())), bc_row)
            return None
        dv_values = self.mapper.from_dataverse(dv_row)
        self.mapper.align(bc_values.values, dv_values.values)
        bc_hint, dv_hint = change_hints(self.mapping, coupling, bc_changed, dv_changed)
        if coupling.bc_id in self.adopted:  # coupled again this run: the side that came in is the one that changed
            bc_hint, dv_hint = coupling.bc_id in bc_changed, coupling.dataverse_id in dv_changed
        if coupling.values_hash is None and {coupling.bc_id, coupling.dataverse_id} & self.conflicted:
            # a conflict with no stored values stays one until someone chooses (Synchronize Now): the next run must
            # not let the policy's initial source settle it silently
            bc_hint = dv_hint = True
        decision = decide(
            self.mapper.rules(),
            bc_values.values,
            dv_values.values,
            decode_hashes(coupling.values_hash),
            table_direction=self.mapping.direction,
            policy=self.mapping.conflict_policy,
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
            self._fail(Side.BC, coupling.bc_id, error, bc_row)
            return None
        values = final_values(decision, bc_values.values, dv_values.values)
        if decision.outcome is Outcome.UNCHANGED:
            self._tally(coupling, "unchanged")
            self._remember_unchanged(coupling, values, bc_row, dv_row)
            return None
        return _Pending(coupling, bc_row, dv_row, values, decision.to_dataverse, decision.to_bc)

    def _tally(self, coupling: Coupling, outcome: str) -> None:
        """Count a synchronized pair once: a pair whose creation an earlier, interrupted attempt began is counted as
        the insert it is (its coupling was written before the create), not as modified or unchanged."""
        if coupling.creating is not None:
            self.counters.inserted += 1
            self.counters.coupled += 1
        elif outcome == "modified":
            self.counters.modified += 1
        else:
            self.counters.unchanged += 1

    def _remember_unchanged(self, coupling: Coupling, values: dict[str, Any], bc_row: Row, dv_row: Row) -> None:
        """Save an unchanged pair when it was never synchronized (or was skipped), when both sides moved to the
        same values (the stored hashes must follow, or a later revert on one side would read as the other side's
        change), or when its recorded versions are stale, so that the next run passes over it without a read."""
        fresh = decode_hashes(coupling.values_hash) is None or coupling.skipped or coupling.creating is not None
        moved = coupling.values_hash != encode_hashes(field_hashes(values))
        if not (fresh or moved or needs_versions(coupling, bc_row, dv_row)):
            return
        save_synchronized(
            self.context,
            coupling,
            values,
            bc_modified=self.bc.modified_on(bc_row),
            dv_modified=self.dv.modified_on(dv_row),
            job_id=self.job_id,
            bc_version=etag_of(bc_row),
            dv_version=etag_of(dv_row),
            clear_errors=fresh or coupling.bc_id in self.retried or coupling.dataverse_id in self.retried,
            work=self.work,
        )

    def _fail(self, side: Side, record_id: str, error: SyncError, row: Row | None) -> None:
        self.counters.failed += 1
        self.failed_now.add(record_id)
        log_event(LOG, "record failed", side=side.value, recordId=record_id, code=error.code)
        if error.is_transient and row is not None:
            modified = self.bc.modified_on(row) if side is Side.BC else self.dv.modified_on(row)
            (self.transient_bc if side is Side.BC else self.transient_dv)[record_id] = modified or ""
        if record_failure(self.context, self.mapping.name, side, record_id, error, self.work):
            self.counters.skipped += 1

    # -- writing ---------------------------------------------------------------------------------------------
    def _write(self, pending: list[_Pending]) -> None:
        failed: set[str] = set()
        dv_rows: list[dict[str, Any]] = []
        dv_owners: list[_Pending] = []
        for item in (p for p in pending if p.to_dv):
            try:
                payload = self.mapper.dataverse_payload(item.bc_row, item.to_dv, creating=False)
            except SyncError as error:
                self._fail(Side.BC, item.coupling.bc_id, error, item.bc_row)
                failed.add(item.coupling.bc_id)
                continue
            dv_rows.append({self.mapping.dataverse_id: item.coupling.dataverse_id, **payload})
            dv_owners.append(item)
        self._update_dataverse(dv_rows, dv_owners, failed)
        updated = [o for o in dv_owners if o.coupling.bc_id not in failed]
        ids = [o.coupling.dataverse_id for o in updated]
        try:  # the mapping's behaviours on updated records (a product's price list items follow its price)
            behaviours.after_updated_in_dataverse(self.context, self.mapping, ids)
        except SyncError as error:
            for owner in updated:
                self._fail(Side.BC, owner.coupling.bc_id, error, owner.bc_row)
                failed.add(owner.coupling.bc_id)
        self._update_bc([p for p in pending if p.to_bc and p.coupling.bc_id not in failed], failed)
        for item in pending:
            if item.coupling.bc_id in failed:
                continue
            self._tally(item.coupling, "modified")
            save_synchronized(
                self.context,
                item.coupling,
                item.values,
                bc_modified=None if item.to_bc else self.bc.modified_on(item.bc_row),
                dv_modified=None if item.to_dv else self.dv.modified_on(item.dv_row),
                job_id=self.job_id,
                bc_version=None if item.to_bc else etag_of(item.bc_row),
                dv_version=None if item.to_dv else etag_of(item.dv_row),
                work=self.work,
            )

    def _update_dataverse(self, rows: list[dict[str, Any]], owners: list[_Pending], failed: set[str]) -> None:
        """Update the coupled rows, each only at the version this run read (`If-Match` per operation of a `$batch`,
        never an unconditional upsert): an edit made in Sales since the read is not overwritten with values decided
        without it. Its 412 fails the record transiently (`outcome_error`): not counted, the BC watermark stays
        before it, and the next run reads both sides again and decides with the edit."""
        primary = self.mapping.dataverse_id
        updates = [
            (str(row[primary]), {k: v for k, v in row.items() if k != primary}, etag_of(owner.dv_row))
            for row, owner in zip(rows, owners, strict=True)
        ]
        for owner, result in zip(owners, self.dv.update_in_chunks(updates), strict=True):
            error = result if isinstance(result, SyncError) else None if result.ok else outcome_error(result)
            if error is not None:
                self._fail(Side.BC, owner.coupling.bc_id, error, owner.bc_row)
                failed.add(owner.coupling.bc_id)

    def _update_bc(self, items: list[_Pending], failed: set[str]) -> None:
        updates = []
        sendable = []
        for item in items:
            try:
                body = self.mapper.bc_payload(item.dv_row, item.to_bc, creating=False)
            except SyncError as error:
                self._fail(Side.DATAVERSE, item.coupling.dataverse_id, error, item.dv_row)
                failed.add(item.coupling.bc_id)
                continue
            updates.append((item.coupling.bc_id, body, str(item.bc_row.get("@odata.etag") or "*")))
            sendable.append(item)
        for item, outcome in zip(sendable, self.bc.update_many(updates), strict=True):
            if not outcome.ok:
                self._fail(Side.DATAVERSE, item.coupling.dataverse_id, outcome_error(outcome), item.dv_row)
                failed.add(item.coupling.bc_id)

    def _create_uncoupled(
        self, bc_rows: dict[str, Row], dv_rows: dict[str, Row], by_bc: dict[str, Coupling], by_dv: dict[str, Coupling]
    ) -> None:
        self.creator.create_in_dataverse(
            [row for bc_id, row in bc_rows.items() if bc_id not in by_bc], self.counters, self._fail
        )
        self.creator.create_in_business_central(
            [row for dv_id, row in dv_rows.items() if dv_id not in by_dv], self.counters, self._fail
        )

    # -- checkpoints -----------------------------------------------------------------------------------------
    def _save_checkpoints(
        self,
        started: datetime,
        bc_checkpoint: Checkpoint | None,
        dv_checkpoint: Checkpoint | None,
        bc_rows: dict[str, Row],
        dv_rows: dict[str, Row],
    ) -> None:
        for side, checkpoint, rows, transient, modified_of in (
            (Side.BC, bc_checkpoint, bc_rows, self.transient_bc, self.bc.modified_on),
            (Side.DATAVERSE, dv_checkpoint, dv_rows, self.transient_dv, self.dv.modified_on),
        ):
            saved = next_checkpoint(self.mapping.name, side, checkpoint, rows, modified_of, started, transient)
            if saved is not None:
                self.context.checkpoints.save_checkpoint(saved)


def run_mapping(context: SyncContext, mapping_name: str) -> SyncJob:
    """One incremental run, traced as one job: its span (HTTP calls as children), metrics and log line."""
    if is_option_mapping(context.mapping(mapping_name)):  # BC codes <-> picklist options: a run of its own kind
        return run_option_mapping(context, mapping_name)
    mapping = context.runnable(mapping_name)
    run = MappingRun(context, mapping)
    with job_span("incremental", mapping.name, job_id=run.job_id, direction=mapping.direction.value) as span:
        job = run.run()
        span.finish(job.counters.as_dict())
    return job
