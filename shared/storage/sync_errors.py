"""Record errors in Table Storage: PartitionKey mapping, RowKey `bc:<id>` / `dv:<id>`, the last error per record.

Why read-modify-write with a retry: counting and the skip rule (`record_errors.next_error`) depend on the previous
error, and two workers can fail on the same record at once (a chunk and a retry). Each write is conditional on
the ETag read; the loser re-reads and applies its error on top, so no error is lost or counted twice.

Why `save_errors` / `clear_errors` (issue 21): a run's page knows its mapping's errors from one read (the partition
is small: only records failing now have a row), so it computes the new entries itself and writes them, with the
clears of the records that synchronized, in transactions of 100; an entry that lost its race comes back as None
and the caller applies it with `record_error`.

Why `list_errors_page` (issue 24): the Sync errors page lists one page at a time, read with Table Storage's own
continuation (`results_per_page` and `by_page`), so a mapping with many failing records is never read whole to show
100 of them. The continuation is handed out as an opaque string (`table_pages`) that names the mapping it pages, so
a token of one mapping's list used on another is refused rather than silently skipping rows.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient, TableEntity, TableTransactionError, UpdateMode

from shared.domain.errors import ConcurrencyError
from shared.domain.record_errors import next_error
from shared.domain.records import RecordErrorEntry, Side
from shared.storage.conditional import read_entity, save_entity
from shared.storage.keys import escape_key, format_instant, odata_string, side_row_key, utc_now
from shared.storage.table_pages import read_page
from shared.storage.tables import SYNC_ERRORS, TableFactory, etag_of
from shared.storage.transactions import MAX_TRANSACTION_OPERATIONS, Operation

ATTEMPTS = 10
KEYS_PER_QUERY = 14
MESSAGE_CHARS = 500_000  # of messages in one transaction: 2 MB at most, half of a transaction's 4 MiB


class TableSyncErrorStore:
    """`SyncErrorStore` on the `SyncErrors` table."""

    def __init__(self, tables: TableFactory, *, clock: Callable[[], datetime] = utc_now) -> None:
        self._tables = tables
        self._clock = clock

    @property
    def _table(self) -> TableClient:
        return self._tables.table(SYNC_ERRORS)

    def record_error(self, mapping: str, side: Side, record_id: str, code: str, message: str) -> RecordErrorEntry:
        for _ in range(ATTEMPTS):
            previous = self.find_error(mapping, side, record_id)
            entry = next_error(previous, mapping, side, record_id, code, message, format_instant(self._clock()))
            try:
                return self._save(entry)
            except ConcurrencyError:
                continue
        raise ConcurrencyError("etagMismatch", f"error of {mapping}/{side.value}:{record_id} kept changing")

    def clear_error(self, mapping: str, side: Side, record_id: str) -> None:
        """Unconditional: called after the record synchronized successfully, which supersedes any error."""
        with contextlib.suppress(ResourceNotFoundError):
            self._table.delete_entity(escape_key(mapping), side_row_key(side, record_id))

    def save_errors(self, entries: Sequence[RecordErrorEntry]) -> list[RecordErrorEntry | None]:
        results: list[RecordErrorEntry | None] = []
        for chunk in _by_size(entries):
            if len({e.mapping for e in chunk}) > 1 or len({(e.side, e.record_id) for e in chunk}) < len(chunk):
                raise ValueError("save_errors takes the entries of distinct records of one mapping")
            operations: list[Operation] = [
                ("create", _entity(e))
                if e.etag is None
                else ("update", _entity(e), {"mode": UpdateMode.REPLACE, "etag": e.etag,
                                             "match_condition": MatchConditions.IfNotModified})
                for e in chunk
            ]  # fmt: skip
            try:
                metadata = self._table.submit_transaction(operations)
            except TableTransactionError as error:
                if error.status_code not in (404, 409, 412):
                    raise
                results.extend(self._save_or_none(e) for e in chunk)
                continue
            results.extend(replace(e, etag=str(m["etag"])) for e, m in zip(chunk, metadata, strict=True))
        return results

    def _save_or_none(self, entry: RecordErrorEntry) -> RecordErrorEntry | None:
        try:
            return self._save(entry)
        except ConcurrencyError:
            return None

    def clear_errors(self, mapping: str, keys: Sequence[tuple[Side, str]]) -> None:
        """Unconditional, as `clear_error`; a transaction refused because a row was gone already is replayed row by
        row."""
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), MAX_TRANSACTION_OPERATIONS):
            chunk = unique[start : start + MAX_TRANSACTION_OPERATIONS]
            operations: list[Operation] = [
                ("delete", {"PartitionKey": escape_key(mapping), "RowKey": side_row_key(side, record_id)})
                for side, record_id in chunk
            ]
            try:
                self._table.submit_transaction(operations)
            except TableTransactionError as error:
                if error.status_code != 404:
                    raise
                for side, record_id in chunk:
                    self.clear_error(mapping, side, record_id)

    def find_error(self, mapping: str, side: Side, record_id: str) -> RecordErrorEntry | None:
        row = read_entity(self._table, escape_key(mapping), side_row_key(side, record_id))
        return None if row is None else _entry(row)

    def find_errors(self, mapping: str, keys: Sequence[tuple[Side, str]]) -> list[RecordErrorEntry]:
        """14 row keys per query (Table Storage allows 15 comparisons in a `$filter`)."""
        row_keys = sorted({side_row_key(side, record_id) for side, record_id in keys})
        found: list[RecordErrorEntry] = []
        for start in range(0, len(row_keys), KEYS_PER_QUERY):
            any_key = " or ".join(f"RowKey eq {odata_string(key)}" for key in row_keys[start : start + KEYS_PER_QUERY])
            query = f"PartitionKey eq {odata_string(escape_key(mapping))} and ({any_key})"
            found += [_entry(row) for row in self._table.query_entities(query)]
        return found

    def list_errors(self, mapping: str | None = None) -> list[RecordErrorEntry]:
        """By mapping, then side, then record id (key order)."""
        if mapping is None:
            rows = self._table.list_entities()
        else:
            rows = self._table.query_entities(f"PartitionKey eq {odata_string(escape_key(mapping))}")
        return [_entry(row) for row in rows]

    def list_errors_page(
        self, mapping: str | None, top: int, continuation_token: str | None = None
    ) -> tuple[list[RecordErrorEntry], str | None]:
        """One page in `list_errors`' order: at most `top` entries and the token of the next page (None at the end).
        One request to Table Storage (a few more only while the service answers empty pages with a continuation)."""
        query = None if mapping is None else f"PartitionKey eq {odata_string(escape_key(mapping))}"
        rows, after = read_page(self._table, query, top, continuation_token, page_scope(mapping), skip_empty=True)
        return [_entry(row) for row in rows], after

    def restore(self, mapping: str, side: Side, record_id: str) -> None:
        """Clear the skipped flag, keeping count and dates; nothing to do when there is no error (idempotent, so
        'retry all' never fails on a record that synchronized meanwhile)."""
        for _ in range(ATTEMPTS):
            entry = self.find_error(mapping, side, record_id)
            if entry is None or not entry.skipped:
                return
            try:
                self._save(replace(entry, skipped=False))
                return
            except ConcurrencyError:
                continue
        raise ConcurrencyError("etagMismatch", f"error of {mapping}/{side.value}:{record_id} kept changing")

    def _save(self, entry: RecordErrorEntry) -> RecordErrorEntry:
        what = f"error of {entry.mapping}/{entry.side.value}:{entry.record_id}"
        return replace(entry, etag=save_entity(self._table, _entity(entry), entry.etag, what=what))


def page_scope(mapping: str | None) -> str:
    """What a `list_errors_page` token is bound to: this list, of this mapping (or of every mapping)."""
    return f"syncErrors/{mapping or ''}"


def _by_size(entries: Sequence[RecordErrorEntry]) -> list[Sequence[RecordErrorEntry]]:
    """Transactions of at most 100 entries and `MESSAGE_CHARS` characters of messages: a transaction's body may not
    pass 4 MiB, and a message may hold 16,000 characters (four bytes each at worst)."""
    chunks: list[Sequence[RecordErrorEntry]] = []
    start, chars = 0, 0
    for end, entry in enumerate(entries):
        if end > start and (end - start == MAX_TRANSACTION_OPERATIONS or chars + len(entry.message) > MESSAGE_CHARS):
            chunks.append(entries[start:end])
            start, chars = end, 0
        chars += len(entry.message)
    if start < len(entries):
        chunks.append(entries[start:])
    return chunks


def _entity(entry: RecordErrorEntry) -> dict[str, Any]:
    return {
        "PartitionKey": escape_key(entry.mapping),
        "RowKey": side_row_key(entry.side, entry.record_id),
        "Mapping": entry.mapping,
        "Side": entry.side.value,
        "RecordId": entry.record_id,
        "Code": entry.code,
        "Message": entry.message,
        "Count": entry.count,
        "FirstSeen": entry.first_seen,
        "LastSeen": entry.last_seen,
        "Skipped": entry.skipped,
    }


def _entry(row: TableEntity) -> RecordErrorEntry:
    return RecordErrorEntry(
        mapping=row["Mapping"],
        side=Side(row["Side"]),
        record_id=row["RecordId"],
        code=row["Code"],
        message=row.get("Message", ""),
        count=int(row["Count"]),
        first_seen=row["FirstSeen"],
        last_seen=row["LastSeen"],
        skipped=bool(row.get("Skipped", False)),
        etag=etag_of(row),
    )
