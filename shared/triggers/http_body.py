"""The one request-body parser every HTTP operation goes through (`http_support.handled` calls it before the handler).

Why one: each handler used to call `json.loads` on whatever arrived, so a body nested 200,000 levels deep raised a
`RecursionError` (not a `ValueError`) and answered 500, and a `text/plain` POST was read as JSON and acted on. Here,
in this order and before any handler runs:

- an operation that documents no body takes none: a body is a 400 `bodyNotAllowed` (it would be silently ignored);
- at most `MAX_BODY_BYTES` (413 `payloadTooLarge`, the code the local host also answers above its own limit): the
  largest valid body (1,000 ids to retry) is about 100 KB;
- `Content-Type: application/json`, optionally with `charset=utf-8` and no other parameter, whenever a body or a
  Content-Type is sent (415 `unsupportedMediaType` naming `Content-Type`);
- UTF-8, nested at most `MAX_JSON_DEPTH` levels (counted before parsing, so parsing can never recurse deeply), and
  strict JSON (no NaN/Infinity, no lone surrogates): else 400 `invalidJson` naming `body`.
"""

from __future__ import annotations

import json
import re
from typing import Any
from weakref import WeakKeyDictionary

import azure.functions as func

from shared.domain.errors import InvalidInputError

MAX_BODY_BYTES = 256 * 1024
MAX_JSON_DEPTH = 32
JSON_MEDIA_TYPE = "application/json"
# A string is one token (its brackets do not count). An unclosed one, even ending in a lone backslash, runs to the
# end of the text: a match that starts never fails, so no position is scanned twice (linear on any input).
_TOKENS = re.compile(r'"(?:[^"\\]|\\.|\\\Z)*(?:"|\Z)|[\[\]{}]', re.DOTALL)
_OPENING = frozenset("[{")
_PARSED: WeakKeyDictionary[func.HttpRequest, Any] = WeakKeyDictionary()
NO_BODY: Any = object()
"""What `read_body` answers for an empty body (JSON `null` is a body, and not an object)."""


class RequestRefused(Exception):
    """A request refused before its handler, with a status other than 400 (413, 415); `http_support` answers it
    in the usual error envelope."""

    def __init__(self, status: int, code: str, message: str, field: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field


def _invalid(message: str) -> InvalidInputError:
    return InvalidInputError("invalidJson", message, field="body")


def check_media_type(value: str | None) -> None:
    """`application/json`, with at most a `charset` parameter that says UTF-8 (RFC 8259: JSON is UTF-8)."""
    shown = f"'{value[:100]}'" if value else "none"
    refused = RequestRefused(
        415,
        "unsupportedMediaType",
        f"The body must be JSON: Content-Type application/json (charset utf-8 if given), not {shown}.",
        "Content-Type",
    )
    if value is None:
        raise refused
    media_type, *parameters = (part.strip() for part in value.split(";"))
    if media_type.lower() != JSON_MEDIA_TYPE:
        raise refused
    for parameter in parameters:
        name, _, given = parameter.partition("=")
        if name.strip().lower() != "charset" or given.strip().strip('"').lower() != "utf-8":
            raise refused


def _depth_checked(text: str) -> None:
    """Refuse nesting deeper than MAX_JSON_DEPTH by counting brackets outside strings: linear, no recursion."""
    depth = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token in _OPENING:
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise _invalid(f"The body nests deeper than {MAX_JSON_DEPTH} levels (at character {match.start()}).")
        elif token in ("]", "}"):
            depth -= 1


def _no_constant(name: str) -> Any:
    raise _invalid(f"The body is not JSON: {name} is not a JSON value.")


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise _invalid(f"The body holds a number too large to represent ({text[:40]}).")
    return value


def parse_json(raw: bytes) -> Any:
    """Strict JSON from the body's bytes (see the module docstring)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _invalid(f"The body is not UTF-8 (byte {error.start}).") from None
    _depth_checked(text)
    try:
        body = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
        json.dumps(body, ensure_ascii=False).encode("utf-8")  # a lone surrogate (\\ud800) is no character
    except UnicodeEncodeError:
        raise _invalid("The body holds a lone surrogate escape (\\ud800-\\udfff), which is no character.") from None
    except (ValueError, RecursionError) as error:  # JSONDecodeError is a ValueError, and so is a 5,000-digit number
        position = f" (line {error.lineno}, column {error.colno})" if isinstance(error, json.JSONDecodeError) else ""
        raise _invalid(f"The body is not valid JSON{position}.") from None
    return body


def read_body(req: func.HttpRequest, *, takes_body: bool) -> Any:
    """Check and parse the body of `req` once (kept for `parsed_body`); `NO_BODY` when there is none."""
    raw = req.get_body() or b""
    if not takes_body:
        if raw:
            raise InvalidInputError("bodyNotAllowed", "This operation takes no body.", field="body")
        return NO_BODY
    if len(raw) > MAX_BODY_BYTES:
        message = f"The body is {len(raw)} bytes long; the limit is {MAX_BODY_BYTES}."
        raise RequestRefused(413, "payloadTooLarge", message, "body")
    content_type = req.headers.get("content-type")
    if raw or content_type is not None:
        check_media_type(content_type)
    body = parse_json(raw) if raw else NO_BODY
    _PARSED[req] = body
    return body


def parsed_body(req: func.HttpRequest) -> Any:
    """The body `read_body` parsed for this request (parsing it now when the request did not pass through it)."""
    if req in _PARSED:
        return _PARSED[req]
    return read_body(req, takes_body=True)
