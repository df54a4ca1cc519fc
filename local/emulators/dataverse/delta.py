"""Change tracking: `Prefer: odata.track-changes` answers with `@odata.deltaLink`; following it returns the rows
changed since, and `$deletedEntity` entries for deleted rows.

As in Dataverse, `$filter`, `$orderby`, `$expand` and `$top` are refused with change tracking, and only tables with
change tracking enabled accept it. The token is the store version the link was made at; pages of one delta
remember that version so a change made while paging is delivered by the next delta, never lost.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from local.emulators.dataverse.errors import INVALID_ARGUMENT, QUERY_ERROR, DataverseError
from local.emulators.dataverse.reads import RowFormatter, check_options, page_size, query_error, resolver
from local.emulators.dataverse.responses import context
from local.emulators.dataverse.schema import Schema, Table
from local.emulators.odata.options import parse_select
from local.emulators.odata.paging import decode_cursor, encode_cursor, make_key, page_after
from local.emulators.odata.types import ODataQueryError
from local.emulators.store import Store
from local.emulators.web import Request

DEFAULT_PAGE = 5000


def is_delta_request(request: Request) -> bool:
    """A delta request, or a next page of one (its skiptoken remembers that it is tracking, like Dataverse's)."""
    if "$deltatoken" in request.query or "odata.track-changes" in request.prefers():
        return True
    token = request.query.get("$skiptoken")
    if token is None:
        return False
    try:
        return "upto" in decode_cursor(token)
    except ODataQueryError:
        return False


def _link(base: str, table: Table, params: dict[str, str]) -> str:
    return f"{base}/{table.entity_set}?{urlencode(params, quote_via=quote, safe='$(),')}"


def track_changes(schema: Schema, store: Store, table: Table, request: Request, base: str) -> dict[str, Any]:
    check_options(request, table)
    if not table.change_tracking:
        raise DataverseError(
            400, INVALID_ARGUMENT, f"Entity '{table.logical_name}' is not enabled for change tracking."
        )
    refused = [name for name in ("$filter", "$orderby", "$expand", "$top") if name in request.query]
    if refused:
        raise DataverseError(400, QUERY_ERROR, f"{refused[0]} is not supported with change tracking.")
    try:
        select = parse_select(request.query["$select"], resolver(table)) if "$select" in request.query else None
        cursor = decode_cursor(request.query["$skiptoken"]) if "$skiptoken" in request.query else None
    except ODataQueryError as error:
        raise query_error(error) from None
    size = page_size(request) or DEFAULT_PAGE
    formatter = RowFormatter(schema, store, annotations=False)
    with store.lock:
        upto = int(cursor["upto"]) if cursor else store.version
        token = request.query.get("$deltatoken")
        if token is None:
            value, last = _initial_page(store, table, cursor, size, formatter, select)
        else:
            value, last = _changes_page(store, table, token, cursor, upto, size, formatter, select, base)
    params = {"$select": request.query["$select"]} if select else {}
    body: dict[str, Any] = {"@odata.context": context(base, table.entity_set, select) + "/$delta", "value": value}
    if last is not None:
        if token is not None:
            params["$deltatoken"] = token
        params["$skiptoken"] = encode_cursor({"id": last[0]}, [], "id", {"upto": upto, "after": last[1]})
        body["@odata.nextLink"] = _link(base, table, params)
    else:
        params["$deltatoken"] = str(upto)
        body["@odata.deltaLink"] = _link(base, table, params)
    return body


def _initial_page(
    store: Store,
    table: Table,
    cursor: dict[str, Any] | None,
    size: int,
    formatter: RowFormatter,
    select: list[str] | None,
) -> tuple[list[dict[str, Any]], tuple[str, int] | None]:
    key = make_key([], resolver(table), table.primary_id, case_insensitive=True)
    after = {table.primary_id: cursor["id"]} if cursor else None
    page, more = page_after(store.rows(table.logical_name), key, after, size)
    value = [formatter.format(table, row, select) for row in page]
    return value, (page[-1][table.primary_id], 0) if more and page else None


def _changes_page(
    store: Store,
    table: Table,
    token: str,
    cursor: dict[str, Any] | None,
    upto: int,
    size: int,
    formatter: RowFormatter,
    select: list[str] | None,
    base: str,
) -> tuple[list[dict[str, Any]], tuple[str, int] | None]:
    if not token.isdigit():
        raise DataverseError(400, INVALID_ARGUMENT, "The $deltatoken is not valid; start again without it.")
    since = int(cursor["after"]) if cursor else int(token)
    latest: dict[str, tuple[int, bool]] = {}
    for change in store.changes:
        if change.table == table.logical_name and since < change.version <= upto:
            latest[change.row_id] = (change.version, change.deleted)
    ordered = sorted(latest.items(), key=lambda item: item[1][0])
    page = ordered[:size]
    value: list[dict[str, Any]] = []
    for row_id, (_, deleted) in page:
        row = store.get(table.logical_name, row_id)
        if deleted or row is None:
            value.append(
                {
                    "@odata.context": f"{base}/$metadata#{table.entity_set}/$deletedEntity",
                    "id": row_id,
                    "reason": "deleted",
                }
            )
        else:
            value.append(formatter.format(table, row, select))
    more = len(ordered) > size
    return value, (page[-1][0], page[-1][1][0]) if more and page else None
