"""The local host's HTTP side: `/api/...` to the app's HTTP functions, with Azure's routing and key checks.

Why keys are enforced although `func start` ignores them locally: the API tests and the demo should fail here the
way a client without a key fails in Azure (401, empty body). FUNCTION and ADMIN routes (and `/admin/*`) need the
host key `LOCAL_FUNCTION_KEY`, sent as `x-functions-key` or `?code=`. An exception escaping a function is a 500; in
Azure its body is empty, here it carries the error and traceback as JSON (local only, to make failures readable).

Why the body is read last: the request line and headers decide everything the host itself answers (a broken
`Content-Length` or transfer coding 400/501, an unknown route 404, a missing key 401, a body over
`FUNCTIONS_REQUEST_BODY_SIZE_LIMIT` 413), so a client cannot make a thread wait for, or the host buffer, a body nobody
will use. When the host answers without reading an announced body it closes the connection (those bytes must never
be parsed as the next request), after a short lingering drain so the client still receives the answer. Chunked
bodies are read (Kestrel accepts them) with the same limit; other transfer codings are 501. Every error the host
writes itself, the stdlib's own included (`send_error`), is the app's JSON envelope `{"error": {"code", "message",
"field"?}}`; only the 401 stays empty, as in Azure and as the OpenAPI document says.

Stdlib `ThreadingHTTPServer` with HTTP/1.1 keep-alive and TCP_NODELAY, as the emulators use (local/emulators/web.py).
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import socket
import sys
import time
import traceback
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.message import Message
from functools import partial
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import azure.functions as func

from local.host.functions import HttpFunction
from local.host.routes import split_path
from local.host.settings import HostConfigurationError

LOG = logging.getLogger("local.host")
KEY_HEADER = "x-functions-key"
HOP_BY_HOP = {"content-length", "transfer-encoding", "connection", "keep-alive"}
BODY_LIMIT_SETTING = "FUNCTIONS_REQUEST_BODY_SIZE_LIMIT"
DEFAULT_BODY_LIMIT = 104_857_600  # Azure's default for that app setting: 100 MB
KEEP_ALIVE_SECONDS = 130.0  # Kestrel's KeepAliveTimeout: a silent connection frees its thread after this
LINE_LIMIT = 4096  # a chunk-size or trailer line longer than this is not a chunk header
TRAILER_LIMIT = 100  # trailer lines, as the stdlib caps header lines
LINGER_SECONDS, LINGER_BYTES = 1.0, 1 << 20  # what the host drains, at most, before closing a connection
TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110 token: the only valid method names
DIGITS = re.compile(r"[0-9]+")
HEX = re.compile(rb"[0-9A-Fa-f]+")
ERROR_CODES = {
    400: "badRequest",
    404: "notFound",
    405: "methodNotAllowed",
    408: "requestTimeout",
    411: "lengthRequired",
    413: "payloadTooLarge",
    414: "uriTooLong",
    431: "headersTooLarge",
    500: "internalError",
    501: "notImplemented",
    505: "httpVersionNotSupported",
}


def body_size_limit(setting: str | None) -> int:
    """`FUNCTIONS_REQUEST_BODY_SIZE_LIMIT` (bytes), as the Functions host reads it; unset or empty is Azure's 100 MB."""
    text = (setting or "").strip()
    if not text:
        return DEFAULT_BODY_LIMIT
    if not DIGITS.fullmatch(text) or len(text) > 18:
        raise HostConfigurationError(f"{BODY_LIMIT_SETTING} must be a number of bytes, not {setting!r}")
    return int(text)


