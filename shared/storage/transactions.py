"""Split table operations into valid Table Storage transactions.

A Table Storage transaction (entity group transaction) holds at most 100 operations, all in one partition. Azurite
does not refuse a larger one cleanly (it answers garbage), and the real service refuses it, so every writer goes
through `transaction_chunks` and never relies on the server to enforce the limit.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

MAX_TRANSACTION_OPERATIONS = 100

Operation = tuple[str, Mapping[str, Any]] | tuple[str, Mapping[str, Any], Mapping[str, Any]]


def transaction_chunks(
    operations: Iterable[Operation], limit: int = MAX_TRANSACTION_OPERATIONS
) -> Iterator[list[Operation]]:
    """Yield lists of at most `limit` operations, each list within one PartitionKey, keeping the input order per
    partition (so two writes to the same entity are never reordered)."""
    if not 1 <= limit <= MAX_TRANSACTION_OPERATIONS:
        raise ValueError(f"a transaction holds 1 to {MAX_TRANSACTION_OPERATIONS} operations, not {limit}")
    by_partition: dict[str, list[Operation]] = {}
    for operation in operations:
        entity = operation[1]
        partition = entity.get("PartitionKey")
        if not isinstance(partition, str):
            raise ValueError("every operation's entity needs a string PartitionKey")
        by_partition.setdefault(partition, []).append(operation)
    for partition_operations in by_partition.values():
        for start in range(0, len(partition_operations), limit):
            yield partition_operations[start : start + limit]
