"""Sort keys and key-based paging cursors shared by both emulators.

Real services page with a cookie that remembers where the last page ended (never an offset): a row inserted or
deleted between two pages must not shift the next page. The cursor here is the last row's sort-key values plus its
primary key, and the next page starts strictly after it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping, Sequence
from functools import total_ordering
from typing import Any

from local.emulators.odata.types import EdmType, ODataQueryError
from local.emulators.odata.values import comparable


@total_ordering
class _Descending:
    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Descending) and self.value == other.value

    def __lt__(self, other: _Descending) -> bool:
        return bool(other.value < self.value)

    def __hash__(self) -> int:
        return hash(self.value)


SortSpec = Sequence[tuple[str, bool]]  # (property, descending)
KeyFunction = Callable[[Mapping[str, Any]], tuple[Any, ...]]


def make_key(spec: SortSpec, types: Callable[[str], EdmType], tiebreak: str, *, case_insensitive: bool) -> KeyFunction:
    """A total order: the $orderby properties (nulls first ascending, last descending, like SQL Server) + the id."""
    converters = [
        (name, descending, comparable(types(name), case_insensitive=case_insensitive)) for name, descending in spec
    ]

    def key(row: Mapping[str, Any]) -> tuple[Any, ...]:
        parts: list[Any] = []
        for name, descending, convert in converters:
            value = row.get(name)
            item = (0,) if value is None else (1, convert(value) if convert else value)
            parts.append(_Descending(item) if descending else item)
        parts.append(row.get(tiebreak) or "")
        return tuple(parts)

    return key


def encode_cursor(row: Mapping[str, Any], spec: SortSpec, tiebreak: str, extra: Mapping[str, Any] | None = None) -> str:
    payload = {"v": [row.get(name) for name, _ in spec], "id": row.get(tiebreak), **(extra or {})}
    return base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(token: str) -> dict[str, Any]:
    try:
        padded = token + "=" * (-len(token) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError):
        raise ODataQueryError("The $skiptoken is not valid; follow @odata.nextLink exactly as returned.") from None
    if not isinstance(payload, dict) or "id" not in payload:
        raise ODataQueryError("The $skiptoken is not valid; follow @odata.nextLink exactly as returned.")
    return payload


def cursor_row(cursor: Mapping[str, Any], spec: SortSpec, tiebreak: str) -> dict[str, Any]:
    values = cursor.get("v") or []
    if len(values) != len(spec):
        raise ODataQueryError("The $skiptoken does not belong to this query.")
    row = {name: value for (name, _), value in zip(spec, values, strict=True)}
    row[tiebreak] = cursor["id"]
    return row


def page_after(
    rows: Sequence[Mapping[str, Any]], key: KeyFunction, after: Mapping[str, Any] | None, size: int
) -> tuple[list[Mapping[str, Any]], bool]:
    """Sort, skip everything up to and including `after`, return one page and whether more rows follow."""
    ordered = sorted(rows, key=key)
    start = 0
    if after is not None:
        boundary = key(after)
        low, high = 0, len(ordered)
        while low < high:  # first index whose key is > boundary
            middle = (low + high) // 2
            if key(ordered[middle]) <= boundary:
                low = middle + 1
            else:
                high = middle
        start = low
    page = list(ordered[start : start + size])
    return page, start + size < len(ordered)
