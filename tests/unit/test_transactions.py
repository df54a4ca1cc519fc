from __future__ import annotations

import pytest

from shared.storage.transactions import Operation, transaction_chunks


def ops(partition: str, count: int) -> list[Operation]:
    return [("upsert", {"PartitionKey": partition, "RowKey": f"{n:04d}"}) for n in range(count)]


def test_chunks_are_capped_at_100_and_single_partition() -> None:
    chunks = list(transaction_chunks(ops("a", 250) + ops("b", 3)))
    assert [len(c) for c in chunks] == [100, 100, 50, 3]
    assert all(len({op[1]["PartitionKey"] for op in chunk}) == 1 for chunk in chunks)


def test_order_within_a_partition_is_kept() -> None:
    mixed = [op for pair in zip(ops("a", 3), ops("b", 3), strict=True) for op in pair]
    chunks = list(transaction_chunks(mixed))
    assert [op[1]["RowKey"] for op in chunks[0]] == ["0000", "0001", "0002"]


@pytest.mark.parametrize("limit", [0, 101])
def test_limit_outside_the_service_range_is_refused(limit: int) -> None:
    with pytest.raises(ValueError, match="1 to 100"):
        list(transaction_chunks(ops("a", 1), limit=limit))


def test_missing_partition_key_is_refused() -> None:
    with pytest.raises(ValueError, match="PartitionKey"):
        list(transaction_chunks([("upsert", {"RowKey": "x"})]))
