"""The budgets' shared ledger in Table Storage: one row per scope (`ServiceBudgets`, PartitionKey the escaped scope,
RowKey `ledger`), holding the requests reserved per slice and company and who wants the scope
(`domain/budgets.py`).

Why one row per scope and not one per window: a reservation must see the slices of a whole sliding window and the
other companies' use at once, and write its own, atomically; one row read and replaced on its ETag does exactly
that, so processes and instances reserving together never grant more than the allowance (the loser of a race
re-reads and decides again). A reservation takes a block of requests (`Limits.block`), so its two Table requests
are paid once per block, not per API request. The table is the deployment's (its `TABLE_PREFIX`, no company key):
every company of the deployment shares it. It is created on first use, like the other tables.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

from azure.data.tables import TableClient

from shared.domain.budgets import Grant, Ledger, Limits, reserve
from shared.domain.errors import ConcurrencyError, TransientError
from shared.storage.conditional import read_entity, save_entity
from shared.storage.keys import escape_key
from shared.storage.tables import SERVICE_BUDGETS, TableFactory

BUDGETS = SERVICE_BUDGETS
LEDGER_ROW = "ledger"
MAX_RACES = 50  # lost races in a row before giving up: only with very many reservers on one scope at once


def budget_table(tables: TableFactory) -> TableClient:
    """The `ServiceBudgets` table of `tables`' account and prefix (a deployment table: created if missing)."""
    return tables.table(BUDGETS)


class TableBudgetLedger:
    """Reserves requests for a company on a scope's row, conditionally on its ETag."""

    def __init__(self, tables: TableFactory, *, pause: Callable[[float], None] = time.sleep) -> None:
        self._tables = tables
        self._client: TableClient | None = None  # on first use: building the ledger does no I/O
        self._lock = threading.Lock()
        self._pause = pause
        self._rng = random.Random()  # noqa: S311 - spreading retries, not security

    @property
    def _table(self) -> TableClient:
        with self._lock:
            if self._client is None:
                self._client = budget_table(self._tables)
            return self._client

    def reserve(self, scope: str, company: str, want: int, limits: Limits, now: float) -> Grant:
        """Up to `want` requests of `scope` for `company` at `now` (see `domain.budgets.reserve`)."""
        key = escape_key(scope)
        for race in range(MAX_RACES):
            row = read_entity(self._table, key, LEDGER_ROW)
            ledger = Ledger.from_json(row.get("Used"), row.get("Wants")) if row is not None else Ledger()
            grant = reserve(ledger, limits, company, want, now)
            used, wants = ledger.to_json()
            entity = {"PartitionKey": key, "RowKey": LEDGER_ROW, "Scope": scope, "Used": used, "Wants": wants}
            try:
                save_entity(self._table, entity, row.metadata["etag"] if row is not None else None, what=scope)
            except ConcurrencyError:
                self._pause(self._rng.uniform(0, 0.005 * (race + 1)))
                continue
            return grant
        raise TransientError("budgetContended", f"the budget of {scope} is contended; try again")

    def read(self, scope: str) -> Ledger:
        """The scope's ledger as stored (an empty one when none is)."""
        row = read_entity(self._table, escape_key(scope), LEDGER_ROW)
        return Ledger.from_json(row.get("Used"), row.get("Wants")) if row is not None else Ledger()
