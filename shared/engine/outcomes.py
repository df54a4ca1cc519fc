"""What happens after a decision for one coupled pair: the coupling's new per-field hashes and side states, and the
record's error entry (cleared on success, counted on a record error). Shared by Synchronize Now and the runs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.domain.changes import Decision, encode_hashes, field_hashes
from shared.domain.coupling import Coupling, SideState, SyncResult
from shared.domain.errors import ConcurrencyError, ErrorKind, SyncError
from shared.domain.records import Side
from shared.engine.context import SyncContext
from shared.engine.leases import lease_holder
from shared.engine.unit_of_work import UnitOfWork
from shared.ports import BatchOutcome


def final_values(decision: Decision, bc_values: Mapping[str, Any], dv_values: Mapping[str, Any]) -> dict[str, Any]:
    """The canonical values both sides hold once the decision's writes are applied."""
    merged = dict(bc_values)
    for key in decision.to_bc:
        merged[key] = dv_values.get(key)
    return merged


def save_synchronized(
    context: SyncContext,
    coupling: Coupling,
    values: Mapping[str, Any],
    *,
    bc_modified: str | None,
    dv_modified: str | None,
    job_id: str,
    bc_version: str | None = None,
    dv_version: str | None = None,
    clear_errors: bool = True,
    work: UnitOfWork | None = None,
) -> Coupling:
    """Record a successful sync: hashes of the values both sides now hold, and restore a skipped record.

    A side's version is the ETag of the row that holds these values, None when we have just written that side (its
    new ETag is unknown until read): the next run passes over a pair still at its recorded versions
    (`candidates.settled`). The record's error rows are cleared: without a unit of work (Synchronize Now, a
    record created on request) the pair's rows are read once and only those that exist are deleted;
    `clear_errors=False` saves that read when the caller knows the record has no error entry. With a unit of work (a
    run's page, a matching job) the coupling and the clears are collected and written by its flush (only the errors
    its one read found are cleared), and the coupling is returned as it will be saved."""
    updated = coupling.with_changes(
        values_hash=encode_hashes(field_hashes(values)),
        bc=SideState(
            modified_on=bc_modified or coupling.bc.modified_on,
            version=bc_version,
            last_result=SyncResult.SUCCESS,
            last_job_id=job_id,
        ),
        dataverse=SideState(
            modified_on=dv_modified or coupling.dataverse.modified_on,
            version=dv_version,
            last_result=SyncResult.SUCCESS,
            last_job_id=job_id,
        ),
        skipped=False,
        creating=None,  # a record being created is complete once its pair is synchronized
    )
    if _leased_by_another(context, coupling, job_id):
        return coupling
    if work is not None:
        work.save(updated)
        for side, record_id in ((Side.BC, coupling.bc_id), (Side.DATAVERSE, coupling.dataverse_id)):
            if clear_errors:
                work.succeeded(side, record_id)
        return updated
    for attempt in range(3):
        try:
            saved = context.couplings.update_coupling(updated)
            break
        except ConcurrencyError:
            if attempt == 2:
                raise
            fresh = context.couplings.find_by_bc_id(coupling.mapping, coupling.bc_id)
            if fresh is None:
                raise
            if _leased_by_another(context, fresh, job_id):
                return fresh
            updated = updated.with_changes(etag=fresh.etag)
    if clear_errors:  # only the rows that exist (one read), not two deletes that usually answer 404
        keys = [(Side.BC, coupling.bc_id), (Side.DATAVERSE, coupling.dataverse_id)]
        found = context.errors.find_errors(coupling.mapping, keys)
        if found:
            context.errors.clear_errors(coupling.mapping, [(entry.side, entry.record_id) for entry in found])
    return saved


def _leased_by_another(context: SyncContext, coupling: Coupling, job_id: str) -> bool:
    """A Synchronize Now call holds the pair (`leases`): its lease is left alone, or a second call could start while
    the first is still writing. The call records the pair's state itself when it is done, and the run's writes were
    conditional, so nothing is lost; the next run compares the pair again."""
    holder = lease_holder(coupling, context.clock())
    return holder is not None and holder != job_id


def record_failure(
    context: SyncContext, mapping: str, side: Side, record_id: str, error: SyncError, work: UnitOfWork | None = None
) -> bool:
    """Count a record error (transient ones are never counted: they are retried). Returns whether it is now skipped.
    With a unit of work the error is written by its flush."""
    if error.is_transient:
        return False
    if work is not None:
        return work.failed(side, record_id, error)
    entry = context.errors.record_error(mapping, side, record_id, error.code, error.message)
    return entry.skipped


def outcome_error(outcome: BatchOutcome) -> SyncError:
    """A failed batch operation (BC JSON `$batch` or Dataverse `$batch`) as a domain error. The record changed since
    it was read (BC 409 `Request_EntityChanged`, Dataverse 412 ConcurrencyVersionMismatch on `If-Match`), was not
    executed (424) or was throttled: transient, so it is never counted toward skipping and the next run reads it
    again and decides with its new values. Everything else is a record error."""
    error = (outcome.body or {}).get("error", {}) if isinstance(outcome.body, dict) else {}
    code = str(error.get("code") or f"HTTP{outcome.status}")
    kind = ErrorKind.TRANSIENT if outcome.status in (408, 409, 412, 424, 429, 502, 503, 504) else ErrorKind.RECORD
    return SyncError(code, str(error.get("message") or ""), kind=kind)