@dataclass
class Request:
    method: str
    target: str  # path and query as sent
    headers: list[tuple[str, str]]
    body: bytes
    base_url: str

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, str]:
        """Repeated names are joined with commas, as the Functions host passes them to the worker."""
        merged: dict[str, str] = {}
        for name, value in parse_qsl(urlsplit(self.target).query, keep_blank_values=True):
            merged[name] = f"{merged[name]},{value}" if name in merged else value
        return merged

    def header(self, name: str) -> str | None:
        values = [value for key, value in self.headers if key.lower() == name.lower()]
        return ", ".join(values) if values else None

    def header_map(self) -> dict[str, str]:
        merged: dict[str, str] = {}
        for name, value in self.headers:
            merged[name] = f"{merged[name]}, {value}" if name in merged else value
        return merged

    def json(self) -> Any:
        return json.loads(self.body) if self.body.strip() else {}


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def json(cls, status: int, payload: Any) -> Response:
        body = json.dumps(payload, indent=1, default=str).encode("utf-8")
        return cls(status, body, [("Content-Type", "application/json; charset=utf-8")])

    @classmethod
    def error(cls, status: int, code: str, message: str, field_name: str | None = None) -> Response:
        """The app's error envelope (shared/triggers/http_support.py), for the answers the host gives itself."""
        error: dict[str, str] = {"code": code, "message": message}
        if field_name:
            error["field"] = field_name
        return cls.json(status, {"error": error})


class HostError(Exception):
    """An answer the host gives before the app runs (framing, size), raised where it is found."""

    def __init__(self, status: int, code: str, message: str, field_name: str | None = None) -> None:
        super().__init__(message)
        self.response = Response.error(status, code, message, field_name)


def too_large(limit: int, field_name: str) -> HostError:
    return HostError(
        413, "payloadTooLarge", f"The request body is larger than {limit} bytes ({BODY_LIMIT_SETTING}).", field_name
    )


def invalid_chunk(message: str) -> HostError:
    return HostError(400, "invalidChunk", message, "Transfer-Encoding")


@dataclass(frozen=True)
class Framing:
    """How the request body is delimited, from the headers alone (RFC 9112 section 6)."""

    length: int = 0  # Content-Length; 0 without one
    chunked: bool = False

    @property
    def announces_body(self) -> bool:
        return self.chunked or self.length > 0


def framing_of(headers: Message, version: str) -> Framing:
    """Refuse what cannot be delimited safely: a Content-Length that is not one number (a negative one made the old
    host read until the client hung up), both headers at once (the request-smuggling shape), `chunked` that is not
    the last coding or is sent over HTTP/1.0 (400); a transfer coding the host does not decode is 501."""
    codings = [c.strip().lower() for v in headers.get_all("Transfer-Encoding") or [] for c in v.split(",") if c.strip()]
    lengths = [part.strip() for value in headers.get_all("Content-Length") or [] for part in value.split(",")]
    if codings:
        if lengths:
            message = "Give Transfer-Encoding or Content-Length, not both."
            raise HostError(400, "ambiguousFraming", message, "Transfer-Encoding")
        if "chunked" in codings[:-1] or (codings[-1] == "chunked" and version < "HTTP/1.1"):
            message = "chunked must be the last transfer coding, and needs HTTP/1.1."
            raise HostError(400, "invalidTransferEncoding", message, "Transfer-Encoding")
        if codings != ["chunked"]:
            message = f"Only the chunked transfer coding is supported, not {', '.join(codings)!r}."
            raise HostError(501, "unsupportedTransferEncoding", message, "Transfer-Encoding")
        return Framing(chunked=True)
    if not lengths:
        return Framing()
    numbers = {text.lstrip("0") or "0" for text in lengths if DIGITS.fullmatch(text)}
    if len(numbers) != 1 or len(lengths) != sum(1 for text in lengths if DIGITS.fullmatch(text)):
        message = f"Content-Length must be one non-negative number of bytes, not {', '.join(lengths)!r}."
        raise HostError(400, "invalidContentLength", message[:300], "Content-Length")
    text = numbers.pop()
    return Framing(length=int(text) if len(text) <= 18 else 10**18)  # beyond any limit; int() of 5,000 digits fails


def from_function_result(result: Any) -> Response:
    """What the Python worker makes of a return value: an HttpResponse as is, a str as a 200 text body."""
    if isinstance(result, str):
        return Response(200, result.encode("utf-8"), [("Content-Type", "text/plain; charset=utf-8")])
    if not isinstance(result, func.HttpResponse):
        raise TypeError(f"an HTTP function must return func.HttpResponse or str, not {type(result).__name__}")
    headers = [(name, value) for name, value in result.headers.items() if name.lower() not in HOP_BY_HOP]
    if not any(name.lower() == "content-type" for name, _ in headers):
        text = result.mimetype.startswith("text/")
        headers.append(("Content-Type", f"{result.mimetype}; charset={result.charset}" if text else result.mimetype))
    return Response(result.status_code, result.get_body() or b"", headers)


