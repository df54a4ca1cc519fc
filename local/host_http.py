"""The local host's HTTP side: `/api/...` to the app's HTTP functions, with Azure's routing and key checks.

Why keys are enforced although `func start` ignores them locally: the API tests and the demo should fail here the
way a client without a key fails in Azure (401, empty body). FUNCTION and ADMIN routes (and `/admin/*`) need the
host key `LOCAL_FUNCTION_KEY`, sent as `x-functions-key` or `?code=`. An exception escaping a function is a 500; in
Azure its body is empty, here it carries the error and traceback as JSON (local only, to make failures readable).

Stdlib `ThreadingHTTPServer` with HTTP/1.1 keep-alive and TCP_NODELAY, as the emulators use (local/emulators/web.py).
"""

from __future__ import annotations

import hmac
import json
import logging
import socket
import traceback
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import azure.functions as func

from local.host_functions import HttpFunction
from local.host_routes import split_path

LOG = logging.getLogger("local.host")
KEY_HEADER = "x-functions-key"
HOP_BY_HOP = {"content-length", "transfer-encoding", "connection", "keep-alive"}


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
        origin = request.header("Origin")
        allowed = origin is not None and ("*" in self.cors_origins or origin in self.cors_origins)
        if allowed and request.method == "OPTIONS" and request.header("Access-Control-Request-Method"):
            response = Response(204)
            response.headers += [
                ("Access-Control-Allow-Methods", request.header("Access-Control-Request-Method") or ""),
                ("Access-Control-Allow-Headers", request.header("Access-Control-Request-Headers") or ""),
                ("Access-Control-Max-Age", "600"),
            ]
        else:
            response = self._dispatch(request)
        if allowed and origin is not None:
            wildcard = "*" in self.cors_origins and not self.cors_credentials
            response.headers += [("Access-Control-Allow-Origin", "*" if wildcard else origin), ("Vary", "Origin")]
            if self.cors_credentials:
                response.headers.append(("Access-Control-Allow-Credentials", "true"))
        return response

    def _dispatch(self, request: Request) -> Response:
        parts = split_path(request.path)
        if parts[:1] and parts[0].lower() == "admin":
            return self.admin(request, parts[1:]) if self.keys.allows(request) else Response(401)
        if [part.lower() for part in parts[: len(self.prefix)]] != [part.lower() for part in self.prefix]:
            return Response(404)
        rest, other_methods = parts[len(self.prefix) :], set[str]()
        for function in self.functions:
            values = function.route.match(rest)
            if values is None:
                continue
            if function.methods is not None and request.method not in function.methods:
                other_methods |= function.methods
                continue
            if function.auth_level != "anonymous" and not self.keys.allows(request):
                return Response(401)
            return self._invoke(function, request, values)
        if other_methods:
            LOG.info("404 for %s %s: the route allows only %s (as in Azure, not a 405)", request.method,
                     request.path, ",".join(sorted(other_methods)))  # fmt: skip
        return Response(404)

    def _invoke(self, function: HttpFunction, request: Request, values: dict[str, str]) -> Response:
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


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: LocalHostServer

    def setup(self) -> None:
        """TCP_NODELAY: headers and body are two writes; without it each response waits for a delayed ACK."""
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        LOG.debug(format, *args)

    def _handle(self) -> None:
        try:
            body = self._read_body()
        except ValueError:
            self._send(Response(400), close=True)
            return
        host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
        request = Request(self.command.upper(), self.path, list(self.headers.items()), body, f"http://{host}")
        try:
            response = self.server.router.handle(request)
        except Exception as error:  # a bug in the host itself: answer, log, keep serving
            LOG.exception("local host error on %s %s", self.command, self.path)
            response = failure("(host)", "-", error)
        self._send(response)

    def _read_body(self) -> bytes:
        if (self.headers.get("Transfer-Encoding") or "").lower() != "chunked":
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""
        chunks = []
        while size := int(self.rfile.readline(1024).split(b";")[0].strip() or b"0", 16):
            chunks.append(self.rfile.read(size))
            self.rfile.readline(1024)
        while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
            pass  # trailers
        return b"".join(chunks)

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
    daemon_threads = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], router: Router) -> None:
        super().__init__(address, _Handler)
        self.router = router
