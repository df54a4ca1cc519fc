"""Checkpoints in Table Storage: PartitionKey mapping, RowKey `bc` / `dv`, one row per side.

Why conditional: two runs of the same mapping (a timer overlapping a slow run, a redelivered message) must not move
a watermark past records only one of them applied. Each save is conditional on the ETag read at the start of the
run, so the loser gets `ConcurrencyError` and its records are simply seen again next run (redo, never loss).
`boundary_ids` can be thousands of versions in one overlap window after a bulk import, so it goes through
`large_values`.

Why both sides at once (`find_checkpoints`, `save_checkpoints`): a mapping's two rows share its partition, so the
full synchronization's hand-over reads them with one query and moves them in one transaction (it used to cost two
reads and two writes per line).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from azure.core import MatchConditions
from azure.data.tables import TableClient, TableEntity, TableTransactionError, UpdateMode

from shared.domain.errors import ConcurrencyError
from shared.domain.records import Checkpoint, Side
from shared.storage.conditional import read_entity, save_entity
from shared.storage.keys import escape_key, odata_string
from shared.storage.large_values import decode_json, encode_json
from shared.storage.tables import CHECKPOINTS, TableFactory, etag_of
from shared.storage.transactions import Operation


class TableCheckpointStore:
    """`CheckpointStore` on the `Checkpoints` table."""

    def __init__(self, tables: TableFactory) -> None:
        self._tables = tables

    @property
    def _table(self) -> TableClient:
        return self._tables.table(CHECKPOINTS)

    def find_checkpoint(self, mapping: str, side: Side) -> Checkpoint | None:
        row = read_entity(self._table, escape_key(mapping), side.value)
        return None if row is None else _checkpoint(mapping, side, row)

    def save_checkpoint(self, checkpoint: Checkpoint) -> Checkpoint:
        """Insert when `etag` is None, else update conditionally on it; a lost race is `ConcurrencyError`."""
        what = f"checkpoint {checkpoint.mapping}/{checkpoint.side.value}"
        return replace(checkpoint, etag=save_entity(self._table, _entity(checkpoint), checkpoint.etag, what=what))

    def find_checkpoints(self, mapping: str) -> dict[Side, Checkpoint]:
        found: dict[Side, Checkpoint] = {}
        for row in self._table.query_entities(f"PartitionKey eq {odata_string(escape_key(mapping))}"):
            side = next((side for side in Side if side.value == row["RowKey"]), None)
            if side is not None:
                found[side] = _checkpoint(mapping, side, row)
        return found

    def save_checkpoints(self, checkpoints: Sequence[Checkpoint]) -> list[Checkpoint]:
        """One transaction (a mapping's rows share its partition); all or nothing."""
        if len({c.mapping for c in checkpoints}) > 1 or len({c.side for c in checkpoints}) < len(checkpoints):
            raise ValueError("save_checkpoints takes one checkpoint per side of one mapping")
        if not checkpoints:
            return []
        condition = {"mode": UpdateMode.REPLACE, "match_condition": MatchConditions.IfNotModified}
        operations: list[Operation] = [
            ("create", _entity(c)) if c.etag is None else ("update", _entity(c), {**condition, "etag": c.etag})
            for c in checkpoints
        ]
        try:
            metadata = self._table.submit_transaction(operations)
        except TableTransactionError as error:
            if error.status_code not in (404, 409, 412):
                raise
            mapping = checkpoints[0].mapping
            raise ConcurrencyError("etagMismatch", f"a checkpoint of {mapping} changed since it was read") from None
        return [replace(c, etag=str(m["etag"])) for c, m in zip(checkpoints, metadata, strict=True)]


def _entity(checkpoint: Checkpoint) -> dict[str, Any]:
    return {
        "PartitionKey": escape_key(checkpoint.mapping),
        "RowKey": checkpoint.side.value,
        "Watermark": checkpoint.watermark,
        **encode_json("BoundaryIds", list(checkpoint.boundary_ids)),
    }


def _checkpoint(mapping: str, side: Side, row: TableEntity) -> Checkpoint:
    return Checkpoint(
        mapping=mapping,
        side=side,
        watermark=row.get("Watermark"),
        boundary_ids=tuple(decode_json("BoundaryIds", row, default=[])),
        etag=etag_of(row),
    )
