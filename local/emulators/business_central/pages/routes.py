"""Page web services (`/{tenant}/{environment}/ODataV4/Company('...')/{Service}`) and the companion extension's
custom API (`/api/bcsalessync/integration/v1.0/...`) of the BC emulator.

Why pages at all: API v2.0 has no resources, price lists, unit-of-measure conversions, write-in product setup or
sales order Status text, so the sync reads and writes them through standard pages an administrator publishes as
web services. Microsoft stops that at BC version 30, which is why every entity's source is pluggable
(`sources.py`) and the custom API route serves the same rows under API-style names.

Accepted forms: `Company('Name')`, `Company(Name='Name')`, `Company(Id=<guid>)`, or `/ODataV4/{Service}?company=`
(name or GUID); one to three path segments before `ODataV4` (`/{tenant}/{env}`, `/v2.0/{tenant}/{env}`, `/{env}`).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from local.emulators.business_central.companies import environment_of
from local.emulators.business_central.errors import BAD_REQUEST, METHOD_NOT_ALLOWED, NOT_FOUND, BcError
from local.emulators.business_central.handler_context import CompanyScope
from local.emulators.business_central.naming import etag_of
from local.emulators.business_central.pages import custom
from local.emulators.business_central.pages.context import Context
from local.emulators.business_central.pages.data import find, page_rows, shape
from local.emulators.business_central.pages.keys import key_text, parse_company, parse_key, parse_segment, split_path
from local.emulators.business_central.pages.metadata import metadata
from local.emulators.business_central.pages.query import format_row, list_body, selected
from local.emulators.business_central.pages.schema import PageService, load_pages
from local.emulators.business_central.pages.write import create, delete, json_body, update
from local.emulators.web import Request, Response

_ODATA = re.compile(r"^(?P<root>(?:/[^/]+){1,3}?/ODataV4)(?P<rest>/.*)?$")
_CUSTOM = re.compile(r"^(?P<root>(?:/[^/]+){1,3}?/api/bcsalessync/integration/v1\.0)(?P<rest>/.*)?$")


def handle(app: CompanyScope, request: Request) -> Response:
    """Every request that is not API v2.0 lands here (see `app.handle`)."""
    match = _ODATA.match(request.path)
    if match is not None:
        return _odata(app, request, request.base_url + match.group("root"), match.group("rest") or "")
    match = _CUSTOM.match(request.path)
    if match is not None:
        return custom.handle(app, request, request.base_url + match.group("root"), match.group("rest") or "")
    raise BcError(404, NOT_FOUND, f"No HTTP resource was found that matches '{request.path}'.")


def _odata(app: CompanyScope, request: Request, service_root: str, rest: str) -> Response:
    segments = split_path(rest)
    if segments == ["$metadata"]:
        return metadata()
    environment = environment_of(service_root)  # the company is one of this environment's (companies.py)
    if segments and segments[0].startswith("Company("):
        _, value = parse_company(parse_segment(segments[0])[1] or "")
        company_id = app.company_id(value, environment)
        company = app.store.get("companies", company_id)
        name = str(company["name"]) if company else value
        literal = "Company('" + quote(name.replace("'", "''"), safe="") + "')"
        prefix, context_prefix = "/" + literal, literal + "/"
        segments = segments[1:]
    else:
        raw = request.query.get("company")
        if raw is None:
            raise BcError(400, BAD_REQUEST, "The company must be given: Company('name')/... or ?company=.")
        company_id = app.company_id(raw, environment)
        prefix, context_prefix = "", ""
    if len(segments) != 1:
        raise BcError(404, NOT_FOUND, f"No HTTP resource was found that matches '{rest}'.")
    name, key = parse_segment(segments[0])
    service = load_pages().services.get(name)
    if service is None:
        raise BcError(404, NOT_FOUND, f"No HTTP resource was found that matches the service '{name}'.")
    ctx = Context(app.writer, company_id)
    context = f"{service_root}/$metadata#{context_prefix}{service.name}"
    link_base = f"{service_root}{prefix}/{service.name}"
    if key is None:
        return _collection(ctx, service, request, context, link_base)
    return _entity(ctx, service, request, parse_key(service, key), context)


def _entity_response(
    service: PageService, row: dict[str, Any], context: str, status: int, names: list[str] | None = None
) -> Response:
    body = {"@odata.context": f"{context}/$entity", **format_row(row, names or list(service.fields))}
    return Response.json(status, body, {"ETag": etag_of(row)})


def _collection(ctx: Context, service: PageService, request: Request, context: str, link_base: str) -> Response:
    if request.method == "GET":
        props = {name: f.prop for name, f in service.fields.items()}
        return Response.json(
            200,
            list_body(
                page_rows(ctx, service),
                props,
                service.keys,
                request,
                context=context,
                link_base=link_base,
                type_name=f"NAV.{service.name}",
            ),
        )
    if request.method == "POST":
        row = shape(ctx, service, create(ctx, service, json_body(request)))
        response = _entity_response(service, row, context, 201)
        key = {name: row[name] for name in service.keys}
        response.headers["Location"] = f"{link_base}({quote(key_text(key), safe='=,')})"
        return response
    raise BcError(
        405, METHOD_NOT_ALLOWED, f"{request.method} is not allowed on a collection; address one entity by key."
    )


def _entity(ctx: Context, service: PageService, request: Request, key: dict[str, Any], context: str) -> Response:
    row = find(ctx, service, key)
    if request.method == "GET":
        props = {name: f.prop for name, f in service.fields.items()}
        return _entity_response(service, row, context, 200, selected(request, props, f"NAV.{service.name}"))
    if request.method == "PATCH":
        updated = update(ctx, service, row, json_body(request), request.header("if-match"))
        return _entity_response(service, shape(ctx, service, updated), context, 200)
    if request.method == "DELETE":
        delete(ctx, service, row, request.header("if-match"))
        return Response.empty(204)
    raise BcError(405, METHOD_NOT_ALLOWED, f"{request.method} is not allowed on an entity of '{service.name}'.")
