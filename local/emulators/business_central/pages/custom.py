"""The companion extension's custom API: `/{tenant}/{env}/api/bcsalessync/integration/v1.0/companies({id})/{set}`.

Why: from BC version 30 Microsoft pages cannot be OData endpoints, so the plan is a small extension of our own with
API pages over the same tables. The emulator serves them from the very rows the page services use, through a
data-driven mapping (`customApi` in bc_page_overlay.json: camelCase name -> page property), so a sync switched to
the custom source sees the same data and the same validation. API pages differ from UI pages exactly where the
sync cares: an `id` (SystemId) key, `lastModifiedDateTime` for delta reads, and enums in the XML-encoded form
(`Pending_x0020_Approval`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from typing import Any

from local.emulators.business_central.companies import companies_in, environment_of
from local.emulators.business_central.errors import BAD_REQUEST, METHOD_NOT_ALLOWED, NOT_FOUND, BcError, bad_request
from local.emulators.business_central.handler_context import CompanyScope
from local.emulators.business_central.naming import etag_of
from local.emulators.business_central.pages.context import Context
from local.emulators.business_central.pages.data import page_rows, shape
from local.emulators.business_central.pages.keys import parse_segment, split_path
from local.emulators.business_central.pages.query import format_row, list_body, selected
from local.emulators.business_central.pages.schema import PageService, encode_member, load_pages
from local.emulators.business_central.pages.write import create, delete, json_body, update
from local.emulators.business_central.schema import Property
from local.emulators.web import Request, Response

SYSTEM = {
    "id": Property("id", "guid", None, True),
    "lastModifiedDateTime": Property("lastModifiedDateTime", "datetime", None, True),
}


@dataclass(frozen=True)
class CustomSet:
    name: str
    service: PageService
    fields: dict[str, str]  # camelCase -> page property

    @property
    def props(self) -> dict[str, Property]:
        mapped = {name: replace(self.service.fields[page].prop, name=name) for name, page in self.fields.items()}
        return {"id": SYSTEM["id"], **mapped, "lastModifiedDateTime": SYSTEM["lastModifiedDateTime"]}

    @property
    def keys(self) -> list[str]:
        """API pages also come back in primary-key order; the SystemId when a key field is not mapped."""
        by_page = {page: name for name, page in self.fields.items()}
        names = [by_page.get(key) for key in self.service.keys]
        return [name for name in names if name] if all(names) else ["id"]

    def to_api(self, row: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"id": row["@systemId"]}
        for name, page in self.fields.items():
            value = row.get(page)
            is_enum = self.service.fields[page].prop.kind == "enum"
            out[name] = encode_member(str(value)) if is_enum else value
        out["lastModifiedDateTime"] = row.get("@modifiedAt", "")
        out.update({k: v for k, v in row.items() if k.startswith("@")})
        return out

    def to_page(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise bad_request("The request body must be a JSON object.")
        out: dict[str, Any] = {}
        for name, value in body.items():
            if name.startswith("@odata."):
                continue
            if name in SYSTEM:
                raise bad_request(f"The property '{name}' of '{self.name}' is read-only.")
            if name not in self.fields:
                raise bad_request(f"The property '{name}' does not exist on type 'Microsoft.NAV.{self.name}'.")
            out[self.fields[name]] = value
        return out


def custom_sets() -> dict[str, CustomSet]:
    schema = load_pages()
    specs: dict[str, Any] = schema.overlay["customApi"]
    return {
        name: CustomSet(name, schema.services[spec["page"]], dict(spec["fields"]))
        for name, spec in specs.items()
        if not name.startswith("_")
    }


def handle(app: CompanyScope, request: Request, root: str, rest: str) -> Response:
    segments = split_path(rest)
    environment = environment_of(root)  # the companies are this environment's (companies.py)
    if segments == ["companies"] and request.method == "GET":
        companies = companies_in(app.store, environment)
        value = [{"id": c["id"], "name": c["name"], "displayName": c["displayName"]} for c in companies]
        return Response.json(200, {"@odata.context": f"{root}/$metadata#companies", "value": value})
    if len(segments) != 2:
        raise BcError(404, NOT_FOUND, f"No HTTP resource was found that matches '{rest}'.")
    name, company = parse_segment(segments[0])
    if name != "companies" or company is None:
        raise BcError(404, NOT_FOUND, f"No HTTP resource was found that matches '{segments[0]}'.")
    company_id = app.company_id(company, environment)
    set_name, key = parse_segment(segments[1])
    custom = custom_sets().get(set_name)
    if custom is None:
        raise BcError(404, NOT_FOUND, f"No HTTP resource was found that matches the entity set '{set_name}'.")
    ctx = Context(app.writer, company_id)
    base = f"{root}/companies({company_id})"
    context = f"{root}/$metadata#companies({company_id})/{custom.name}"
    if key is None:
        return _collection(ctx, custom, request, context, f"{base}/{custom.name}")
    return _entity(ctx, custom, request, _guid(key), context)


def _guid(key: str) -> str:
    try:
        return str(uuid.UUID(key.strip("'")))
    except ValueError:
        raise BcError(400, BAD_REQUEST, f"The key '{key}' is not a valid Edm.Guid.") from None


def _reply(
    custom: CustomSet, row: dict[str, Any], context: str, status: int, names: list[str] | None = None
) -> Response:
    body = {"@odata.context": f"{context}/$entity", **format_row(row, names or list(custom.props))}
    return Response.json(status, body, {"ETag": etag_of(row)})


def _collection(ctx: Context, custom: CustomSet, request: Request, context: str, link_base: str) -> Response:
    if request.method == "GET":
        rows = [custom.to_api(row) for row in page_rows(ctx, custom.service)]
        body = list_body(
            rows, custom.props, custom.keys, request, context=context, link_base=link_base,
            type_name=f"Microsoft.NAV.{custom.name}",
        )  # fmt: skip
        return Response.json(200, body)
    if request.method == "POST":
        body = json_body(request)
        chosen = body.pop("id", None) if isinstance(body, dict) else None
        row = create(ctx, custom.service, custom.to_page(body), system_id=_guid(str(chosen)) if chosen else None)
        return _reply(custom, custom.to_api(shape(ctx, custom.service, row)), context, 201)
    raise BcError(405, METHOD_NOT_ALLOWED, f"{request.method} is not allowed on a collection.")


def _entity(ctx: Context, custom: CustomSet, request: Request, row_id: str, context: str) -> Response:
    found = [row for row in page_rows(ctx, custom.service) if row.get("@systemId") == row_id]
    if not found:
        raise BcError(
            404, NOT_FOUND, f"The {custom.name} does not exist. Identification fields and values: Id='{row_id}'"
        )
    shown = found[0]
    if request.method == "GET":
        names = selected(request, custom.props, f"Microsoft.NAV.{custom.name}")
        return _reply(custom, custom.to_api(shown), context, 200, names)
    if request.method == "PATCH":
        updated = update(ctx, custom.service, shown, custom.to_page(json_body(request)), request.header("if-match"))
        return _reply(custom, custom.to_api(shape(ctx, custom.service, updated)), context, 200)
    if request.method == "DELETE":
        delete(ctx, custom.service, shown, request.header("if-match"))
        return Response.empty(204)
    raise BcError(405, METHOD_NOT_ALLOWED, f"{request.method} is not allowed on an entity.")
