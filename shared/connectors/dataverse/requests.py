"""Pure request builders for the Dataverse Web API v9.2: each returns a `DataverseRequest` and sends nothing.

Why pure builders (the pattern of Microsoft's PowerPlatform-DataverseClient-Python): `DataverseClient._send` sends
any request value, and `$batch` serialises the very same values as multipart parts, so a single write and its
batched twin can never drift apart. A builder also decides what the retry layer must know about its request: is a
repeat safe (`idempotent`), and which error statuses mean "already done" (`accept`: 404 on a delete, 412 on a
create-only write that a lost answer made us repeat).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from shared.domain.errors import FatalError, RecordError

API_PATH = "/api/data/v9.2"
MAX_PAGE_SIZE = 5000
BASE_HEADERS: Mapping[str, str] = {"OData-MaxVersion": "4.0", "OData-Version": "4.0", "Accept": "application/json"}
# `If-None-Match: null` keeps any cache between us and Dataverse from answering a read with a stale 304 (facts B1).
READ_HEADERS: Mapping[str, str] = {**BASE_HEADERS, "If-None-Match": "null"}
CRM = "Microsoft.Dynamics.CRM"
QUERY_SAFE = "$(),':/"
BULK_MESSAGES = frozenset({"CreateMultiple", "UpdateMultiple", "UpsertMultiple"})

# Entity set -> logical name (facts B2). Only used to order and de-duplicate by primary id; an unknown set still works.
ENTITY_SETS: Mapping[str, str] = {
    "accounts": "account",
    "contacts": "contact",
    "salesorders": "salesorder",
    "salesorderdetails": "salesorderdetail",
    "quotes": "quote",
    "quotedetails": "quotedetail",
    "invoices": "invoice",
    "invoicedetails": "invoicedetail",
    "products": "product",
    "uoms": "uom",
    "uomschedules": "uomschedule",
    "transactioncurrencies": "transactioncurrency",
    "systemusers": "systemuser",
    "pricelevels": "pricelevel",
    "productpricelevels": "productpricelevel",
    "posts": "post",
    "annotations": "annotation",
    "opportunities": "opportunity",
}


@dataclass(frozen=True)
class DataverseRequest:
    """One Web API call as a value. `path` is relative to the API root (query string included) or an absolute
    link the service gave us (a nextLink); `body` is JSON, `content` a raw payload (the `$batch` body)."""

    method: str
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Any = None
    content: str | None = None
    idempotent: bool | None = None  # None: decided from method and conditional headers (HttpClient.is_idempotent)
    accept: frozenset[int] = frozenset()

    def url(self, api_root: str) -> str:
        return self.path if "://" in self.path else f"{api_root}/{self.path}"


def primary_id_of(entity_set: str) -> str | None:
    logical = ENTITY_SETS.get(entity_set)
    return f"{logical}id" if logical else None


def canonical_id(row_id: str) -> str:
    """Ids go into URLs: anything but a GUID is refused before it can reach the wire."""
    try:
        return str(uuid.UUID(str(row_id)))
    except ValueError:
        raise RecordError("InvalidId", f"'{row_id}' is not a GUID.") from None


def bind(entity_set: str, row_id: str) -> str:
    """The value of a `<navigation>@odata.bind` property (facts B4)."""
    return f"/{entity_set}({canonical_id(row_id)})"


def entity_path(entity_set: str, row_id: str) -> str:
    return f"{entity_set}({canonical_id(row_id)})"


def with_query(path: str, params: Mapping[str, str]) -> str:
    """Encode spaces as %20 (never '+') and keep OData punctuation readable, as Dataverse's own links do."""
    return f"{path}?{urlencode(params, quote_via=quote, safe=QUERY_SAFE)}" if params else path


def odata_datetime(value: datetime) -> str:
    """Whole seconds, floored: `modifiedon` has second precision, so flooring keeps the lower bound closed."""
    if value.tzinfo is None:
        raise FatalError("NaiveDateTime", "A watermark must carry its time zone (use UTC).")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def prefer(*values: str) -> dict[str, str]:
    return {"Prefer": ", ".join(values)} if values else {}


