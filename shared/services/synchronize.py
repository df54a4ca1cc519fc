"""Synchronize Now for one coupled record: the caller chooses which side's data overwrites the other.

A direction the mapping does not allow is refused (BC asks for confirmation instead; an API refuses). The report
lists every field that changed with its old and new value, so an admin sees exactly what happened. A successful
Synchronize Now restores a skipped record, as in BC.

State rules (`engine/behaviours/states.py`) run on the record, as BC's transfer subscribers do: after the copy, the
rules of the source side (Business Central's when copying to Sales, Sales' when copying to Business Central) apply to it
whatever the mapping's filter says, since BC's Synchronize Now runs a child mapping whose filters are replaced by the
record's ids (CRMIntegrationManagement EnqueueSyncJob) and synchronizes it even when unchanged. So Synchronize Now
from Sales of an inactive account blocks its customer, of a retired product blocks its item; Synchronize Now to
Sales of a blocked item retires its product, of an unblocked one publishes its retired product. The state fields
written are in the report's changes (the field's name on the side written; none on the other side). They are
written after the copy, each at the version it reads, once the lease is given back.

Why two calls can never swap the apps (issue 17). A call writes one side only, the destination, with the source's
values. Calls in opposite directions write different sides, so conditional writes alone cannot stop them: each
destination is still at the version its call read, both writes land, and each app ends with the other's old values.
Hence:
1. One call at a time per pair: a lease on the coupling (`synchronize_lease.py`), taken first and given back when
   the call is done; while it is held, another call answers 409 `concurrencyConflict` at once, having written nothing.
2. The lease holds off other calls, not users or runs, so every write stays conditional: the destination only at
   the version read (BC `If-Match` -> 409 `Request_EntityChanged`, Dataverse `If-Match` -> 412
   ConcurrencyVersionMismatch), a lost race answered 409 `concurrencyConflict` with nothing overwritten. After
   writing, the source is read again: when its version moved, the value copied may already be old, so it is
   copied again from the new source (up to `ATTEMPTS` copies) before answering.
Invariant: between leases the pair's values are changed only by the holder, and the holder answers 200 "modified"
only after a write made at the destination's read version while the source kept the version it read from, so at
that write both apps held the source's value; the next holder finds them equal ("unchanged"). After any burst of
calls both apps therefore hold the value of the last 200 "modified" answer, copied in that answer's direction.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from shared.domain.changes import Decision, Outcome, forced
from shared.domain.coupling import Coupling
from shared.domain.errors import (
    ConcurrencyError,
    InvalidInputError,
    NotFoundError,
    SyncError,
    TransientError,
)
from shared.domain.mapping import Direction, TableMapping
from shared.domain.records import Side
from shared.engine.behaviours import hooks as behaviours
from shared.engine.candidates import etag_of
from shared.engine.context import SyncContext
from shared.engine.leases import LEASE, lease_job_id
from shared.engine.lookups import LookupResolver
from shared.engine.outcomes import final_values, outcome_error, save_synchronized
from shared.engine.sides import BcSide, DataverseSide
from shared.engine.values import ValueMapper
from shared.ports import BatchOutcome, Row
from shared.services.synchronize_lease import conflict, give_back, take_lease

ATTEMPTS = 3  # copies of one call while users or runs keep changing its source
ENTITY_CHANGED = "Request_EntityChanged"  # BC's error code for a stale If-Match (HTTP 409)


@dataclass(frozen=True)
class FieldChange:
    field: str
    bc_field: str | None
    dataverse_field: str | None
    old: Any
    new: Any


@dataclass(frozen=True)
class SyncReport:
    mapping: str
    bc_id: str
    dataverse_id: str
    direction: Direction
    outcome: str  # "modified" or "unchanged"
    changes: tuple[FieldChange, ...] = field(default=())
    job_id: str = ""


def find_coupling(context: SyncContext, mapping: str, bc_id: str | None, dataverse_id: str | None) -> Coupling:
    if bc_id:
        coupling = context.couplings.find_by_bc_id(mapping, bc_id)
    elif dataverse_id:
        coupling = context.couplings.find_by_dataverse_id(mapping, dataverse_id)
    else:
        raise InvalidInputError("idRequired", "Give bcId or dataverseId.", field="bcId")
    if coupling is None:
        raise NotFoundError(
            "notCoupled", f"The record is not coupled in mapping {mapping}.", field="bcId" if bc_id else "dataverseId"
        )
    return coupling


def synchronize_record(
    context: SyncContext,
    mapping_name: str,
    direction: Direction,
    *,
    bc_id: str | None = None,
    dataverse_id: str | None = None,
) -> SyncReport:
    mapping = context.runnable(mapping_name)
    if direction is Direction.BIDIRECTIONAL or not mapping.direction.allows(direction):
        raise InvalidInputError(
            "directionNotAllowed",
            f"Mapping {mapping.name} is {mapping.direction.value}: it cannot synchronize {direction.value}.",
            field="direction",
        )
    coupling = find_coupling(context, mapping.name, bc_id, dataverse_id)
    taken = context.clock()
    job_id = lease_job_id(taken)
    leased, before = take_lease(context, coupling, job_id)
    copy = _Copy(context, mapping, direction, leased, taken)
    try:
        report = copy.run()
    except BaseException:
        give_back(context, leased, before, job_id)
        raise
    return _with_states(context, mapping, copy, report)


def _with_states(context: SyncContext, mapping: TableMapping, copy: _Copy, report: SyncReport) -> SyncReport:
    """The source's state rules applied to the record (whatever the mapping's filter), their writes added to the
    report. A rule's record error is the call's error (the copy itself is saved)."""
    side = Side.BC if copy.to_dv else Side.DATAVERSE
    pairs = [(copy.coupling, copy.source_row)] if copy.source_row is not None else []
    try:
        failures, written = behaviours.on_transferred(context, mapping, side, pairs, None)
    except SyncError as error:  # a transient refusal, raised as such
        if error.code == ENTITY_CHANGED:
            raise conflict(f"Business Central changed it after it was read ({error.code})") from error
        raise
    for _, _, refused in failures:
        why = f"Business Central refused the update: {refused.message}"
        raise InvalidInputError("bcRejectedUpdate", why) from refused
    if not written:
        return report
    states = tuple(
        FieldChange(
            change.field,
            change.field if change.side is Side.BC else None,
            change.field if change.side is Side.DATAVERSE else None,
            change.old,
            change.new,
        )
        for change in written
    )
    return replace(report, outcome="modified", changes=report.changes + states)


# -- one call under its lease ------------------------------------------------------------------------------------
class _Copy:
    """Copy the source's values to the destination, conditionally, until the source held still while copied."""

    def __init__(
        self, context: SyncContext, mapping: TableMapping, direction: Direction, coupling: Coupling, taken: datetime
    ) -> None:
        self.context = context
        self.mapping = mapping
        self.direction = direction
        self.coupling = coupling  # leased: its sides' last job is this call
        self.taken = taken
        self.to_dv = direction is Direction.TO_DATAVERSE
        self.mapper = ValueMapper(mapping, LookupResolver(context), context.option_maps)
        self.bc_side = BcSide(context.bc, mapping, self.mapper)
        self.dv_side = DataverseSide(context.dataverse, mapping, self.mapper)
        self.by_key = {f.key: f for f in self.mapper.fields}
        self.source_row: Row | None = None  # the source as last read (its state rules run on it)

    def run(self) -> SyncReport:
        before: dict[str, Any] | None = None  # the destination's values as first read: the report's "old"
        written: dict[str, None] = {}  # the fields copied, in order
        for _ in range(ATTEMPTS):
            bc_row, dv_row = self._read()
            self.source_row = bc_row if self.to_dv else dv_row
            bc_values, dv_values, decision = self._decide(bc_row, dv_row)
            source, destination = (bc_values, dv_values) if self.to_dv else (dv_values, bc_values)
            before = dict(destination) if before is None else before
            keys = decision.to_dataverse if self.to_dv else decision.to_bc
            if decision.outcome is not Outcome.WRITE or not keys:
                self._save(decision, bc_values, dv_values, bc_row, dv_row, wrote=False)
                return self._report(before, source, written)
            self._write(bc_row, dv_row, keys)
            written.update(dict.fromkeys(keys))
            if self._source_held_still(bc_row, dv_row):
                self._save(decision, bc_values, dv_values, bc_row, dv_row, wrote=True)
                return self._report(before, source, written)
        # The destination holds the source's values as last read, and the coupling says so with the source's old
        # version: the next run finds the source changed since and copies its newest values the same way.
        self._save(decision, bc_values, dv_values, bc_row, dv_row, wrote=True)
        app = "Business Central" if self.to_dv else "Sales"
        raise conflict(f"its {app} record kept changing while it was copied")

    def _read(self) -> tuple[Row, Row]:
        bc_row = self.bc_side.get_many([self.coupling.bc_id]).get(self.coupling.bc_id)
        dv_row = self.dv_side.get_many([self.coupling.dataverse_id]).get(self.coupling.dataverse_id)
        if bc_row is None or dv_row is None:
            missing = "Business Central" if bc_row is None else "Dataverse"
            raise NotFoundError("coupledRecordDeleted", f"The coupled record in {missing} no longer exists.")
        return bc_row, dv_row

    def _decide(self, bc_row: Row, dv_row: Row) -> tuple[dict[str, Any], dict[str, Any], Decision]:
        source = self.mapper.from_bc(bc_row) if self.to_dv else self.mapper.from_dataverse(dv_row)
        if source.failures:
            raise next(iter(source.failures.values()))
        bc_values, dv_values = self.mapper.from_bc(bc_row).values, self.mapper.from_dataverse(dv_row).values
        self.mapper.align(bc_values, dv_values)
        return bc_values, dv_values, forced(self.mapper.rules(), bc_values, dv_values, self.direction)

    def _write(self, bc_row: Row, dv_row: Row, keys: tuple[str, ...]) -> None:
        """The destination, only at the version read; a lost race overwrites nothing and is a 409."""
        if self.context.clock() - self.taken >= LEASE / 2:  # never write on a lease about to expire
            raise TransientError("synchronizeTimedOut", "The record could not be synchronized in time; try again.")
        if self.to_dv:
            payload = self.mapper.dataverse_payload(bc_row, keys, creating=False)
            try:
                self.dv_side.update_one(self.coupling.dataverse_id, payload, etag_of(dv_row))
            except ConcurrencyError as error:  # 412 ConcurrencyVersionMismatch
                why = f"Sales changed it after it was read ({error.code}), so nothing was overwritten"
                raise conflict(why) from error
            except NotFoundError as error:
                gone = "The coupled record in Dataverse no longer exists."
                raise NotFoundError("coupledRecordDeleted", gone) from error
            return
        body = self.mapper.bc_payload(dv_row, keys, creating=False)
        outcome = self.bc_side.update_many([(self.coupling.bc_id, body, etag_of(bc_row) or "*")])[0]
        if not outcome.ok:
            raise _bc_refusal(outcome)

    def _source_held_still(self, bc_row: Row, dv_row: Row) -> bool:
        """Is the source still at the version its values were copied from? (Then both apps held them at the write.)"""
        if self.to_dv:
            now = self.bc_side.get_many([self.coupling.bc_id]).get(self.coupling.bc_id)
            return now is not None and etag_of(now) == etag_of(bc_row)
        now = self.dv_side.get_many([self.coupling.dataverse_id]).get(self.coupling.dataverse_id)
        return now is not None and etag_of(now) == etag_of(dv_row)

    def _save(
        self,
        decision: Decision,
        bc_values: dict[str, Any],
        dv_values: dict[str, Any],
        bc_row: Row,
        dv_row: Row,
        *,
        wrote: bool,
    ) -> None:
        """Record the synchronized state (this also gives the lease back): a side just written has no known version."""
        written_bc, written_dv = wrote and not self.to_dv, wrote and self.to_dv
        save_synchronized(
            self.context,
            self.coupling,
            final_values(decision, bc_values, dv_values),
            bc_modified=None if written_bc else self.bc_side.modified_on(bc_row),
            dv_modified=None if written_dv else self.dv_side.modified_on(dv_row),
            job_id=self.job_id,
            bc_version=None if written_bc else etag_of(bc_row),
            dv_version=None if written_dv else etag_of(dv_row),
        )

    @property
    def job_id(self) -> str:
        return self.coupling.bc.last_job_id or ""

    def _report(self, before: dict[str, Any], source: dict[str, Any], written: dict[str, None]) -> SyncReport:
        changes = tuple(
            FieldChange(k, self.by_key[k].bc_field, self.by_key[k].dataverse_field, before.get(k), source.get(k))
            for k in written
        )
        return SyncReport(
            self.mapping.name,
            self.coupling.bc_id,
            self.coupling.dataverse_id,
            self.direction,
            "modified" if changes else "unchanged",
            changes,
            self.job_id,
        )


def _bc_refusal(outcome: BatchOutcome) -> SyncError:
    """BC's answer to the update as the caller's error: a changed record (409 `Request_EntityChanged`) is a
    conflict, never a 400; a record gone is 404; throttling or an outage is transient (503); else BC refused the
    data."""
    error = outcome_error(outcome)
    if outcome.status in (409, 412) or error.code == ENTITY_CHANGED:
        return conflict(f"Business Central changed it after it was read ({error.code}), so nothing was overwritten")
    if outcome.status == 404:
        return NotFoundError("coupledRecordDeleted", "The coupled record in Business Central no longer exists.")
    if error.is_transient:
        return error
    return InvalidInputError("bcRejectedUpdate", f"Business Central refused the update: {outcome.body}")
