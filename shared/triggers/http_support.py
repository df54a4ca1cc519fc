"""What every HTTP function shares: a route registry (the OpenAPI document is generated from it, and a test checks it
against the registered functions), input validation that names the field, and one mapping from errors to statuses.

Statuses: 400 bad input (`{"error": {"code", "message", "field"}}`), 404 unknown record, 409 dependency or conflict
(also a stored mapping override that no longer validates: the mapping cannot run until it is fixed or reset), 413 a
body over the limit, 415 a body that is not JSON, 422 the other system refused the request or the record's data, 503
with `Retry-After` when a downstream service is throttling or unavailable, 502 when it refused our credentials or
configuration. A 500 only ever means a bug in this app. Bodies are read by `http_body` (one parser for every route).

The company (issue 22): every operation about a company's data takes the query parameter `company` (its key, its
company name, or `environment/company`: `domain/companies.py`), optional when one company is configured, else 400
naming `company`; `company_key(req)` resolves it, and the route asks for that company's services.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import azure.functions as func

from shared.domain.errors import (
    ConcurrencyError,
    ConflictError,
    FatalError,
    InvalidInputError,
    NotFoundError,
    SyncError,
)
from shared.triggers.http_body import JSON_MEDIA_TYPE, NO_BODY, RequestRefused, parsed_body, read_body

log = logging.getLogger("bc_sales_sync.http")
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
JSON_TYPE = JSON_MEDIA_TYPE


@dataclass(frozen=True)
class RouteSpec:
    """One HTTP operation as documented in the OpenAPI document."""

    function_name: str
    route: str
    method: str
    summary: str
    auth: str = "function"
    body: dict[str, Any] | None = None  # JSON schema of the request body (None: the operation takes no body)
    query: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> schema
    required_query: tuple[str, ...] = ()  # the query parameters that must be given (the others are optional)
    responses: tuple[int, ...] = (200, 400)
    response_schema: dict[str, Any] = field(default_factory=lambda: {"type": "object"})
    # Media types of the success responses: JSON for the API; the console's page and assets are HTML, JS and CSS
    # (schema `{"type": "string"}`). Error responses are always the JSON error shape.
    media_types: tuple[str, ...] = (JSON_TYPE,)
    path: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> schema, for a closed set of values
    # 400 codes a request the schemas allow can still get: rules JSON Schema cannot state (one of two ids, a
    # direction the mapping allows, a filter the table takes). Documented (`x-rule-codes`), and the conformance
    # test holds the app to them: any other 400 for schema-valid input means the document and the code disagree.
    rules: tuple[str, ...] = ()
    company: bool = True  # the operation is about one company's data: it takes `company` (`company_key`)


ROUTES: list[RouteSpec] = []


def documented(spec: RouteSpec) -> RouteSpec:
    ROUTES.append(spec)
    return spec


def json_response(status: int, body: Any, headers: Mapping[str, str] | None = None) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps(body, default=str), status_code=status, mimetype=JSON_TYPE, headers=dict(headers or {})
    )


def error(
    status: int, code: str, message: str, field_name: str | None = None, headers: Mapping[str, str] | None = None
) -> func.HttpResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if field_name:
        body["field"] = field_name
    return json_response(status, {"error": body}, headers)


def map_error(exc: Exception) -> func.HttpResponse:
    """The one place an exception becomes a status."""
    from shared.mappings.overrides import InvalidOverride

    if isinstance(exc, RequestRefused):
        return error(exc.status, exc.code, exc.message, exc.field)
    if isinstance(exc, InvalidOverride):  # read back from storage: the mapping cannot run until fixed or reset
        name = exc.mapping or "{name}"
        message = (
            f"The stored overrides of {name} no longer validate ({exc}): correct them with PATCH /api/mappings/{name} "
            f"or reset them with POST /api/mappings/{name}/reset."
        )
        return error(409, exc.code, message, exc.field)
    if isinstance(exc, SyncError):
        field_name = exc.field
        if isinstance(exc, InvalidInputError):
            return error(400, exc.code, exc.message, field_name)
        if isinstance(exc, NotFoundError):
            return error(404, exc.code, exc.message, field_name)
        if isinstance(exc, ConflictError | ConcurrencyError):
            return error(409, exc.code, exc.message, field_name)
        if exc.is_transient:
            retry = getattr(exc, "retry_after", None)
            seconds = str(max(1, int(retry))) if isinstance(retry, int | float) else "5"
            return error(503, exc.code, exc.message, field_name, {"Retry-After": seconds})
        if isinstance(exc, FatalError) or exc.kind.value == "fatal":
            return error(502, exc.code, exc.message, field_name)
        return error(422, exc.code, exc.message, field_name)
    incident = str(uuid.uuid4())
    log.exception("unexpected error %s", incident)
    return error(500, "internalError", f"An unexpected error occurred (incident {incident}).")


def handled(
    handler: Callable[[func.HttpRequest], func.HttpResponse],
) -> Callable[[func.HttpRequest], func.HttpResponse]:
    """Wrap a function body: any exception is mapped to its status (never an unhandled 500 from the host), a query
    parameter the operation does not document is refused, so a typo (`?mappings=`) is not silently ignored, the
    body is checked and parsed by `http_body` before the handler runs (`json_object` then reads it), and an
    operation about a company's data refuses a missing or unknown `company` before it starts (`company_key`)."""

    def wrapper(req: func.HttpRequest) -> func.HttpResponse:
        try:
            spec = _spec(handler.__name__)
            _refuse_unknown_query(req, spec)
            read_body(req, takes_body=spec is None or spec.body is not None)
            if spec is not None and spec.company:
                company_key(req)  # 400 naming `company` before any work (the handler asks again for its services)
            return handler(req)
        except Exception as exc:  # the mapping decides what the caller sees
            return map_error(exc)

    wrapper.__name__ = handler.__name__
    wrapper.__doc__ = handler.__doc__
    return wrapper