def changed_select(entity_set: str, select: Sequence[str]) -> list[str]:
    """`$select` is mandatory (never every column); `modifiedon` and the primary id are always read, because the
    caller's watermark rules need them (`shared/domain/watermarks.py`)."""
    if not select:
        raise FatalError("SelectRequired", f"A read of '{entity_set}' must name its columns.")
    names = list(dict.fromkeys(select))
    for extra in ("modifiedon", primary_id_of(entity_set)):
        if extra and extra not in names:
            names.append(extra)
    return names


def page_preference(page_size: int) -> str:
    return f"odata.maxpagesize={max(1, min(page_size, MAX_PAGE_SIZE))}"


# -- reads -------------------------------------------------------------------------------------------------------
def get_row(entity_set: str, row_id: str, select: Sequence[str] | None = None) -> DataverseRequest:
    params = {"$select": ",".join(select)} if select else {}
    path = with_query(entity_path(entity_set, row_id), params)
    return DataverseRequest("GET", path, READ_HEADERS, accept=frozenset({404}))


def first_row(entity_set: str, extra_filter: str | None) -> DataverseRequest:
    """`$top=1` of the primary id: whether a table (slice) holds anything, at the price of one row."""
    primary = primary_id_of(entity_set)
    params = {"$top": "1", **({"$select": primary} if primary else {})}
    if extra_filter:
        params["$filter"] = extra_filter
    return DataverseRequest("GET", with_query(entity_set, params), READ_HEADERS)


def list_ids(entity_set: str, extra_filter: str | None) -> DataverseRequest:
    """Primary ids ordered by themselves: stable while other writers change rows (a modifiedon order is not)."""
    primary = primary_id_of(entity_set) or ""
    params = {"$select": primary, "$orderby": f"{primary} asc"}
    if extra_filter:
        params["$filter"] = extra_filter
    return DataverseRequest(
        "GET", with_query(entity_set, params), {**READ_HEADERS, **prefer(page_preference(MAX_PAGE_SIZE))}
    )


def list_changed_since(
    entity_set: str, since: datetime | None, select: Sequence[str], extra_filter: str | None, page_size: int
) -> DataverseRequest:
    """Closed lower bound (`ge`): rows modified in the watermark's own second are read again and the caller drops
    the ones it already has (`shared/domain/watermarks.py`); `gt` would lose rows written later in that second."""
    clauses = [f"modifiedon ge {odata_datetime(since)}"] if since is not None else []
    if extra_filter:
        clauses.append(f"({extra_filter})")
    params = {"$select": ",".join(changed_select(entity_set, select))}
    if clauses:
        params["$filter"] = " and ".join(clauses)
    primary = primary_id_of(entity_set)
    params["$orderby"] = f"modifiedon asc,{primary} asc" if primary else "modifiedon asc"
    headers = {**READ_HEADERS, **prefer(page_preference(page_size))}
    return DataverseRequest("GET", with_query(entity_set, params), headers)


def follow_link(link: str, previous: DataverseRequest) -> DataverseRequest:
    """A nextLink is used exactly as given, with the same preferences (facts B9)."""
    return DataverseRequest("GET", link, previous.headers)


# -- single-row writes -------------------------------------------------------------------------------------------
def write_headers(**conditions: str) -> dict[str, str]:
    """A JSON write's headers: the base ones, the content type and its conditions (`If-Match`, `If-None-Match`)."""
    return {**BASE_HEADERS, "Content-Type": "application/json", **conditions}


def create_row(entity_set: str, row_id: str, body: Mapping[str, Any]) -> DataverseRequest:
    """Create-only upsert (`If-None-Match: *`): a repeat after a lost answer gets 412, which means "already
    created" - so the retry layer may repeat it and it can never make a duplicate."""
    headers = write_headers(**{"If-None-Match": "*"})
    return DataverseRequest("PATCH", entity_path(entity_set, row_id), headers, dict(body), accept=frozenset({412}))


def create_with_server_id(entity_set: str, body: Mapping[str, Any]) -> DataverseRequest:
    """A POST without an id is not idempotent: the retry layer must not repeat it after a lost answer."""
    return DataverseRequest("POST", entity_set, write_headers(), dict(body), idempotent=False)


