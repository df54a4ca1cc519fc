"""The stored split of a full-synchronization line: one row per chunk in `SyncRuns`, PartitionKey `<run id>|chunks`,
RowKey `<mapping>|<attempt>|<phase>|<number, 7 digits>`, holding the chunk's side and ids.

Why stored: a chunk's message can be lost (a purged queue, a host killed between two writes), and listing the
records again would not give the same ids under the same chunk number (records come and go). With the ids stored
before the message is sent, a restart re-sends exactly the chunks not yet counted, under their own numbers, so a
late delivery of the first message and the re-sent copy are counted once between them.

Why a partition of their own next to the run's: a review reads the run's partition whole, many times per chunk
(every count re-reads its line), and the chunks weigh about 8 KB each; apart, they are never read with it, and a
line's chunks are still one range of one partition (written in entity-group transactions, read with one query).
Attempt and phase in the key let a split read back only its own phase's chunks (`|` ends each part, so attempt 1
never selects attempt 10). Nothing here imports azure.*: the in-memory fake uses the same keys.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from shared.domain.full_sync import LineChunk
from shared.storage.keys import escape_key
from shared.storage.large_values import decode_json, encode_json
from shared.storage.transactions import MAX_TRANSACTION_OPERATIONS

CHUNKS_PARTITION_SUFFIX = "|chunks"
MAX_TRANSACTION_BYTES = 2 * 1024 * 1024  # a Table Storage transaction's body may be 4 MiB; half leaves room


def chunk_partition(run_id: str) -> str:
    return f"{escape_key(run_id)}{CHUNKS_PARTITION_SUFFIX}"


def chunk_prefix(mapping: str, attempt: int, phase: int | None = None) -> str:
    head = f"{escape_key(mapping)}|{attempt}|"
    return head if phase is None else f"{head}{phase}|"


def chunk_row_key(chunk: LineChunk) -> str:
    return f"{chunk_prefix(chunk.mapping, chunk.attempt, chunk.phase)}{chunk.number:07d}"


def chunk_entity(run_id: str, chunk: LineChunk) -> dict[str, Any]:
    return {
        "PartitionKey": chunk_partition(run_id),
        "RowKey": chunk_row_key(chunk),
        "Mapping": chunk.mapping,
        "Attempt": chunk.attempt,
        "Phase": chunk.phase,
        "Chunk": chunk.number,
        "Side": chunk.side,
        **encode_json("Ids", list(chunk.ids)),  # 200 ids stay readable; 1,000 are compressed
    }


def chunk_from(row: Mapping[str, Any]) -> LineChunk:
    return LineChunk(
        mapping=str(row["Mapping"]),
        attempt=int(row["Attempt"]),
        phase=int(row["Phase"]),
        number=int(row["Chunk"]),
        side=str(row["Side"]),
        ids=tuple(str(i) for i in decode_json("Ids", row, [])),
    )


def _size(entity: Mapping[str, Any]) -> int:
    """About what the entity weighs in a transaction's body (strings as UTF-16, as the service counts them)."""
    total = 0
    for name, value in entity.items():
        total += 2 * len(name) + (len(value) if isinstance(value, bytes) else 2 * len(str(value)))
    return total


def bounded(entities: Iterable[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """Groups of at most 100 entities and `MAX_TRANSACTION_BYTES`, in order (the caller keeps one partition)."""
    group: list[dict[str, Any]] = []
    weight = 0
    for entity in entities:
        size = _size(entity)
        if group and (len(group) >= MAX_TRANSACTION_OPERATIONS or weight + size > MAX_TRANSACTION_BYTES):
            yield group
            group, weight = [], 0
        group.append(entity)
        weight += size
    if group:
        yield group
