"""Settings overrides in Table Storage: PartitionKey `setup` / `mapping`, one row per key, plus a `~` head row.

Why one row per key: the key is the RowKey (ARCHITECTURE section 4), so an admin sees and fixes one setting or one
mapping's overrides in Storage Explorer, and each value gets its own 64 KiB-per-property / 1 MiB-per-entity budget
(values go through `large_values`, as JSON so types survive).

Why a head row: the port versions a whole partition with one etag (a setup page is read and saved as a whole). The
head row's ETag is that etag; every save replaces the head conditionally on it *in the same transaction* as the
changed keys (upserts) and removed keys (deletes), so a partition changes atomically and a stale save fails with
`ConcurrencyError` without writing anything. One transaction caps a save at 100 operations: the head plus 99
changed or removed keys, far more than setup or the mapping catalogue needs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from azure.core import MatchConditions
from azure.data.tables import TableClient, TableEntity, TableTransactionError, UpdateMode

from shared.domain.errors import ConcurrencyError
from shared.storage.keys import escape_key, format_instant, odata_string, utc_now
from shared.storage.large_values import decode_json, encode_json
from shared.storage.tables import SETTINGS, TableFactory, etag_of
from shared.storage.transactions import MAX_TRANSACTION_OPERATIONS, Operation, transaction_chunks

PARTITIONS = ("setup", "mapping")
HEAD_ROW_KEY = "~"


class TableSettingsStore:
    """`SettingsStore` on the `Settings` table."""

    def __init__(self, tables: TableFactory, *, clock: Callable[[], datetime] = utc_now) -> None:
        self._tables = tables
        self._clock = clock

    @property
    def _table(self) -> TableClient:
        return self._tables.table(SETTINGS)

    def get_settings(self, partition: str) -> tuple[dict[str, Any], str | None]:
        return _values(*self._read(partition))

    def get_all_settings(self) -> dict[str, tuple[dict[str, Any], str | None]]:
        """Both partitions in one query (an invocation reads them together: `bootstrap.for_run`)."""
        found: dict[str, tuple[TableEntity | None, dict[str, TableEntity]]] = {name: (None, {}) for name in PARTITIONS}
        either = " or ".join(f"PartitionKey eq {odata_string(name)}" for name in PARTITIONS)
        for row in self._table.query_entities(either):
            rows = found[row["PartitionKey"]][1]
            if row["RowKey"] == HEAD_ROW_KEY:
                found[row["PartitionKey"]] = (row, rows)
            else:
                rows[row["RowKey"]] = row
        return {name: _values(head, rows) for name, (head, rows) in found.items()}

    def update_settings(self, partition: str, values: Mapping[str, Any], etag: str | None) -> str:
        """Replace the partition's overrides with `values` (keys left out are removed) if it is still at `etag`
        (None: nothing stored yet). Returns the new etag."""
        head, rows = self._read(partition)
        if (None if head is None else etag_of(head)) != etag:
            raise _stale(partition)
        head_entity = {"PartitionKey": partition, "RowKey": HEAD_ROW_KEY, "UpdatedOn": format_instant(self._clock())}
        condition = {"mode": UpdateMode.REPLACE, "etag": etag, "match_condition": MatchConditions.IfNotModified}
        operations: list[Operation] = [("create", head_entity) if etag is None else ("update", head_entity, condition)]
        for key, value in values.items():
            row = rows.get(escape_key(key))
            if row is None or decode_json("Value", row) != json.loads(json.dumps(value)):
                entity = {"PartitionKey": partition, "RowKey": escape_key(key), "Key": key}
                operations.append(("upsert", {**entity, **encode_json("Value", value)}, {"mode": UpdateMode.REPLACE}))
        wanted = {escape_key(key) for key in values}
        operations += [("delete", row) for row_key, row in rows.items() if row_key not in wanted]
        if len(operations) > MAX_TRANSACTION_OPERATIONS:
            raise ValueError(f"one save changes at most {MAX_TRANSACTION_OPERATIONS - 1} {partition} settings")
        try:
            (chunk,) = transaction_chunks(operations)
            metadata = self._table.submit_transaction(chunk)
        except TableTransactionError as error:
            if error.status_code in (404, 409, 412):
                raise _stale(partition) from None
            raise
        return str(metadata[0]["etag"])

    def _read(self, partition: str) -> tuple[TableEntity | None, dict[str, TableEntity]]:
        if partition not in PARTITIONS:
            raise ValueError(f"settings partition {partition!r}: one of {', '.join(PARTITIONS)}")
        head: TableEntity | None = None
        rows: dict[str, TableEntity] = {}
        for row in self._table.query_entities(f"PartitionKey eq {odata_string(partition)}"):
            if row["RowKey"] == HEAD_ROW_KEY:
                head = row
            else:
                rows[row["RowKey"]] = row
        return head, rows


def _values(head: TableEntity | None, rows: Mapping[str, TableEntity]) -> tuple[dict[str, Any], str | None]:
    return {row["Key"]: decode_json("Value", row) for row in rows.values()}, None if head is None else etag_of(head)


def _stale(partition: str) -> ConcurrencyError:
    return ConcurrencyError("etagMismatch", f"{partition} settings changed since they were read; re-read them")
