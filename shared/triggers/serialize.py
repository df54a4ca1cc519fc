"""Domain objects as the API's camelCase JSON."""

from __future__ import annotations

from typing import Any

from shared.domain.coupling import Coupling
from shared.domain.records import RecordErrorEntry, SyncJob


def coupling_json(coupling: Coupling) -> dict[str, Any]:
    return {
        "mapping": coupling.mapping,
        "bcId": coupling.bc_id,
        "dataverseId": coupling.dataverse_id,
        "skipped": coupling.skipped,
        "coupledOn": coupling.coupled_on,
        "bc": {
            "modifiedOn": coupling.bc.modified_on,
            "lastResult": coupling.bc.last_result.value or None,
            "lastJobId": coupling.bc.last_job_id,
        },
        "dataverse": {
            "modifiedOn": coupling.dataverse.modified_on,
            "lastResult": coupling.dataverse.last_result.value or None,
            "lastJobId": coupling.dataverse.last_job_id,
        },
        "synchronized": coupling.values_hash is not None,
    }


def job_json(job: SyncJob) -> dict[str, Any]:
    return {
        "mapping": job.mapping,
        "jobId": job.job_id,
        "startedOn": job.started_on,
        "finishedOn": job.finished_on,
        "status": job.status,
        "counters": job.counters.as_dict(),
        "message": job.message,
        "budget": dict(job.budget),
        "trigger": job.trigger or None,  # poll, wake, queue, now, fullSync (null: a job that does not say)
        "missedByNotifications": job.missed,  # a poll's changes that notifications should have brought first
        "missedBySide": dict(job.missed_by_notifications),  # the same per side of the change: {"bc": n, "dv": n}
    }


def error_entry_json(entry: RecordErrorEntry) -> dict[str, Any]:
    return {
        "mapping": entry.mapping,
        "side": entry.side.value,
        "id": entry.record_id,
        "code": entry.code,
        "message": entry.message,
        "count": entry.count,
        "firstSeen": entry.first_seen,
        "lastSeen": entry.last_seen,
        "skipped": entry.skipped,
    }


SYNC_REPORT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["mapping", "bcId", "dataverseId", "direction", "outcome", "jobId", "changes"],
    "properties": {
        "mapping": {"type": "string"},
        "bcId": {"type": "string"},
        "dataverseId": {"type": "string"},
        "direction": {"enum": ["toDataverse", "fromDataverse"], "description": "the direction applied"},
        "outcome": {"type": "string", "enum": ["modified", "unchanged"]},
        "jobId": {"type": "string"},
        "changes": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "old", "new"],
                "properties": {
                    "field": {"type": "string"},
                    "bcField": {"type": ["string", "null"]},
                    "dataverseField": {"type": ["string", "null"]},
                    "old": {},
                    "new": {},
                },
            },
        },
    },
}


def report_json(report: Any) -> dict[str, Any]:
    return {
        "mapping": report.mapping,
        "bcId": report.bc_id,
        "dataverseId": report.dataverse_id,
        "direction": report.direction.value,
        "outcome": report.outcome,
        "jobId": report.job_id,
        "changes": [
            {"field": c.field, "bcField": c.bc_field, "dataverseField": c.dataverse_field, "old": c.old, "new": c.new}
            for c in report.changes
        ],
    }
