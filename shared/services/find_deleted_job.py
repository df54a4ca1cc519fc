"""BC's "Find for Deleted" as a queued job with its progress (issue 24): `POST /api/sync-errors/find-deleted` logs
the job entry "queued" and sends a `findDeleted` message on `sync-jobs`; the worker runs `deleted_records.find_deleted`
and keeps the entry (`GET /api/jobs/{jobId}`) up to date: running, with what was listed and found so far, then
finished with the report's counts, or failed with why (raised, so Service Bus delivers it again), as
`services/job_entry.py` moves every queued job's entry.

Why a job: the find lists every id of both tables of the mapping; for 100,000 couplings that takes minutes, longer
than an HTTP request may last. BC too runs it from its page, but BC's session has no such timeout.

The counters of the entry (the job log has one set of counters for every kind of job; these are what they mean here):
`unchanged` the couplings compared, `deleted` the couplings with a record gone in one app or both, `failed` the
entries newly recorded on the Sync errors list (a run counts the same finding as failed), `skipped` the entries that
were there already and the creations in progress left alone, `uncoupled` the couplings removed because both records
were gone. The finished entry's message spells out the report.

Why a redelivery changes nothing: a finished job delivered again returns its entry as it is (nothing is read or
counted again). A delivery after a failed one runs the find again, which is idempotent: an entry recorded by the
failed delivery is counted as already recorded (`skipped`), never recorded or counted twice.
"""

from __future__ import annotations

import logging

from shared.domain.records import Counters, SyncJob
from shared.engine.context import SyncContext
from shared.services import job_entry
from shared.services.deleted_records import FindDeletedReport, FindProgress, find_deleted

log = logging.getLogger("bc_sales_sync.find_deleted")
JOB_PREFIX = "findDeleted"


def queued_job(context: SyncContext, mapping_name: str, job_id: str) -> SyncJob:
    """The job entry of a find about to be queued. The mapping must be one a run can run (`runnable`: 409
    `mappingNotRunnable` otherwise, before anything is queued), as the find itself requires."""
    return job_entry.queued(context, context.runnable(mapping_name).name, job_id, "Waiting for its turn on the queue.")


def progress_counters(at: FindProgress) -> Counters:
    return Counters(
        unchanged=at.checked + (at.couplings - at.broken if at.phase in ("checking", "recording") else 0),
        deleted=at.deleted + at.both_deleted,
        uncoupled=at.both_deleted,
    )


def progress_message(at: FindProgress) -> str:
    if at.phase == "listing BC":
        return f"Listing the Business Central ids ({at.bc_ids} so far) to compare with {at.couplings} coupling(s)."
    if at.phase == "listing Dataverse":
        return f"Listing the Dataverse ids ({at.dataverse_ids} so far) to compare with {at.couplings} coupling(s)."
    if at.phase == "checking":
        return f"Checking again {at.checked} of {at.broken} coupling(s) with a record missing; {at.deleted} found."
    return f"Recording the {at.deleted} coupling(s) with a record deleted on the Sync errors list."


def report_counters(report: FindDeletedReport) -> Counters:
    gone = report.bc_deleted + report.dataverse_deleted
    return Counters(
        unchanged=report.couplings,
        deleted=gone + report.both_deleted,
        failed=report.recorded,
        skipped=report.already_recorded + report.in_progress,
        uncoupled=report.both_deleted,
    )


def report_message(report: FindDeletedReport) -> str:
    return (
        f"Compared {report.couplings} coupling(s) of {report.mapping}: {report.bc_deleted} record(s) deleted in "
        f"Business Central, {report.dataverse_deleted} in Dataverse, {report.both_deleted} in both (coupling removed), "
        f"{report.in_progress} creation(s) in progress left alone; {report.recorded} recorded on the Sync errors list, "
        f"{report.already_recorded} already there."
    )


def run_find_deleted(context: SyncContext, mapping_name: str, job_id: str, queued_on: str = "") -> SyncJob:
    """The `findDeleted` job (module docstring): the find, its progress on the job entry, the finished or failed
    entry (`job_entry`). Raises what failed, after recording it, for Service Bus to deliver it again."""
    mapping = context.runnable(mapping_name)
    entry = job_entry.deliver(context, mapping.name, job_id, queued_on, "Reading the couplings.")
    if entry.finished:
        return entry.job

    def progress(at: FindProgress) -> None:
        entry.progress(progress_message(at), progress_counters(at))

    try:
        report = find_deleted(context, mapping.name, progress)
    except Exception as error:
        log.exception("find for deleted of %s (job %s) failed", mapping.name, job_id)
        entry.fail(f"Failed: {error}; it runs again when delivered again (what it recorded is kept, once).")
        raise
    return entry.finish(report_message(report), report_counters(report))
