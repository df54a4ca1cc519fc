"""`ApiSurface`: an entity set of API v2.0, or of the companion extension's custom API route.

Why one class for both: the custom route (`/api/{publisher}/{group}/{version}/`) speaks the same OData as API v2.0
(SystemId key, `lastModifiedDateTime`, JSON `$batch`, bound actions); only the route differs, and the entity's
source (`entity_sources.py`) carries it. An entity set no source lists (lines, `companies`) is on API v2.0.

Why each write is shaped as it is:
- No duplicate, no lost write: a create always carries a chosen SystemId, so when its answer is lost (dropped
  connection) or BC says the id exists, reading that id back tells the truth; `HttpClient` may repeat it safely.
- No silent overwrite: updates send `If-Match`; a 409 `Request_EntityChanged` is a `ConcurrencyError`, and only a
  caller that asks for `merge=True` gets one retry that re-applies its own fields on the fresh version (a PATCH
  only touches the fields it carries, so what the other writer changed elsewhere is kept).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from shared.connectors.business_central import requests as build
from shared.connectors.business_central.batch import SAME_KEY
from shared.connectors.business_central.entity_sources import API_ROUTE, EntitySource
from shared.connectors.business_central.odata import row_of
from shared.connectors.business_central.surface import Surface
from shared.connectors.business_central.transport import BcTransport
from shared.connectors.errors import ApiError
from shared.domain.errors import ConcurrencyError, NotFoundError
from shared.ports import Page, Row

LIST_IDS_PAGE = 5000  # ids per listing page: one request per 5,000 records, and a page of ids stays near 1 MB


class ApiSurface(Surface):
    """`source` None: an entity set on API v2.0 keyed by `id`. The key is the source's first key field
    (`contactsInformation` is keyed by `contactId`)."""

    def __init__(self, transport: BcTransport, entity_set: str, source: EntitySource | None = None) -> None:
        super().__init__(transport, entity_set)
        self.batch_route = self.route = source.route if source is not None else API_ROUTE
        self.key = source.key[0] if source is not None else "id"
        self.delta = source.delta if source is not None else True  # False: lastModifiedDateTime does not follow

    def _path(self) -> str:
        return self.transport.set_path(self.route, self.entity_set)

    def _entity_path(self, entity_id: str) -> str:
        return build.entity_path(self._path(), entity_id)

    # -- reads -------------------------------------------------------------------------------------------------
    def has_records(self, extra_filter: str | None) -> bool:
        body = self.transport.read(build.first_row(self._path(), "id", extra_filter)) or {}
        return bool(body.get("value"))

    def get(self, entity_id: str, select: Sequence[str] | None = None, expand: str | None = None) -> Row | None:
        return self.transport.read_row(build.get_entity(self._entity_path(entity_id), select, expand))

    def _read_ids(self, ids: Sequence[str], select: Sequence[str], extra_filter: str | None) -> dict[str, Row]:
        ids_filter = " or ".join(f"id eq {value}" for value in ids)
        combined = f"({ids_filter}) and ({extra_filter})" if extra_filter else ids_filter
        found: dict[str, Row] = {}
        for page in self.changed_since(None, select, None, combined):
            found.update({str(row["id"]): row for row in page.rows})
        return found

    def id_range_filter(self, first: str, last: str) -> str | None:
        """Entities are listed by id (`ids`), so the ids of one listed page are exactly the range `first`..`last`:
        one read instead of one per 15 ids. UNCONFIRMED that BC accepts `ge`/`le` on an Edm.Guid (AL allows
        ranges on a Guid field); callers fall back to id filters when BC refuses it."""
        return f"id ge {first} and id le {last}"

    def _changed_since(
        self, since: datetime | None, select: Sequence[str], expand: str | None, extra_filter: str | None
    ) -> Iterator[Page]:
        page_size = self.transport.page_size_for()
        since = since if self.delta else None  # its data: read in full, like a page (the sync compares values)
        request = build.list_changed_since(self._path(), self.key, since, select, expand, extra_filter, page_size)
        yield from self.transport.pages(request)

    def ids(self, extra_filter: str | None) -> Iterator[list[str]]:
        request = build.list_ids(self._path(), extra_filter, self.transport.page_size_for(LIST_IDS_PAGE))
        for page in self.transport.pages(request):
            yield [str(row["id"]) for row in page.rows]

    # -- writes ------------------------------------------------------------------------------------------------
    def create(self, body: Mapping[str, Any], entity_id: str | None = None) -> Row:
        chosen = entity_id or str(body.get("id") or uuid.uuid4())
        request = build.create_entity(self._path(), body, chosen)  # the company is resolved before, not in, the try
        try:
            response = self.transport.send(request)
        except ApiError as error:
            if not (error.is_transient or error.code == SAME_KEY):
                raise
            existing = self.get(chosen)
            if existing is None:  # not ours: the outcome stays unknown, or another key clashed
                raise
            return existing
        return row_of(response.json())

    def update(self, entity_id: str, body: Mapping[str, Any], etag: str, *, merge: bool = False) -> Row:
        path = self._entity_path(entity_id)
        try:
            return self._patch(path, body, etag)
        except ConcurrencyError:
            if not merge:
                raise
        fresh = self.get(entity_id, select=["id"])
        if fresh is None:
            raise NotFoundError("BadRequest_NotFound", f"{self.entity_set}({entity_id}) no longer exists.")
        return self._patch(path, body, str(fresh["@odata.etag"]))

    def _patch(self, path: str, body: Mapping[str, Any], etag: str) -> Row:
        return row_of(self.transport.send(build.update(path, body, etag)).json())

    def delete(self, entity_id: str, etag: str = "*") -> None:
        self.transport.send(build.delete(self._entity_path(entity_id), etag))

    def invoke(self, entity_id: str, action: str) -> str | None:
        """Not repeated on a lost answer (posting twice is not harmless): a transient `ApiError` reaches the
        caller, who re-reads the document to learn whether it was posted."""
        response = self.transport.send(build.action(self._entity_path(entity_id), action))
        return response.headers.get("Location")
