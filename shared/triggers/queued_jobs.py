"""Queue a job a route answers 202 for (uncouple all, match-based coupling, Find for Deleted): its job entry
first, then its message; and the 202 answer the three routes give, with its one schema (`QUEUED_SCHEMA`). The entry's
life after that is `services/job_entry.py`'s.

Why this order and this one place: the entry is what `GET /api/jobs/{jobId}` shows, so it must exist before a worker
can replace it with "running" (the worker's progress must never be overwritten by a late "queued"), and a send that
fails must not leave a job "queued" for ever (a stuck run the console would poll until the admin gave up): the entry
is marked failed with why, and the route answers the error. The `Location` names the job's mapping, so a poll reads
that mapping's jobs only (`TableJobStore.find_job`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import quote

import azure.functions as func

from shared.domain.jobs import JobMessage
from shared.domain.records import JobStatus, SyncJob
from shared.triggers.http_support import json_response

QUEUED_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "the job queued: its progress, then its outcome, at Location (jobs/{jobId}?mapping=)",
    "required": ["jobId", "mapping", "status"],
    "properties": {
        "jobId": {"type": "string"},
        "mapping": {"type": "string"},
        "status": {"type": "string", "enum": [JobStatus.QUEUED.value]},
        "queuedOn": {"type": "string", "description": "when it was queued (match-based coupling's answer)"},
    },
}


def job_location(job: SyncJob) -> str:
    return f"/api/jobs/{quote(job.job_id, safe='')}?mapping={quote(job.mapping, safe='')}"


def queued_answer(job: SyncJob, *, queued_on: bool = False) -> dict[str, Any]:
    """The 202 answer (`QUEUED_SCHEMA`) for the queued `job`; `queued_on`: with the time it was queued."""
    answer = {"jobId": job.job_id, "mapping": job.mapping, "status": job.status}
    return {**answer, "queuedOn": job.started_on} if queued_on else answer


def queue_job(services: Any, job: SyncJob, message: JobMessage, *, queued_on: bool = False) -> func.HttpResponse:
    """Record `job` (status queued), send `message`, answer 202 (`queued_answer`) with the job's Location."""
    services.context.jobs.record_job(job)
    try:
        services.queue.send([message])
    except Exception as error:
        services.context.jobs.record_job(replace(job, status=JobStatus.FAILED, message=f"Not queued: {error}"))
        raise
    return json_response(202, queued_answer(job, queued_on=queued_on), {"Location": job_location(job)})
