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

The row format (entities <-> `Coupling`, index and former-partner rows, ETag tokens) is in `coupling_rows.py`; the
row reads by key, by range and by scan, and the transactions, are in `coupling_table.py`; the deletes (one coupling,
or many in few transactions) are in `coupling_deletes.py`. This store inherits both, so it keeps every method of
`CouplingStore` (ports.py).

Why pages (issue 24): the console lists a mapping's couplings one page at a time (`list_page`), so a mapping with
100,000 couplings costs one request of `top` rows per page, never a scan of the partition. The page is a range query
over the `bc:` rows only (the `dv:` index rows and the `was:` former partners sort outside it), and its continuation
token is Table Storage's own (next PartitionKey/RowKey), handed out opaque and bound to the mapping (`table_pages`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace

from azure.data.tables import TableTransactionError

from shared.domain.coupling import Coupling
from shared.domain.errors import ConcurrencyError, ConflictError, NotFoundError, SyncError
from shared.domain.records import Side
from shared.storage.coupling_deletes import CouplingDeletes
from shared.storage.coupling_rows import (
    CONDITIONAL,
    FORMER,
    INDEX_PROPERTIES,
    LOST_RACE,
    coupling_of,
    creates,
    entity,
    former_key,
    index_entity,
    row_etag,
    token,
)
from shared.storage.coupling_table import RANGE_PAGE
from shared.storage.keys import escape_key, odata_string, prefix_range, side_row_key
from shared.storage.table_pages import read_page
from shared.storage.tables import etag_of
from shared.storage.transactions import MAX_TRANSACTION_OPERATIONS, Operation, transaction_chunks


class TableCouplingStore(CouplingDeletes):
    """`CouplingStore` on the `Couplings` table."""

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
                found[bc_id] = coupling_of(mapping, row)
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
                found[dv_id] = coupling_of(mapping, row)
        return found

    def list_couplings(self, mapping: str) -> Iterator[Coupling]:
        """In BC id order: one scan of the coupling rows."""
        for row in self._scan(mapping, "bc:"):
            yield coupling_of(mapping, row)

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
        return [coupling_of(mapping, row) for row in rows], following

    # -- writes --------------------------------------------------------------------------------------------------
    def create_coupling(self, coupling: Coupling) -> Coupling:
        try:
            metadata = self._submit(creates(coupling))
        except TableTransactionError as error:
            if error.status_code != 409:  # EntityAlreadyExists
                raise
            taken = (
                "bcId" if self._by_keys(coupling.mapping, [side_row_key(Side.BC, coupling.bc_id)]) else "dataverseId"
            )
            raise ConflictError(
                "alreadyCoupled", f"{taken} is already coupled in mapping {coupling.mapping}", field=taken
            ) from None
        return replace(coupling, etag=token(metadata[0]["etag"], coupling.dataverse_id))

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
            metadata = self._submit([operation for c in chunk for operation in creates(c)])
        except TableTransactionError as error:
            if error.status_code != 409:
                raise
            return None
        return {id(c): replace(c, etag=token(metadata[2 * n]["etag"], c.dataverse_id)) for n, c in enumerate(chunk)}

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
        etag = row_etag(coupling)
        if etag is None:
            raise self._lost_update(coupling)
        try:
            metadata = self._submit([("update", entity(coupling), {**CONDITIONAL, "etag": etag})])
        except TableTransactionError as error:
            if error.status_code not in LOST_RACE:
                raise
            raise self._lost_update(coupling) from None
        return replace(coupling, etag=token(metadata[0]["etag"], coupling.dataverse_id))

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
            etags = [row_etag(c) for c in chunk]
            if all(etags):
                operations: list[Operation] = [
                    ("update", entity(c), {**CONDITIONAL, "etag": etag}) for c, etag in zip(chunk, etags, strict=True)
                ]
                try:
                    metadata = self._submit(operations)
                except TableTransactionError as error:
                    if error.status_code not in LOST_RACE:
                        raise
                else:
                    results.extend(
                        replace(c, etag=token(m["etag"], c.dataverse_id)) for c, m in zip(chunk, metadata, strict=True)
                    )
                    continue
            results.extend(self._update_or_error(c) for c in chunk)
        return results

    def _update_or_error(self, coupling: Coupling) -> Coupling | SyncError:
        try:
            return self.update_coupling(coupling)
        except SyncError as error:
            return error

    def former_partners(self, mapping: str, side: Side, ids: Iterable[str]) -> dict[str, str]:
        """Record id -> the partner it had when its coupling was deleted with `remember` (BC's Delete Coupling)."""
        wanted = {former_key(side, record_id): record_id for record_id in ids}
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
            ("update", index_entity(mapping, str(row["BcId"]), str(row["DataverseId"])),
             {**CONDITIONAL, "etag": etag_of(row)})
            for row in old
        ]  # fmt: skip
        for chunk in transaction_chunks(operations):
            try:
                self._table.submit_transaction(chunk)
            except TableTransactionError as error:
                if error.status_code not in LOST_RACE:
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


def page_scope(mapping: str) -> str:
    """What a `list_page` token is bound to: this list, of this mapping."""
    return f"couplings/{escape_key(mapping)}"
