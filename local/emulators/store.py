"""In-memory row store with row versions, a change log and nested all-or-nothing transactions.

Both emulators keep their tables here. One re-entrant lock guards everything: the emulators are test doubles, and
a single lock makes every operation (including a 1,000-operation change set) trivially atomic and consistent,
which is exactly what the real services promise for a transaction. The change log feeds Dataverse change
tracking (delta links); the journal makes change sets and BC `Isolation: snapshot` batches roll back cleanly.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

Row = dict[str, Any]


@dataclass(frozen=True)
class Change:
    version: int
    table: str
    row_id: str
    deleted: bool


class Store:
    """Tables of rows keyed by primary id; every write gets a fresh, store-wide increasing version."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._tables: dict[str, dict[str, Row]] = {}
        self._version = 1000
        self.changes: list[Change] = []
        self._journals: list[list[tuple[str, str, Row | None]]] = []

    def clear(self) -> None:
        with self.lock:
            self._tables.clear()
            self.changes.clear()
            self._version = 1000

    @property
    def version(self) -> int:
        return self._version

    def next_version(self) -> int:
        with self.lock:
            self._version += 1
            return self._version

    def table(self, name: str) -> dict[str, Row]:
        with self.lock:
            return self._tables.setdefault(name, {})

    def get(self, table: str, row_id: str) -> Row | None:
        with self.lock:
            return self._tables.get(table, {}).get(row_id)

    def rows(self, table: str) -> list[Row]:
        """A snapshot list of the table's rows (the rows themselves must not be mutated by callers)."""
        with self.lock:
            return list(self._tables.get(table, {}).values())

    def count(self, table: str) -> int:
        with self.lock:
            return len(self._tables.get(table, {}))

    def put(self, table: str, row_id: str, row: Row, *, version: int, track: bool = True) -> None:
        """Insert or replace a whole row written at `version` (from `next_version`); rows are never mutated."""
        with self.lock:
            rows = self._tables.setdefault(table, {})
            self._journal(table, row_id, rows.get(row_id))
            rows[row_id] = row
            if track:
                self.changes.append(Change(version, table, row_id, deleted=False))

    def delete(self, table: str, row_id: str, *, track: bool = True) -> Row | None:
        with self.lock:
            rows = self._tables.setdefault(table, {})
            previous = rows.pop(row_id, None)
            if previous is not None:
                self._journal(table, row_id, previous)
                if track:
                    self.changes.append(Change(self.next_version(), table, row_id, deleted=True))
            return previous

    def _journal(self, table: str, row_id: str, previous: Row | None) -> None:
        if self._journals:
            self._journals[-1].append((table, row_id, previous))

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All-or-nothing: an exception inside undoes every write made inside, then propagates."""
        with self.lock:
            journal: list[tuple[str, str, Row | None]] = []
            changes_mark = len(self.changes)
            self._journals.append(journal)
            try:
                yield
            except BaseException:
                self._journals.pop()
                for table, row_id, previous in reversed(journal):
                    rows = self._tables.setdefault(table, {})
                    if previous is None:
                        rows.pop(row_id, None)
                    else:
                        rows[row_id] = previous
                del self.changes[changes_mark:]
                raise
            self._journals.pop()
            if self._journals:  # a nested transaction's writes belong to the outer one too
                self._journals[-1].extend(journal)
