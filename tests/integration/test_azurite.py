"""Azurite (the real Storage emulator) is up for the session and behaves like Table Storage where we rely on it."""

from __future__ import annotations

import uuid

import pytest
from azure.core import MatchConditions
from azure.core.exceptions import ResourceModifiedError
from azure.data.tables import TableServiceClient, TableTransactionError, UpdateMode

from shared.storage.transactions import transaction_chunks

pytestmark = pytest.mark.integration


def fresh_table(connection_string: str):  # type: ignore[no-untyped-def]
    service = TableServiceClient.from_connection_string(connection_string)
    return service.create_table(f"t{uuid.uuid4().hex[:12]}")


def test_chunked_transactions_store_every_entity(azurite: str) -> None:
    table = fresh_table(azurite)
    operations = [("upsert", {"PartitionKey": p, "RowKey": f"{n:04d}", "n": n}) for p in ("a", "b") for n in range(230)]
    for chunk in transaction_chunks(operations):
        table.submit_transaction(chunk)
    stored = list(table.query_entities("PartitionKey eq 'a'"))
    assert len(stored) == 230
    assert len(list(table.list_entities())) == 460


def test_a_failing_transaction_writes_nothing(azurite: str) -> None:
    table = fresh_table(azurite)
    table.create_entity({"PartitionKey": "p", "RowKey": "exists"})
    batch = [("create", {"PartitionKey": "p", "RowKey": "new"}), ("create", {"PartitionKey": "p", "RowKey": "exists"})]
    with pytest.raises(TableTransactionError):
        table.submit_transaction(batch)
    assert [e["RowKey"] for e in table.list_entities()] == ["exists"]


def test_conditional_update_refuses_a_stale_etag(azurite: str) -> None:
    table = fresh_table(azurite)
    table.create_entity({"PartitionKey": "p", "RowKey": "r", "v": 1})
    first = table.get_entity("p", "r")
    table.update_entity(
        {"PartitionKey": "p", "RowKey": "r", "v": 2},
        mode=UpdateMode.MERGE,
        etag=first.metadata["etag"],
        match_condition=MatchConditions.IfNotModified,
    )
    with pytest.raises(ResourceModifiedError):
        table.update_entity(
            {"PartitionKey": "p", "RowKey": "r", "v": 3},
            mode=UpdateMode.MERGE,
            etag=first.metadata["etag"],
            match_condition=MatchConditions.IfNotModified,
        )
    assert table.get_entity("p", "r")["v"] == 2
