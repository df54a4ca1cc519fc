"""One page of a Table Storage query, and the opaque continuation token that leads to the next one (issue 24's paged
lists: couplings, sync errors, match logs).

Why the service's own continuation: a page is one `query_entities(filter, results_per_page=top)` request (or
`list_entities` with no filter) resumed with `by_page(continuation_token=...)`, so a list of 100,000 rows costs one
request of `top` rows per page, never a scan. The SDK hands the continuation out as a dict of the next keys
(`{"PartitionKey", "RowKey"}`, either may be None) and takes the same dict back.

Why a scope in the token: the caller passes the scope it pages (the mapping, the job id...); the token is URL-safe
base64 JSON of that scope and the next keys, and a token read back under another scope (another mapping's list) or
one this module could not have made is refused with a 400 naming `continuationToken`, never a read that silently
starts elsewhere. A well-formed token whose keys the service itself refuses (a 400 from Table Storage) is refused
the same way (UNCONFIRMED which keys real Table Storage refuses: Azurite takes any, and a made-up position still
reads only rows of the page's own query, its `$filter` bounding the partition).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from azure.core.exceptions import HttpResponseError
from azure.data.tables import TableClient, TableEntity

from shared.domain.errors import InvalidInputError

MAX_PAGE = 1000  # rows of one page (Table Storage's maximum per response)
_KEYS = ("PartitionKey", "RowKey")


def read_page(
    table: TableClient,
    query: str | None,
    top: int,
    continuation_token: str | None,
    scope: str,
    *,
    skip_empty: bool = False,
) -> tuple[list[TableEntity], str | None]:
    """At most `top` (1..1000) rows of `query` (None: the whole table) from where `continuation_token` says, and the
    token of the next page (None: the last). One request, so a page may be empty and still have a next one (Table
    Storage may answer fewer rows than asked, even none, with a continuation: "Query timeout and pagination" in its
    REST reference; a `$filter` such as skipped couplings only makes that common); `skip_empty` reads on past such
    empty pages instead."""
    if not 1 <= top <= MAX_PAGE:
        raise ValueError(f"top must be 1..{MAX_PAGE}")
    start: Any = read_token(continuation_token, scope) if continuation_token is not None else None
    # the SDK takes back the dict its pages hand out, though its stub says `str`
    if query is None:
        pages: Any = table.list_entities(results_per_page=top).by_page(continuation_token=start)
    else:
        pages = table.query_entities(query, results_per_page=top).by_page(continuation_token=start)
    try:
        for page in pages:
            rows = list(page)
            following = pages.continuation_token
            if rows or not following or not skip_empty:
                return rows, page_token(following, scope)
    except HttpResponseError as error:
        if start is None or error.status_code != 400:
            raise
        raise refused() from None
    return [], None


def page_token(position: Mapping[str, Any] | None, scope: str) -> str | None:
    """The opaque token of a next-page position (the SDK's `{"PartitionKey", "RowKey"}`), or None at the end."""
    if not position or not any(position.get(key) for key in _KEYS):
        return None
    data = {"s": scope, "pk": position.get("PartitionKey"), "rk": position.get("RowKey")}
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


def read_token(token: str, scope: str) -> dict[str, str | None]:
    """The position `page_token` made `token` of under `scope`; `InvalidInputError` (400, `continuationToken`) for
    a token of another scope or one it could not have made."""
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError, RecursionError):  # RecursionError: JSON nested deeper than Python recurses
        raise refused() from None
    if not isinstance(data, dict) or set(data) != {"s", "pk", "rk"} or data["s"] != scope:
        raise refused()
    keys = data["pk"], data["rk"]
    if not all(key is None or isinstance(key, str) for key in keys) or not any(keys):
        raise refused()
    return dict(zip(_KEYS, keys, strict=True))


def refused() -> InvalidInputError:
    return InvalidInputError(
        "invalidContinuationToken",
        "'continuationToken' is not a token this list handed out: start again from the first page.",
        field="continuationToken",
    )
