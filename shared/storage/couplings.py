"""Couplings in Table Storage: two rows per coupling, `bc:<id>` and `dv:<id>`, in the mapping's partition.

Why two rows: a coupling must be found from either side with a key lookup (a BC change finds its Dataverse row and
vice versa), and Table Storage has no secondary index. Both rows carry the whole coupling and are only ever
written together in one entity group transaction (create, update, delete), so they cannot drift apart.

Why the etag covers both rows: `Coupling.etag` is an opaque token holding both rows' ETags, and an update replaces
both rows conditionally on them in one transaction. A stale token therefore fails atomically
(`ConcurrencyError`) and nothing is overwritten. The price is that a read touches both rows: a bulk read is one
query per chunk of ids for the asked side, then one per chunk for the partner rows (chunks run in parallel).

Why chunks of 14: Table Storage allows at most 15 comparisons in a `$filter` (PartitionKey + 14 RowKeys).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from azure.core import MatchConditions
from azure.data.tables import TableClient, TableEntity, TableTransactionError, UpdateMode

from shared.domain.coupling import Coupling, SideState, SyncResult
from shared.domain.errors import ConcurrencyError, ConflictError, NotFoundError
from shared.domain.records import Side
from shared.storage.keys import escape_key, odata_string, prefix_range, side_row_key
from shared.storage.tables import COUPLINGS, TableFactory, etag_of
from shared.storage.transactions import Operation, transaction_chunks

IDS_PER_QUERY = 14
PARALLEL_QUERIES = 8
DELETE_ATTEMPTS = 5
_LOST_RACE = (404, 412)  # the row is gone / its ETag moved on
FORMER = "was"  # RowKey prefix of a record's former partner (sorts after `bc:` and `dv:`: scans of those skip it)


class TableCouplingStore:
    """`CouplingStore` on the `Couplings` table."""

    def __init__(self, tables: TableFactory) -> None:
        self._tables = tables

    @property
    def _table(self) -> TableClient:
        return self._tables.table(COUPLINGS)

    # -- reads ---------------------------------------------------------------------------------------------------
    def find_by_bc_id(self, mapping: str, bc_id: str) -> Coupling | None:
        return self._find_many(mapping, Side.BC, [bc_id]).get(bc_id)

    def find_by_dataverse_id(self, mapping: str, dataverse_id: str) -> Coupling | None:
        return self._find_many(mapping, Side.DATAVERSE, [dataverse_id]).get(dataverse_id)

    def find_many_by_bc_ids(self, mapping: str, bc_ids: Iterable[str]) -> dict[str, Coupling]:
        return self._find_many(mapping, Side.BC, bc_ids)

    def find_many_by_dataverse_ids(self, mapping: str, dataverse_ids: Iterable[str]) -> dict[str, Coupling]:
        return self._find_many(mapping, Side.DATAVERSE, dataverse_ids)

    def list_couplings(self, mapping: str) -> Iterator[Coupling]:
        """In BC id order. The partner ETags are collected first by a key-only scan of the `dv:` rows (about 100
        bytes per coupling in memory), then the `bc:` rows stream; a partner written after that scan is read
        individually."""
        partners = {row["RowKey"]: row for row in self._scan(mapping, "dv:", select=["RowKey", "BcId"])}
        for bc_row in self._scan(mapping, "bc:"):
            dv_key = side_row_key(Side.DATAVERSE, bc_row["DataverseId"])
            partner = partners.get(dv_key) or self._rows(mapping, [dv_key]).get(dv_key)
            coupling = _pair(mapping, Side.BC, bc_row, partner)
            if coupling is not None:
                yield coupling

    def has_couplings(self, mapping: str) -> bool:
        return next(self._scan(mapping, "bc:", select=["RowKey"], per_page=1), None) is not None

    def _find_many(self, mapping: str, side: Side, ids: Iterable[str]) -> dict[str, Coupling]:
        wanted = list(dict.fromkeys(ids))
        rows = self._rows(mapping, [side_row_key(side, record_id) for record_id in wanted])
        other = _other(side)
        partners = self._rows(mapping, [side_row_key(other, _id(row, other)) for row in rows.values()])
        found: dict[str, Coupling] = {}
        for record_id in wanted:
            row = rows.get(side_row_key(side, record_id))
            if row is not None:
                coupling = _pair(mapping, side, row, partners.get(side_row_key(other, _id(row, other))))
                if coupling is not None:
                    found[record_id] = coupling
        return found

    def _rows(self, mapping: str, row_keys: Sequence[str]) -> dict[str, TableEntity]:
        keys = sorted(set(row_keys))
        chunks = [keys[start : start + IDS_PER_QUERY] for start in range(0, len(keys), IDS_PER_QUERY)]
        if len(chunks) <= 1:
            results = [self._query_keys(mapping, chunk) for chunk in chunks]
        else:
            with ThreadPoolExecutor(max_workers=min(PARALLEL_QUERIES, len(chunks))) as pool:
                results = list(pool.map(lambda chunk: self._query_keys(mapping, chunk), chunks))
        return {row["RowKey"]: row for rows in results for row in rows}

    def _query_keys(self, mapping: str, row_keys: Sequence[str]) -> list[TableEntity]:
        any_key = " or ".join(f"RowKey eq {odata_string(key)}" for key in row_keys)
        return list(self._table.query_entities(f"PartitionKey eq {odata_string(escape_key(mapping))} and ({any_key})"))

    def _scan(
        self, mapping: str, prefix: str, select: list[str] | None = None, per_page: int | None = None
    ) -> Iterator[TableEntity]:
        low, high = prefix_range(prefix)
        query = (
            f"PartitionKey eq {odata_string(escape_key(mapping))} "
            f"and RowKey ge {odata_string(low)} and RowKey lt {odata_string(high)}"
        )
        return iter(self._table.query_entities(query, select=select, results_per_page=per_page))

    # -- writes --------------------------------------------------------------------------------------------------
    def create_coupling(self, coupling: Coupling) -> Coupling:
        operations: list[Operation] = [("create", _entity(coupling, side)) for side in (Side.BC, Side.DATAVERSE)]
        try:
            metadata = self._submit(operations)
        except TableTransactionError as error:
            if error.status_code != 409:  # EntityAlreadyExists
                raise
            taken = "bcId" if self._rows(coupling.mapping, [operations[0][1]["RowKey"]]) else "dataverseId"
            raise ConflictError(
                "alreadyCoupled", f"{taken} is already coupled in mapping {coupling.mapping}", field=taken
            ) from None
        return replace(coupling, etag=_token(metadata[0]["etag"], metadata[1]["etag"]))

    def update_coupling(self, coupling: Coupling) -> Coupling:
        """Replaces both rows; the ids are the coupling's identity (re-coupling is delete + create)."""
        if coupling.etag is None:
            raise ValueError("update_coupling needs the etag of the coupling it read")
        etags = _etags(coupling.etag)
        if etags is None:
            raise self._lost_update(coupling)
        condition = {"mode": UpdateMode.REPLACE, "match_condition": MatchConditions.IfNotModified}
        operations: list[Operation] = [
            ("update", _entity(coupling, side), {**condition, "etag": etag})
            for side, etag in zip((Side.BC, Side.DATAVERSE), etags, strict=True)
        ]
        try:
            metadata = self._submit(operations)
        except TableTransactionError as error:
            if error.status_code not in _LOST_RACE:
                raise
            raise self._lost_update(coupling) from None
        return replace(coupling, etag=_token(metadata[0]["etag"], metadata[1]["etag"]))

    def delete_coupling(self, mapping: str, bc_id: str, *, remember: bool = False) -> None:
        """Conditional on the rows just read (so a coupling re-created meanwhile is never removed by mistake);
        a lost race re-reads. A `bc:` row whose partner does not point back is removed alone. `remember` keeps
        each record's former partner (`was:bc:<id>`, `was:dv:<id>`) in the same transaction: see
        `former_partners`."""
        for _ in range(DELETE_ATTEMPTS):
            bc_key = side_row_key(Side.BC, bc_id)
            bc_row = self._rows(mapping, [bc_key]).get(bc_key)
            if bc_row is None:
                return
            dv_key = side_row_key(Side.DATAVERSE, bc_row["DataverseId"])
            dv_row = self._rows(mapping, [dv_key]).get(dv_key)
            rows = [bc_row] if dv_row is None or dv_row.get("BcId") != bc_id else [bc_row, dv_row]
            condition = {"match_condition": MatchConditions.IfNotModified}
            operations: list[Operation] = [("delete", row, {**condition, "etag": etag_of(row)}) for row in rows]
            if remember:
                operations += [
                    ("upsert", _former(mapping, Side.BC, bc_id, bc_row["DataverseId"])),
                    ("upsert", _former(mapping, Side.DATAVERSE, bc_row["DataverseId"], bc_id)),
                ]
            try:
                self._submit(operations)
                return
            except TableTransactionError as error:
                if error.status_code not in _LOST_RACE:
                    raise
        raise ConcurrencyError("etagMismatch", f"coupling {mapping}/{bc_id} kept changing while being deleted")

    def former_partners(self, mapping: str, side: Side, ids: Iterable[str]) -> dict[str, str]:
        """Record id -> the partner it had when its coupling was deleted with `remember` (BC's Delete Coupling)."""
        wanted = {_former_key(side, record_id): record_id for record_id in ids}
        rows = self._rows(mapping, list(wanted))
        return {wanted[key]: str(row["Partner"]) for key, row in rows.items() if key in wanted}

    def has_former_couplings(self, mapping: str) -> bool:
        return next(self._scan(mapping, f"{FORMER}:", select=["RowKey"], per_page=1), None) is not None

    def _lost_update(self, coupling: Coupling) -> Exception:
        """Why an update failed, decided on a fresh read (the fakes follow the same order)."""
        current = self.find_by_bc_id(coupling.mapping, coupling.bc_id)
        if current is None:
            return NotFoundError("couplingNotFound", f"{coupling.mapping}/{coupling.bc_id} is not coupled")
        if current.dataverse_id != coupling.dataverse_id:
            return ConflictError(
                "couplingIdsChanged", "re-couple with delete + create, not update", field="dataverseId"
            )
        return ConcurrencyError("etagMismatch", f"coupling {coupling.mapping}/{coupling.bc_id} changed since read")

    def _submit(self, operations: Sequence[Operation]) -> list[Mapping[str, Any]]:
        metadata: list[Mapping[str, Any]] = []
        for chunk in transaction_chunks(operations):
            metadata.extend(self._table.submit_transaction(chunk))
        return metadata