def update_row(entity_set: str, row_id: str, body: Mapping[str, Any], etag: str | None = None) -> DataverseRequest:
    """`If-Match: <etag>` loses a race with 412 instead of overwriting; `*` still refuses to create (404)."""
    headers = write_headers(**{"If-Match": etag or "*"})
    return DataverseRequest("PATCH", entity_path(entity_set, row_id), headers, dict(body))


def upsert_row(entity_set: str, row_id: str, body: Mapping[str, Any]) -> DataverseRequest:
    """No `If-Match`: create or update by design, so the same values sent twice land once: safe to repeat."""
    return DataverseRequest("PATCH", entity_path(entity_set, row_id), write_headers(), dict(body), idempotent=True)


def delete_row(entity_set: str, row_id: str) -> DataverseRequest:
    return DataverseRequest("DELETE", entity_path(entity_set, row_id), BASE_HEADERS, accept=frozenset({404}))


def set_state(entity_set: str, row_id: str, state: int, status: int) -> DataverseRequest:
    return update_row(entity_set, row_id, {"statecode": state, "statuscode": status})


# -- bulk messages -----------------------------------------------------------------------------------------------
def targets(logical_name: str, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every target must name its type (facts B12); a row's own `@odata.type` is overwritten, never trusted."""
    return [{**row, "@odata.type": f"{CRM}.{logical_name}"} for row in rows]


def bulk(message: str, logical_name: str, entity_set: str, rows: Sequence[Mapping[str, Any]]) -> DataverseRequest:
    """Create/Update/UpsertMultiple: one request toward the service-protection limits for the whole chunk.
    Repeating is safe when every target carries its id (an UpsertMultiple/UpdateMultiple always does; a repeated
    CreateMultiple then fails 412 as a whole and the caller's per-record fallback accepts "already created")."""
    if message not in BULK_MESSAGES:
        raise FatalError("UnknownMessage", f"'{message}' is not a bulk message.")
    primary = f"{logical_name}id"
    safe = all(row.get(primary) for row in rows)
    path = f"{entity_set}/{CRM}.{message}"
    return DataverseRequest("POST", path, write_headers(), {"Targets": targets(logical_name, rows)}, idempotent=safe)


def single_write(message: str, entity_set: str, primary_id: str, row: Mapping[str, Any]) -> DataverseRequest:
    """The one-row twin of a bulk message, for the per-record `$batch` fallback."""
    row_id = row.get(primary_id)
    body = {k: v for k, v in row.items() if k not in (primary_id, "@odata.type")}
    if message == "CreateMultiple":
        return create_row(entity_set, row_id, body) if row_id else create_with_server_id(entity_set, body)
    if not row_id:
        raise RecordError("MissingId", f"{message} needs '{primary_id}' on every row.")
    if message == "UpdateMultiple":
        return update_row(entity_set, row_id, body)
    return upsert_row(entity_set, row_id, body)


# -- $batch ------------------------------------------------------------------------------------------------------
def from_operation(operation: Mapping[str, Any]) -> DataverseRequest:
    """`{"method", "url" (relative to the API root), "body"?, "headers"?}` -> a request value."""
    method = str(operation.get("method", "")).upper()
    url = str(operation.get("url", "")).lstrip("/")
    if not method or not url or "://" in url:
        raise FatalError("InvalidOperation", f"A batch operation needs a method and a relative url: {operation!r}.")
    headers = {**BASE_HEADERS, **dict(operation.get("headers") or {})}
    body = operation.get("body")
    if body is not None:
        headers.setdefault("Content-Type", "application/json")
    return DataverseRequest(method, url, headers, body)


def check_batch(requests: Sequence[DataverseRequest], *, atomic: bool) -> None:
    if atomic and any(r.method == "GET" for r in requests):
        raise FatalError("GetInChangeSet", "GET is not allowed in a change set: send it with atomic=False.")


def batch(content_type: str, payload: str, *, idempotent: bool, continue_on_error: bool) -> DataverseRequest:
    """A stopped batch answers 400 with a multipart body (facts B7): 400 is accepted here and parsed by the caller."""
    preferences = ["odata.continue-on-error"] if continue_on_error else []
    headers = {**BASE_HEADERS, "Content-Type": content_type, **prefer(*preferences)}
    return DataverseRequest("POST", "$batch", headers, content=payload, idempotent=idempotent, accept=frozenset({400}))