def failure(name: str, invocation_id: str, error: BaseException) -> Response:
    return Response.json(
        500,
        {"error": {"code": "FunctionInvocationFailed", "function": name, "invocationId": invocation_id,
                   "message": f"{type(error).__name__}: {error}", "traceback": traceback.format_exception(error)}},
    )  # fmt: skip


class KeyCheck:
    def __init__(self, key: str) -> None:
        self._key = key.encode("utf-8")

    def allows(self, request: Request) -> bool:
        provided = request.header(KEY_HEADER) or request.query.get("code") or ""
        return hmac.compare_digest(provided.encode("utf-8"), self._key)


@dataclass(frozen=True)
class Routed:
    """What the request line and headers decided, before any body byte is read. `respond` takes the request with
    its body; the body is read only when `needs_body` (a function or the admin API will run), otherwise the answer is
    already known (404, 401, a CORS preflight) and no body byte is worth waiting for."""

    respond: Callable[[Request], Response]
    needs_body: bool


class Router:
    """Dispatches one request: CORS preflight, `/admin/*` (key required), then the app's routes under the prefix."""

    def __init__(
        self,
        functions: Sequence[HttpFunction],
        keys: KeyCheck,
        admin: Callable[[Request, list[str]], Response],
        route_prefix: str = "api",
        cors_origins: Sequence[str] = (),
        cors_credentials: bool = False,
    ) -> None:
        # Most specific first, so `couplings/{m}/match` is tried before `couplings/{m}/{id}` (ASP.NET precedence).
        self.functions = sorted(functions, key=lambda f: f.route.precedence)
        self.keys, self.admin = keys, admin
        self.prefix = split_path(route_prefix)
        self.cors_origins, self.cors_credentials = tuple(cors_origins), cors_credentials

    def handle(self, request: Request) -> Response:
        """Route and answer a request whose body is already known (an in-process caller)."""
        return self.route(request).respond(request)

    def route(self, request: Request) -> Routed:
        origin = request.header("Origin")
        allowed = origin is not None and ("*" in self.cors_origins or origin in self.cors_origins)
        if allowed and request.method == "OPTIONS" and request.header("Access-Control-Request-Method"):
            preflight = Response(204)
            preflight.headers += [
                ("Access-Control-Allow-Methods", request.header("Access-Control-Request-Method") or ""),
                ("Access-Control-Allow-Headers", request.header("Access-Control-Request-Headers") or ""),
                ("Access-Control-Max-Age", "600"),
            ]
            target: Response | Callable[[Request], Response] = preflight
        else:
            target = self._dispatch(request)
        if isinstance(target, Response):
            known = target
            return Routed(lambda r: self._with_cors(r, known), needs_body=False)
        run = target
        return Routed(lambda r: self._with_cors(r, run(r)), needs_body=True)

    def _with_cors(self, request: Request, response: Response) -> Response:
        origin = request.header("Origin")
        allowed = origin is not None and ("*" in self.cors_origins or origin in self.cors_origins)
        if allowed and origin is not None:
            wildcard = "*" in self.cors_origins and not self.cors_credentials
            response.headers += [("Access-Control-Allow-Origin", "*" if wildcard else origin), ("Vary", "Origin")]
            if self.cors_credentials:
                response.headers.append(("Access-Control-Allow-Credentials", "true"))
        return response

    def _dispatch(self, request: Request) -> Response | Callable[[Request], Response]:
        parts = split_path(request.path)
        if parts[:1] and parts[0].lower() == "admin":
            if not self.keys.allows(request):
                return Response(401)
            return lambda r: admin_error_as_envelope(self.admin(r, parts[1:]))
        if [part.lower() for part in parts[: len(self.prefix)]] != [part.lower() for part in self.prefix]:
            return not_found(request)
        rest, other_methods = parts[len(self.prefix) :], set[str]()
        for function in self.functions:
            values = function.route.match(rest)
            if values is None:
                continue
            if function.methods is not None and request.method not in function.methods:
                other_methods |= function.methods
                continue
            if function.auth_level != "anonymous" and not self.keys.allows(request):
                return Response(401)  # empty, as Azure answers it (and the OpenAPI document says)
            return partial(self._invoke, function, values)
        if other_methods:
            LOG.info("404 for %s %s: the route allows only %s (as in Azure, not a 405)", request.method,
                     request.path, ",".join(sorted(other_methods)))  # fmt: skip
            return not_found(request, other_methods)
        return not_found(request)

    def _invoke(self, function: HttpFunction, values: dict[str, str], request: Request) -> Response:
        http_request = func.HttpRequest(
            request.method,
            request.base_url + request.target,
            headers=request.header_map(),
            params=request.query,
            route_params=values,
            body=request.body,
        )
        invocation_id = str(uuid.uuid4())
        try:
            result = function.invoker.invoke(http_request, f"HTTP {request.method} {request.path}", invocation_id)
        except Exception as error:  # the app's bug must not take the host down; the invoker logged it
            return failure(function.name, invocation_id, error)
        try:
            return from_function_result(result)
        except TypeError as error:
            LOG.error("'Functions.%s': %s", function.name, error)
            return failure(function.name, invocation_id, error)