def _former_key(side: Side, record_id: str) -> str:
    return f"{FORMER}:{side_row_key(side, record_id)}"


def _former(mapping: str, side: Side, record_id: str, partner: str) -> dict[str, Any]:
    return {"PartitionKey": escape_key(mapping), "RowKey": _former_key(side, record_id), "Partner": partner}


def _other(side: Side) -> Side:
    return Side.DATAVERSE if side is Side.BC else Side.BC


def _id(row: Mapping[str, Any], side: Side) -> str:
    return str(row["BcId"] if side is Side.BC else row["DataverseId"])


def _token(bc_etag: str, dv_etag: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([bc_etag, dv_etag]).encode()).decode("ascii")


def _etags(token: str) -> tuple[str, str] | None:
    try:
        bc_etag, dv_etag = json.loads(base64.urlsafe_b64decode(token.encode("ascii")))
    except (ValueError, TypeError, binascii.Error, UnicodeError):
        return None
    return str(bc_etag), str(dv_etag)


def _entity(coupling: Coupling, side: Side) -> dict[str, Any]:
    record_id = coupling.bc_id if side is Side.BC else coupling.dataverse_id
    entity: dict[str, Any] = {
        "PartitionKey": escape_key(coupling.mapping),
        "RowKey": side_row_key(side, record_id),
        "BcId": coupling.bc_id,
        "DataverseId": coupling.dataverse_id,
        "ValuesHash": coupling.values_hash,
        "Skipped": coupling.skipped,
        "CoupledOn": coupling.coupled_on,
        "Creating": coupling.creating.value if coupling.creating else None,
        "CreatedBy": coupling.created_by,
    }
    for prefix, state in (("Bc", coupling.bc), ("Dv", coupling.dataverse)):
        entity[f"{prefix}ModifiedOn"] = state.modified_on
        entity[f"{prefix}Version"] = state.version
        entity[f"{prefix}LastResult"] = state.last_result.value
        entity[f"{prefix}LastJobId"] = state.last_job_id
    return entity


