"""The row format of a coupling in the `Couplings` table, apart from the store that reads and writes it (issue 21).

Why its own module: the store (`couplings.py`) decides which rows to read and how to group writes into
transactions; what one row holds, and how a `Coupling` becomes entities and back, is one small contract that the
store's reads, writes, bulk deletes and migration all share.

The rows, all in the mapping's partition: the coupling row `bc:<id>` holds the whole coupling (ids, hashes, side
states, flags); the index row `dv:<id>` holds only the two ids and leads from a Dataverse id to the `bc:` row; a
former-partner row `was:bc:<id>` / `was:dv:<id>` remembers the partner a record had when its coupling was deleted
with `remember` (it sorts after `bc:` and `dv:`, so scans of those skip it).

Why the etag is the coupling row's: an update replaces the coupling row conditionally on the ETag it read, so a
stale coupling fails (`ConcurrencyError`) and nothing is overwritten; the index row does not take part. The token
handed out (`Coupling.etag`) also names the Dataverse id the row held, so an update that would change the ids (which
must be delete + create, or the index row would point elsewhere) is refused before anything is sent.

Rows written before issue 21 (`dv:` rows holding a full copy of the coupling) are read as index rows: only their
`BcId` is used, so the stored data needs no migration before the new code runs (see `compact_index_rows` and
docs/architecture.md, "Couplings: keys, transactions, migration").
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from azure.core import MatchConditions
from azure.data.tables import TableEntity, UpdateMode

from shared.domain.coupling import Coupling, SideState, SyncResult
from shared.domain.records import Side
from shared.storage.keys import escape_key, side_row_key
from shared.storage.tables import etag_of
from shared.storage.transactions import Operation

FORMER = "was"  # RowKey prefix of a record's former partner (sorts after `bc:` and `dv:`: scans of those skip it)
INDEX_PROPERTIES = frozenset({"PartitionKey", "RowKey", "BcId", "DataverseId"})
LOST_RACE = (404, 412)  # a conditional write's row is gone / its ETag moved on
CONDITIONAL = {"mode": UpdateMode.REPLACE, "match_condition": MatchConditions.IfNotModified}


def token(etag: str, dataverse_id: str) -> str:
    """`Coupling.etag`: the coupling row's ETag and the Dataverse id it held (see the module docstring)."""
    return json.dumps([str(etag), dataverse_id])


def row_etag(coupling: Coupling) -> str | None:
    """The row ETag to send, or None when the token is not this store's (a two-row token from before issue 21,
    garbage) or names another Dataverse id: the update cannot hold, the store's `_lost_update` says why."""
    try:
        etag, dataverse_id = json.loads(coupling.etag or "")
    except (ValueError, TypeError):
        return None
    return str(etag) if dataverse_id == coupling.dataverse_id else None


def creates(coupling: Coupling) -> list[Operation]:
    """The two rows of a new coupling, created together (one entity group transaction)."""
    return [
        ("create", entity(coupling)),
        ("create", index_entity(coupling.mapping, coupling.bc_id, coupling.dataverse_id)),
    ]


def former_key(side: Side, record_id: str) -> str:
    return f"{FORMER}:{side_row_key(side, record_id)}"


def former(mapping: str, side: Side, record_id: str, partner: str) -> dict[str, Any]:
    return {"PartitionKey": escape_key(mapping), "RowKey": former_key(side, record_id), "Partner": partner}


def index_entity(mapping: str, bc_id: str, dataverse_id: str) -> dict[str, Any]:
    return {
        "PartitionKey": escape_key(mapping),
        "RowKey": side_row_key(Side.DATAVERSE, dataverse_id),
        "BcId": bc_id,
        "DataverseId": dataverse_id,
    }


def entity(coupling: Coupling) -> dict[str, Any]:
    """The coupling's `bc:` row."""
    row: dict[str, Any] = {
        "PartitionKey": escape_key(coupling.mapping),
        "RowKey": side_row_key(Side.BC, coupling.bc_id),
        "BcId": coupling.bc_id,
        "DataverseId": coupling.dataverse_id,
        "ValuesHash": coupling.values_hash,
        "Skipped": coupling.skipped,
        "CoupledOn": coupling.coupled_on,
        "Creating": coupling.creating.value if coupling.creating else None,
        "CreatedBy": coupling.created_by,
    }
    for prefix, state in (("Bc", coupling.bc), ("Dv", coupling.dataverse)):
        row[f"{prefix}ModifiedOn"] = state.modified_on
        row[f"{prefix}Version"] = state.version
        row[f"{prefix}LastResult"] = state.last_result.value
        row[f"{prefix}LastJobId"] = state.last_job_id
    return row


def _side_state(row: Mapping[str, Any], prefix: str) -> SideState:
    return SideState(
        modified_on=row.get(f"{prefix}ModifiedOn"),
        version=row.get(f"{prefix}Version"),
        last_result=SyncResult(row.get(f"{prefix}LastResult") or ""),
        last_job_id=row.get(f"{prefix}LastJobId"),
    )


def coupling_of(mapping: str, row: TableEntity) -> Coupling:
    """The coupling its `bc:` row holds."""
    return Coupling(
        mapping=mapping,
        bc_id=row["BcId"],
        dataverse_id=row["DataverseId"],
        bc=_side_state(row, "Bc"),
        dataverse=_side_state(row, "Dv"),
        values_hash=row.get("ValuesHash"),
        skipped=bool(row.get("Skipped", False)),
        coupled_on=row["CoupledOn"],
        etag=token(etag_of(row), row["DataverseId"]),
        creating=Side(row["Creating"]) if row.get("Creating") else None,
        created_by=row.get("CreatedBy"),
    )
