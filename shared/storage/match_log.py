"""The coupling logs of match-based coupling jobs in Table Storage (`MatchLog`): PartitionKey the job id, RowKey the
BC id (both escaped), one row per record the job looked at (`domain/match_log.py`).

Why the job id as partition: a job's log is written and read as one unit (its rows in transactions of up to 100,
all in one partition; its pages read in key order), and a job's log is never read across jobs. Why the BC id as row
key: a redelivered job writes the same keys again, so an upsert (Replace) leaves one row per record, never two. Why
an upsert without `If-Match`: only the job writes its own partition.

Paging (the API's `top` / `continuationToken`): one `query_entities(...).by_page(...)` request per page, with
`results_per_page=top`; the SDK's continuation (the next partition and row key) goes to the caller as an opaque
token bound to the job (`table_pages`), and comes back the same way (another job's or a made-up token is a 400).
The `outcome` and `mapping` filters are a `$filter` the service applies, so a page of failures costs one request
too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from azure.data.tables import TableClient, TableEntity, UpdateMode

from shared.domain.match_log import MatchLogEntry, MatchLogPage
from shared.domain.record_errors import clip_message
from shared.storage.keys import escape_key, odata_string
from shared.storage.table_pages import read_page
from shared.storage.tables import MATCH_LOG, TableFactory
from shared.storage.transactions import Operation, transaction_chunks


class TableMatchLog:
    """`MatchLogStore` on the `MatchLog` table."""

    def __init__(self, tables: TableFactory) -> None:
        self._tables = tables

    @property
    def _table(self) -> TableClient:
        return self._tables.table(MATCH_LOG)

    def write_entries(self, job_id: str, entries: Sequence[MatchLogEntry]) -> None:
        operations: list[Operation] = [("upsert", _entity(entry), {"mode": UpdateMode.REPLACE}) for entry in entries]
        for chunk in transaction_chunks(operations):
            self._table.submit_transaction(chunk)

    def page(
        self,
        job_id: str,
        top: int,
        continuation_token: str | None = None,
        outcome: str | None = None,
        mapping: str | None = None,
    ) -> MatchLogPage:
        query = f"PartitionKey eq {odata_string(escape_key(job_id))}"
        if mapping is not None:
            query += f" and Mapping eq {odata_string(mapping)}"
        if outcome is not None:
            query += f" and Outcome eq {odata_string(outcome)}"
        rows, following = read_page(self._table, query, top, continuation_token, page_scope(job_id))
        return MatchLogPage(tuple(_entry(row) for row in rows), following)


def page_scope(job_id: str) -> str:
    """What a `page` token is bound to: this job's log."""
    return f"matchLog/{escape_key(job_id)}"


def _entity(entry: MatchLogEntry) -> dict[str, Any]:
    return {
        "PartitionKey": escape_key(entry.job_id),
        "RowKey": escape_key(entry.bc_id),
        "JobId": entry.job_id,
        "Mapping": entry.mapping,
        "BcId": entry.bc_id,
        "Outcome": entry.outcome,
        "Number": entry.number,
        "Name": entry.name,
        "DataverseId": entry.dataverse_id,
        "Reason": entry.reason,
        "Matches": entry.matches,
        "Priority": entry.priority,
        "Code": entry.code,
        "Message": clip_message(entry.message),
        "LoggedOn": entry.logged_on,
    }


def _entry(row: TableEntity) -> MatchLogEntry:
    priority = row.get("Priority")
    return MatchLogEntry(
        job_id=row["JobId"],
        bc_id=row["BcId"],
        outcome=row["Outcome"],
        mapping=row.get("Mapping") or "",
        number=row.get("Number") or "",
        name=row.get("Name") or "",
        dataverse_id=row.get("DataverseId") or "",
        reason=row.get("Reason") or "",
        matches=int(row.get("Matches") or 0),
        priority=int(priority) if priority is not None else None,
        code=row.get("Code") or "",
        message=row.get("Message") or "",
        logged_on=row.get("LoggedOn") or "",
    )
