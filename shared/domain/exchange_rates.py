"""BC's current LCY -> currency factor from API v2.0 `currencyExchangeRates` rows, pure.

Why this is what Sales gets: BC writes a transaction currency's `exchangerate` as CRMSynchHelper
.GetCRMLCYToFCYExchangeRate, which (Dataverse's base currency being BC's LCY) is Currency Exchange Rate
.GetCurrentCurrencyFactor: the rate row with the latest Starting Date on or before the work date, as
Exchange Rate Amount / Relational Exch. Rate Amount (units of the currency per unit of LCY, which is also what
Dataverse's exchangerate means). A row relative to another currency (Relational Currency Code) goes through that
currency's own factor. No row means no rate (0): BC then refuses to write the currency, and so does the engine.
Not carried: a Dataverse base currency other than BC's LCY (BC then converts FCY to FCY).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any


def _current_rows(rows: Iterable[Mapping[str, Any]], today: date) -> dict[str, Mapping[str, Any]]:
    latest: dict[str, Mapping[str, Any]] = {}
    for row in rows:
        code = str(row.get("currencyCode") or "").strip().upper()
        starting = str(row.get("startingDate") or "")[:10]
        if not code or not starting or date.fromisoformat(starting) > today:
            continue
        if code not in latest or starting > str(latest[code].get("startingDate"))[:10]:
            latest[code] = row
    return latest


def current_factors(rows: Iterable[Mapping[str, Any]], today: date) -> dict[str, float]:
    """Currency code -> units of that currency per unit of LCY, for every currency with a usable rate today."""
    current = _current_rows(rows, today)
    factors: dict[str, float] = {}

    def factor(code: str, seen: frozenset[str]) -> float:
        if code in factors:
            return factors[code]
        row = current.get(code)
        if row is None or code in seen:
            return 0.0
        amount = float(row.get("exchangeRateAmount") or 0)
        relational = float(row.get("relationalExchangeRateAmount") or 0)
        if amount <= 0 or relational <= 0:
            return 0.0
        value = amount / relational
        via = str(row.get("relationalCurrencyCode") or "").strip().upper()
        if via:
            value *= factor(via, seen | {code})
        return value

    for code in current:
        value = factor(code, frozenset())
        if value > 0:
            factors[code] = round(value, 10)  # BC's CRM exchange rate rounding precision (0.0000000001)
    return factors
