"""Uncouple many couplings of a mapping: the selected ones now, or all of them as a queued job with its progress.

BC's model: "Delete Coupling" of every coupling of a table mapping is not done in the page; it is scheduled
(CRMIntegrationManagement `RemoveCoupling(TableID, CRMTableID)` -> `ScheduleUncoupling` -> `EnqueueUncoupleJob`, a
job queue entry running `CDS Int. Table Uncouple`), which begins an uncouple job on the integration synch. job log
(`BeginIntegrationUncoupleJob`), runs the per-record uncouple for each coupling (`UncoupleAllCoupledRecords` ->
`IntegrationTableSynch.Uncouple`; a coupling whose two records are both gone is just deleted) and then clears this
company's stamp from the Dataverse rows still stamped (`ResetStuckCompanyId`). Here the same: a `uncoupleAll`
message on `sync-jobs`, whose job entry (`GET /api/jobs/{jobId}`) shows it queued, running with its `uncoupled`
counter, then finished (its message: how many) or failed (its message: why; Service Bus delivers it again).

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
from dataclasses import dataclass, replace

from shared.domain.records import Counters, SyncJob
from shared.domain.watermarks import format_instant
from shared.engine.context import SyncContext
from shared.services.coupling import uncouple_couplings

__all__ = ["Uncoupled", "queued_job", "run_uncouple_all", "uncouple_couplings", "uncouple_selected"]
log = logging.getLogger("bc_sales_sync.uncouple")
BATCH = 100  # couplings read, uncoupled and counted on the job entry at a time
STALLS = 3  # batches in a row that removed nothing (another delivery removing them too) before the job stops
UNCOUPLED, NOT_COUPLED = "uncoupled", "notCoupled"
QUEUED, RUNNING, FINISHED, FAILED = "queued", "running", "finished", "failed"


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
    mapping = context.mapping(mapping_name)
    started = format_instant(context.clock())
    return SyncJob(mapping.name, job_id, started, status=QUEUED, message="Waiting for its turn on the queue.")


def run_uncouple_all(context: SyncContext, mapping_name: str, job_id: str, queued_on: str = "") -> SyncJob:
    """The `uncoupleAll` job: uncouple every coupling of the mapping, `BATCH` at a time, recording the progress on
    the job entry (module docstring). A finished job delivered again does nothing. Raises what failed, after
    recording it, for Service Bus to deliver it again (the next delivery goes on from there)."""
    mapping = context.mapping(mapping_name)
    previous = context.jobs.find_job(job_id, mapping.name)
    if previous is not None and previous.status == FINISHED:
        return previous
    started = previous.started_on if previous is not None else queued_on or format_instant(context.clock())
    counters = Counters(uncoupled=previous.counters.uncoupled) if previous is not None else Counters()
    job = SyncJob(mapping.name, job_id, started, status=RUNNING, counters=counters, message="Uncoupling.")
    context.jobs.record_job(job)
    try:
        stalls = 0
        while stalls < STALLS:
            page, _ = context.couplings.list_page(mapping.name, BATCH)
            if not page:
                break
            removed = sum(uncouple_couplings(context, mapping, page))
            stalls = 0 if removed else stalls + 1
            counters = Counters(uncoupled=counters.uncoupled + removed)
            job = replace(job, counters=counters, message=f"Uncoupled {counters.uncoupled} so far.")
            context.jobs.record_job(job)
    except Exception as error:
        log.exception("uncouple all of %s (job %s) failed", mapping.name, job_id)
        failed = f"Failed after {counters.uncoupled} uncoupled: {error}; it goes on when delivered again."
        ended = format_instant(context.clock())
        context.jobs.record_job(replace(job, status=FAILED, finished_on=ended, message=failed))
        raise
    done = f"Uncoupled {counters.uncoupled} coupling(s) of {mapping.name}: none is left."
    if stalls >= STALLS:
        done = f"Uncoupled {counters.uncoupled}; the rest was being uncoupled by another delivery of this job."
    finished = replace(job, status=FINISHED, finished_on=format_instant(context.clock()), message=done)
    context.jobs.record_job(finished)
    return finished
