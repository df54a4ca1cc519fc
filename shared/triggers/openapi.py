"""`GET /api/openapi.json`: an OpenAPI 3.1 document generated from the route registry of `http_support`.

Generated, not hand-written, so it cannot drift: a test compares it with the functions `function_app` registers.
"""

from __future__ import annotations

import re
from typing import Any

import azure.functions as func

from shared.triggers.health import VERSION
from shared.triggers.http_body import MAX_BODY_BYTES
from shared.triggers.http_support import (
    COMPANY,
    COMPANY_RULES,
    COMPANY_SCHEMA,
    ERROR_SCHEMA,
    ID_SCHEMA,
    ROUTES,
    RouteSpec,
    documented,
    handled,
    json_response,
    mapping_schema,
)

blueprint = func.Blueprint()  # type: ignore[no-untyped-call]
STATUS_TEXT = {
    200: "OK",
    201: "Created",
    204: "No content",
    400: "Bad input (the error names the field, or `body`)",
    401: "Missing or wrong function key",
    404: "Unknown record",
    409: "Dependency or conflict (also `invalidFilter`/`invalidOverride`: the mapping's stored overrides no longer "
    "validate; correct them with PATCH /api/mappings/{name} or reset them)",
    413: f"The body is larger than {MAX_BODY_BYTES} bytes",
    415: "The body is not JSON: send Content-Type application/json (charset utf-8 if given)",
    422: "The other system refused the request or the record's data (its message says why)",
    502: "The other system refused our credentials or configuration",
    503: "A downstream service is throttling or unavailable; retry after Retry-After",
}


def _path_schema(name: str) -> dict[str, Any]:
    """Mapping names are a closed set the document can list; every other path segment is an identifier."""
    return mapping_schema() if name in ("mapping", "name") else ID_SCHEMA


def _operation(spec: RouteSpec) -> dict[str, Any]:
    operation: dict[str, Any] = {"operationId": spec.function_name, "summary": spec.summary, "responses": {}}
    params = [
        {"name": name, "in": "path", "required": True, "schema": spec.path.get(name) or _path_schema(name)}
        for name in re.findall(r"{(\w+)}", spec.route)
    ]
    params += [
        {"name": name, "in": "query", "required": name in spec.required_query, "schema": schema}
        for name, schema in spec.query.items()
    ]
    if spec.company:  # which company's data (optional while one company is configured: `http_support.company_key`)
        params.append({"name": COMPANY, "in": "query", "required": False, "schema": COMPANY_SCHEMA})
    rules = (*spec.rules, *COMPANY_RULES) if spec.company else spec.rules
    if params:
        operation["parameters"] = params
    if spec.body is not None:
        operation["requestBody"] = {
            "required": bool(spec.body.get("required")),
            "content": {"application/json": {"schema": spec.body}},
        }
    if rules:
        operation["x-rule-codes"] = list(rules)
    body_statuses = {413, 415} if spec.body is not None else set()
    statuses = {*spec.responses, 400, 502, 503, *body_statuses} | ({401} if spec.auth == "function" else set())
    for status in sorted(statuses):
        response: dict[str, Any] = {"description": STATUS_TEXT.get(status, str(status))}
        if status == 400 and rules:
            response["description"] += "; input the schema allows can still break a rule: " + ", ".join(rules)
        if status not in (204, 401):  # Azure answers a missing or wrong key with an empty 401
            if status < 400:
                response["content"] = {media: {"schema": spec.response_schema} for media in spec.media_types}
            else:
                response["content"] = {"application/json": {"schema": ERROR_SCHEMA}}
        operation["responses"][str(status)] = response
    if spec.auth == "function":
        operation["security"] = [{"functionKey": []}]
    else:
        operation["security"] = []
    return operation


def document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for spec in ROUTES:
        paths.setdefault(f"/api/{spec.route}", {})[spec.method.lower()] = _operation(spec)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "bc-sales-sync",
            "version": VERSION,
            "description": "Business Central <-> Dynamics 365 Sales integration: couplings, Synchronize Now, "
            "mappings, record errors.",
        },
        "paths": dict(sorted(paths.items())),
        "components": {
            "securitySchemes": {"functionKey": {"type": "apiKey", "in": "header", "name": "x-functions-key"}}
        },
    }


documented(
    RouteSpec(
        "openapi_document", "openapi.json", "GET", "This document", auth="anonymous", responses=(200,), company=False
    )
)


@blueprint.route(route="openapi.json", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@handled
def openapi_document(req: func.HttpRequest) -> func.HttpResponse:
    return json_response(200, document())
