"""What every HTTP function shares: a route registry (the OpenAPI document is generated from it, and a test checks it
against the registered functions), input validation that names the field, and one mapping from errors to statuses.

Statuses: 400 bad input (`{"error": {"code", "message", "field"}}`), 404 unknown record, 409 dependency or conflict,
422 the other system refused the record's data, 503 with `Retry-After` when a downstream service is throttling or
unavailable, 502 when it refused our credentials or configuration. A 500 only ever means a bug in this app.
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

log = logging.getLogger("bc_sales_sync.http")
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
JSON_TYPE = "application/json"


@dataclass(frozen=True)
class RouteSpec:
    """One HTTP operation as documented in the OpenAPI document."""

    function_name: str
    route: str
    method: str
    summary: str
    auth: str = "function"
    body: dict[str, Any] | None = None  # JSON schema of the request body
    query: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> schema (all optional)
    responses: tuple[int, ...] = (200, 400)
    response_schema: dict[str, Any] = field(default_factory=lambda: {"type": "object"})
    # Media types of the success responses: JSON for the API; the console's page and assets are HTML, JS and CSS
    # (schema `{"type": "string"}`). Error responses are always the JSON error shape.
    media_types: tuple[str, ...] = (JSON_TYPE,)
    path: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> schema, for a closed set of values


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
    """Wrap a function body: any exception is mapped to its status (never an unhandled 500 from the host), and a
    query parameter the operation does not document is refused, so a typo (`?mappings=`) is not silently ignored."""

    def wrapper(req: func.HttpRequest) -> func.HttpResponse:
        try:
            _refuse_unknown_query(req, handler.__name__)
            return handler(req)
        except Exception as exc:  # the mapping decides what the caller sees
            return map_error(exc)

    wrapper.__name__ = handler.__name__
    wrapper.__doc__ = handler.__doc__
    return wrapper


# -- validation ------------------------------------------------------------------------------------------------
def _refuse_unknown_query(req: func.HttpRequest, function_name: str) -> None:
    """`code` is the function key when given in the query string; it is the host's, never the operation's."""
    spec = next((s for s in ROUTES if s.function_name == function_name), None)
    if spec is None:
        return
    for name in req.params:
        if name != "code" and name not in spec.query:
            raise InvalidInputError("unknownParameter", f"Unknown query parameter '{name[:100]}'.", field=name[:100])


def json_object(
    req: func.HttpRequest, allowed: set[str], required: frozenset[str] | set[str] = frozenset()
) -> dict[str, Any]:
    raw = req.get_body()
    if not raw:
        if required:
            raise InvalidInputError("bodyRequired", "A JSON object body is required.", field="body")
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise InvalidInputError("invalidJson", "The body is not valid JSON.", field="body") from None
    if not isinstance(body, dict):
        raise InvalidInputError("invalidJson", "The body must be a JSON object.", field="body")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise InvalidInputError("unknownField", f"Unknown field '{unknown[0]}'.", field=unknown[0])
    missing = sorted(name for name in required if body.get(name) in (None, ""))
    if missing:
        raise InvalidInputError("fieldRequired", f"'{missing[0]}' is required.", field=missing[0])
    return body


def text(value: Any, name: str, *, max_length: int = 200) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > max_length:
        raise InvalidInputError(
            "invalidValue", f"'{name}' must be a non-empty string of at most {max_length} characters.", field=name
        )
    return value.strip()


def guid(value: Any, name: str) -> str:
    if not isinstance(value, str) or not GUID.match(value.strip()):
        raise InvalidInputError("invalidGuid", f"'{name}' must be a GUID.", field=name)
    return value.strip().lower()


def boolean(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInputError("invalidValue", f"'{name}' must be true or false.", field=name)
    return value


def one_of(value: Any, name: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise InvalidInputError("invalidValue", f"'{name}' must be one of {', '.join(allowed)}.", field=name)
    return str(value)


def mapping_name(value: Any, field_name: str = "mapping") -> str:
    from shared.mappings import CATALOG

    name = text(value, field_name, max_length=50)
    if name not in CATALOG:
        raise InvalidInputError("unknownMapping", f"No mapping named '{name}'.", field=field_name)
    return name


def mapping_schema() -> dict[str, Any]:
    from shared.mappings import CATALOG

    return {"type": "string", "enum": list(CATALOG)}


ID_SCHEMA: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 100, "pattern": r"\S"}

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
