"""`$select`, `$orderby` (and sorting), `$top`, `$skip`, `$count`, plus `$expand` re-exported from `expand.py`.

Each parser validates as strictly as the real services do, because an emulator that tolerates `$select=name,,x`
or `$top=-1` lets client bugs reach production. Property names are checked through the caller's resolver so the
"Could not find a property named ..." error carries the right entity type name.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from local.emulators.odata.expand import EXPAND_OPTIONS, ExpandItem, parse_expand
from local.emulators.odata.types import EdmType, ODataQueryError, Resolver, check_length, syntax_error
from local.emulators.odata.values import comparable

__all__ = [
    "EXPAND_OPTIONS",
    "ExpandItem",
    "OrderKey",
    "parse_bool_option",
    "parse_expand",
    "parse_orderby",
    "parse_select",
    "parse_skip",
    "parse_top",
    "sort_rows",
]

RowT = TypeVar("RowT", bound=Mapping[str, Any])

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WORD = re.compile(r"\S+")
_MAX_INT64 = 2**63 - 1


@dataclass(frozen=True)
class OrderKey:
    """One `$orderby` term."""

    name: str
    descending: bool


def parse_select(text: str, resolve: Resolver) -> list[str]:
    """Property names of `$select=a,b`, in order, duplicates dropped; unknown names fail through `resolve`.

    `*` is valid OData but refused (`unsupported=True`): selecting everything is what omitting `$select` does.
    """
    check_length(text, "$select")
    names: list[str] = []
    for raw in text.split(","):
        name = raw.strip()
        if not name:
            raise ODataQueryError(f"Term '{text}' is not valid in a $select or $expand expression.")
        if name == "*":
            raise ODataQueryError(
                "$select=* is not supported by this emulator; omit $select to get every property.", unsupported=True
            )
        resolve(name)
        names.append(name)
    return list(dict.fromkeys(names))


def parse_orderby(text: str, resolve: Resolver) -> list[OrderKey]:
    """Terms of `$orderby=a,b desc,c asc`; only plain property names, directions lower-case as in ODL."""
    check_length(text, "$orderby")
    keys: list[OrderKey] = []
    offset = 0
    for raw in text.split(","):
        words = [(match.group(), offset + match.start()) for match in _WORD.finditer(raw)]
        if not words:
            position = offset + len(raw)
            raise ODataQueryError(f"Expression expected at position {position} in '{text}'.", position=position)
        (name, name_pos), rest = words[0], words[1:]
        if not _IDENTIFIER.fullmatch(name):
            if "/" in name or "(" in name:
                raise ODataQueryError(
                    f"Only property names are supported in this emulator's $orderby, not '{name}'.",
                    position=name_pos,
                    unsupported=True,
                )
            raise syntax_error(name_pos, text)
        if rest and rest[0][0] not in ("asc", "desc"):
            raise syntax_error(rest[0][1], text)
        if len(rest) > 1:
            raise syntax_error(rest[1][1], text)
        resolve(name)
        keys.append(OrderKey(name, bool(rest) and rest[0][0] == "desc"))
        offset += len(raw) + 1
    return keys


def _sort_key(name: str, convert: Callable[[Any], Any] | None) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """Nulls sort before every value (SQL Server's rule); `(0,)` < `(1, value)` whatever the value's type."""
    if convert is None:
        return lambda row: (0,) if (value := row.get(name)) is None else (1, value)
    return lambda row: (0,) if (value := row.get(name)) is None else (1, convert(value))


def sort_rows(
    rows: Sequence[RowT],
    keys: Sequence[OrderKey],
    types: Callable[[str], EdmType],
    tiebreak: str,
    *,
    case_insensitive: bool = False,
) -> list[RowT]:
    """Rows in `$orderby` order, ties broken by `tiebreak` (the primary key) ascending so pages never overlap.

    Nulls come first ascending and last descending, as on SQL Server. Datetimes compare as instants, strings
    casefolded when `case_insensitive` (Dataverse). Done as successive stable sorts, last key first, which lets each
    key have its own direction without inverting values.
    """
    ordered = sorted(rows, key=_sort_key(tiebreak, comparable(types(tiebreak), case_insensitive=case_insensitive)))
    for key in reversed(keys):
        convert = comparable(types(key.name), case_insensitive=case_insensitive)
        ordered.sort(key=_sort_key(key.name, convert), reverse=key.descending)
    return ordered


def _non_negative_int(text: str, option: str) -> int:
    if re.fullmatch(r"[0-9]{1,19}", text) is None or int(text) > _MAX_INT64:
        raise ODataQueryError(
            f"Invalid value '{text}' for {option} query option found. "
            f"The {option} query option requires a non-negative integer value."
        )
    return int(text)


def parse_top(text: str) -> int:
    """`$top`: a non-negative integer (ODL's Int64 range)."""
    return _non_negative_int(text, "$top")


def parse_skip(text: str) -> int:
    """`$skip` (Business Central supports it; Dataverse refuses it, which is the caller's decision)."""
    return _non_negative_int(text, "$skip")


def parse_bool_option(text: str, name: str) -> bool:
    """A boolean system option such as `$count`: exactly `true` or `false`, case-sensitive like ODL."""
    if text == "true":
        return True
    if text == "false":
        return False
    raise ODataQueryError(f"Invalid value '{text}' for {name} query option found. Valid values are 'true, false'.")
