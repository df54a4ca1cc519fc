"""`InMemoryBusinessCentralClient`: the `BusinessCentralClientPort` with Business Central's observable semantics.

Why semantics and not a dict: services are only right if they survive what BC does, so the fake does it too: a
create with an existing chosen id returns that entity, every write changes the ETag and `lastModifiedDateTime`, a
stale `If-Match` is a `ConcurrencyError` (merged once when asked), missing reads as None and deletes as success,
batches stop at the first failure unless told to go on and roll back when atomic (<= 100), page entities are found
by page key (bc_pages: the sales order pages 9305 and 42 are views of the API orders, as on BC), and `$filter`/
`$expand` go through the emulator's OData parsers. One contract suite runs against this
fake and the real client (tests/contract/test_bc_client_contract.py), so the two cannot drift apart.
"""

from __future__ import annotations

import copy
import itertools
import re
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from local.emulators.odata.expand import parse_expand
from local.emulators.odata.filter import compile_filter
from local.fakes.bc_pages import FakePageServices, make_order
from local.fakes.bc_rows import checked, resolver, shape
from shared.connectors.bc_batch import MAX_BATCH, NOT_EXECUTED
from shared.connectors.bc_odata import odata_datetime
from shared.connectors.entity_sources import DEFAULT_SOURCES, EntitySources
from shared.domain.errors import ConcurrencyError, FatalError, NotFoundError, RecordError
from shared.ports import BatchOutcome, Page, Row

ROOT = "https://bc.fake.invalid/v2.0/tenant/production/api/v2.0"
_URL = re.compile(r"^(?:companies\([^)]*\)/)?(?P<set>[A-Za-z]+)(?:\((?P<id>[^)]*)\))?(?:/(?P<tail>[^?]+))?")
Action = Callable[["InMemoryBusinessCentralClient", Row], tuple[str, Row] | None]


def _error(status: int, code: str, message: str) -> BatchOutcome:
    return BatchOutcome(status, {"error": {"code": code, "message": message}})


