"""One page of a long list read straight from BC or Dataverse, with the console's paging convention: `top` rows and an
opaque `continuationToken` for the next page (`{"value": [...], "continuationToken": "<next>" | null}`).

Why keyset tokens and not the servers' own next links: the connectors follow `@odata.nextLink` inside their page
iterators, so a link cannot be resumed in a later request. The token instead names the last row served, and the next
page is the rows after it in the order the connector reads them:
- Dataverse lists are ordered by `modifiedon`, then the primary id (`connectors/dataverse/requests.list_changed_since`),
  so the next page is `modifiedon gt M or (modifiedon eq M and <id> gt I)`. A row changed between two pages moves to
  the end of the list (it is then seen again on a later page, never lost); so may a row of the same second as the
  last one served if the server keeps `modifiedon` finer than it answers it (UNCONFIRMED: seen twice, never lost).
- BC entities are listed by `list_ids` (`$orderby=id`), so the next page is `id gt I`, and the page's rows are then
  read in one request by their id range (`id_range_filter`). UNCONFIRMED that real BC accepts `gt` on an Edm.Guid
  and orders Guids the way it compares them (as `api_surface.id_range_filter` says of `ge`/`le`).

A token is base64url of a small JSON object naming its list; every value is checked before it is put in a filter
(a GUID, an OData date-time), so a forged token can never inject filter text: it is a 400 naming `continuationToken`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

from shared.domain.errors import InvalidInputError

DEFAULT_TOP, MAX_TOP = 100, 1000  # the paging convention (`triggers/paging.py` reads `top` from a request)
CURSOR_PATTERN = r"^[A-Za-z0-9_-]{1,400}$"
CURSOR_RULE = "invalidContinuationToken"
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,7})?(Z|[+-]\d{2}:\d{2})$")


@dataclass(frozen=True)
class PageRequest:
    """What the caller asked for: `top` rows after the row the token names (`after` empty: the first page)."""

    top: int = DEFAULT_TOP
    after: dict[str, str] | None = None


def page_request(list_name: str, top: int, token: str | None) -> PageRequest:
    """The page asked for (`top` already checked, `triggers/paging.py`), or a 400 naming `continuationToken`."""
    return PageRequest(top, None if token is None else _decode(list_name, token))


def token_after(list_name: str, values: dict[str, str]) -> str:
    raw = json.dumps({"list": list_name, **values}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _refused(list_name: str) -> InvalidInputError:
    return InvalidInputError(
        CURSOR_RULE,
        f"'continuationToken' is not a token this list ({list_name}) handed out: start again from the first page.",
        field="continuationToken",
    )


def _decode(list_name: str, token: str) -> dict[str, str]:
    if not re.fullmatch(CURSOR_PATTERN, token):
        raise _refused(list_name)
    try:
        values = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError):
        raise _refused(list_name) from None
    if not isinstance(values, dict) or values.pop("list", None) != list_name:
        raise _refused(list_name)
    if not all(isinstance(v, str) for v in values.values()):
        raise _refused(list_name)
    if "id" not in values or not _is_guid(values["id"]):
        raise _refused(list_name)
    if "modifiedon" in values and not DATETIME.fullmatch(values["modifiedon"]):
        raise _refused(list_name)
    if set(values) - {"id", "modifiedon"}:
        raise _refused(list_name)
    return values


def _is_guid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value.lower() and len(value) == 36
    except ValueError:
        return False


def dataverse_after(primary: str, after: dict[str, str] | None) -> str | None:
    """The `$filter` for the rows after the one the token names, in `modifiedon`, then id, order."""
    if not after:
        return None
    moment, row_id = after["modifiedon"], after["id"]
    return f"(modifiedon gt {moment} or (modifiedon eq {moment} and {primary} gt {row_id}))"


def dataverse_token(list_name: str, primary: str, row: dict[str, Any]) -> str:
    return token_after(list_name, {"modifiedon": str(row["modifiedon"]), "id": str(row[primary]).lower()})


def bc_after(after: dict[str, str] | None) -> str | None:
    """The `$filter` for the entities after the one the token names, in id order."""
    return f"id gt {after['id']}" if after else None


def both(*filters: str | None) -> str | None:
    """The filters that are set, joined with `and` (None when there is none)."""
    present = [f"({f})" for f in filters if f]
    return " and ".join(present) or None
