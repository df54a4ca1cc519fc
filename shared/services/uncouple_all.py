"""Uncouple many couplings of a mapping: the selected ones now, or all of them as a queued job with its progress.

BC's model: "Delete Coupling" of every coupling of a table mapping is not done in the page; it is scheduled
(CRMIntegrationManagement `RemoveCoupling(TableID, CRMTableID)` -> `ScheduleUncoupling` -> `EnqueueUncoupleJob`, a
job queue entry running `CDS Int. Table Uncouple`), which begins an uncouple job on the integration synch. job log
(`BeginIntegrationUncoupleJob`), runs the per-record uncouple for each coupling (`UncoupleAllCoupledRecords` ->
`IntegrationTableSynch.Uncouple`; a coupling whose two records are both gone is just deleted) and then clears this
company's stamp from the Dataverse rows still stamped (`ResetStuckCompanyId`). Here the same: a `uncoupleAll`
message on `sync-jobs`, whose job entry (`GET /api/jobs/{jobId}`) shows it queued, running with its `uncoupled`
counter, then finished (its message: how many) or failed (its message: why; Service Bus delivers it again),
as `services/job_entry.py` moves every queued job's entry.

Per coupling the work is `services/coupling.uncouple`'s (BC's per-record uncouple), through the function both use,
`coupling.uncouple_couplings`: the Dataverse row's company stamp cleared when the mapping writes to Dataverse (one
row at a time: the port has no bulk release, and the whole org's client sends nothing), the coupling removed (its
former partners kept when one record was created from the other), the two records' errors cleared and the mapping's
after-uncouple behaviours run. In bulk where the stores allow: a batch's couplings are removed in transactions of 25
to 50 (`delete_couplings`) and their errors cleared in one call.

Why a redelivery never counts twice: the job reads the first page of what is still coupled each time (what it
uncoupled is gone from the list), counts only the couplings its own delete removed (`delete_couplings` says which),
and goes on from the counter its job entry holds. A delivery that died after a batch's delete and before its
progress was recorded leaves that batch (at most `BATCH`) uncounted: it undercounts, it never counts twice.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from shared.domain.records import Counters, SyncJob
from shared.engine.context import SyncContext
from shared.services import job_entry
from shared.services.coupling import uncouple_couplings

__all__ = ["Uncoupled", "queued_job", "run_uncouple_all", "uncouple_couplings", "uncouple_selected"]
log = logging.getLogger("bc_sales_sync.uncouple")
BATCH = 100  # couplings read, uncoupled and counted on the job entry at a time
STALLS = 3  # batches in a row that removed nothing (another delivery removing them too) before the job stops
UNCOUPLED, NOT_COUPLED = "uncoupled", "notCoupled"


@dataclass(frozen=True)
class Uncoupled:
    """One selected BC id and what became of it (`outcome` uncoupled or notCoupled)."""

    bc_id: str
    outcome: str
    dataverse_id: str | None = None


def uncouple_selected(context: SyncContext, mapping_name: str, bc_ids: Sequence[str]) -> list[Uncoupled]:
    """Uncouple the couplings of the BC ids (as the route reads them: GUIDs in lower case, or page keys) now, in the
    order given (each once); an id not coupled is reported as such (as `uncouple`, it is no error)."""
    mapping = context.mapping(mapping_name)
    wanted = list(dict.fromkeys(bc_ids))
    found = context.couplings.find_many_by_bc_ids(mapping.name, wanted)
    couplings = [found[bc_id] for bc_id in wanted if bc_id in found]
    removed = dict(zip([c.bc_id for c in couplings], uncouple_couplings(context, mapping, couplings), strict=True))
    results: list[Uncoupled] = []
    for bc_id in wanted:
        coupling = found.get(bc_id)
        if coupling is None or not removed[bc_id]:
            results.append(Uncoupled(bc_id, NOT_COUPLED))
        else:
            results.append(Uncoupled(bc_id, UNCOUPLED, coupling.dataverse_id))
    return results


def queued_job(context: SyncContext, mapping_name: str, job_id: str) -> SyncJob:
    """The job entry of an uncouple-all job about to be queued (the route records it before sending the message)."""
    return job_entry.queued(context, context.mapping(mapping_name).name, job_id, "Waiting for its turn on the queue.")


def run_uncouple_all(context: SyncContext, mapping_name: str, job_id: str, queued_on: str = "") -> SyncJob:
    """The `uncoupleAll` job: uncouple every coupling of the mapping, `BATCH` at a time, recording the progress on
    the job entry (module docstring, `job_entry`). A finished job delivered again does nothing. Raises what failed,
    after recording it, for Service Bus to deliver it again (the next delivery goes on from its counter)."""
    mapping = context.mapping(mapping_name)
    entry = job_entry.deliver(context, mapping.name, job_id, queued_on, "Uncoupling.", keep_counters=True)
    if entry.finished:
        return entry.job
    uncoupled = entry.job.counters.uncoupled
    try:
        stalls = 0
        while stalls < STALLS:
            page, _ = context.couplings.list_page(mapping.name, BATCH)
            if not page:
                break
            removed = sum(uncouple_couplings(context, mapping, page))
            stalls = 0 if removed else stalls + 1
            uncoupled += removed
            entry.progress(f"Uncoupled {uncoupled} so far.", Counters(uncoupled=uncoupled))
    except Exception as error:
        log.exception("uncouple all of %s (job %s) failed", mapping.name, job_id)
        entry.fail(f"Failed after {uncoupled} uncoupled: {error}; it goes on when delivered again.")
        raise
    done = f"Uncoupled {uncoupled} coupling(s) of {mapping.name}: none is left."
    if stalls >= STALLS:
        done = f"Uncoupled {uncoupled}; the rest was being uncoupled by another delivery of this job."
    return entry.finish(done)
