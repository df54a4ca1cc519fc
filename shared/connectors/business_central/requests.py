"""Pure request builders for Business Central: each returns a `BcRequest` and sends nothing.

Why pure builders (the shape of `dataverse/requests.py`): the surfaces (`api_surface.py`, `page_surface.py`) decide
*which* request an operation needs, `transport.py` is the only place that sends one, and what a request is can be
read (and tested) without a server. A builder also decides what the sending must know about its request: is a repeat
safe (`idempotent`), which error statuses mean "fine" (`accept`: 404 on a read or a delete), and which of BC's errors
the caller reasons about in domain terms (`errors`: 409/412 as `ConcurrencyError`, 404 as `NotFoundError`).

Paths are relative to the environment (`api/v2.0/companies(<id>)/customers`, `ODataV4/Company('CRONUS')/...`);
query options travel as `params`, so `requests` encodes them exactly as it always has.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

from shared.connectors.business_central.entity_sources import API_ROUTE
from shared.connectors.business_central.odata import odata_datetime, writable
from shared.connectors.business_central.pages import key_segment

NOT_FOUND = frozenset({404})
ErrorMapping = Literal["api", "domain", "not_found"]  # what `odata.domain_errors` makes of an `ApiError`


@dataclass(frozen=True)
class BcRequest:
    """One call as a value. `body` is JSON; `idempotent` None leaves the decision to `HttpClient` (method and
    conditional headers); `errors` says how an `ApiError` reaches the caller: as is (`api`), with 409/412/404 as
    domain errors (`domain`), or with 404 only (`not_found`, for actions)."""

    method: str
    path: str
    params: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Any = None
    idempotent: bool | None = None
    accept: frozenset[int] = frozenset()
    errors: ErrorMapping = "api"


# -- addresses ---------------------------------------------------------------------------------------------------
def set_path(route: str, company_id: str, entity_set: str) -> str:
    """An entity set of API v2.0 or of the custom route (`route`), in one company."""
    return f"{route}/companies({company_id})/{entity_set}"


def entity_path(entity_set_path: str, entity_id: str) -> str:
    return f"{entity_set_path}({entity_id})"


def page_path(company_name: str, service: str) -> str:
    """A published page web service: companies are addressed by name there (quotes doubled, then URL-encoded)."""
    name = company_name.replace("'", "''")
    return f"ODataV4/Company('{quote(name, safe='')}')/{service}"


def prefer(page_size: int) -> dict[str, str]:
    return {"Prefer": f"odata.maxpagesize={page_size}"}


# -- reads -------------------------------------------------------------------------------------------------------
def companies() -> BcRequest:
    """Every company's id and name: one read resolves the configured company, by name or id."""
    return BcRequest("GET", f"{API_ROUTE}/companies", {"$select": "id,name"})


def first_row(path: str, select: str, extra_filter: str | None) -> BcRequest:
    """`$top=1` of the key: whether an entity set (slice) holds anything, at the price of one row."""
    params = {"$select": select, "$top": "1", **({"$filter": extra_filter} if extra_filter else {})}
    return BcRequest("GET", path, params)


def get_entity(path: str, select: Sequence[str] | None, expand: str | None) -> BcRequest:
    params: dict[str, str] = {}
    if select:
        params["$select"] = ",".join(select)
    if expand:
        params["$expand"] = expand
    return BcRequest("GET", path, params, accept=NOT_FOUND)


def list_changed_since(
    path: str,
    key: str,
    since: datetime | None,
    select: Sequence[str],
    expand: str | None,
    extra_filter: str | None,
    page_size: int,
) -> BcRequest:
    """Closed lower bound (`ge`), oldest change first, so a checkpoint can follow the last row read; the key is
    always selected, `lastModifiedDateTime` when `since` is."""
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
    return BcRequest("GET", path, params, prefer(page_size))


def list_ids(path: str, extra_filter: str | None, page_size: int) -> BcRequest:
    """Ids ordered by themselves: an order other writers cannot change, so a listed page stays the same records."""
    params = {"$select": "id", "$orderby": "id", **({"$filter": extra_filter} if extra_filter else {})}
    return BcRequest("GET", path, params, prefer(page_size))


def list_page(path: str, select: Sequence[str] | None, extra_filter: str | None, page_size: int) -> BcRequest:
    params: dict[str, str] = {}
    if select:
        params["$select"] = ",".join(select)
    if extra_filter:
        params["$filter"] = extra_filter
    return BcRequest("GET", path, params, prefer(page_size))


def get_page_entity(path: str, key: Mapping[str, Any]) -> BcRequest:
    return BcRequest("GET", path + key_segment(key), accept=NOT_FOUND)


# -- writes ------------------------------------------------------------------------------------------------------
def create_entity(path: str, body: Mapping[str, Any], chosen_id: str) -> BcRequest:
    """A create carrying its chosen SystemId: a repeat after a lost answer cannot duplicate (BC answers "same key
    exists"), so the retry layer may repeat it."""
    return BcRequest("POST", path, body={**writable(body), "id": chosen_id}, idempotent=True)


def create_page_entity(path: str, body: Mapping[str, Any]) -> BcRequest:
    """A page entity's id is its key, which `body` (in the page's names) carries; not repeated on a lost answer."""
    return BcRequest("POST", path, body=body)


def update(path: str, body: Mapping[str, Any], etag: str) -> BcRequest:
    """`If-Match` loses a race with 409/412 (a `ConcurrencyError`) instead of overwriting."""
    return BcRequest("PATCH", path, headers={"If-Match": etag}, body=writable(body), errors="domain")


def update_page_entity(path: str, key: Mapping[str, Any], body: Mapping[str, Any], etag: str) -> BcRequest:
    """A page row by its key segment, with the page's own `If-Match` rule."""
    return update(path + key_segment(key), body, etag)


def delete(path: str, etag: str) -> BcRequest:
    """404 means "already gone": accepted."""
    return BcRequest("DELETE", path, headers={"If-Match": etag}, accept=NOT_FOUND, errors="domain")


def action(path: str, name: str) -> BcRequest:
    """A bound action (`Microsoft.NAV.<name>`): a POST never repeated on a lost answer (posting twice is not
    harmless); only its 404 becomes a domain error."""
    return BcRequest("POST", f"{path}/Microsoft.NAV.{name}", errors="not_found")


def batch(
    route: str, operations: Sequence[Mapping[str, Any]], *, atomic: bool, continue_on_error: bool, idempotent: bool
) -> BcRequest:
    """One JSON `$batch` of the route: `Isolation: snapshot` makes it all or nothing, `odata.continue-on-error` runs
    every operation whatever fails; `idempotent` when every operation is safe to repeat (see `batch.py`)."""
    headers = {"Accept": "application/json"}
    if atomic:
        headers["Isolation"] = "snapshot"
    elif continue_on_error:
        headers["Prefer"] = "odata.continue-on-error"
    body = {"requests": list(operations)}
    return BcRequest("POST", f"{route}/$batch", headers=headers, body=body, idempotent=idempotent)