def not_found(request: Request, other_methods: set[str] | None = None) -> Response:
    """Azure answers an unknown route, and a route's undeclared method, with 404 (not 405): kept, but as JSON."""
    message = f"No function answers {request.method} {request.path[:200]}"
    if other_methods:
        message += f"; the route allows only {', '.join(sorted(other_methods))}"
    return Response.error(404, "notFound", message + ".")


def admin_error_as_envelope(response: Response) -> Response:
    """The admin API's own errors (an empty 404, `{"error": "text"}`) in the envelope every other error has, without
    changing host_admin.py's handlers."""
    if response.status < 400 or response.status == 401:
        return response
    code = ERROR_CODES.get(response.status, "error")
    if not response.body:
        return Response.error(response.status, code, HTTPStatus(response.status).phrase + ".")
    try:
        payload = json.loads(response.body)
    except ValueError:
        return response
    if isinstance(payload, dict) and set(payload) == {"error"} and isinstance(payload["error"], str):
        return Response.error(response.status, code, payload["error"])
    return response  # already an envelope, or a record worth keeping (a failed timer run's invocation)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = KEEP_ALIVE_SECONDS  # also bounds a client that stops sending mid-headers or mid-body
    server: LocalHostServer
    expects_continue = False

    def setup(self) -> None:
        """TCP_NODELAY: headers and body are two writes; without it each response waits for a delayed ACK."""
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        LOG.debug(format, *args)

    def parse_request(self) -> bool:
        self.expects_continue = False
        return super().parse_request()

    def handle_expect_100(self) -> bool:
        """Deferred: `100 Continue` is sent only once the route and the key allow the body (`_read_body`), so a client
        that waits for it is refused at once instead of uploading first."""
        self.expects_continue = True
        return True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The stdlib's own refusals (malformed request line, HTTP/2.0, a too long line, too many headers) as the
        JSON envelope instead of its HTML page, always with a status line (the stdlib writes none for a request it
        took for HTTP/0.9), and the connection closed: the stream cannot be trusted any more."""
        if self.request_version in ("", "HTTP/0.9"):
            self.request_version = self.protocol_version
        text = message or HTTPStatus(code).phrase
        if explain and explain not in text:
            text = f"{text}: {explain}"
        self._send(Response.error(code, ERROR_CODES.get(code, "badRequest"), text[:300]), close=True)

    def _handle(self) -> None:
        if self.request_version == "HTTP/0.9":
            self.send_error(400, "HTTP/0.9 requests are not supported: give HTTP/1.1")
            return
        if not TOKEN.fullmatch(self.command):
            self.send_error(400, f"{self.command[:50]!r} is not an HTTP method")
            return
        try:
            framing = framing_of(self.headers, self.request_version)
        except HostError as error:
            self._send(error.response, close=True)
            return
        host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
        request = Request(self.command.upper(), self.path, list(self.headers.items()), b"", f"http://{host}")
        try:
            routed = self.server.router.route(request)
        except Exception as error:  # a bug in the host itself: answer, log, keep serving
            LOG.exception("local host error on %s %s", self.command, self.path)
            self._send(failure("(host)", "-", error), close=framing.announces_body)
            return
        if routed.needs_body and framing.announces_body:
            try:
                request.body = self._read_body(framing)
            except HostError as error:
                self._send(error.response, close=True)
                return
        try:
            response = routed.respond(request)
        except Exception as error:
            LOG.exception("local host error on %s %s", self.command, self.path)
            response = failure("(host)", "-", error)
        self._send(response, close=framing.announces_body and not routed.needs_body)

    def _read_body(self, framing: Framing) -> bytes:
        limit = self.server.max_body_bytes
        if framing.length > limit:
            raise too_large(limit, "Content-Length")
        if self.expects_continue:
            self.send_response_only(HTTPStatus.CONTINUE)
            self.end_headers()
        if framing.chunked:
            return self._read_chunked(limit)
        body = self.rfile.read(framing.length)
        if len(body) < framing.length:
            message = f"The connection ended after {len(body)} of {framing.length} body bytes."
            raise HostError(400, "incompleteBody", message, "Content-Length")
        return body

    def _read_chunked(self, limit: int) -> bytes:
        chunks, total = [], 0
        while size := self._chunk_size():
            total += size
            if total > limit:
                raise too_large(limit, "Transfer-Encoding")
            data = self.rfile.read(size)
            if len(data) < size:
                raise invalid_chunk("The connection ended inside a chunk.")
            chunks.append(data)
            if self.rfile.readline(LINE_LIMIT) not in (b"\r\n", b"\n"):
                raise invalid_chunk("A chunk must end with CRLF right after its size in bytes.")
        for _ in range(TRAILER_LIMIT):
            line = self.rfile.readline(LINE_LIMIT + 1)
            if line in (b"\r\n", b"\n"):
                return b"".join(chunks)
            if not line.endswith(b"\n"):
                raise invalid_chunk("A trailer line is too long, or the connection ended in the trailers.")
        raise invalid_chunk(f"More than {TRAILER_LIMIT} trailer lines.")

    def _chunk_size(self) -> int:
        line = self.rfile.readline(LINE_LIMIT + 1)
        if not line.endswith(b"\n"):
            raise invalid_chunk(f"A chunk size line must end with CRLF within {LINE_LIMIT} bytes.")
        text = line.split(b";", 1)[0].strip()  # chunk extensions are allowed and ignored
        if not HEX.fullmatch(text):
            raise invalid_chunk(f"{text[:40]!r} is not a hexadecimal chunk size.")
        if len(text.lstrip(b"0")) > 16:
            raise too_large(self.server.max_body_bytes, "Transfer-Encoding")
        return int(text, 16)

    def _send(self, response: Response, close: bool = False) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

    def __getattr__(self, name: str) -> Any:
        """Every other method (TRACE, QUERY, ...) reaches the router too and gets Azure's 404 for an undeclared
        method, never the stdlib's 501 page (the stdlib looks a `do_<METHOD>` attribute up for each request)."""
        if name.startswith("do_"):
            return self._handle
        raise AttributeError(name)


