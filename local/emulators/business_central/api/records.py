"""`Records`: the narrow view of the API tables that BC's table rules get, instead of the writer itself.

Why: the writer runs the rules (document lines and totals, tax, G/L account lines, a customer's company contact) on
every create and update, and the rules read and write rows of other tables while they run. Handed the `Writer`, each
rule module imported it back for its type and the writer and its rules formed one import cycle; typed against this
protocol they depend only on the schema and the store, the writer depends on them, and nothing depends back. The
writer satisfies it as it is (tests/unit/test_local_layout.py keeps the package free of cycles).
"""

from __future__ import annotations

from typing import Any, Protocol

from local.emulators.business_central.schema import EntitySet, Schema
from local.emulators.store import Row, Store


class Records(Protocol):
    schema: Schema
    store: Store

    @property
    def local_currency(self) -> str: ...

    def entity_set(self, name: str) -> EntitySet: ...

    def find_by(self, company_id: str, entity_set: str, prop: str, value: Any) -> Row | None: ...

    def put(self, company_id: str, entity_set: EntitySet, row: Row) -> None:
        """Store the row with a new version (and `lastModifiedDateTime`), without running the rules again."""

    def create(self, company_id: str, entity_set: EntitySet, body: Any, *, parent_id: str | None = None) -> Row:
        """Create a row as a client would, with every rule."""
