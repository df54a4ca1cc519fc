"""Reading rows the way the Web API returns them: `$select`, `$filter`, `$orderby`, `$top`, `$count`, `$expand`,
server paging with `Prefer: odata.maxpagesize` (at most 5,000) and `@odata.nextLink`; `$skip` is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote, urlencode

from local.emulators.dataverse.errors import QUERY_ERROR, DataverseError
from local.emulators.dataverse.query_guard import refuse_unrun_options
from local.emulators.dataverse.responses import context
from local.emulators.dataverse.schema import EDM_OF_KIND, Schema, Table
from local.emulators.dataverse.writer import LOOKUP_TYPE, etag_of
from local.emulators.odata.filter import compile_filter
from local.emulators.odata.options import (
    ExpandItem,
    parse_bool_option,
    parse_expand,
    parse_orderby,
    parse_select,
    parse_top,
)
from local.emulators.odata.paging import cursor_row, decode_cursor, encode_cursor, make_key, page_after
from local.emulators.odata.types import EdmType, ODataQueryError
from local.emulators.store import Row, Store
from local.emulators.web import Request

MAX_PAGE_SIZE = 5000
QUERY_OPTIONS = frozenset({"$select", "$filter", "$orderby", "$top", "$count", "$expand", "$skiptoken", "$deltatoken"})
FORMATTED = "@OData.Community.Display.V1.FormattedValue"
LOOKUP_NAME = "@Microsoft.Dynamics.CRM.lookuplogicalname"


def query_error(error: ODataQueryError) -> DataverseError:
    return DataverseError(400, QUERY_ERROR, error.message)


def resolver(table: Table) -> Callable[[str], EdmType]:
    def resolve(name: str) -> EdmType:
        attribute = table.by_read_name.get(name)
        if attribute is None:
            raise ODataQueryError(f"Could not find a property named '{name}' on type '{table.type_name}'.")
        return EDM_OF_KIND[attribute.kind]  # type: ignore[return-value]

    return resolve


def order_spec(text: str | None, resolve: Callable[[str], EdmType]) -> list[tuple[str, bool]]:
    return [(k.name, k.descending) for k in parse_orderby(text, resolve)] if text is not None else []


def check_options(request: Request, table: Table | None = None) -> None:
    """Refuse `$skip`, unknown `$` options and the documented options the emulator does not run (query_guard)."""
    refuse_unrun_options(request, table)
    if "$skip" in request.query:
        raise DataverseError(400, QUERY_ERROR, "The query parameter $skip is not supported.")
    for name in request.query:
        if name.startswith("$") and name not in QUERY_OPTIONS:
            raise DataverseError(400, QUERY_ERROR, f"The query parameter {name} is not supported.")


def page_size(request: Request) -> int | None:
    raw = request.prefers().get("odata.maxpagesize")
    if raw is None:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise DataverseError(400, QUERY_ERROR, f"The odata.maxpagesize preference '{raw}' is not a positive integer.")
    return min(int(raw), MAX_PAGE_SIZE)


class RowFormatter:
    """Shapes stored rows into Web API JSON (etag, `_x_value` lookups, optional annotations, expansions)."""

    def __init__(self, schema: Schema, store: Store, *, annotations: bool) -> None:
        self.schema = schema
        self.store = store
        self.annotations = annotations

    def format(
        self, table: Table, row: Mapping[str, Any], select: list[str] | None, expand: list[ExpandItem] | None = None
    ) -> dict[str, Any]:
        out: dict[str, Any] = {"@odata.etag": etag_of(row)}
        names = select if select is not None else list(table.by_read_name)
        for name in names:
            out[name] = row.get(name)
            if self.annotations:
                self._annotate(table, row, name, out)
        out[table.primary_id] = row[table.primary_id]
        for item in expand or ():
            out[item.navigation] = self._expand(table, row, item)
        return out

    def _annotate(self, table: Table, row: Mapping[str, Any], name: str, out: dict[str, Any]) -> None:
        attribute = table.by_read_name[name]
        value = row.get(name)
        if value is None:
            return
        if attribute.kind == "lookup":
            target_name = row.get(LOOKUP_TYPE + attribute.name) or attribute.targets[0]
            out[name + LOOKUP_NAME] = target_name
            target = self.store.get(target_name, value)
            if target is not None:
                out[name + FORMATTED] = target.get(self.schema.tables[target_name].primary_name)
        elif attribute.kind == "state":
            out[name + FORMATTED] = table.states.get(value)
        elif attribute.kind == "status":
            out[name + FORMATTED] = table.statuses.get(value, ("", 0))[0]

    def _expand(self, table: Table, row: Mapping[str, Any], item: ExpandItem) -> Any:
        if item.navigation in table.collection_navigations:
            child_name, lookup = table.collection_navigations[item.navigation]
            child = self.schema.tables[child_name]
            rows = [r for r in self.store.rows(child_name) if r.get(f"_{lookup}_value") == row[table.primary_id]]
            return [self.format(child, r, s) for r, s in select_rows(child, rows, item.options)]
        bound = table.bind_navigations.get(item.navigation)
        if bound is None:
            raise DataverseError(
                400, QUERY_ERROR, f"Could not find a property named '{item.navigation}' on type '{table.type_name}'."
            )
        attribute, target_name = bound
        target_id = row.get(f"_{attribute}_value")
        stored_target = row.get(LOOKUP_TYPE + attribute, target_name)
        if target_id is None or stored_target not in table.bind_targets.get(item.navigation, (target_name,)):
            return None
        target_name = stored_target  # an owner is a systemuser or a team: expand the row it names
        target = self.store.get(target_name, target_id)
        if target is None:
            return None
        target_table = self.schema.tables[target_name]
        select = parse_select(item.options["$select"], resolver(target_table)) if "$select" in item.options else None
        return self.format(target_table, target, select)


def select_rows(table: Table, rows: list[Row], options: Mapping[str, str]) -> list[tuple[Row, list[str] | None]]:
    """Apply nested $filter/$orderby/$top/$select of an $expand to child rows (no paging inside an expansion)."""
    try:
        resolve = resolver(table)
        if "$filter" in options:
            predicate = compile_filter(options["$filter"], resolve, case_insensitive=True, ne_matches_null=False)
            rows = [r for r in rows if predicate(r)]
        spec = order_spec(options.get("$orderby"), resolve)
        rows = sorted(rows, key=make_key(spec, resolve, table.primary_id, case_insensitive=True))
        if "$top" in options:
            rows = rows[: parse_top(options["$top"])]
        select = parse_select(options["$select"], resolve) if "$select" in options else None
    except ODataQueryError as error:
        raise query_error(error) from None
    return [(r, select) for r in rows]


def list_rows(schema: Schema, store: Store, table: Table, request: Request, base: str) -> dict[str, Any]:
    """Answer a collection GET (without change tracking)."""
    check_options(request, table)
    query = request.query
    try:
        resolve = resolver(table)
        select = parse_select(query["$select"], resolve) if "$select" in query else None
        predicate = (
            compile_filter(query["$filter"], resolve, case_insensitive=True, ne_matches_null=False)
            if "$filter" in query
            else None
        )
        spec = order_spec(query.get("$orderby"), resolve)
        top = parse_top(query["$top"]) if "$top" in query else None
        count = parse_bool_option(query["$count"], "$count") if "$count" in query else False
        expand = parse_expand(query["$expand"]) if "$expand" in query else []
        token = query.get("$skiptoken")
        after = cursor_row(decode_cursor(token), spec, table.primary_id) if token is not None else None
        key = make_key(spec, resolve, table.primary_id, case_insensitive=True)
    except ODataQueryError as error:
        raise query_error(error) from None
    rows = store.rows(table.logical_name)
    if predicate is not None:
        rows = [r for r in rows if predicate(r)]
    size = page_size(request)
    limit = size if size is not None else min(top, MAX_PAGE_SIZE) if top is not None else MAX_PAGE_SIZE
    page, more = page_after(rows, key, after, limit)
    if size is None and top is not None:
        more = more and top > MAX_PAGE_SIZE
    formatter = RowFormatter(schema, store, annotations=wants_annotations(request))
    body: dict[str, Any] = {"@odata.context": context(base, table.entity_set, select, expand)}
    if count:
        body["@odata.count"] = min(len(rows), MAX_PAGE_SIZE)
        if len(rows) > MAX_PAGE_SIZE:
            body["@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"] = True
    body["value"] = [formatter.format(table, r, select, expand) for r in page]
    if more and page:
        params = {k: v for k, v in query.items() if k != "$skiptoken"}
        params["$skiptoken"] = encode_cursor(page[-1], spec, table.primary_id)
        body["@odata.nextLink"] = f"{base}/{table.entity_set}?{urlencode(params, quote_via=quote, safe='$(),')}"
    return body


def wants_annotations(request: Request) -> bool:
    value = request.prefers().get("odata.include-annotations", "")
    return value in ("*",) or "FormattedValue" in value or "lookuplogicalname" in value


def get_row(schema: Schema, store: Store, table: Table, row: Row, request: Request, base: str) -> dict[str, Any]:
    check_options(request, table)
    try:
        resolve = resolver(table)
        select = parse_select(request.query["$select"], resolve) if "$select" in request.query else None
        expand = parse_expand(request.query["$expand"]) if "$expand" in request.query else []
    except ODataQueryError as error:
        raise query_error(error) from None
    formatter = RowFormatter(schema, store, annotations=wants_annotations(request))
    body = {"@odata.context": context(base, table.entity_set, select, expand) + "/$entity"}
    body.update(formatter.format(table, row, select, expand))
    return body
