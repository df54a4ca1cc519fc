"""What registering a webhook needs beyond the sync's reads and writes: a plain query of a system table (service
endpoints, SDK messages and filters, steps, attribute definitions) and WhoAmI.

Why here and so small: the writes are the client's own (`create_row` is create-only and race-safe, `update_row`
refuses to create, `delete_row` takes an already-deleted row as done), so only the reads the sync never makes are new:
the system tables have no `modifiedon` watermark to page by (`list_changed_since` orders by it), and WhoAmI is an
unbound function. A mixin of `DataverseClient`, so both go through its `_send`: its auth, retries and budget.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shared.connectors.dataverse import requests as build
from shared.connectors.dataverse.requests import READ_HEADERS, DataverseRequest
from shared.domain.errors import FatalError
from shared.ports import BatchOutcome, Row

MAX_PAGES = 100  # the system tables the app reads hold a few rows; a longer chain means the server loops


class RegistrationOperations:
    """`query_rows` and `who_am_i` on any class with the client's `_send`."""

    def _send(self, request: DataverseRequest) -> BatchOutcome:
        raise NotImplementedError

    def query_rows(self, entity_set: str, select: Sequence[str], where: str | None = None) -> list[Row]:
        """Every row of `entity_set` (or a metadata path) matching `where` (an OData `$filter`), `select`ed."""
        params = {"$select": ",".join(select)}
        if where:
            params["$filter"] = where
        request = DataverseRequest("GET", build.with_query(entity_set, params), READ_HEADERS)
        rows: list[Row] = []
        for _ in range(MAX_PAGES):
            body: Any = self._send(request).body or {}
            rows += body.get("value") or []
            link = body.get("@odata.nextLink")
            if not link:
                return rows
            request = build.follow_link(link, request)
        raise FatalError("PagingLoop", f"more than {MAX_PAGES} pages of {entity_set}")

    def who_am_i(self) -> str:
        """The calling user's `systemuserid` (for the app: its application user), lower case."""
        body: Any = self._send(DataverseRequest("GET", "WhoAmI", READ_HEADERS)).body or {}
        user = body.get("UserId")
        if not isinstance(user, str) or not user:
            raise FatalError("InvalidResponse", "WhoAmI answered without a UserId")
        return user.lower()