# -- validation ------------------------------------------------------------------------------------------------
def _spec(function_name: str) -> RouteSpec | None:
    return next((s for s in ROUTES if s.function_name == function_name), None)


def _refuse_unknown_query(req: func.HttpRequest, spec: RouteSpec | None) -> None:
    """`code` is the function key when given in the query string; it is the host's, never the operation's."""
    if spec is None:
        return
    for name in req.params:
        if name != "code" and name not in spec.query and not (spec.company and name == COMPANY):
            raise InvalidInputError("unknownParameter", f"Unknown query parameter '{name[:100]}'.", field=name[:100])


COMPANY = "company"
COMPANY_RULES = ("companyRequired", "companyAmbiguous", "companyNotConfigured")  # `domain/companies.resolve`


def company_key(req: func.HttpRequest) -> str:
    """The storage key of the company the request names (`company`, see the module docstring): 400 naming `company`
    when it is missing while several companies are configured, unknown, or ambiguous."""
    from shared.bootstrap import companies
    from shared.domain.companies import resolve

    return resolve(companies(), req.params.get(COMPANY)).key


def json_object(
    req: func.HttpRequest, allowed: set[str], required: frozenset[str] | set[str] = frozenset()
) -> dict[str, Any]:
    """The body as a JSON object with only `allowed` fields and every `required` one (parsed by `http_body`)."""
    body = parsed_body(req)
    if body is NO_BODY:
        if required:
            raise InvalidInputError("bodyRequired", "A JSON object body is required.", field="body")
        return {}
    if not isinstance(body, dict):
        raise InvalidInputError("invalidJson", "The body must be a JSON object.", field="body")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise InvalidInputError("unknownField", f"Unknown field '{unknown[0][:100]}'.", field=unknown[0][:100])
    missing = sorted(name for name in required if body.get(name) in (None, ""))
    if missing:
        raise InvalidInputError("fieldRequired", f"'{missing[0]}' is required.", field=missing[0])
    return body


# What counts as blank, the same for the code and for the document's patterns (`NOT_BLANK`): ASCII spaces and
# controls \t \n \v \f \r only. Written out, not as `\s`, because regex engines disagree on `\s` (Python's includes
# \x1c-\x1f, ECMA-262's includes \ufeff), and the fuzzer once found a body the two sides judged differently.
BLANK = "\t\n\v\f\r "
NOT_BLANK = r"[^\x09-\x0d\x20]"
COMPANY_SCHEMA: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 250, "pattern": NOT_BLANK}


def text(value: Any, name: str, *, max_length: int = 200) -> str:
    """A string with at least one non-blank character, at most `max_length` long (blanks at either end dropped)."""
    if not isinstance(value, str) or not value.strip(BLANK) or len(value) > max_length:
        raise InvalidInputError(
            "invalidValue", f"'{name}' must be a non-empty string of at most {max_length} characters.", field=name
        )
    return value.strip(BLANK)


def guid(value: Any, name: str) -> str:
    """Exactly a hyphenated GUID (`GUID_SCHEMA`), in lower case."""
    if not isinstance(value, str) or not GUID.fullmatch(value):
        raise InvalidInputError("invalidGuid", f"'{name}' must be a GUID.", field=name)
    return value.lower()


def boolean(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInputError("invalidValue", f"'{name}' must be true or false.", field=name)
    return value


def id_list(
    value: Any, name: str, limit: int, item: Callable[[Any, str], str] = lambda v, n: text(v, n, max_length=100)
) -> list[str]:
    """A body's list of 1 to `limit` record ids, each checked by `item` (default: a text of at most 100 characters,
    as a GUID or a page key such as R0010 is); 400 naming `name` otherwise."""
    if not isinstance(value, list) or not 1 <= len(value) <= limit:
        raise InvalidInputError("invalidValue", f"'{name}' must be a list of 1 to {limit} ids.", field=name)
    return [item(entry, name) for entry in value]


def one_of(value: Any, name: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise InvalidInputError("invalidValue", f"'{name}' must be one of {', '.join(allowed)}.", field=name)
    return str(value)


def mapping_name(value: Any, field_name: str = "mapping") -> str:
    from shared.mappings import CATALOG

    if not isinstance(value, str) or value not in CATALOG:  # exactly a name the document's enum lists
        shown = text(value, field_name, max_length=50)
        raise InvalidInputError("unknownMapping", f"No mapping named '{shown}'.", field=field_name)
    return value


def mapping_schema() -> dict[str, Any]:
    from shared.mappings import CATALOG

    return {"type": "string", "enum": list(CATALOG)}


ID_SCHEMA: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 100, "pattern": NOT_BLANK}
GUID_SCHEMA: dict[str, Any] = {"type": "string", "pattern": GUID.pattern}
# A BC id is a GUID for API entities and a page key (`R0010`, `S00001|10000`) for page-sourced ones; which one
# depends on the mapping, which JSON Schema cannot relate to the id: a wrong kind of id is the rule `invalidId`.

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "field": {"type": "string"}},
        }
    },
}
