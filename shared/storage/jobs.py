"""The job log in Table Storage: PartitionKey mapping, RowKey inverted start time + job id.

Why inverted time: Table Storage returns rows in key order only, so keys that shrink as time grows make "the last 50
jobs of a mapping" one query for the first page, with no sort and no scan. Why an upsert without `If-Match`: a job
row is written only by the job it describes (started, then finished), never by anyone else, so there is no race to
lose; the key is derived from the job's start, so recording the finished job replaces the started one.
`find_job` by id alone has no key to use and scans the table (`JobId` property); given the job's mapping it reads that
partition only: what a page polling a job it queued asks (`GET /api/jobs/{jobId}?mapping=`), and the uncouple-all job.

The budget report (issue 22, item 7): a job log built with `report` (`bootstrap.build_services`: the company's
`connectors.budget.METER`) stores with each job the requests its company sent per budget scope and its share of
the scope's window (`Budget`, JSON), unless the job carries its own.

Issue 23: `Trigger` (what started the run) and, on a poll that found changes its notifications missed,
`MissedByNotifications` (their count, a number operators can sort on) with `MissedBySide` (per side, JSON).
`list_jobs(..., trigger=)` asks the partition for one trigger's jobs (a filter the service applies, newest first),
so "the last poll" is one query however many woken runs came after it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from azure.data.tables import TableClient, TableEntity, UpdateMode

from shared.domain.record_errors import clip_message
from shared.domain.records import SyncJob
from shared.storage.keys import escape_key, job_row_key, odata_string, parse_instant
from shared.storage.runs import counter_properties, counters_from
from shared.storage.tables import SYNC_JOBS, TableFactory


class TableJobLog:
    """`JobLog` on the `SyncJobs` table."""

    def __init__(self, tables: TableFactory, report: Callable[[], Mapping[str, Any]] | None = None) -> None:
        self._tables = tables
        self.report = report  # the budget report of the job being recorded (module docstring)

    @property
    def _table(self) -> TableClient:
        return self._tables.table(SYNC_JOBS)

    def record_job(self, job: SyncJob) -> None:
        if self.report is not None and not job.budget:
            job = replace(job, budget=dict(self.report()))
        entity: dict[str, Any] = {
            "PartitionKey": escape_key(job.mapping),
            "RowKey": job_row_key(job.started_on, job.job_id),
            "Mapping": job.mapping,
            "JobId": job.job_id,
            "StartedOn": job.started_on,
            "FinishedOn": job.finished_on,
            "Status": job.status,
            "Message": clip_message(job.message),
            "DurationSeconds": _duration(job),
            **counter_properties(job.counters),
            "Budget": json.dumps(dict(job.budget), sort_keys=True) if job.budget else None,
            "Trigger": job.trigger or None,
            "MissedByNotifications": job.missed if job.missed_by_notifications else None,
            "MissedBySide": json.dumps(dict(job.missed_by_notifications), sort_keys=True) if job.missed else None,
        }
        self._table.upsert_entity(entity, mode=UpdateMode.REPLACE)

    def list_jobs(self, mapping: str, limit: int = 50, trigger: str | None = None) -> list[SyncJob]:
        """Newest first (by start time; the job id breaks ties); only those `trigger` started when given."""
        if limit <= 0:
            return []
        query = f"PartitionKey eq {odata_string(escape_key(mapping))}"
        if trigger is not None:
            query += f" and Trigger eq {odata_string(trigger)}"
        rows = self._table.query_entities(query, results_per_page=min(limit, 1000))
        jobs: list[SyncJob] = []
        for row in rows:
            jobs.append(_job(row))
            if len(jobs) == limit:
                break
        return jobs

    def find_job(self, job_id: str, mapping: str | None = None) -> SyncJob | None:
        query = f"JobId eq {odata_string(job_id)}"
        if mapping is not None:
            query = f"PartitionKey eq {odata_string(escape_key(mapping))} and {query}"
        rows = self._table.query_entities(query)
        return next((_job(row) for row in rows), None)


def _duration(job: SyncJob) -> float | None:
    """Stored for operators (sortable in Storage Explorer); derived, so not part of `SyncJob`."""
    if job.finished_on is None:
        return None
    return (parse_instant(job.finished_on) - parse_instant(job.started_on)).total_seconds()


def _job(row: TableEntity) -> SyncJob:
    return SyncJob(
        mapping=row["Mapping"],
        job_id=row["JobId"],
        started_on=row["StartedOn"],
        finished_on=row.get("FinishedOn"),
        status=row["Status"],
        counters=counters_from(row),
        message=row.get("Message", ""),
        budget=json.loads(row["Budget"]) if row.get("Budget") else {},
        trigger=row.get("Trigger") or "",
        missed_by_notifications=json.loads(row["MissedBySide"]) if row.get("MissedBySide") else {},
    )
