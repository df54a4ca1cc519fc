"""How stored row values compare, shared by `$filter` predicates and `$orderby` sorting.

The emulators' in-memory stores keep rows as JSON-ready mappings:

- string, enum: `str`; guid: canonical lower-case `str`; date: `YYYY-MM-DD` `str`
- int: `int`; decimal: `int` or `float`; bool: `bool`
- datetime: ISO-8601 UTC `str`, `2026-01-02T03:04:05Z` or `2026-01-02T03:04:05.123Z`
- a missing key or `None` is null

Datetimes are the one type whose text does not sort like its value (`05Z` sorts after `05.123Z`), so they are
parsed to aware datetimes; the parse is cached because the same stored strings are compared again on every query.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from local.emulators.odata.types import EdmType


@lru_cache(maxsize=131_072)
def _parse_datetime_text(text: str) -> datetime:
    """Parse ISO-8601 text (Python 3.11 accepts `Z` and 1-7 fraction digits); naive text is taken as UTC."""
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def datetime_value(value: Any) -> datetime:
    """Turn a stored datetime (normally a `str`) into an aware datetime for comparison.

    A malformed stored string raises `ValueError`: it is a bug in the emulator's store, not in the client's query,
    and hiding it would make a filter silently drop the row.
    """
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return _parse_datetime_text(str(value))


def _casefold(value: Any) -> Any:
    return str(value).casefold()


def comparable(edm_type: EdmType, *, case_insensitive: bool) -> Callable[[Any], Any] | None:
    """The conversion a non-null stored value needs before `==`/`<` give the service's answer, or None if none.

    Case-insensitive services (Dataverse on a `_CI_` SQL collation) compare strings and enum names casefolded;
    GUIDs are stored lower-case already, dates as sortable `YYYY-MM-DD`, numbers and booleans natively.
    """
    if edm_type == "datetime":
        return datetime_value
    if edm_type in ("string", "enum") and case_insensitive:
        return _casefold
    return None
