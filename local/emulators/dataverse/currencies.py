"""Dataverse's transaction-currency rule, checked on every write path (the writer calls `check_write` beside
`products.check_write`).

Why: a currency's `exchangerate` (units of the currency per unit of the organization's base currency) is what Sales
converts every money amount with; a currency without one cannot exist in a real org. Microsoft's own integration
tests treat it as Dataverse's rule: microsoft/BCApps, src/Layers/W1/Tests/TestLibraries/
CRMBusLogicSimulator.Codeunit.al, ValidateCurrencyOnInsert ("ISOCurrencyCode and ExchangeRate must not be zero":
TestField on both). The simulator checks inserts only; the emulator also refuses an update that clears or zeroes
either (the strict reading: a real org keeps a currency convertible; UNCONFIRMED). The real error code is
UNCONFIRMED: the emulator answers 400 with its business-rule code (errors.INVALID_ARGUMENT).
"""

from __future__ import annotations

from local.emulators.dataverse.errors import invalid
from local.emulators.dataverse.schema import Table
from local.emulators.store import Row

CURRENCY = "transactioncurrency"


def check_write(table: Table, row: Row) -> None:
    """Refuse a transaction currency (new or updated) without an ISO code or with no, or a zero, exchange rate."""
    if table.logical_name != CURRENCY:
        return
    if not str(row.get("isocurrencycode") or "").strip():
        raise invalid("A transaction currency needs an ISO currency code (isocurrencycode).")
    rate = row.get("exchangerate")
    if not isinstance(rate, int | float) or isinstance(rate, bool) or rate <= 0:
        raise invalid(
            f"The transaction currency {row.get('isocurrencycode')} needs an exchange rate (exchangerate) above zero."
        )
