"""Writing a page's decided pairs (`pair_decisions.Pending`) to both apps, then recording the pairs that made it.

Dataverse first (one `$batch` of PATCH operations, each at the version read), the mapping's behaviours on the rows
updated there (a product's price list items follow its price), then BC (JSON `$batch`, each with its `If-Match`).
Why conditional on the version read: an edit made since the read is never overwritten with values decided without
it; the stale write fails the record transiently (`outcomes.outcome_error`), so its side's watermark stays before it
and the next run reads both sides again and decides with the edit. A pair that failed on either side is not
recorded; the others are saved in the run's unit of work, with the versions of the sides this run did not write.
"""

from __future__ import annotations

from typing import Any

from shared.domain.errors import SyncError
from shared.domain.records import Side
from shared.engine.behaviours import hooks as behaviours
from shared.engine.candidates import etag_of
from shared.engine.outcomes import outcome_error, save_synchronized
from shared.engine.pair_decisions import Pending
from shared.engine.run_state import RunState


def write_pending(run: RunState, pending: list[Pending]) -> None:
    failed: set[str] = set()  # BC ids of the pairs that failed on either side
    dv_rows: list[dict[str, Any]] = []
    dv_owners: list[Pending] = []
    for item in (p for p in pending if p.to_dv):
        try:
            payload = run.mapper.dataverse_payload(item.bc_row, item.to_dv, creating=False)
        except SyncError as error:
            run.fail(Side.BC, item.coupling.bc_id, error, item.bc_row)
            failed.add(item.coupling.bc_id)
            continue
        dv_rows.append({run.mapping.dataverse_id: item.coupling.dataverse_id, **payload})
        dv_owners.append(item)
    _update_dataverse(run, dv_rows, dv_owners, failed)
    updated = [o for o in dv_owners if o.coupling.bc_id not in failed]
    ids = [o.coupling.dataverse_id for o in updated]
    try:  # the mapping's behaviours on updated records (a product's price list items follow its price)
        behaviours.after_updated_in_dataverse(run.context, run.mapping, ids)
    except SyncError as error:
        for owner in updated:
            run.fail(Side.BC, owner.coupling.bc_id, error, owner.bc_row)
            failed.add(owner.coupling.bc_id)
    _update_bc(run, [p for p in pending if p.to_bc and p.coupling.bc_id not in failed], failed)
    for item in pending:
        if item.coupling.bc_id in failed:
            continue
        run.tally(item.coupling, "modified")
        for source, row, wrote in ((Side.BC, item.bc_row, item.to_dv), (Side.DATAVERSE, item.dv_row, item.to_bc)):
            if wrote:
                run.wrote(source, [row])  # its latency, and whether a notification missed it
        save_synchronized(
            run.context,
            item.coupling,
            item.values,
            bc_modified=None if item.to_bc else run.bc.modified_on(item.bc_row),
            dv_modified=None if item.to_dv else run.dv.modified_on(item.dv_row),
            job_id=run.job_id,
            bc_version=None if item.to_bc else etag_of(item.bc_row),
            dv_version=None if item.to_dv else etag_of(item.dv_row),
            work=run.work,
        )


def _update_dataverse(run: RunState, rows: list[dict[str, Any]], owners: list[Pending], failed: set[str]) -> None:
    """Update the coupled rows, each only at the version this run read (`If-Match` per operation of a `$batch`,
    never an unconditional upsert): an edit made in Sales since the read is not overwritten with values decided
    without it. Its 412 fails the record transiently (`outcome_error`): not counted, the BC watermark stays
    before it, and the next run reads both sides again and decides with the edit."""
    primary = run.mapping.dataverse_id
    updates = [
        (str(row[primary]), {k: v for k, v in row.items() if k != primary}, etag_of(owner.dv_row))
        for row, owner in zip(rows, owners, strict=True)
    ]
    for owner, result in zip(owners, run.dv.update_in_chunks(updates), strict=True):
        error = result if isinstance(result, SyncError) else None if result.ok else outcome_error(result)
        if error is not None:
            run.fail(Side.BC, owner.coupling.bc_id, error, owner.bc_row)
            failed.add(owner.coupling.bc_id)


def _update_bc(run: RunState, items: list[Pending], failed: set[str]) -> None:
    updates = []
    sendable = []
    for item in items:
        try:
            body = run.mapper.bc_payload(item.dv_row, item.to_bc, creating=False)
        except SyncError as error:
            run.fail(Side.DATAVERSE, item.coupling.dataverse_id, error, item.dv_row)
            failed.add(item.coupling.bc_id)
            continue
        updates.append((item.coupling.bc_id, body, str(item.bc_row.get("@odata.etag") or "*")))
        sendable.append(item)
    for item, outcome in zip(sendable, run.bc.update_many(updates), strict=True):
        if not outcome.ok:
            run.fail(Side.DATAVERSE, item.coupling.dataverse_id, outcome_error(outcome), item.dv_row)
            failed.add(item.coupling.bc_id)
