"""Rows as the Dataverse client hands them out: the `@odata.context` annotation dropped, `@odata.etag` kept (an
update needs it for `If-Match`, and the engine's watermark rules tell versions apart by it).

Changes are read by `modifiedon` with a closed lower bound (`requests.list_changed_since`); which of the
rows read again the sync passes over is decided by the engine's cursor (`shared/domain/watermarks.py`). Dataverse
change tracking (delta links) is not used: it refuses `$filter`, and the mappings read their records in a filter.
"""

from __future__ import annotations

from typing import Any

Row = dict[str, Any]
CONTROL_KEYS = frozenset({"@odata.context"})


def strip_control(row: Row) -> Row:
    """A row as callers see it: `@odata.etag` kept (needed for `If-Match`), the context annotation dropped."""
    return {k: v for k, v in row.items() if k not in CONTROL_KEYS}
