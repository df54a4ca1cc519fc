"""Checkpoints in Table Storage: PartitionKey mapping, RowKey `bc` / `dv`, one row per side.

Why conditional: two runs of the same mapping (a timer overlapping a slow run, a redelivered message) must not move
a watermark past records only one of them applied. Each save is conditional on the ETag read at the start of the
run, so the loser gets `ConcurrencyError` and its records are simply seen again next run (redo, never loss).
`boundary_ids` can be thousands of versions in one overlap window after a bulk import, so it goes through
`large_values`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from azure.data.tables import TableClient, TableEntity

from shared.domain.records import Checkpoint, Side
from shared.storage.conditional import read_entity, save_entity
from shared.storage.keys import escape_key
from shared.storage.large_values import decode_json, encode_json
from shared.storage.tables import CHECKPOINTS, TableFactory, etag_of


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
        entity: dict[str, Any] = {
            "PartitionKey": escape_key(checkpoint.mapping),
            "RowKey": checkpoint.side.value,
            "Watermark": checkpoint.watermark,
            **encode_json("BoundaryIds", list(checkpoint.boundary_ids)),
        }
        what = f"checkpoint {checkpoint.mapping}/{checkpoint.side.value}"
        return replace(checkpoint, etag=save_entity(self._table, entity, checkpoint.etag, what=what))


def _checkpoint(mapping: str, side: Side, row: TableEntity) -> Checkpoint:
    return Checkpoint(
        mapping=mapping,
        side=side,
        watermark=row.get("Watermark"),
        boundary_ids=tuple(decode_json("BoundaryIds", row, default=[])),
        etag=etag_of(row),
    )
