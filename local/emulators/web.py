"""A tiny threaded HTTP/1.1 server shared by the emulators.

Why stdlib and not a framework: the emulators are test infrastructure that must start in a blink on a machine
with nothing but Python, keep connections alive (the real services do, and the connectors' pooling is part of what
the tests prove), and let us control every byte of a response (OData errors, multipart batches, dropped
connections). `ThreadingHTTPServer` with HTTP/1.1 does all of that in a few lines.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit


class CaseInsensitiveHeaders(dict[str, str]):
    """Request headers keyed by lower-case name (HTTP header names are case-insensitive)."""

    @classmethod
    def of(cls, items: Mapping[str, str] | list[tuple[str, str]]) -> CaseInsensitiveHeaders:
        pairs = items.items() if isinstance(items, Mapping) else items
        return cls((k.lower(), v) for k, v in pairs)

    def get_header(self, name: str) -> str | None:
        return self.get(name.lower())


@dataclass
class Request:
    """One parsed HTTP request (also used for the inner requests of a `$batch`)."""

    method: str
    path: str
    query: dict[str, str]
    headers: CaseInsensitiveHeaders
    body: bytes = b""
    base_url: str = ""
    context: dict[str, Any] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        return self.headers.get_header(name)

    def prefers(self) -> dict[str, str]:
        """Parse `Prefer` into {name: value}; `odata.maxpagesize=10, return=representation` style."""
        result: dict[str, str] = {}
        for raw in (self.header("prefer") or "").split(","):
            item = raw.strip()
            if not item:
                continue
            name, _, value = item.partition("=")
            result[name.strip().lower()] = value.strip().strip('"')
        return result

    @classmethod
    def from_target(
        cls, method: str, target: str, headers: CaseInsensitiveHeaders, body: bytes, base_url: str
    ) -> Request:
        """Build from a request target (`/path?query`) or an absolute URL (as `$batch` parts may carry)."""
        parts = urlsplit(target)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        return cls(method.upper(), unquote(parts.path), query, headers, body, base_url)


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    drop_connection: bool = False

    @classmethod
    def json(cls, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Response:
        merged = {"Content-Type": "application/json; odata.metadata=minimal; charset=utf-8", "OData-Version": "4.0"}
        merged.update(headers or {})
        return cls(status, json.dumps(payload, separators=(",", ":")).encode(), merged)

    @classmethod
    def empty(cls, status: int = 204, headers: Mapping[str, str] | None = None) -> Response:
        merged = {"OData-Version": "4.0"}
        merged.update(headers or {})
        return cls(status, b"", merged)

    def json_body(self) -> Any:
        return json.loads(self.body) if self.body else None


class HttpError(Exception):
    """Raised anywhere in a handler to answer with a ready-made error response."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


Handler = Callable[[Request], Response]
MAX_BODY = 64 * 1024 * 1024  # far above any request the app or a test sends; a larger one is refused unread


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: EmulatorHTTPServer

    def setup(self) -> None:
        """TCP_NODELAY: headers and body go out as two writes, and without it every response with a body waits for
        the client's delayed ACK (~40 ms on loopback), which would distort every latency the benchmarks measure."""
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    def _body_length(self) -> int | None:
        """The announced body length, or None after answering a framing the services' front ends refuse: a
        Content-Length that is not one non-negative number is 400, one over MAX_BODY 413, both without reading a
        byte (`rfile.read(-1)` would wait for the client to close: a thread hung per request)."""
        text = (self.headers.get("Content-Length") or "0").strip()
        status = 400 if not text.isdigit() else 413 if int(text) > MAX_BODY else 0
        if status == 0:
            return int(text)
        code, message = (
            ("BadRequest", "Invalid Content-Length.")
            if status == 400
            else ("RequestEntityTooLarge", f"The request body is larger than {MAX_BODY} bytes.")
        )
        self._write(Response.json(status, {"error": {"code": code, "message": message}}, {"Connection": "close"}))
        self.close_connection = True
        return None

    def _handle(self) -> None:
        length = self._body_length()
        if length is None:
            return
        body = self.rfile.read(length) if length else b""
        address = self.server.server_address
        host = self.headers.get("Host") or f"{address[0]!s}:{address[1]}"
        headers = CaseInsensitiveHeaders.of(list(self.headers.items()))
        request = Request.from_target(self.command, self.path, headers, body, f"http://{host}")
        try:
            response = self.server.handler(request)
        except HttpError as error:
            response = error.response
        except Exception as error:  # a bug in an emulator must still answer, and say what broke
            self.server.errors.append(repr(error))
            response = Response.json(500, {"error": {"code": "EmulatorBug", "message": repr(error)}})
        if response.drop_connection:
            self.close_connection = True
            self.connection.close()
            return
        self._write(response)

    def _write(self, response: Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = _handle


class EmulatorHTTPServer(ThreadingHTTPServer):
    """Threaded server whose every request goes to one `handler` callable.

    `allow_reuse_address` (SO_REUSEADDR) is `HTTPServer`'s default, stated here because a restart on the same port
    depends on it: the port binds again at once, whatever connections of the last run linger in TIME_WAIT."""

    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: Handler, *, verbose: bool = False) -> None:
        super().__init__(address, _RequestHandler)
        self.handler = handler
        self.verbose = verbose
        self.errors: list[str] = []


def serve_in_thread(server: EmulatorHTTPServer) -> threading.Thread:
    """Run a server on a daemon thread (used by in-process tests and benchmarks)."""
    thread = threading.Thread(target=server.serve_forever, name=f"emulator-{server.server_address[1]}", daemon=True)
    thread.start()
    return thread
