"""The Business Central adapter (`BusinessCentralClientPort`): API v2.0, the custom API route and page web services.

Why it looks like this:
- Cost: BC charges every request (6,000 per 5 minutes, 5 at a time per principal), so reads always `$select`, page
  at the 20,000 maximum through `@odata.nextLink` (never `$skip`), and writes go in JSON batches of 100.
- Where an entity lives is data (`entity_sources.py`): the client gives each entity set its surface once
  (`surface.py`: an `ApiSurface` for API v2.0 or the custom route, a `PageSurface` for page web services) and every
  entity call goes to it, so no method here asks "is it a page?". The write rules (chosen SystemIds, `If-Match`,
  the one merge retry) are the surfaces'; the `$batch` rules are `batch.py`'s.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from shared.connectors.business_central import page_surface
from shared.connectors.business_central.api_surface import ApiSurface
from shared.connectors.business_central.batch import BatchItem, BatchRunner, prepare
from shared.connectors.business_central.entity_sources import DEFAULT_SOURCES, EntitySources
from shared.connectors.business_central.odata import set_of
from shared.connectors.business_central.page_surface import PageSurface
from shared.connectors.business_central.pages import page_sources
from shared.connectors.business_central.subscriptions import SubscriptionsApi
from shared.connectors.business_central.surface import Surface
from shared.connectors.business_central.transport import MAX_PAGE_SIZE, BcTransport
from shared.connectors.http import HttpClient, TokenProvider
from shared.domain.errors import ConcurrencyError, NotFoundError, SyncError
from shared.ports import BatchOutcome, Page, Row


class BusinessCentralClient:
    """One environment and company. `base_url` is `https://api.businesscentral.dynamics.com/v2.0/{tenant}/{env}`;
    `company` a name or id, resolved on first use (one GET of `companies`, then cached).

    Immutable in what it addresses: company and sources are read-only, so a client shared by concurrent invocations
    is never rewritten under one of them; `configured()` gives a client for another company or other page services
    (what the setup says, `bootstrap.for_run`), sharing this one's connection, tokens and company cache."""

    def __init__(
        self,
        base_url: str,
        token_provider: TokenProvider | None,
        company: str,
        *,
        http: HttpClient | None = None,
        sources: EntitySources = DEFAULT_SOURCES,
        page_size: int = MAX_PAGE_SIZE,
    ) -> None:
        self.http = http or HttpClient(base_url, token_provider)
        self.http.service = "bc"  # the telemetry dimension of its spans and 429 counts
        self._transport = BcTransport(self.http, company, page_size)
        self._sources = sources
        self._surfaces: dict[str, Surface] = {}

    @property
    def company(self) -> str:
        return self._transport.company

    @property
    def sources(self) -> EntitySources:
        return self._sources

    @property
    def page_size(self) -> int:
        return self._transport.page_size

    def configured(self, *, company: str | None = None, sources: EntitySources | None = None) -> BusinessCentralClient:
        """This client for `company` and `sources` (None: this one's); itself when nothing differs."""
        company = self.company if company is None else company
        sources = self._sources if sources is None else sources
        if company == self.company and sources == self._sources:
            return self
        other = copy.copy(self)  # the same HttpClient (session, tokens); the transport shares the company cache
        other._transport, other._sources, other._surfaces = self._transport.for_company(company), sources, {}
        return other

    def surface(self, entity_set: str) -> Surface:
        """The one surface serving `entity_set`: the pages behind it when there are any, else its API entity set
        (on the route its source names, API v2.0 when none does). Built on first use; sources never change."""
        found = self._surfaces.get(entity_set)
        if found is None:
            pages = page_sources(self._sources, entity_set)
            if pages:
                found = PageSurface(self._transport, entity_set, pages)
            else:
                found = ApiSurface(self._transport, entity_set, self._sources.by_entity_set(entity_set))
            self._surfaces[entity_set] = found
        return found

    # -- the company and what is served ------------------------------------------------------------------------
    def resolve_company(self, name_or_id: str) -> str:
        return self._transport.lookup(name_or_id)[0]

    def company_identity(self) -> tuple[str, str]:
        """(id, name) of the client's company: one read of `companies`, cached (the `bcbi_company` row names it)."""
        return self._transport.lookup(self.company)

    def serves(self, entity_set: str) -> bool:
        return self._sources.serves(entity_set)

    def subscriptions(self) -> SubscriptionsApi:
        """The environment's webhook subscriptions (`subscriptions.py`), on this client's connection and tokens."""
        return SubscriptionsApi(self.http)

    # -- entity calls: each on the set's surface ---------------------------------------------------------------
    def has_records(self, entity_set: str, extra_filter: str | None = None) -> bool:
        return self.surface(entity_set).has_records(extra_filter)

    def get_entity(
        self, entity_set: str, entity_id: str, select: Sequence[str] | None = None, expand: str | None = None
    ) -> Row | None:
        return self.surface(entity_set).get(entity_id, select, expand)

    def get_entities(
        self, entity_set: str, ids: Sequence[str], select: Sequence[str], extra_filter: str | None = None
    ) -> dict[str, Row]:
        """One filtered read per 15 ids, on API entities and page entities alike (a page by its key fields)."""
        return self.surface(entity_set).get_many(ids, select, extra_filter)

    def id_range_filter(self, entity_set: str, first: str, last: str) -> str | None:
        return self.surface(entity_set).id_range_filter(first, last)

    def list_changed_since(
        self,
        entity_set: str,
        since: datetime | None,
        select: Sequence[str],
        expand: str | None = None,
        extra_filter: str | None = None,
    ) -> Iterator[Page]:
        """Rows changed at or after `since`, oldest change first (a page set: every row). `id` is always selected,
        `lastModifiedDateTime` when `since` is."""
        return self.surface(entity_set).changed_since(since, select, expand, extra_filter)

    def list_ids(self, entity_set: str, extra_filter: str | None = None) -> Iterator[list[str]]:
        return self.surface(entity_set).ids(extra_filter)

    def create_entity(self, entity_set: str, body: Mapping[str, Any], entity_id: str | None = None) -> Row:
        return self.surface(entity_set).create(body, entity_id)

    def update_entity(
        self, entity_set: str, entity_id: str, body: Mapping[str, Any], etag: str, *, merge: bool = False
    ) -> Row:
        return self.surface(entity_set).update(entity_id, body, etag, merge=merge)

    def delete_entity(self, entity_set: str, entity_id: str, etag: str = "*") -> None:
        self.surface(entity_set).delete(entity_id, etag)

    def invoke_action(self, entity_set: str, entity_id: str, action: str) -> str | None:
        return self.surface(entity_set).invoke(entity_id, action)

    # -- $batch ------------------------------------------------------------------------------------------------
    def execute_batch(
        self, requests: Sequence[Mapping[str, Any]], *, atomic: bool = False, continue_on_error: bool = False
    ) -> list[BatchOutcome]:
        """`requests`: `{"method", "url", "body"?, "etag"?, "headers"?}` with `url` relative to the company
        (`customers`, `salesOrders(<id>)`); `etag` becomes `If-Match`. See `batch.py` for the outcome rules."""
        if not requests:
            return []
        routes: set[str] = set()
        for request in requests:
            route = self.surface(set_of(str(request["url"]))).batch_route
            if route is None:
                return [self._one_by_one(r) for r in requests]  # page services take no JSON $batch
            routes.add(route)
        company = self.resolve_company(self.company)
        items: list[BatchItem] = []
        for request in requests:
            url = str(request["url"]).lstrip("/")
            headers = dict(request.get("headers") or {})
            if request.get("etag"):
                headers["If-Match"] = str(request["etag"])
            scoped = url if url.startswith("companies(") else f"companies({company})/{url}"
            items.append(prepare(str(request["method"]), scoped, request.get("body"), headers))
        if len(routes) != 1:
            raise ValueError(f"one batch goes to one route; these requests span {sorted(routes)}")
        runner = BatchRunner(self._transport, routes.pop())
        return runner.run(items, atomic=atomic, continue_on_error=continue_on_error)

    def _one_by_one(self, request: Mapping[str, Any]) -> BatchOutcome:
        url = str(request["url"]).lstrip("/")
        entity_set, _, rest = url.partition("(")
        try:
            if request["method"] == "PATCH":
                row = self.update_entity(
                    entity_set, rest.rstrip(")"), request.get("body") or {}, str(request.get("etag") or "*")
                )
            else:
                row = self.create_entity(entity_set, request.get("body") or {})
        except SyncError as error:
            status = getattr(error, "status", None) or (
                409 if isinstance(error, ConcurrencyError) else 404 if isinstance(error, NotFoundError) else 400
            )
            return BatchOutcome(status, {"error": {"code": error.code, "message": error.message}})
        return BatchOutcome(200, row)

    # -- page web services by service name (in the page's own names) ---------------------------------------------
    def list_page(
        self, service: str, select: Sequence[str] | None = None, extra_filter: str | None = None
    ) -> Iterator[Page]:
        return page_surface.list_page(self._transport, service, select, extra_filter)

    def get_page_entity(self, service: str, key: Mapping[str, Any]) -> Row | None:
        return page_surface.get_page_entity(self._transport, service, key)

    def update_page_entity(self, service: str, key: Mapping[str, Any], body: Mapping[str, Any], etag: str) -> Row:
        return page_surface.update_page_entity(self._transport, service, key, body, etag)
