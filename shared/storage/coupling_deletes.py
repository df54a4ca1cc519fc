"""Uncoupling in Table Storage: one coupling, or many of a mapping in few transactions (issue 24).

Why its own module: deleting is the one write that must read first (the `dv:` index row's ETag, and whether it still
points back), retry a lost race, and may write the former-partner rows in the same transaction; that is enough logic
to keep apart from the store's finds, creates and updates (`couplings.py`). `TableCouplingStore` inherits these
methods, so `CouplingStore` (ports.py) is unchanged.

Uncoupling many couplings (`delete_couplings`) sends the rows of 25 to 50 couplings per transaction, each delete
conditional on the ETag read; a transaction refused because one of them changed is replayed coupling by coupling.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from azure.core import MatchConditions
from azure.data.tables import TableEntity, TableTransactionError

from shared.domain.coupling import Coupling
from shared.domain.errors import ConcurrencyError
from shared.domain.records import Side
from shared.storage.coupling_rows import LOST_RACE, former, row_etag
from shared.storage.coupling_table import CouplingTable
from shared.storage.keys import escape_key, side_row_key
from shared.storage.tables import etag_of
from shared.storage.transactions import MAX_TRANSACTION_OPERATIONS, Operation

DELETE_ATTEMPTS = 5


class CouplingDeletes(CouplingTable):
    """The delete methods `TableCouplingStore` inherits."""

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
                    ("upsert", former(mapping, Side.BC, bc_id, bc_row["DataverseId"])),
                    ("upsert", former(mapping, Side.DATAVERSE, bc_row["DataverseId"], bc_id)),
                ]
            try:
                self._submit(operations)
                return True
            except TableTransactionError as error:
                if error.status_code not in LOST_RACE:
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
        etag = row_etag(coupling)
        bc_row = {"PartitionKey": escape_key(mapping), "RowKey": side_row_key(Side.BC, coupling.bc_id)}
        condition = {"match_condition": MatchConditions.IfNotModified}
        operations: list[Operation] = [("delete", bc_row, {**condition, "etag": etag or "*"})]
        dv_row = index.get(side_row_key(Side.DATAVERSE, coupling.dataverse_id))
        if dv_row is not None and dv_row.get("BcId") == coupling.bc_id:
            operations.append(("delete", dv_row, {**condition, "etag": etag_of(dv_row)}))
        if remember:
            operations += [
                ("upsert", former(mapping, Side.BC, coupling.bc_id, coupling.dataverse_id)),
                ("upsert", former(mapping, Side.DATAVERSE, coupling.dataverse_id, coupling.bc_id)),
            ]
        return operations

    def _delete_together(
        self, mapping: str, chunk: Sequence[Coupling], operations: Sequence[Operation], remember: Collection[str]
    ) -> list[bool]:
        if all(row_etag(c) for c in chunk):
            try:
                self._table.submit_transaction(list(operations))
                return [True] * len(chunk)
            except TableTransactionError as error:
                if error.status_code not in LOST_RACE:
                    raise
        return [self.delete_coupling(mapping, c.bc_id, remember=c.bc_id in remember) for c in chunk]
