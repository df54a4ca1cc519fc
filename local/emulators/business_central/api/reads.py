"""Reading BC entities: `$filter` (case-sensitive, like AL filters), `$select`, `$orderby`, `$top`, `$skip`,
`$expand` (lines, 0..1 parts) with nested options, server paging with `Prefer: odata.maxpagesize` up to 20,000 and
`@odata.nextLink`. Rows are returned without internal state; with `$select`, only what was selected (plus the etag).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote, urlencode

from local.emulators.business_central.api import financials
from local.emulators.business_central.api.business_relations import contact_information_rows
from local.emulators.business_central.api.odata_context import context_url
from local.emulators.business_central.api.writer import Writer
from local.emulators.business_central.errors import BAD_REQUEST, BcError
from local.emulators.business_central.naming import etag_of, table_name
from local.emulators.business_central.schema import EDM_OF_KIND, EntitySet
from local.emulators.odata.expand import ExpandItem, parse_expand
from local.emulators.odata.filter import compile_filter
from local.emulators.odata.options import parse_bool_option, parse_orderby, parse_select, parse_skip, parse_top
from local.emulators.odata.paging import cursor_row, decode_cursor, encode_cursor, make_key, page_after
from local.emulators.odata.types import EdmType, ODataQueryError
from local.emulators.store import Row
from local.emulators.web import Request

MAX_PAGE_SIZE = 20_000
OPTIONS = frozenset(
    {"$select", "$filter", "$orderby", "$top", "$skip", "$count", "$expand", "$skiptoken", "company", "$schemaversion"}
)


def query_error(error: ODataQueryError) -> BcError:
    return BcError(400, BAD_REQUEST, error.message)


def resolver(entity_set: EntitySet) -> Callable[[str], EdmType]:
    def resolve(name: str) -> EdmType:
        prop = entity_set.properties.get(name)
        if prop is None:
            raise ODataQueryError(f"Could not find a property named '{name}' on type '{entity_set.type_name}'.")
        return EDM_OF_KIND[prop.kind]  # type: ignore[return-value]

    return resolve


def rows_of(writer: Writer, company_id: str, entity_set: EntitySet) -> list[Row]:
    """Stored rows, or computed ones for sets BC computes (customerFinancialDetails, contactsInformation)."""
    if entity_set.name == "customerFinancialDetails":
        return financials.financial_detail_rows(writer, company_id)
    if entity_set.name == "customers":
        return financials.customers_with_balance(writer, company_id)
    if entity_set.name == "contactsInformation":
        return contact_information_rows(writer, company_id)
    return writer.store.rows(table_name(company_id, entity_set.name))


def format_row(
    writer: Writer,
    company_id: str,
    entity_set: EntitySet,
    row: Mapping[str, Any],
    select: list[str] | None,
    expand: list[ExpandItem],
) -> dict[str, Any]:
    out: dict[str, Any] = {"@odata.etag": etag_of(row)}
    for name in select if select is not None else entity_set.properties:
        out[name] = row.get(name)
    for item in expand:
        out[item.navigation] = _expand(writer, company_id, entity_set, row, item)
    return out


def _expand(writer: Writer, company_id: str, entity_set: EntitySet, row: Mapping[str, Any], item: ExpandItem) -> Any:
    if item.navigation == entity_set.lines:
        line_set = writer.schema.sets[entity_set.lines]
        children = [r for r in rows_of(writer, company_id, line_set) if r.get(line_set.parent_key) == row["id"]]
        return [
            format_row(writer, company_id, line_set, r, select, nested)
            for r, select, nested in _shape(line_set, children, item.options)
        ]
    if item.navigation == "customerFinancialDetails" and entity_set.name == "customers":
        details_set = writer.schema.sets["customerFinancialDetails"]
        for detail in financials.financial_detail_rows(writer, company_id, only=row["id"]):
            select = parse_select(item.options["$select"], resolver(details_set)) if "$select" in item.options else None
            return format_row(writer, company_id, details_set, detail, select, [])
        return None
    raise BcError(
        400, BAD_REQUEST, f"Could not find a property named '{item.navigation}' on type '{entity_set.type_name}'."
    )


def _shape(
    entity_set: EntitySet, rows: list[Row], options: Mapping[str, str]
) -> list[tuple[Row, list[str] | None, list[ExpandItem]]]:
    try:
        resolve = resolver(entity_set)
        if "$filter" in options:
            predicate = compile_filter(options["$filter"], resolve, case_insensitive=False)
            rows = [r for r in rows if predicate(r)]
        spec = (
            [(k.name, k.descending) for k in parse_orderby(options["$orderby"], resolve)]
            if "$orderby" in options
            else []
        )
        rows = sorted(
            rows,
            key=make_key(
                spec or [("sequence", False)] if "sequence" in entity_set.properties else spec,
                resolve,
                "id",
                case_insensitive=False,
            ),
        )
        if "$top" in options:
            rows = rows[: parse_top(options["$top"])]
        select = parse_select(options["$select"], resolve) if "$select" in options else None
        nested = parse_expand(options["$expand"]) if "$expand" in options else []
    except ODataQueryError as error:
        raise query_error(error) from None
    return [(r, select, nested) for r in rows]


def page_size(request: Request) -> int:
    raw = request.prefers().get("odata.maxpagesize")
    if raw is None:
        return MAX_PAGE_SIZE
    if not raw.isdigit() or int(raw) < 1:
        raise BcError(400, BAD_REQUEST, f"The odata.maxpagesize preference '{raw}' is not a positive integer.")
    return min(int(raw), MAX_PAGE_SIZE)


def list_rows(
    writer: Writer, company_id: str, entity_set: EntitySet, request: Request, base: str, rows: list[Row] | None = None
) -> dict[str, Any]:
    query = request.query
    unknown = [name for name in query if name.startswith("$") and name not in OPTIONS]
    if unknown:
        raise BcError(400, BAD_REQUEST, f"The query parameter '{unknown[0]}' is not supported.")
    try:
        resolve = resolver(entity_set)
        select = parse_select(query["$select"], resolve) if "$select" in query else None
        predicate = compile_filter(query["$filter"], resolve, case_insensitive=False) if "$filter" in query else None
        spec = (
            [(k.name, k.descending) for k in parse_orderby(query["$orderby"], resolve)] if "$orderby" in query else []
        )
        if not spec and "sequence" in entity_set.properties:
            spec = [("sequence", False)]  # lines come in line-number order, as their key in BC sorts them
        top = parse_top(query["$top"]) if "$top" in query else None
        skip = parse_skip(query["$skip"]) if "$skip" in query else 0
        count = parse_bool_option(query["$count"], "$count") if "$count" in query else False
        expand = parse_expand(query["$expand"]) if "$expand" in query else []
        token = query.get("$skiptoken")
        after = cursor_row(decode_cursor(token), spec, "id") if token is not None else None
        key = make_key(spec, resolve, "id", case_insensitive=False)
    except ODataQueryError as error:
        raise query_error(error) from None
    candidates = rows if rows is not None else rows_of(writer, company_id, entity_set)
    if predicate is not None:
        candidates = [r for r in candidates if predicate(r)]
    size = page_size(request)
    if skip or top is not None:
        ordered = sorted(candidates, key=key)[skip:]
        page, more = (ordered[:top] if top is not None else ordered[:size]), False
        if top is None and len(ordered) > size:
            page, more = ordered[:size], True
    else:
        page, more = page_after(candidates, key, after, size)  # type: ignore[assignment]
    body: dict[str, Any] = {"@odata.context": context_url(request, base, company_id, select)}
    if count:
        body["@odata.count"] = len(candidates)
    body["value"] = [format_row(writer, company_id, entity_set, r, select, expand) for r in page]
    if more and page:
        params = {k: v for k, v in query.items() if k != "$skiptoken"}
        params["$skiptoken"] = encode_cursor(page[-1], spec, "id")
        body["@odata.nextLink"] = f"{base}/{entity_set.name}?{urlencode(params, quote_via=quote, safe='$(),')}"
    return body


def get_row(
    writer: Writer, company_id: str, entity_set: EntitySet, row: Row, request: Request, base: str
) -> dict[str, Any]:
    try:
        resolve = resolver(entity_set)
        select = parse_select(request.query["$select"], resolve) if "$select" in request.query else None
        expand = parse_expand(request.query["$expand"]) if "$expand" in request.query else []
    except ODataQueryError as error:
        raise query_error(error) from None
    body = {"@odata.context": context_url(request, base, company_id, select, entity=True)}
    body.update(format_row(writer, company_id, entity_set, row, select, expand))
    return body
