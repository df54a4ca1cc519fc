"""What registering a webhook needs beyond the sync's reads and writes: a plain query of a system table (service
endpoints, SDK messages and filters, steps) and WhoAmI.

Why here and so small: the writes are the client's own (`create_row` is create-only and race-safe, `update_row`
refuses to create, `delete_row` takes an already-deleted row as done), so only the reads the sync never makes are new:
the system tables have no `modifiedon` watermark to page by (`list_changed_since` orders by it), and WhoAmI is an
unbound function. Both are sent through the client's `_send`, so they get its auth, retries and budget.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shared.connectors.dataverse import requests as build
from shared.connectors.dataverse.operations import DataverseOperations
from shared.connectors.dataverse.requests import READ_HEADERS, DataverseRequest
from shared.domain.errors import FatalError
from shared.ports import Row

MAX_PAGES = 100  # system tables the app registers in hold a few rows; a longer chain means the server loops


def query(dataverse: Any, entity_set: str, select: Sequence[str], where: str | None = None) -> list[Row]:
    """Every row of `entity_set` matching `where` (an OData `$filter`), with the `select`ed columns."""
    params = {"$select": ",".join(select)}
    if where:
        params["$filter"] = where
    request = DataverseRequest("GET", build.with_query(entity_set, params), READ_HEADERS)
    rows: list[Row] = []
    for _ in range(MAX_PAGES):
        body = _client(dataverse)._send(request).body or {}
        rows += body.get("value") or []
        link = body.get("@odata.nextLink")
        if not link:
            return rows
        request = build.follow_link(link, request)
    raise FatalError("PagingLoop", f"more than {MAX_PAGES} pages of {entity_set}")


def who_am_i(dataverse: Any) -> str:
    """The calling user's `systemuserid` (for the app: its application user)."""
    body = _client(dataverse)._send(DataverseRequest("GET", "WhoAmI", READ_HEADERS)).body or {}
    user = body.get("UserId")
    if not isinstance(user, str) or not user:
        raise FatalError("InvalidResponse", "WhoAmI answered without a UserId")
    return user.lower()


def literal(text: str) -> str:
    """An OData string literal."""
    return "'" + text.replace("'", "''") + "'"


def _client(dataverse: Any) -> DataverseOperations:
    """The client itself under a company's view (`company_scope.py` wraps it as `inner`): a registration is the
    deployment's, never a company's."""
    inner = getattr(dataverse, "inner", dataverse)
    if not isinstance(inner, DataverseOperations):
        raise FatalError("NotADataverseClient", f"{type(inner).__name__} cannot send Web API requests")
    return inner