class InMemoryBusinessCentralClient(FakePageServices):
    def __init__(
        self,
        companies: Mapping[str, str] | None = None,
        company: str | None = None,
        *,
        sources: EntitySources = DEFAULT_SOURCES,
        page_size: int = 20_000,
    ) -> None:
        self.companies = dict(companies or {str(uuid.uuid4()): "CRONUS USA, Inc."})  # id -> name
        self.company = company or next(iter(self.companies.values()))
        self.sources, self.page_size = sources, page_size
        self.sets: dict[str, dict[str, Row]] = {}
        self.pages: dict[str, list[Row]] = {}
        self.actions: dict[tuple[str, str], Action] = {
            ("salesOrders", "shipAndInvoice"): ship_and_invoice,
            ("salesQuotes", "makeOrder"): make_order,
        }
        self._versions, self._numbers = itertools.count(1), itertools.count(1001)
        self._last = datetime.now(UTC)
        self.resolve_company(self.company)  # a wrong company is a configuration error: fail at once

    # -- test helpers (not part of the port) ---------------------------------------------------------------------
    def seed_entity(self, entity_set: str, row: Mapping[str, Any]) -> Row:
        return self._create(entity_set, dict(row))

    def _stamp(self, row: Row, *, api: bool = True) -> None:
        """A new ETag on every write; API rows also a strictly later `lastModifiedDateTime` (UI pages have none)."""
        self._last = max(datetime.now(UTC), self._last + timedelta(milliseconds=1))
        row["@odata.etag"] = f'W/"fake{next(self._versions)}"'
        if api:
            row["lastModifiedDateTime"] = odata_datetime(self._last)

    def _lines_of(self, entity_set: str) -> str | None:
        return next((s.lines for s in self.sources if s.kind != "page" and s.name == entity_set), None)

    def children(self, lines: str | None, parent: str) -> list[Row]:
        children = [r for r in self.sets.get(lines or "", {}).values() if r.get("documentId") == parent]
        return sorted(children, key=lambda r: int(r.get("sequence", 0)))

    # -- port: API v2.0 / custom route --------------------------------------------------------------------------
    def serves(self, entity_set: str) -> bool:
        return self.sources.serves(entity_set)

    def list_ids(self, entity_set: str, extra_filter: str | None = None) -> Iterator[list[str]]:
        pages = self.list_changed_since(entity_set, None, ["id"], extra_filter=extra_filter)
        ids = [str(row["id"]) for page in pages for row in page.rows]
        if not any(s.kind == "page" and s.custom_set == entity_set for s in self.sources):
            ids.sort()  # API entities by id, as the client asks BC for them
        size = max(1, self.page_size)
        yield from (ids[start : start + size] for start in range(0, len(ids), size))

    def id_range_filter(self, entity_set: str, first: str, last: str) -> str | None:
        if any(s.kind == "page" and s.custom_set == entity_set for s in self.sources):
            return None
        return f"id ge {first} and id le {last}"

    def has_records(self, entity_set: str, extra_filter: str | None = None) -> bool:
        return any(page.rows for page in self.list_changed_since(entity_set, None, ["id"], extra_filter=extra_filter))

    def resolve_company(self, name_or_id: str) -> str:
        for company_id, name in self.companies.items():
            if name_or_id in (name, company_id) or name_or_id.lower() == company_id.lower():
                return company_id
        raise FatalError("CompanyNotFound", f"Business Central has no company '{name_or_id}'.")

    def get_entities(
        self, entity_set: str, ids: Sequence[str], select: Sequence[str], extra_filter: str | None = None
    ) -> dict[str, Row]:
        wanted = set(ids)
        return {
            str(row["id"]): row
            for page in self.list_changed_since(entity_set, None, select, extra_filter=extra_filter)
            for row in page.rows
            if str(row["id"]) in wanted
        }

    def get_entity(
        self, entity_set: str, entity_id: str, select: Sequence[str] | None = None, expand: str | None = None
    ) -> Row | None:
        if (view := self._view_source(entity_set)) is not None:
            return self._view_entity(view, entity_id)
        row = self.sets.get(entity_set, {}).get(entity_id)
        return None if row is None else self._expanded(entity_set, row, select, expand)

    def _expanded(self, entity_set: str, row: Row, select: Sequence[str] | None, expand: str | None) -> Row:
        out = shape(row, select)
        lines = self._lines_of(entity_set)
        for item in parse_expand(expand) if expand else []:
            if item.navigation != lines:
                raise RecordError("BadRequest", f"Could not find a property named '{item.navigation}'.")
            nested = item.options["$select"].split(",") if "$select" in item.options else None
            out[lines] = [shape(child, nested) for child in self.children(lines, row["id"])]
        return out

    def list_changed_since(
        self,
        entity_set: str,
        since: datetime | None,
        select: Sequence[str],
        expand: str | None = None,
        extra_filter: str | None = None,
    ) -> Iterator[Page]:
        if not select:
            raise ValueError("$select is required: read only the mapped fields")
        if (view := self._view_source(entity_set)) is not None:  # pages carry no lastModifiedDateTime: all rows
            yield from self._view_changes(view, select, extra_filter)
            return
        rows = list(self.sets.get(entity_set, {}).values())
        if since is not None:
            rows = [r for r in rows if r["lastModifiedDateTime"] >= odata_datetime(since)]
            rows.sort(key=lambda r: str(r["lastModifiedDateTime"]))  # one fixed-width UTC format: text order is time
        if extra_filter:
            predicate = compile_filter(extra_filter, resolver(rows), case_insensitive=False)
            rows = [r for r in rows if predicate(r)]
        names = list(dict.fromkeys(["id", *select, *(["lastModifiedDateTime"] if since is not None else [])]))
        yield from self._paged([self._expanded(entity_set, r, names, expand) for r in rows])

    def _paged(self, rows: list[Row]) -> Iterator[Page]:
        chunks = [rows[i : i + self.page_size] for i in range(0, len(rows), self.page_size)] or [[]]
        for index, chunk in enumerate(chunks):
            yield Page(chunk, f"{ROOT}/$skiptoken={index + 1}" if index + 1 < len(chunks) else None)

    def create_entity(self, entity_set: str, body: Mapping[str, Any], entity_id: str | None = None) -> Row:
        chosen = entity_id or str(body.get("id") or uuid.uuid4())
        existing = self.sets.get(entity_set, {}).get(chosen)
        return dict(existing) if existing is not None else self._create(entity_set, {**body, "id": chosen})

    def _create(self, entity_set: str, body: dict[str, Any], parent: str | None = None) -> Row:
        lines_set = self._lines_of(entity_set)
        lines = body.pop(lines_set, []) if lines_set else []
        row = {k: v for k, v in body.items() if not k.startswith("@")}
        row.setdefault("id", str(uuid.uuid4()))
        if parent is not None:
            siblings = self.children(entity_set, parent)
            row.update(documentId=parent, sequence=row.get("sequence") or 10000 * (len(siblings) + 1))
        elif "number" not in row and "code" not in row:
            row["number"] = f"{entity_set[:3].upper()}{next(self._numbers)}"
        self._stamp(row)
        self.sets.setdefault(entity_set, {})[row["id"]] = row
        for line in lines:
            self._create(str(lines_set), dict(line), parent=row["id"])
        return dict(row)

    def _touch_parent(self, entity_set: str, row: Row) -> None:
        for source in self.sources:
            if source.lines == entity_set and row.get("documentId") in self.sets.get(source.name, {}):
                self._stamp(self.sets[source.name][row["documentId"]])

    def update_entity(
        self, entity_set: str, entity_id: str, body: Mapping[str, Any], etag: str, *, merge: bool = False
    ) -> Row:
        if (view := self._view_source(entity_set)) is not None:
            return self._view_update(view, entity_id, body, "*" if merge else etag)
        row = checked(self.sets.get(entity_set, {}).get(entity_id), "*" if merge else etag, entity_id)
        row.update({k: v for k, v in body.items() if not k.startswith("@")})
        self._stamp(row)
        self._touch_parent(entity_set, row)
        return dict(row)

    def delete_entity(self, entity_set: str, entity_id: str, etag: str = "*") -> None:
        if entity_id not in self.sets.get(entity_set, {}):
            return
        row = checked(self.sets[entity_set][entity_id], etag, entity_id)
        del self.sets[entity_set][entity_id]
        lines = self._lines_of(entity_set)
        for line in self.children(lines, entity_id):
            del self.sets[str(lines)][line["id"]]
        self._touch_parent(entity_set, row)

    def invoke_action(self, entity_set: str, entity_id: str, action: str) -> str | None:
        row = checked(self.sets.get(entity_set, {}).get(entity_id), "*", entity_id)
        handler = self.actions.get((entity_set, action))
        if handler is None:
            raise RecordError("BadRequest", f"The action '{action}' is not bound to '{entity_set}'.")
        result = handler(self, row)
        company = self.resolve_company(self.company)
        return None if result is None else f"{ROOT}/companies({company})/{result[0]}({result[1]['id']})"

    # -- port: batch --------------------------------------------------------------------------------------------
    def execute_batch(
        self, requests: Sequence[Mapping[str, Any]], *, atomic: bool = False, continue_on_error: bool = False
    ) -> list[BatchOutcome]:
        if atomic and len(requests) > MAX_BATCH:
            raise ValueError(f"an atomic batch holds at most {MAX_BATCH} operations; got {len(requests)}")
        saved = (copy.deepcopy(self.sets), copy.deepcopy(self.pages))
        outcomes: list[BatchOutcome] = []
        for request in requests:
            stop = outcomes and not outcomes[-1].ok and (atomic or not continue_on_error)
            outcomes.append(_error(NOT_EXECUTED, "NotExecuted", "Not run.") if stop else self._operation(request))
        if atomic and any(not o.ok for o in outcomes):
            self.sets, self.pages = saved
            rolled = _error(NOT_EXECUTED, "RolledBack", "Rolled back with the failed operation.")
            outcomes = [rolled if o.ok else o for o in outcomes]
        return outcomes

    def _operation(self, request: Mapping[str, Any]) -> BatchOutcome:
        method, url = str(request["method"]).upper(), str(request["url"]).lstrip("/")
        if (match := _URL.match(url)) is None:
            return _error(404, "BadRequest_NotFound", f"No HTTP resource was found for '{url}'.")
        entity_set, entity_id, tail = match.group("set"), match.group("id"), match.group("tail")
        query = dict(p.split("=", 1) for p in url.partition("?")[2].split("&") if "=" in p)
        body = dict(request.get("body") or {})
        etag = request.get("etag") or {k.lower(): v for k, v in (request.get("headers") or {}).items()}.get("if-match")
        try:
            if method == "POST" and entity_id is None:
                existed = str(body.get("id")) in self.sets.get(entity_set, {})
                return BatchOutcome(200 if existed else 201, self.create_entity(entity_set, body))
            row = checked(self.sets.get(entity_set, {}).get(str(entity_id)), "*", f"{entity_set}({entity_id})")
            if method == "POST" and tail and tail.startswith("Microsoft.NAV."):
                location = self.invoke_action(entity_set, row["id"], tail.removeprefix("Microsoft.NAV."))
                return BatchOutcome(204, None, {"location": location} if location else {})
            if method == "POST" and tail == self._lines_of(entity_set):
                return BatchOutcome(201, self._create(tail, body, parent=row["id"]))
            if method == "GET" and tail is None:
                select = query["$select"].split(",") if "$select" in query else None
                return BatchOutcome(200, self.get_entity(entity_set, row["id"], select, query.get("$expand")))
            if method in ("PATCH", "DELETE") and tail is None and not etag:
                return _error(400, "BadRequest_InvalidToken", "Could not validate the concurrency token.")
            if method == "DELETE" and tail is None:
                self.delete_entity(entity_set, row["id"], str(etag))
                return BatchOutcome(204)
            if method == "PATCH" and tail is None:
                return BatchOutcome(200, self.update_entity(entity_set, row["id"], body, str(etag)))
        except ConcurrencyError as error:
            return _error(409, error.code, error.message)
        except RecordError as error:
            return _error(404 if isinstance(error, NotFoundError) else 400, error.code, error.message)
        return _error(405, "BadRequest_MethodNotAllowed", f"{method} {url} is not supported by the fake.")


def ship_and_invoice(fake: InMemoryBusinessCentralClient, order: Row) -> tuple[str, Row]:
    """Posting an order makes a posted invoice with a NEW id that names the order, and removes the order."""
    own = ("id", "number", "documentId", "@odata.etag", "lastModifiedDateTime")
    lines = [{k: v for k, v in line.items() if k not in own} for line in fake.children("salesOrderLines", order["id"])]
    header = {k: v for k, v in order.items() if k not in own}
    links = {"orderId": order["id"], "orderNumber": order.get("number"), "status": "Open"}
    links["customerPurchaseOrderReference"] = order.get("@yourReference", "")  # Your Reference, set on page 42
    invoice = fake.seed_entity("salesInvoices", {**header, **links, "salesInvoiceLines": lines})
    fake.delete_entity("salesOrders", order["id"])
    return "salesInvoices", invoice
