"""Row helpers the in-memory BC fake's API and page calls share: BC's 404-then-409 check, `$select` shaping, and
filter property types guessed from stored values (the fake has no schema)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from local.emulators.odata.types import EdmType
from shared.domain.errors import ConcurrencyError, NotFoundError
from shared.ports import Row

_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


def resolver(rows: Sequence[Mapping[str, Any]]) -> Callable[[str], EdmType]:
    """Property types guessed from stored values; unknown names read as strings."""

    def resolve(name: str) -> EdmType:
        value = next((r[name] for r in rows if r.get(name) is not None), None)
        kinds: list[tuple[type, EdmType]] = [(bool, "bool"), (int, "int"), (float, "decimal")]
        edm = next((edm for kind, edm in kinds if isinstance(value, kind)), None)
        if name.endswith("DateTime"):
            return "datetime"
        return edm or ("guid" if isinstance(value, str) and _GUID.match(value) else "string")

    return resolve


def checked(row: Row | None, etag: str, what: str) -> Row:
    """BC's order: the record must exist (404), then the `If-Match` must be current (409)."""
    if row is None:
        raise NotFoundError("BadRequest_NotFound", f"{what} does not exist.")
    if etag not in ("*", row["@odata.etag"]):
        raise ConcurrencyError("Request_EntityChanged", "Another user has already changed the record.")
    return row


def shape(row: Mapping[str, Any], select: Sequence[str] | None) -> Row:
    names = select if select else [k for k in row if not k.startswith("@")]
    return {"@odata.etag": row["@odata.etag"], **{name: row.get(name) for name in names}}
