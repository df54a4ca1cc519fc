"""`Context`: one request's view of one company, the narrow handle every page module works through (the writer for
the store and the API tables' rules, the company, the page schema, per-request lookups by number).

Why its own module: the row helpers (`data.py`) and the page views over API rows (`contacts.py`, `orders.py`) all
take a `Context`, and `data.py` assembles those views; with the class in `data.py` the views imported it back and
the three formed an import cycle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from local.emulators.business_central.api.writer import Writer
from local.emulators.business_central.naming import table_name
from local.emulators.business_central.pages.schema import PageSchema, load_pages
from local.emulators.store import Row


@dataclass
class Context:
    """One request's view of one company; lookups by number are indexed once per request."""

    writer: Writer
    company_id: str
    schema: PageSchema = field(default_factory=load_pages)
    _indexes: dict[tuple[str, str], dict[Any, Row]] = field(default_factory=dict, init=False, repr=False)

    def table(self, family: str) -> str:
        return table_name(self.company_id, family)

    def rows(self, family: str) -> list[Row]:
        return self.writer.store.rows(self.table(family))

    def lookup(self, family: str, column: str, value: Any) -> Row | None:
        """The row of `family` whose `column` is `value` (API tables by `number`/`code`, page tables by key)."""
        key = (family, column)
        if key not in self._indexes:
            self._indexes[key] = {row.get(column): row for row in self.rows(family)}
        return self._indexes[key].get(value)

    def forget(self) -> None:
        """Writes invalidate the per-request indexes."""
        self._indexes.clear()

    @property
    def local_currency(self) -> str:
        return self.writer.local_currency
