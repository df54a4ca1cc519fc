"""Reading changes: splitting a delta page into changed rows and deleted ids, and the watermark boundary rules
for `modifiedon` polling.

Why a closed lower bound plus de-duplication: `modifiedon` has whole-second precision and many rows share a
second. Reading `modifiedon gt <watermark>` would silently skip rows written later in the watermark's own second;
reading `ge` returns them, together with the rows already synchronised at that instant, which the caller drops by
id (`dedupe_boundary`). The checkpoint therefore stores the watermark *and* the ids seen at it (`advance_boundary`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any

Row = dict[str, Any]
CONTROL_KEYS = frozenset({"@odata.context"})


def strip_control(row: Row) -> Row:
    """A row as callers see it: `@odata.etag` kept (needed for `If-Match`), the context annotation dropped."""
    return {k: v for k, v in row.items() if k not in CONTROL_KEYS}


def is_deleted_entry(item: Row) -> bool:
    context = str(item.get("@odata.context", ""))
    return context.endswith("$deletedEntity") or (item.get("reason") == "deleted" and "id" in item)


def split_delta(items: Iterable[Row]) -> tuple[list[Row], list[str]]:
    """Changed rows and deleted ids of one delta page, in the order the service gave them."""
    rows: list[Row] = []
    deleted: list[str] = []
    for item in items:
        if is_deleted_entry(item):
            deleted.append(str(item["id"]))
        else:
            rows.append(strip_control(item))
    return rows, deleted


def merge_delta(rows: list[Row], deleted: list[str], primary_id: str | None) -> tuple[list[Row], list[str]]:
    """Across pages, the last word about a row wins: a row deleted after it changed is only a deletion."""
    if primary_id is None:
        return rows, deleted
    gone = set(deleted)
    kept = [row for row in rows if str(row.get(primary_id)) not in gone]
    return kept, list(dict.fromkeys(deleted))


def parse_modifiedon(value: str | datetime) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value.replace("Z", "+00:00"))


def dedupe_boundary(
    rows: Iterable[Row], watermark: str | datetime | None, boundary_ids: Collection[str], *, primary_id: str
) -> list[Row]:
    """Drop the rows already synchronised at the watermark's instant (same `modifiedon`, id in `boundary_ids`).

    A row at the watermark whose id is not in `boundary_ids` was written later in that second: it is kept.
    A row at the watermark that *is* in `boundary_ids` but changed again would carry a later `modifiedon`.
    """
    if watermark is None or not boundary_ids:
        return list(rows)
    mark = parse_modifiedon(watermark)
    ids = {i.lower() for i in boundary_ids}
    return [
        row
        for row in rows
        if not (parse_modifiedon(row["modifiedon"]) == mark and str(row.get(primary_id, "")).lower() in ids)
    ]


def advance_boundary(
    rows: Sequence[Row], watermark: str | datetime | None, boundary_ids: Collection[str], *, primary_id: str
) -> tuple[datetime | None, frozenset[str]]:
    """The next (watermark, ids at it) after `rows` were durably applied: never moves backwards, and keeps the
    old boundary ids when the new rows end in the same second."""
    current = parse_modifiedon(watermark) if watermark is not None else None
    ids = {i.lower() for i in boundary_ids}
    for row in rows:
        stamp = parse_modifiedon(row["modifiedon"])
        row_id = str(row.get(primary_id, "")).lower()
        if current is None or stamp > current:
            current, ids = stamp, {row_id}
        elif stamp == current:
            ids.add(row_id)
    return current, frozenset(ids)
