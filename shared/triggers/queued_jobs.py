"""Queue a job a route answers 202 for (uncouple all, match-based coupling, Find for Deleted): its job entry
first, then its message.

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
from shared.domain.records import SyncJob
from shared.triggers.http_support import json_response


def job_location(job: SyncJob) -> str:
    return f"/api/jobs/{quote(job.job_id, safe='')}?mapping={quote(job.mapping, safe='')}"


def queue_job(services: Any, job: SyncJob, message: JobMessage, answer: dict[str, Any]) -> func.HttpResponse:
    """Record `job` (status queued), send `message`, answer 202 with `answer` and the job's Location."""
    services.context.jobs.record_job(job)
    try:
        services.queue.send([message])
    except Exception as error:
        services.context.jobs.record_job(replace(job, status="failed", message=f"Not queued: {error}"))
        raise
    return json_response(202, answer, {"Location": job_location(job)})
