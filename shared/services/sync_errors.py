"""Record errors: list them, restore skipped records (BC's "Restore"), and retry records now.

Why a retry is a run and not Synchronize Now: Synchronize Now makes one side overwrite the other. For a record that
failed with "changed in both apps", that silently throws away one side's change, which is what the conflict rule
exists to prevent. A retry therefore restores the records and runs the mapping the way a scheduled run does. Failed,
not-skipped records are retried first, decided by the per-field hashes (conflicts stay conflicts, and one-way fields
go their own way), written in bulk, and uncoupled ones are created when the mapping creates. Deletion policies apply.

Why the run's candidates are the failed records (`domain/candidate_sources.FailedRecords`): the run reads no
changes, so the retry picks up no unrelated ones, and it moves no checkpoint, so it never moves the mapping's
watermark under a scheduled run. Every failed, not-skipped record of the mapping is retried along with the ones
asked for, as a scheduled run would.

A record that fails again with the same error is skipped again at once: restoring keeps the history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from shared.domain.candidate_sources import FAILED_RECORDS
from shared.domain.errors import InvalidInputError
from shared.domain.records import RecordErrorEntry, Side, SyncJob
from shared.engine.context import SyncContext
from shared.engine.mapping_run import run_mapping

ALL: Literal["all"] = "all"
Ids = Sequence[str] | Literal["all"]


@dataclass(frozen=True)
class RetryOutcome:
    """What happened to one asked-for record.

    `outcome` is one of: `synchronized` (the error is gone), `created` (it was uncoupled, and is now created on the
    other side and coupled), `failed` (it failed again: see `code` and `skipped`), `notSynchronized` (it was not
    read, because it is gone, outside the mapping's filter, or a transient failure hit it; it stays restored, so the
    next run tries again), or `noError` (no error is recorded for this id)."""

    record_id: str
    side: Side | None
    outcome: str
    code: str | None = None
    message: str | None = None
    skipped: bool = False


@dataclass(frozen=True)
class RetryReport:
    mapping: str
    job: SyncJob | None
    records: list[RetryOutcome] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The API's JSON shape (camelCase)."""
        return {
            "mapping": self.mapping,
            "jobId": self.job.job_id if self.job else None,
            "counters": self.job.counters.as_dict() if self.job else None,
            "records": [
                {
                    "id": r.record_id,
                    "side": r.side.value if r.side else None,
                    "outcome": r.outcome,
                    "code": r.code,
                    "message": r.message,
                    "skipped": r.skipped,
                }
                for r in self.records
            ],
        }


def list_sync_errors(context: SyncContext, mapping: str | None = None) -> list[RecordErrorEntry]:
    """Every record error, or those of one mapping: by mapping, then side, then record id."""
    return context.errors.list_errors(mapping)


def list_sync_errors_page(
    context: SyncContext, mapping: str | None, top: int, continuation_token: str | None = None
) -> tuple[list[RecordErrorEntry], str | None]:
    """One page of `list_sync_errors` and the token of the next (None at the end): the Sync errors page reads a
    page at a time, never the whole list (issue 24). A token not handed out for this list is `InvalidInputError`."""
    return context.errors.list_errors_page(mapping, top, continuation_token)


def _select(entries: Sequence[RecordErrorEntry], ids: Ids) -> tuple[list[RecordErrorEntry], list[str]]:
    """The entries asked for (an id may be either side's), and the ids that have none."""
    if isinstance(ids, str) and ids != ALL:
        raise InvalidInputError("invalidIds", "Give a list of ids or 'all'.", field="ids")
    if ids == ALL:
        return list(entries), []
    if not ids:
        raise InvalidInputError("idsRequired", "Give at least one id, or 'all'.", field="ids")
    wanted = list(dict.fromkeys(str(i).lower() for i in ids))
    by_id: dict[str, list[RecordErrorEntry]] = {}
    for entry in entries:
        by_id.setdefault(entry.record_id.lower(), []).append(entry)
    chosen = [entry for record_id in wanted for entry in by_id.get(record_id, [])]
    return chosen, [record_id for record_id in wanted if record_id not in by_id]


def restore(context: SyncContext, mapping_name: str, ids: Ids) -> list[RecordErrorEntry]:
    """Clear the skipped flag of these records (keeping their history), so the next run retries them. Returns the
    entries that were skipped. Ids without an error are ignored, so a repeated restore succeeds."""
    mapping = context.mapping(mapping_name)
    chosen, _ = _select(context.errors.list_errors(mapping.name), ids)
    restored = [entry for entry in chosen if entry.skipped]
    for entry in restored:
        context.errors.restore(mapping.name, entry.side, entry.record_id)
    return restored


def retry(context: SyncContext, mapping_name: str, ids: Ids) -> RetryReport:
    """Restore these records and synchronize them now, as a run does (see the module docstring). Raises
    InvalidInputError when `ids` is neither a non-empty list nor 'all'. The outcome of each record is reported."""
    mapping = context.runnable(mapping_name, whole_runs=True)  # an option mapping's retry is a run of it
    chosen, without_error = _select(context.errors.list_errors(mapping.name), ids)
    records = [RetryOutcome(record_id, None, "noError") for record_id in without_error]
    if not chosen:
        return RetryReport(mapping.name, None, records)
    for entry in chosen:
        if entry.skipped:
            context.errors.restore(mapping.name, entry.side, entry.record_id)
    coupled_before = _coupled(context, mapping.name, chosen)
    job = run_mapping(context, mapping.name, FAILED_RECORDS)
    after = {(e.side, e.record_id): e for e in context.errors.list_errors(mapping.name)}
    coupled_after = _coupled(context, mapping.name, chosen)
    for entry in chosen:
        key = (entry.side, entry.record_id)
        now = after.get(key)
        if now is None:
            created = key in coupled_after and key not in coupled_before
            records.append(RetryOutcome(entry.record_id, entry.side, "created" if created else "synchronized"))
        elif (now.count, now.last_seen) != (entry.count, entry.last_seen):
            records.append(RetryOutcome(entry.record_id, entry.side, "failed", now.code, now.message, now.skipped))
        else:
            records.append(RetryOutcome(entry.record_id, entry.side, "notSynchronized", now.code, now.message))
    return RetryReport(mapping.name, job, records)


def _coupled(context: SyncContext, mapping: str, entries: Sequence[RecordErrorEntry]) -> set[tuple[Side, str]]:
    bc_ids = [e.record_id for e in entries if e.side is Side.BC]
    dv_ids = [e.record_id for e in entries if e.side is Side.DATAVERSE]
    by_bc = context.couplings.find_many_by_bc_ids(mapping, bc_ids) if bc_ids else {}
    by_dv = context.couplings.find_many_by_dataverse_ids(mapping, dv_ids) if dv_ids else {}
    return {(Side.BC, i) for i in by_bc} | {(Side.DATAVERSE, i) for i in by_dv}