def _side_state(row: Mapping[str, Any], prefix: str) -> SideState:
    return SideState(
        modified_on=row.get(f"{prefix}ModifiedOn"),
        version=row.get(f"{prefix}Version"),
        last_result=SyncResult(row.get(f"{prefix}LastResult") or ""),
        last_job_id=row.get(f"{prefix}LastJobId"),
    )


def _pair(mapping: str, side: Side, row: TableEntity, partner: TableEntity | None) -> Coupling | None:
    """The coupling of `row`, or None when its partner row is missing or belongs to another coupling (a read that
    raced a delete)."""
    if partner is None or partner.get("BcId") != row["BcId"]:
        return None
    bc_etag, dv_etag = (etag_of(row), etag_of(partner)) if side is Side.BC else (etag_of(partner), etag_of(row))
    return Coupling(
        mapping=mapping,
        bc_id=row["BcId"],
        dataverse_id=row["DataverseId"],
        bc=_side_state(row, "Bc"),
        dataverse=_side_state(row, "Dv"),
        values_hash=row.get("ValuesHash"),
        skipped=bool(row.get("Skipped", False)),
        coupled_on=row["CoupledOn"],
        etag=_token(bc_etag, dv_etag),
        creating=Side(row["Creating"]) if row.get("Creating") else None,
        created_by=row.get("CreatedBy"),
    )
