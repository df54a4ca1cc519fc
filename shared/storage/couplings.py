"""Couplings in Table Storage: one coupling row `bc:<id>` and one index row `dv:<id>` per coupling, both in the
mapping's partition (issue 21).

Why two rows: a coupling must be found from either side with a key lookup (a BC change finds its Dataverse row and
vice versa), and Table Storage has no secondary index. The `bc:` row holds the whole coupling (ids, hashes, side
states, flags); the `dv:` row holds only the two ids and leads from a Dataverse id to the `bc:` row. The ids of a
coupling never change (re-coupling is delete + create), so the index row is written only when the coupling is
created or deleted, always in one entity group transaction with the coupling row: they cannot drift apart. Every
other write (a synchronization's hashes, versions, results) changes the coupling row alone: one operation per
coupling, so a page of couplings goes out in transactions of 100 (`update_couplings`), and a page of claims in
transactions of 50 couplings (`create_couplings`).

Why the etag is the coupling row's: an update replaces the coupling row conditionally on the ETag it read, so a
stale coupling fails (`ConcurrencyError`) and nothing is overwritten; the index row does not take part. The token
handed out (`Coupling.etag`) also names the Dataverse id the row held, so an update that would change the ids (which
must be delete + create, or the index row would point elsewhere) is refused before anything is sent.

Rows written before issue 21 (`dv:` rows holding a full copy of the coupling) are read as index rows: only their
`BcId` is used, so the stored data needs no migration before the new code runs (see `compact_index_rows` and
docs/architecture.md, "Couplings: keys, transactions, migration").

Why ranges: a page's ids are read with range queries (`RowKey ge <first> and le <last>`, 1,000 rows a request)
when they are many: a full-sync chunk lists ids in key order, so its couplings are one range, and an incremental
run's changed records are usually a good part of the partition. A range that holds many rows nobody asked for is
given up after as many requests as key queries would have cost, and the rest is read by key: 14 row keys per query
(Table Storage allows 15 comparisons in a `$filter`: PartitionKey + 14 RowKeys), in parallel.

Why pages (issue 24): the console lists a mapping's couplings one page at a time (`list_page`), so a mapping with
100,000 couplings costs one request of `top` rows per page, never a scan of the partition. The page is a range query
over the `bc:` rows only (the `dv:` index rows and the `was:` former partners sort outside it), and its continuation
token is Table Storage's own (next PartitionKey/RowKey), handed out opaque and bound to the mapping (`table_pages`).
Uncoupling many couplings (`delete_couplings`) sends the rows of 25 to 50 couplings per transaction, each delete
conditional on the ETag read.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from azure.core import MatchConditions
from azure.data.tables import TableClient, TableEntity, TableTransactionError, UpdateMode

from shared.domain.coupling import Coupling, SideState, SyncResult
from shared.domain.errors import ConcurrencyError, ConflictError, NotFoundError, SyncError
from shared.domain.records import Side
from shared.storage.keys import escape_key, odata_string, prefix_range, side_row_key
from shared.storage.table_pages import read_page
from shared.storage.tables import COUPLINGS, TableFactory, etag_of
from shared.storage.transactions import MAX_TRANSACTION_OPERATIONS, Operation, transaction_chunks

IDS_PER_QUERY = 14
RANGE_PAGE = 1000  # rows per response of a range query (Table Storage's maximum)
RANGE_FROM = 2 * IDS_PER_QUERY + 1  # fewer keys than this are read by key
PARALLEL_QUERIES = 8
DELETE_ATTEMPTS = 5
_LOST_RACE = (404, 412)  # the row is gone / its ETag moved on
FORMER = "was"  # RowKey prefix of a record's former partner (sorts after `bc:` and `dv:`: scans of those skip it)
INDEX_PROPERTIES = frozenset({"PartitionKey", "RowKey", "BcId", "DataverseId"})
_CONDITIONAL = {"mode": UpdateMode.REPLACE, "match_condition": MatchConditions.IfNotModified}


class TableCouplingStore:
    """`CouplingStore` on the `Couplings` table."""

    def __init__(self, tables: TableFactory) -> None:
        self._tables = tables

    @property
    def _table(self) -> TableClient:
        return self._tables.table(COUPLINGS)

    # -- reads ---------------------------------------------------------------------------------------------------
    def find_by_bc_id(self, mapping: str, bc_id: str) -> Coupling | None:
        return self.find_many_by_bc_ids(mapping, [bc_id]).get(bc_id)

    def find_by_dataverse_id(self, mapping: str, dataverse_id: str) -> Coupling | None:
        return self.find_many_by_dataverse_ids(mapping, [dataverse_id]).get(dataverse_id)

    def find_many_by_bc_ids(self, mapping: str, bc_ids: Iterable[str]) -> dict[str, Coupling]:
        wanted = list(dict.fromkeys(bc_ids))
        rows = self._rows(mapping, [side_row_key(Side.BC, bc_id) for bc_id in wanted])
        found: dict[str, Coupling] = {}
        for bc_id in wanted:
            row = rows.get(side_row_key(Side.BC, bc_id))
            if row is not None:
                found[bc_id] = _coupling(mapping, row)
        return found

    def find_many_by_dataverse_ids(self, mapping: str, dataverse_ids: Iterable[str]) -> dict[str, Coupling]:
        """The index rows lead to the coupling rows; a coupling row that does not point back (a read that raced a
        delete and a new coupling) is left out."""
        wanted = list(dict.fromkeys(dataverse_ids))
        index = self._rows(mapping, [side_row_key(Side.DATAVERSE, dv_id) for dv_id in wanted])
        rows = self._rows(mapping, [side_row_key(Side.BC, str(row["BcId"])) for row in index.values()])
        found: dict[str, Coupling] = {}
        for dv_id in wanted:
            pointer = index.get(side_row_key(Side.DATAVERSE, dv_id))
            row = None if pointer is None else rows.get(side_row_key(Side.BC, str(pointer["BcId"])))
            if row is not None and row.get("DataverseId") == dv_id:
                found[dv_id] = _coupling(mapping, row)
        return found

    def list_couplings(self, mapping: str) -> Iterator[Coupling]:
        """In BC id order: one scan of the coupling rows."""
        for row in self._scan(mapping, "bc:"):
            yield _coupling(mapping, row)

    def coupled_ids(self, mapping: str) -> Iterator[tuple[str, str]]:
        """One scan of the coupling rows, only the two ids selected (a fraction of each row's bytes)."""
        for row in self._scan(mapping, "bc:", select=["BcId", "DataverseId"], per_page=RANGE_PAGE):
            yield str(row["BcId"]), str(row["DataverseId"])

    def has_couplings(self, mapping: str) -> bool:
        return next(self._scan(mapping, "bc:", select=["RowKey"], per_page=1), None) is not None

    def list_page(
        self, mapping: str, top: int, continuation_token: str | None = None, *, skipped_only: bool = False
    ) -> tuple[list[Coupling], str | None]:
        """One page of the mapping's couplings in BC id order, and the token of the next page (None: the last).
        One request of at most `top` rows (1..1000); `skipped_only` lets the service filter on `Skipped`, so a
        page may then hold fewer rows than `top` (even none) and still have a next page. A token that is not one
        this store handed out for this mapping is refused (`InvalidInputError` naming `continuationToken`)."""
        low, high = prefix_range("bc:")
        partition = escape_key(mapping)
        query = (
            f"PartitionKey eq {odata_string(partition)} "
            f"and RowKey ge {odata_string(low)} and RowKey lt {odata_string(high)}"
        )
        if skipped_only:
            query += " and Skipped eq true"
        rows, following = read_page(self._table, query, top, continuation_token, page_scope(mapping))
        return [_coupling(mapping, row) for row in rows], following

    def _rows(self, mapping: str, row_keys: Sequence[str]) -> dict[str, TableEntity]:
        keys = sorted(set(row_keys))
        if len(keys) < RANGE_FROM:
            return self._by_keys(mapping, keys)
        return self._by_range(mapping, keys)

    def _by_range(self, mapping: str, keys: list[str]) -> dict[str, TableEntity]:
        """One range query from the first key to the last, page by page; once it has cost as many requests as key
        queries would have, the keys beyond the last row read are read by key."""
        wanted = set(keys)
        budget = math.ceil(len(keys) / IDS_PER_QUERY)
        query = (
            f"PartitionKey eq {odata_string(escape_key(mapping))} "
            f"and RowKey ge {odata_string(keys[0])} and RowKey le {odata_string(keys[-1])}"
        )
        found: dict[str, TableEntity] = {}
        last = ""
        pages = self._table.query_entities(query, results_per_page=RANGE_PAGE).by_page()
        for count, page in enumerate(pages, start=1):
            for row in page:
                last = row["RowKey"]
                if last in wanted:
                    found[last] = row
            if count >= budget:
                rest = [key for key in keys if key > last]
                if rest:
                    found.update(self._by_keys(mapping, rest))
                break
        return found

    def _by_keys(self, mapping: str, keys: list[str]) -> dict[str, TableEntity]:
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
        try:
            metadata = self._submit(_creates(coupling))
        except TableTransactionError as error:
            if error.status_code != 409:  # EntityAlreadyExists
                raise
            taken = (
                "bcId" if self._by_keys(coupling.mapping, [side_row_key(Side.BC, coupling.bc_id)]) else "dataverseId"
            )
            raise ConflictError(
                "alreadyCoupled", f"{taken} is already coupled in mapping {coupling.mapping}", field=taken
            ) from None
        return replace(coupling, etag=_token(metadata[0]["etag"], coupling.dataverse_id))

    def create_couplings(self, couplings: Sequence[Coupling]) -> list[Coupling | None]:
        """Many couplings of one mapping, 50 to a transaction (two rows each); None for one whose BC or Dataverse id
        is coupled already. A transaction refused for some of them is sent again without the ones found coupled
        (one read of the chunk's rows), and only if that is refused too (a race lost again) coupling by coupling:
        a redelivered or duplicated page whose claims its twin wrote costs a few requests per 50, not two each."""
        results: list[Coupling | None] = []
        per = MAX_TRANSACTION_OPERATIONS // 2
        for start in range(0, len(couplings), per):
            chunk = couplings[start : start + per]
            if len({c.mapping for c in chunk}) > 1:
                raise ValueError("create_couplings takes the couplings of one mapping")
            created = self._create_together(chunk)
            if created is None:
                free = self._not_coupled(chunk)
                again = self._create_together(free) if free else {}
                if again is None:
                    again = {id(c): made for c in free if (made := self._create_or_none(c)) is not None}
                created = again
            results.extend(created.get(id(c)) for c in chunk)
        return results

    def _create_together(self, chunk: Sequence[Coupling]) -> dict[int, Coupling] | None:
        """The couplings created in one transaction (by `id()` of the one given), or None when it was refused."""
        try:
            metadata = self._submit([operation for c in chunk for operation in _creates(c)])
        except TableTransactionError as error:
            if error.status_code != 409:
                raise
            return None
        return {id(c): replace(c, etag=_token(metadata[2 * n]["etag"], c.dataverse_id)) for n, c in enumerate(chunk)}

    def _not_coupled(self, chunk: Sequence[Coupling]) -> list[Coupling]:
        """Those of `chunk` whose BC id and Dataverse id are both free in the mapping: the BC ids read as a range (a
        page lists them in key order), the Dataverse ids by key (they are scattered over the partition)."""
        mapping = chunk[0].mapping
        taken = self._rows(mapping, [side_row_key(Side.BC, c.bc_id) for c in chunk])
        taken.update(self._by_keys(mapping, sorted({side_row_key(Side.DATAVERSE, c.dataverse_id) for c in chunk})))
        return [
            c
            for c in chunk
            if side_row_key(Side.BC, c.bc_id) not in taken and side_row_key(Side.DATAVERSE, c.dataverse_id) not in taken
        ]

    def _create_or_none(self, coupling: Coupling) -> Coupling | None:
        try:
            return self.create_coupling(coupling)
        except ConflictError:
            return None

    def update_coupling(self, coupling: Coupling) -> Coupling:
        """Replaces the coupling row; the ids are the coupling's identity (re-coupling is delete + create)."""
        if coupling.etag is None:
            raise ValueError("update_coupling needs the etag of the coupling it read")
        etag = _row_etag(coupling)
        if etag is None:
            raise self._lost_update(coupling)
        try:
            metadata = self._submit([("update", _entity(coupling), {**_CONDITIONAL, "etag": etag})])
        except TableTransactionError as error:
            if error.status_code not in _LOST_RACE:
                raise
            raise self._lost_update(coupling) from None
        return replace(coupling, etag=_token(metadata[0]["etag"], coupling.dataverse_id))

    def update_couplings(self, couplings: Sequence[Coupling]) -> list[Coupling | SyncError]:
        """Each coupling conditional on its own etag, 100 to a transaction (one mapping, one row each). A
        transaction refused because one of them lost its race is replayed coupling by coupling, so each result is
        what `update_coupling` would have given: the saved coupling, or the error it would have raised."""
        results: list[Coupling | SyncError] = []
        for start in range(0, len(couplings), MAX_TRANSACTION_OPERATIONS):
            chunk = couplings[start : start + MAX_TRANSACTION_OPERATIONS]
            if len({c.mapping for c in chunk}) > 1 or len({c.bc_id for c in chunk}) < len(chunk):
                raise ValueError("update_couplings takes distinct couplings of one mapping")
            if any(c.etag is None for c in chunk):
                raise ValueError("update_couplings needs the etag of each coupling it read")
            etags = [_row_etag(c) for c in chunk]
            if all(etags):
                operations: list[Operation] = [
                    ("update", _entity(c), {**_CONDITIONAL, "etag": etag}) for c, etag in zip(chunk, etags, strict=True)
                ]
                try:
                    metadata = self._submit(operations)
                except TableTransactionError as error:
                    if error.status_code not in _LOST_RACE:
                        raise
                else:
                    results.extend(
                        replace(c, etag=_token(m["etag"], c.dataverse_id)) for c, m in zip(chunk, metadata, strict=True)
                    )
                    continue
            results.extend(self._update_or_error(c) for c in chunk)
        return results

    def _update_or_error(self, coupling: Coupling) -> Coupling | SyncError:
        try:
            return self.update_coupling(coupling)
        except SyncError as error:
            return error

    def delete_coupling(self, mapping: str, bc_id: str, *, remember: bool = False) -> bool:
        """Conditional on the rows just read (so a coupling re-created meanwhile is never removed by mistake);
        a lost race re-reads. A `bc:` row whose index row does not point back is removed alone. `remember` keeps
        each record's former partner (`was:bc:<id>`, `was:dv:<id>`) in the same transaction: see
        `former_partners`. Whether this call removed it (False: there was none, or another call removed it
        first), so a job that counts what it uncoupled never counts a coupling twice."""
        for _ in range(DELETE_ATTEMPTS):
            bc_key = side_row_key(Side.BC, bc_id)
            bc_row = self._by_keys(mapping, [bc_key]).get(bc_key)
            if bc_row is None:
                return False
            dv_key = side_row_key(Side.DATAVERSE, bc_row["DataverseId"])
            dv_row = self._by_keys(mapping, [dv_key]).get(dv_key)
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
                return True
            except TableTransactionError as error:
                if error.status_code not in _LOST_RACE:
                    raise
        raise ConcurrencyError("etagMismatch", f"coupling {mapping}/{bc_id} kept changing while being deleted")

    def delete_couplings(
        self, mapping: str, couplings: Sequence[Coupling], *, remember: Collection[str] = ()
    ) -> list[bool]:
        """Uncouple many couplings of one mapping as read (their ETags): per coupling its `bc:` row and, when it
        points back, its `dv:` row, each conditional on its ETag, plus its former partners when its BC id is in
        `remember` (see `delete_coupling`); a coupling's rows are never split over two transactions. The index rows
        are read by key (one query per 14). A transaction refused because one of them changed or went meanwhile is
        replayed coupling by coupling (`delete_coupling`, which re-reads). Whether each was removed by this call."""
        if {c.mapping for c in couplings} - {mapping} or len({c.bc_id for c in couplings}) < len(couplings):
            raise ValueError("delete_couplings takes distinct couplings of the mapping")
        index = self._by_keys(mapping, sorted({side_row_key(Side.DATAVERSE, c.dataverse_id) for c in couplings}))
        results: list[bool] = []
        chunk: list[Coupling] = []
        operations: list[Operation] = []
        for coupling in couplings:
            ops = self._deletes(mapping, coupling, index, remember=coupling.bc_id in remember)
            if operations and len(operations) + len(ops) > MAX_TRANSACTION_OPERATIONS:
                results += self._delete_together(mapping, chunk, operations, remember)
                chunk, operations = [], []
            chunk.append(coupling)
            operations += ops
        if chunk:
            results += self._delete_together(mapping, chunk, operations, remember)
        return results

    def _deletes(
        self, mapping: str, coupling: Coupling, index: Mapping[str, TableEntity], *, remember: bool
    ) -> list[Operation]:
        etag = _row_etag(coupling)
        bc_row = {"PartitionKey": escape_key(mapping), "RowKey": side_row_key(Side.BC, coupling.bc_id)}
        condition = {"match_condition": MatchConditions.IfNotModified}
        operations: list[Operation] = [("delete", bc_row, {**condition, "etag": etag or "*"})]
        dv_row = index.get(side_row_key(Side.DATAVERSE, coupling.dataverse_id))
        if dv_row is not None and dv_row.get("BcId") == coupling.bc_id:
            operations.append(("delete", dv_row, {**condition, "etag": etag_of(dv_row)}))
        if remember:
            operations += [
                ("upsert", _former(mapping, Side.BC, coupling.bc_id, coupling.dataverse_id)),
                ("upsert", _former(mapping, Side.DATAVERSE, coupling.dataverse_id, coupling.bc_id)),
            ]
        return operations

    def _delete_together(
        self, mapping: str, chunk: Sequence[Coupling], operations: Sequence[Operation], remember: Collection[str]
    ) -> list[bool]:
        if all(_row_etag(c) for c in chunk):
            try:
                self._table.submit_transaction(list(operations))
                return [True] * len(chunk)
            except TableTransactionError as error:
                if error.status_code not in _LOST_RACE:
                    raise
        return [self.delete_coupling(mapping, c.bc_id, remember=c.bc_id in remember) for c in chunk]

    def former_partners(self, mapping: str, side: Side, ids: Iterable[str]) -> dict[str, str]:
        """Record id -> the partner it had when its coupling was deleted with `remember` (BC's Delete Coupling)."""
        wanted = {_former_key(side, record_id): record_id for record_id in ids}
        rows = self._rows(mapping, list(wanted))
        return {wanted[key]: str(row["Partner"]) for key, row in rows.items() if key in wanted}

    def has_former_couplings(self, mapping: str) -> bool:
        return next(self._scan(mapping, f"{FORMER}:", select=["RowKey"], per_page=1), None) is not None

    # -- migration -----------------------------------------------------------------------------------------------
    def compact_index_rows(self, mapping: str) -> int:
        """Rewrite the `dv:` rows written before issue 21 (a full copy of the coupling) as index rows (the two ids),
        conditionally on the ETag read, 100 to a transaction; returns how many it rewrote. Optional: the new code
        reads an old row as an index row already; this only drops the stale copy. Idempotent, safe while the app
        runs (a row changed or deleted meanwhile is left to the next call)."""
        old = [row for row in self._scan(mapping, "dv:") if set(row) - INDEX_PROPERTIES]
        rewritten = 0
        operations: list[Operation] = [
            ("update", _index_entity(mapping, str(row["BcId"]), str(row["DataverseId"])),
             {**_CONDITIONAL, "etag": etag_of(row)})
            for row in old
        ]  # fmt: skip
        for chunk in transaction_chunks(operations):
            try:
                self._table.submit_transaction(chunk)
            except TableTransactionError as error:
                if error.status_code not in _LOST_RACE:
                    raise
                continue
            rewritten += len(chunk)
        return rewritten

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


def page_scope(mapping: str) -> str:
    """What a `list_page` token is bound to: this list, of this mapping."""
    return f"couplings/{escape_key(mapping)}"


def _token(etag: str, dataverse_id: str) -> str:
    """`Coupling.etag`: the coupling row's ETag and the Dataverse id it held (see the module docstring)."""
    return json.dumps([str(etag), dataverse_id])


def _row_etag(coupling: Coupling) -> str | None:
    """The row ETag to send, or None when the token is not this store's (a two-row token from before issue 21,
    garbage) or names another Dataverse id: the update cannot hold, `_lost_update` says why."""
    try:
        etag, dataverse_id = json.loads(coupling.etag or "")
    except (ValueError, TypeError):
        return None
    return str(etag) if dataverse_id == coupling.dataverse_id else None


def _creates(coupling: Coupling) -> list[Operation]:
    return [
        ("create", _entity(coupling)),
        ("create", _index_entity(coupling.mapping, coupling.bc_id, coupling.dataverse_id)),
    ]


def _former_key(side: Side, record_id: str) -> str:
    return f"{FORMER}:{side_row_key(side, record_id)}"


def _former(mapping: str, side: Side, record_id: str, partner: str) -> dict[str, Any]:
    return {"PartitionKey": escape_key(mapping), "RowKey": _former_key(side, record_id), "Partner": partner}


def _index_entity(mapping: str, bc_id: str, dataverse_id: str) -> dict[str, Any]:
    return {
        "PartitionKey": escape_key(mapping),
        "RowKey": side_row_key(Side.DATAVERSE, dataverse_id),
        "BcId": bc_id,
        "DataverseId": dataverse_id,
    }


def _entity(coupling: Coupling) -> dict[str, Any]:
    entity: dict[str, Any] = {
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


def _coupling(mapping: str, row: TableEntity) -> Coupling:
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
        etag=_token(etag_of(row), row["DataverseId"]),
        creating=Side(row["Creating"]) if row.get("Creating") else None,
        created_by=row.get("CreatedBy"),
    )
