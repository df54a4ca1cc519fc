"""The life of a queued job's entry on the job log (`SyncJob`, `context.jobs.record_job`, read by
`GET /api/jobs/{jobId}`), written one way for every queued job (uncouple all, Find for Deleted, match-based coupling).

The entry is queued (the route records it, `triggers/queued_jobs.queue_job`), then running with its counters as the
job goes, then finished, or failed with why (the job re-raises, for Service Bus to deliver it again). It keeps one
key throughout: its start is the time it was queued, so each record replaces the last (an upsert). Each job keeps
its own messages and counters and passes them in; this module only says how the entry moves.

On a delivery (`deliver`): a job whose entry is finished already is not run again (its entry is returned as it is);
otherwise the entry goes back to running, keeping the start it was queued with and, if the job asks, the counters
its last delivery reached (a job that goes on from where it stopped).
"""

from __future__ import annotations

from dataclasses import replace

from shared.domain.records import Counters, JobStatus, SyncJob
from shared.domain.watermarks import format_instant
from shared.engine.context import SyncContext

__all__ = ["JobEntry", "deliver", "queued"]


def queued(context: SyncContext, mapping: str, job_id: str, message: str) -> SyncJob:
    """The entry of a job about to be queued (the route records it before sending the message), started now."""
    return SyncJob(mapping, job_id, format_instant(context.clock()), status=JobStatus.QUEUED, message=message)


class JobEntry:
    """A job's entry while it runs: each change is recorded at once (an upsert under the same key)."""

    def __init__(self, context: SyncContext, job: SyncJob) -> None:
        self.context, self.job = context, job

    @property
    def finished(self) -> bool:
        return self.job.status == JobStatus.FINISHED

    def record(self, job: SyncJob) -> SyncJob:
        self.job = job
        self.context.jobs.record_job(job)
        return job

    def progress(self, message: str, counters: Counters | None = None) -> SyncJob:
        """The job's progress: its message and (when given) counters, still running."""
        return self.record(
            replace(self.job, message=message, counters=counters if counters is not None else self.job.counters)
        )

    def finish(self, message: str, counters: Counters | None = None, finished_on: str | None = None) -> SyncJob:
        """Finished (now, unless `finished_on` says when), with its last message and (when given) counters."""
        ended = finished_on or format_instant(self.context.clock())
        counters = counters if counters is not None else self.job.counters
        return self.record(
            replace(self.job, status=JobStatus.FINISHED, finished_on=ended, counters=counters, message=message)
        )

    def fail(self, message: str, counters: Counters | None = None) -> SyncJob:
        """Failed now, with why; the caller re-raises, for Service Bus to deliver the job again."""
        ended = format_instant(self.context.clock())
        counters = counters if counters is not None else self.job.counters
        return self.record(
            replace(self.job, status=JobStatus.FAILED, finished_on=ended, counters=counters, message=message)
        )


def deliver(
    context: SyncContext, mapping: str, job_id: str, queued_on: str, message: str, *, keep_counters: bool = False
) -> JobEntry:
    """A delivery of the job: its entry as it is when finished already (nothing recorded: `JobEntry.finished`), else
    recorded running with `message`, keeping its start (the entry's, else `queued_on`, else now) and, with
    `keep_counters`, the counters it holds."""
    previous = context.jobs.find_job(job_id, mapping)
    if previous is not None and previous.status == JobStatus.FINISHED:
        return JobEntry(context, previous)
    started = previous.started_on if previous is not None else queued_on or format_instant(context.clock())
    counters = previous.counters if previous is not None and keep_counters else Counters()
    entry = JobEntry(context, SyncJob(mapping, job_id, started, status=JobStatus.RUNNING, counters=counters))
    entry.progress(message)
    return entry
