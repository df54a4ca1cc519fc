"""Named value transforms a field mapping may use, each with both directions and a canonical form.

Why canonical forms: the engine decides "changed or not" by hashing each field's value as both systems hold it. BC
stores Code fields upper-cased and has no nulls ("" and 0 instead); Dataverse keeps case and nulls. Comparing raw
values would see a difference that no write can remove, and the record would be re-sent forever. So every field is
compared in one canonical form, and `to_bc(to_dataverse(x))` is `x` for every value BC can hold.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from shared.domain.errors import RecordError

EMPTY_GUID = "00000000-0000-0000-0000-000000000000"
EMPTY_DATE = "0001-01-01"


def normalize(value: Any) -> Any:
    """The canonical form both sides are compared in: no None, trimmed text, 5-decimal numbers, ISO dates."""
    if value is None or (isinstance(value, str) and value in (EMPTY_GUID, EMPTY_DATE)):
        return ""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float | Decimal):
        quantized = Decimal(str(value)).quantize(Decimal("0.00001"), rounding=ROUND_HALF_UP)
        return format(quantized.normalize(), "f") if quantized != 0 else "0"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        text = value.strip()
        if len(text) >= 10 and text[4:5] == "-" and text[7:8] == "-" and text.endswith("T00:00:00Z"):
            return text[:10]  # a Dataverse date-only column read as a date-time
        return text
    return value


@dataclass(frozen=True)
class Transform:
    name: str
    to_dataverse: Callable[[Any], Any]
    to_bc: Callable[[Any], Any]


def _identity(value: Any) -> Any:
    return value


def _upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


def _non_negative(value: Any) -> Any:
    return max(value, 0) if isinstance(value, int | float) and not isinstance(value, bool) else value


def _truncate(length: int) -> Callable[[Any], Any]:
    return lambda value: value[:length] if isinstance(value, str) else value


def _blank_to_none(value: Any) -> Any:
    return None if value in ("", EMPTY_GUID, EMPTY_DATE) else value


TRANSFORMS: dict[str, Transform] = {
    "upper": Transform("upper", _identity, _upper),  # a BC Code field: BC upper-cases and trims
    "nonNegative": Transform("nonNegative", _non_negative, _identity),  # BC sends negative price/quantity as 0
    "blankToNull": Transform("blankToNull", _blank_to_none, _identity),
    "truncate35": Transform("truncate35", _identity, _truncate(35)),
    "truncate50": Transform("truncate50", _identity, _truncate(50)),
    "truncate100": Transform("truncate100", _identity, _truncate(100)),
}


class OptionMappingFailed(RecordError):
    """BC's "Option Mapping Failure": a value with no coupled counterpart; the record fails, nothing is blanked."""


class ExchangeRateMissing(OptionMappingFailed):
    """BC's CurrencyExchangeRateMissingErr: a currency with no exchange rate in BC is never written to Sales (a real
    org refuses a currency without a rate, and a guessed or null rate would misprice every amount in it)."""


# Values that do not come from the record but from BC data the engine reads once per run (`LookupResolver
# .run_transform`); a field using one is compared on every run, since that data changes without the record changing.
LATEST_EXCHANGE_RATE = "latestExchangeRate"  # BC code -> BC's current LCY -> currency factor (exchange_rates.py)
RUN_TRANSFORMS = frozenset({LATEST_EXCHANGE_RATE})


def exchange_rate_transform(rates: Mapping[str, float]) -> Transform:
    """BC currency code -> the Dataverse `exchangerate`; a code without a rate fails the record, naming it."""

    def to_dataverse(code: Any) -> Any:
        rate = rates.get(str(code or "").strip().upper())
        if not rate:
            raise ExchangeRateMissing(
                "exchangeRateMissing",
                f"Cannot create or update the currency {code} in Sales, because there is no exchange rate defined "
                "for it in Business Central.",
                field="exchangerate",
            )
        return rate

    return Transform(LATEST_EXCHANGE_RATE, to_dataverse, _identity)


@dataclass(frozen=True)
class OptionMap:
    """BC codes (or ids) <-> a Dataverse option set (payment terms, shipment methods, shipping agents).

    Keys compare case-insensitively (BC upper-cases codes, GUIDs come lower-case) and map back to the key as stored.
    A `strict` map (built from an option mapping's couplings) refuses a value it does not know instead of answering
    None, which would blank the field on the other side.
    """

    name: str
    values: Mapping[str, int]  # BC code or id -> option value
    mapping: str = ""  # the option mapping whose couplings built it (named in errors)
    strict: bool = False
    blank: str = ""  # BC's value for "none": '' for a code, the empty GUID for an id (API v2.0's Edm.Guid fields)

    def to_dataverse(self, code: Any) -> Any:
        if code in (None, "", EMPTY_GUID):
            return None
        wanted = str(code).casefold()
        found = next((value for key, value in self.values.items() if key.casefold() == wanted), None)
        if found is None and self.strict:
            raise OptionMappingFailed(
                "optionMappingFailure",
                f"The Business Central value {code} has no option in Sales yet: run the {self.mapping} mapping first.",
            )
        return found

    def to_bc(self, option: Any) -> Any:
        if option is None:
            return self.blank
        found = next((code for code, value in self.values.items() if value == option), None)
        if found is None and self.strict:
            raise OptionMappingFailed(
                "optionMappingFailure",
                f"The Sales option {option} is not coupled to a Business Central record of {self.mapping}: couple "
                "it, or choose an option that is.",
            )
        return found


def transform_named(name: str | None, option_maps: Mapping[str, OptionMap] | None = None) -> Transform:
    """`None` -> identity; `option:<name>` -> the option map from settings; otherwise the registry entry."""
    if name is None:
        return Transform("identity", _identity, _identity)
    if name.startswith("option:"):
        option = (option_maps or {}).get(name.removeprefix("option:"))
        if option is None or not option.values:
            raise KeyError(f"option map '{name.removeprefix('option:')}' is not configured")
        return Transform(name, option.to_dataverse, option.to_bc)
    return TRANSFORMS[name]


def known_transform(name: str) -> bool:
    return name in TRANSFORMS or name in RUN_TRANSFORMS or name.startswith("option:")
