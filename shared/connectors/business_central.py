"""The Business Central adapter (`BusinessCentralClientPort`): API v2.0, the custom API route and page web services.

Why it looks like this:
- Cost: BC charges every request (6,000 per 5 minutes, 5 at a time per principal), so reads always `$select`, page
  at the 20,000 maximum through `@odata.nextLink` (never `$skip`), and writes go in JSON batches of 100.
- No duplicate, no lost write: a create always carries a chosen SystemId, so when its answer is lost (dropped
  connection) or BC says the id exists, reading that id back tells the truth; `HttpClient` may repeat it safely.
- No silent overwrite: updates send `If-Match`; a 409 `Request_EntityChanged` is a `ConcurrencyError`, and only a
  caller that asks for `merge=True` gets one retry that re-applies its own fields on the fresh version (a PATCH
  only touches the fields it carries, so what the other writer changed elsewhere is kept).
- Where an entity lives is data (`entity_sources`): an entity set moved to the custom route is addressed there.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

from shared.connectors.bc_batch import SAME_KEY, BatchItem, BatchRunner, prepare
from shared.connectors.bc_odata import (
    and_filters,
    domain_errors,
    odata_datetime,
    row_of,
    set_of,
    writable,
)
from shared.connectors.bc_pages import (
    key_range_filter,
    key_segment,
    keys_filters,
    page_entity_id,
    page_key,
    page_select,
    page_source,
    page_sources,
    to_canonical_row,
    translate_filter,
)
from shared.connectors.entity_sources import API_ROUTE, DEFAULT_SOURCES, EntitySource, EntitySources
from shared.connectors.errors import ApiError
from shared.connectors.http import HttpClient, TokenProvider
from shared.domain.errors import ConcurrencyError, FatalError, NotFoundError, SyncError
from shared.ports import BatchOutcome, Page, Row

MAX_PAGE_SIZE = 20_000
LIST_IDS_PAGE = 5000  # ids per listing page: one request per 5,000 records, and a page of ids stays near 1 MB
ID_CHUNK = 15  # ids per `$filter`: URLs stay near 1 KB (BC's URL limit is not documented)
NOT_FOUND = frozenset({404})


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
        self._company_name = company
        self._sources = sources
        self.page_size = min(page_size, MAX_PAGE_SIZE)
        self._companies: dict[str, tuple[str, str]] = {}

    @property
    def company(self) -> str:
        return self._company_name

    @property
    def sources(self) -> EntitySources:
        return self._sources

    def configured(self, *, company: str | None = None, sources: EntitySources | None = None) -> BusinessCentralClient:
        """This client for `company` and `sources` (None: this one's); itself when nothing differs."""
        company = self._company_name if company is None else company
        sources = self._sources if sources is None else sources
        if company == self._company_name and sources == self._sources:
            return self
        other = copy.copy(self)  # the same HttpClient (session, tokens) and the same company cache
        other._company_name, other._sources = company, sources
        return other

    # -- company and URLs --------------------------------------------------------------------------------------
    def serves(self, entity_set: str) -> bool:
        return self.sources.serves(entity_set)

    def has_records(self, entity_set: str, extra_filter: str | None = None) -> bool:
        targets = [
            (self._page_url(s.name), ",".join(s.key), translate_filter(s, extra_filter))
            for s in page_sources(self.sources, entity_set)
        ] or [(self._set_url(entity_set), "id", extra_filter)]
        for url, select, text in targets:
            params = {"$select": select, "$top": "1", **({"$filter": text} if text else {})}
            body = self.http.get_json(url, params=params) or {}
            if body.get("value"):
                return True
        return False

    def resolve_company(self, name_or_id: str) -> str:
        return self._company(name_or_id)[0]

    def _company(self, name_or_id: str) -> tuple[str, str]:
        """(id, name); ids compare case-insensitively, names exactly (BC company names are case-sensitive)."""
        if name_or_id not in self._companies:
            body = self.http.get_json(f"{API_ROUTE}/companies", params={"$select": "id,name"})
            for company in body.get("value", []):
                pair = (str(company["id"]), str(company["name"]))
                if name_or_id in (pair[1], pair[0]) or name_or_id.lower() == pair[0].lower():
                    self._companies[name_or_id] = pair
                    break
            else:
                raise FatalError("CompanyNotFound", f"Business Central has no company '{name_or_id}'.")
        return self._companies[name_or_id]

    def _route(self, entity_set: str) -> str:
        source = self.sources.by_entity_set(entity_set)
        return source.route if source is not None else API_ROUTE

    def _set_url(self, entity_set: str) -> str:
        return f"{self._route(entity_set)}/companies({self.resolve_company(self.company)})/{entity_set}"

    def _entity_url(self, entity_set: str, entity_id: str) -> str:
        return f"{self._set_url(entity_set)}({entity_id})"

    def _page_url(self, service: str) -> str:
        name = self._company(self.company)[1].replace("'", "''")
        return f"ODataV4/Company('{quote(name, safe='')}')/{service}"

    def _prefer(self, page_size: int | None = None) -> dict[str, str]:
        return {"Prefer": f"odata.maxpagesize={min(self.page_size, page_size or self.page_size)}"}

    # -- API v2.0 / custom route -------------------------------------------------------------------------------
    def get_entity(
        self, entity_set: str, entity_id: str, select: Sequence[str] | None = None, expand: str | None = None
    ) -> Row | None:
        source = page_source(self.sources, entity_set, entity_id)
        if source is not None:
            found = self.get_page_entity(source.name, page_key(source, entity_id))
            return None if found is None else to_canonical_row(source, found)
        params: dict[str, str] = {}
        if select:
            params["$select"] = ",".join(select)
        if expand:
            params["$expand"] = expand
        body = self.http.get_json(self._entity_url(entity_set, entity_id), params=params, ok_statuses=NOT_FOUND)
        return None if body is None else row_of(body)

    def get_entities(
        self, entity_set: str, ids: Sequence[str], select: Sequence[str], extra_filter: str | None = None
    ) -> dict[str, Row]:
        """One filtered read per 15 ids, on API entities and page entities alike (a page by its key fields)."""
        found: dict[str, Row] = {}
        unique = sorted(set(ids))
        sources = page_sources(self.sources, entity_set)
        for start in range(0, len(unique), ID_CHUNK):
            chunk = unique[start : start + ID_CHUNK]
            if sources:
                for source in sources:
                    mine = [i for i in chunk if page_source(self.sources, entity_set, i) is source]
                    if mine:
                        found.update(self._page_rows(source, mine, select, extra_filter))
                continue
            ids_filter = " or ".join(f"id eq {value}" for value in chunk)
            combined = f"({ids_filter}) and ({extra_filter})" if extra_filter else ids_filter
            for page in self.list_changed_since(entity_set, None, select, extra_filter=combined):
                found.update({str(row["id"]): row for row in page.rows})
        return found

    def _page_rows(
        self, source: EntitySource, ids: Sequence[str], select: Sequence[str], extra_filter: str | None
    ) -> dict[str, Row]:
        scope = translate_filter(source, extra_filter)
        found: dict[str, Row] = {}
        for text in keys_filters(source, ids):
            for page in self.list_page(source.name, page_select(source, list(select)), and_filters(text, scope)):
                for row in page.rows:
                    canonical = to_canonical_row(source, row)
                    found[str(canonical["id"])] = canonical
        return found

    def id_range_filter(self, entity_set: str, first: str, last: str) -> str | None:
        """API entities are listed by id (`list_ids`), so the ids of one listed page are exactly the range
        `first`..`last`: one read instead of one per 15 ids; page entities are listed by their key, so the range is
        on the key (None when the two ids come from different pages behind one set). UNCONFIRMED that BC accepts
        `ge`/`le` on an Edm.Guid (AL allows ranges on a Guid field); callers fall back to id filters when BC
        refuses it."""
        if not page_sources(self.sources, entity_set):
            return f"id ge {first} and id le {last}"
        source = page_source(self.sources, entity_set, first)
        if source is None or source is not page_source(self.sources, entity_set, last):
            return None
        return key_range_filter(source, first, last)

    def list_changed_since(
        self,
        entity_set: str,
        since: datetime | None,
        select: Sequence[str],
        expand: str | None = None,
        extra_filter: str | None = None,
    ) -> Iterator[Page]:
        """Rows changed at or after `since` (closed bound: the sync removes the overlap), oldest change first so a
        checkpoint can follow the last row read. `id` is always selected, `lastModifiedDateTime` when `since` is."""
        if not select:
            raise ValueError("$select is required: read only the mapped fields")
        sources = page_sources(self.sources, entity_set)
        for source in sources:  # pages carry no lastModifiedDateTime: read in full, the sync compares values
            for page in self.list_page(
                source.name, page_select(source, list(select)), translate_filter(source, extra_filter)
            ):
                yield Page([to_canonical_row(source, row) for row in page.rows], page.next_link)
        if sources:
            return
        api_source = self.sources.by_entity_set(entity_set)
        if api_source is not None and not api_source.delta:  # its lastModifiedDateTime does not follow its data
            since = None  # read in full, like a page: the sync compares values
        key = api_source.key[0] if api_source is not None else "id"  # contactsInformation is keyed by contactId
        names = [key, *select, *(["lastModifiedDateTime"] if since is not None else [])]
        params = {"$select": ",".join(dict.fromkeys(names))}
        filters = [f"lastModifiedDateTime ge {odata_datetime(since)}"] if since is not None else []
        if extra_filter:
            filters.append(f"({extra_filter})")
        if filters:
            params["$filter"] = " and ".join(filters)
        if since is not None:
            params["$orderby"] = "lastModifiedDateTime"
        if expand:
            params["$expand"] = expand
        yield from self._pages(self._set_url(entity_set), params)

    def list_ids(self, entity_set: str, extra_filter: str | None = None) -> Iterator[list[str]]:
        sources = page_sources(self.sources, entity_set)
        for source in sources:
            for page in self.list_page(source.name, list(source.key), translate_filter(source, extra_filter)):
                yield [page_entity_id(source, row) for row in page.rows]
        if sources:
            return
        params = {"$select": "id", "$orderby": "id", **({"$filter": extra_filter} if extra_filter else {})}
        for page in self._pages(self._set_url(entity_set), params, LIST_IDS_PAGE):
            yield [str(row["id"]) for row in page.rows]

    def _pages(self, url: str, params: Mapping[str, str], page_size: int | None = None) -> Iterator[Page]:
        for body in self.http.pages(url, params=params, headers=self._prefer(page_size)):
            yield Page([dict(row) for row in body.get("value", [])], body.get("@odata.nextLink"))

    def create_entity(self, entity_set: str, body: Mapping[str, Any], entity_id: str | None = None) -> Row:
        source = page_source(self.sources, entity_set)
        if source is not None:  # a page entity's id is its key, which the body carries
            response = self.http.request("POST", self._page_url(source.name), json_body=source.to_source(body))
            return to_canonical_row(source, response.json())
        return self._create_api_entity(entity_set, body, entity_id)

    def _create_api_entity(self, entity_set: str, body: Mapping[str, Any], entity_id: str | None) -> Row:
        chosen = entity_id or str(body.get("id") or uuid.uuid4())
        url = self._set_url(entity_set)
        try:
            response = self.http.request("POST", url, json_body={**writable(body), "id": chosen}, idempotent=True)
        except ApiError as error:
            if not (error.is_transient or error.code == SAME_KEY):
                raise
            existing = self.get_entity(entity_set, chosen)
            if existing is None:  # not ours: the outcome stays unknown, or another key clashed
                raise
            return existing
        return row_of(response.json())

    def update_entity(
        self, entity_set: str, entity_id: str, body: Mapping[str, Any], etag: str, *, merge: bool = False
    ) -> Row:
        source = page_source(self.sources, entity_set, entity_id)
        if source is not None:
            updated = self.update_page_entity(source.name, page_key(source, entity_id), source.to_source(body), etag)
            return to_canonical_row(source, updated)
        url = self._entity_url(entity_set, entity_id)
        try:
            return self._patch(url, body, etag)
        except ConcurrencyError:
            if not merge:
                raise
        fresh = self.get_entity(entity_set, entity_id, select=["id"])
        if fresh is None:
            raise NotFoundError("BadRequest_NotFound", f"{entity_set}({entity_id}) no longer exists.")
        return self._patch(url, body, str(fresh["@odata.etag"]))

    def _patch(self, url: str, body: Mapping[str, Any], etag: str) -> Row:
        with domain_errors():
            response = self.http.request("PATCH", url, json_body=writable(body), headers={"If-Match": etag})
        return row_of(response.json())

    def delete_entity(self, entity_set: str, entity_id: str, etag: str = "*") -> None:
        self._delete(self._entity_url(entity_set, entity_id), etag)

    def _delete(self, url: str, etag: str) -> None:
        with domain_errors():
            self.http.request("DELETE", url, headers={"If-Match": etag}, ok_statuses=NOT_FOUND)

    def execute_batch(
        self, requests: Sequence[Mapping[str, Any]], *, atomic: bool = False, continue_on_error: bool = False
    ) -> list[BatchOutcome]:
        """`requests`: `{"method", "url", "body"?, "etag"?, "headers"?}` with `url` relative to the company
        (`customers`, `salesOrders(<id>)`); `etag` becomes `If-Match`. See `bc_batch` for the outcome rules."""
        if not requests:
            return []
        if any(page_source(self.sources, set_of(str(r["url"]))) for r in requests):
            return [self._one_by_one(r) for r in requests]  # page services take no JSON $batch
        company = self.resolve_company(self.company)
        items: list[BatchItem] = []
        routes: set[str] = set()
        for request in requests:
            url = str(request["url"]).lstrip("/")
            routes.add(self._route(url.split("(", 1)[0].split("?", 1)[0].split("/", 1)[0]))
            headers = dict(request.get("headers") or {})
            if request.get("etag"):
                headers["If-Match"] = str(request["etag"])
            scoped = url if url.startswith("companies(") else f"companies({company})/{url}"
            items.append(prepare(str(request["method"]), scoped, request.get("body"), headers))
        if len(routes) != 1:
            raise ValueError(f"one batch goes to one route; these requests span {sorted(routes)}")
        runner = BatchRunner(self.http, f"{routes.pop()}/$batch")
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

    def invoke_action(self, entity_set: str, entity_id: str, action: str) -> str | None:
        """Not repeated on a lost answer (posting twice is not harmless): a transient `ApiError` reaches the
        caller, who re-reads the document to learn whether it was posted."""
        url = f"{self._entity_url(entity_set, entity_id)}/Microsoft.NAV.{action}"
        with domain_errors(only_not_found=True):
            response = self.http.request("POST", url)
        return response.headers.get("Location")

    # -- page web services -------------------------------------------------------------------------------------
    def list_page(
        self, service: str, select: Sequence[str] | None = None, extra_filter: str | None = None
    ) -> Iterator[Page]:
        params: dict[str, str] = {}
        if select:
            params["$select"] = ",".join(select)
        if extra_filter:
            params["$filter"] = extra_filter
        yield from self._pages(self._page_url(service), params)

    def get_page_entity(self, service: str, key: Mapping[str, Any]) -> Row | None:
        body = self.http.get_json(self._page_url(service) + key_segment(key), ok_statuses=NOT_FOUND)
        return None if body is None else row_of(body)

    def update_page_entity(self, service: str, key: Mapping[str, Any], body: Mapping[str, Any], etag: str) -> Row:
        return self._patch(self._page_url(service) + key_segment(key), body, etag)
