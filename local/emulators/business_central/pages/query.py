"""Query options on page web services and the custom API: `$filter`, `$select`, `$orderby`, `$top`, `$skip`,
`$count`, and server-driven paging (`Prefer: odata.maxpagesize`, at most 20,000, `@odata.nextLink` with
`$skiptoken`).

Rows come back in primary-key order unless `$orderby` says otherwise (BC 23+ orders ODataV4 results by the key,
whatever the page's sorting), and the key stays the tie-break so pages never overlap. Stricter than BC where BC's
behaviour is not confirmed (the sync must not rely on a leniency): unknown `$` options are refused (third parties
report BC ignores them), and `or` across two different properties is refused (documented as unsupported).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlencode

from local.emulators.business_central.api.reads import page_size
from local.emulators.business_central.errors import BAD_REQUEST, BcError
from local.emulators.business_central.naming import etag_of
from local.emulators.business_central.schema import Property
from local.emulators.odata.filter import compile_filter
from local.emulators.odata.options import parse_bool_option, parse_orderby, parse_select, parse_skip, parse_top
from local.emulators.odata.paging import cursor_row, decode_cursor, encode_cursor, make_key, page_after
from local.emulators.odata.parser import Call, Comparison, Logical, Node, Not, parse_filter
from local.emulators.odata.parser import Property as FilterProperty
from local.emulators.odata.types import EdmType, ODataQueryError, Resolver, dict_resolver
from local.emulators.web import Request

OPTIONS = frozenset(
    {"$select", "$filter", "$orderby", "$top", "$skip", "$count", "$skiptoken", "$schemaversion", "company", "tenant"}
)
TIEBREAK = "@systemId"
_EDM: Mapping[str, EdmType] = {
    "guid": "guid",
    "code": "string",
    "text": "string",
    "computed": "string",
    "decimal": "decimal",
    "int": "int",
    "bool": "bool",
    "date": "date",
    "datetime": "datetime",
    "enum": "enum",
}


def resolver(props: Mapping[str, Property], type_name: str) -> Resolver:
    return dict_resolver({name: _EDM[prop.kind] for name, prop in props.items()}, type_name)


def _names(node: Node) -> set[str]:
    if isinstance(node, FilterProperty):
        return {node.name}
    if isinstance(node, Comparison):
        return _names(node.left) | _names(node.right)
    if isinstance(node, Call):
        return set().union(*(_names(arg) for arg in node.args))
    if isinstance(node, Not):
        return _names(node.operand)
    if isinstance(node, Logical):
        return set().union(*(_names(operand) for operand in node.operands))
    return set()


def _check_or(node: Node) -> None:
    """BC cannot OR conditions on two different fields (a filter is a set of per-field AL filters)."""
    if isinstance(node, Logical):
        if node.op == "or" and len(_names(node)) > 1:
            raise ODataQueryError(
                f"'or' across different properties ({', '.join(sorted(_names(node)))}) is not supported by "
                f"Business Central; send one request per property."
            )
        for operand in node.operands:
            _check_or(operand)
    elif isinstance(node, Not):
        _check_or(node.operand)


def format_row(row: Mapping[str, Any], names: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"@odata.etag": etag_of(row)}
    out.update({name: row.get(name) for name in names})
    return out


def selected(request: Request, props: Mapping[str, Property], type_name: str) -> list[str]:
    try:
        if "$select" in request.query:
            return parse_select(request.query["$select"], resolver(props, type_name))
    except ODataQueryError as error:
        raise BcError(400, BAD_REQUEST, error.message) from None
    return list(props)


def list_body(
    rows: list[dict[str, Any]],
    props: Mapping[str, Property],
    keys: Sequence[str],
    request: Request,
    *,
    context: str,
    link_base: str,
    type_name: str,
) -> dict[str, Any]:
    """One page of `rows` (already in the entity's shape) as BC's collection JSON."""
    query = request.query
    unknown = [name for name in query if name.startswith("$") and name not in OPTIONS]
    if unknown:
        raise BcError(400, BAD_REQUEST, f"The query parameter '{unknown[0]}' is not supported.")
    try:
        resolve = resolver(props, type_name)
        names = selected(request, props, type_name)
        predicate = None
        if "$filter" in query:
            _check_or(parse_filter(query["$filter"]))
            predicate = compile_filter(query["$filter"], resolve, case_insensitive=False)
        order = (
            [(k.name, k.descending) for k in parse_orderby(query["$orderby"], resolve)] if "$orderby" in query else []
        )
        spec = order + [(key, False) for key in keys if key not in {name for name, _ in order}]
        top = parse_top(query["$top"]) if "$top" in query else None
        skip = parse_skip(query["$skip"]) if "$skip" in query else 0
        count = parse_bool_option(query["$count"], "$count") if "$count" in query else False
        token = query.get("$skiptoken")
        after = cursor_row(decode_cursor(token), spec, TIEBREAK) if token is not None else None
        key = make_key(spec, resolve, TIEBREAK, case_insensitive=False)
    except ODataQueryError as error:
        raise BcError(400, BAD_REQUEST, error.message) from None
    candidates = [row for row in rows if predicate(row)] if predicate is not None else rows
    size = page_size(request)
    if skip or top is not None:
        ordered = sorted(candidates, key=key)[skip:]
        limit = top if top is not None else size
        page: Sequence[Mapping[str, Any]] = ordered[:limit]
        more = top is None and len(ordered) > size
    else:
        page, more = page_after(candidates, key, after, size)
    body: dict[str, Any] = {"@odata.context": context}
    if count:
        body["@odata.count"] = len(candidates)
    body["value"] = [format_row(row, names) for row in page]
    if more and page:
        params = {k: v for k, v in query.items() if k not in ("$skiptoken", "$skip")}  # the cursor says where
        params["$skiptoken"] = encode_cursor(page[-1], spec, TIEBREAK)
        body["@odata.nextLink"] = f"{link_base}?{urlencode(params, quote_via=quote, safe='$(),')}"
    return body
