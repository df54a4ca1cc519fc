"""The rows of the `Couplings` table read by key, by range and by scan, and written in transactions (issue 21).

Why its own module: how many rows to read per request, and when a range beats key queries, is a cost decision the
store's reads, creates and deletes all share (`couplings.py`, `coupling_deletes.py` build on `CouplingTable`); it
knows nothing of what a row means (`coupling_rows.py`).

Why ranges: a page's ids are read with range queries (`RowKey ge <first> and le <last>`, 1,000 rows a request)
when they are many: a full-sync chunk lists ids in key order, so its couplings are one range, and an incremental
run's changed records are usually a good part of the partition. A range that holds many rows nobody asked for is
given up after as many requests as key queries would have cost, and the rest is read by key: 14 row keys per query
(Table Storage allows 15 comparisons in a `$filter`: PartitionKey + 14 RowKeys), in parallel.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from azure.data.tables import TableClient, TableEntity

from shared.storage.keys import escape_key, odata_string, prefix_range
from shared.storage.tables import COUPLINGS, TableFactory
from shared.storage.transactions import Operation, transaction_chunks

IDS_PER_QUERY = 14
RANGE_PAGE = 1000  # rows per response of a range query (Table Storage's maximum)
RANGE_FROM = 2 * IDS_PER_QUERY + 1  # fewer keys than this are read by key
PARALLEL_QUERIES = 8


class CouplingTable:
    """The `Couplings` table, row by row: the base of `TableCouplingStore`."""

    def __init__(self, tables: TableFactory) -> None:
        self._tables = tables

    @property
    def _table(self) -> TableClient:
        return self._tables.table(COUPLINGS)

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

    def _submit(self, operations: Sequence[Operation]) -> list[Mapping[str, Any]]:
        metadata: list[Mapping[str, Any]] = []
        for chunk in transaction_chunks(operations):
            metadata.extend(self._table.submit_transaction(chunk))
        return metadata