class LocalHostServer(ThreadingHTTPServer):
    """`allow_reuse_address` (SO_REUSEADDR, inherited from `HTTPServer`, stated here because a restart depends on
    it): the port binds again at once after a stop, whatever connections linger in TIME_WAIT."""

    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], router: Router, max_body_bytes: int = DEFAULT_BODY_LIMIT) -> None:
        super().__init__(address, _Handler)
        self.router = router
        self.max_body_bytes = max_body_bytes

    def shutdown_request(self, request: Any) -> None:
        """Lingering close: end our side, then read and drop what the client still sends (bounded in time and bytes)
        before closing. Closing with unread input makes the kernel send a reset, which can destroy the answer the
        client has not read yet, exactly when the host refused a body it did not read (401, 404, 413)."""
        try:
            request.shutdown(socket.SHUT_WR)
            request.settimeout(LINGER_SECONDS)
            deadline, drained = time.monotonic() + LINGER_SECONDS, 0
            while drained < LINGER_BYTES and time.monotonic() < deadline:
                data = request.recv(65536)
                if not data:
                    break
                drained += len(data)
        except OSError:
            pass
        self.close_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up or goes silent is routine, not a traceback on the console."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | TimeoutError):
            LOG.debug("connection from %s ended: %s", client_address, error)
        else:
            LOG.exception("local host: error on a connection from %s", client_address)
