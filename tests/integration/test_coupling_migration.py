"""Couplings written before issue 21 (two full rows, `bc:<id>` and `dv:<id>`, each a copy of the coupling) are read,
updated and deleted by the store of issue 21 (a coupling row and an index row) without a migration step first, and
`compact_index_rows` turns the old `dv:` copies into index rows (docs/architecture.md, "Couplings: keys,
transactions, migration")."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from shared.domain.coupling import Coupling, SideState, SyncResult
from shared.domain.records import Side
from shared.storage.coupling_rows import INDEX_PROPERTIES
from shared.storage.couplings import TableCouplingStore
from shared.storage.keys import side_row_key
from shared.storage.tables import COUPLINGS, TableFactory

pytestmark = pytest.mark.integration
M = "CUSTOMER"


def old_rows(coupling: Coupling) -> list[dict[str, Any]]:
    """Both rows as the store before issue 21 wrote them: the whole coupling on each side's row."""
    rows = []
    for side in (Side.BC, Side.DATAVERSE):
        row: dict[str, Any] = {
            "PartitionKey": coupling.mapping,
            "RowKey": side_row_key(side, coupling.bc_id if side is Side.BC else coupling.dataverse_id),
            "BcId": coupling.bc_id,
            "DataverseId": coupling.dataverse_id,
            "ValuesHash": coupling.values_hash,
            "Skipped": coupling.skipped,
            "CoupledOn": coupling.coupled_on,
            "Creating": None,
            "CreatedBy": coupling.created_by,
        }
        for prefix, state in (("Bc", coupling.bc), ("Dv", coupling.dataverse)):
            row[f"{prefix}ModifiedOn"] = state.modified_on
            row[f"{prefix}Version"] = state.version
            row[f"{prefix}LastResult"] = state.last_result.value
            row[f"{prefix}LastJobId"] = state.last_job_id
        rows.append(row)
    return rows


def test_couplings_of_the_two_row_format_are_read_updated_compacted_and_deleted(azurite: str) -> None:
    factory = TableFactory.from_connection_string(azurite, prefix=f"t{uuid.uuid4().hex[:10]}")
    table = factory.table(COUPLINGS)
    state = SideState("2025-01-01T00:00:00Z", 'W/"1"', SyncResult.SUCCESS, "job-1")
    before = [Coupling(M, f"bc-{n}", f"dv-{n}", bc=state, dataverse=state, values_hash=f"h{n}") for n in range(30)]
    for coupling in before:
        for row in old_rows(coupling):
            table.create_entity(row)
    store = TableCouplingStore(factory)

    by_dv = store.find_many_by_dataverse_ids(M, [c.dataverse_id for c in before])
    assert [by_dv[c.dataverse_id].values_hash for c in before] == [c.values_hash for c in before]
    assert by_dv["dv-3"] == store.find_by_bc_id(M, "bc-3")
    updated = store.update_couplings([by_dv[c.dataverse_id].with_changes(values_hash="new") for c in before])
    assert all(isinstance(c, Coupling) for c in updated)
    stale = table.get_entity(M, "dv:dv-3")
    assert stale["ValuesHash"] == "h3"  # the old copy: no longer read for anything but its BcId
    assert store.find_by_dataverse_id(M, "dv-3") == store.find_by_bc_id(M, "bc-3") == updated[3]
    assert store.find_by_dataverse_id(M, "dv-3").values_hash == "new"  # type: ignore[union-attr]

    assert store.compact_index_rows(M) == 30
    assert set(table.get_entity(M, "dv:dv-3")) <= INDEX_PROPERTIES
    assert store.compact_index_rows(M) == 0  # idempotent
    assert store.find_by_dataverse_id(M, "dv-3") == store.find_by_bc_id(M, "bc-3")

    store.delete_coupling(M, "bc-3", remember=True)
    assert store.find_by_dataverse_id(M, "dv-3") is None and store.find_by_bc_id(M, "bc-3") is None
    assert store.former_partners(M, Side.DATAVERSE, ["dv-3"]) == {"dv-3": "bc-3"}
    assert len(list(store.list_couplings(M))) == 29
