"""The local Functions host's HTTP side against hostile framing, over a raw socket (issue 18, part 4).

Why raw sockets: a client library would refuse to send most of these requests (a negative `Content-Length`, headers
without the body they announce), and would hide a hang behind its own retries. Every exchange here has a socket
timeout, so a host that waits for a body it should not read fails the test instead of hanging it.

What is asserted: the host routes and checks the key from the request line and headers alone (a 401 or 404 comes
without a body byte being sent), refuses broken framing with 400, an oversized body with 413 without reading it, and
answers every error of its own with the app's JSON envelope `{"error": {"code", "message", ...}}`, never the stdlib's
HTML page. A 401 keeps Azure's empty body, as the OpenAPI document says (shared/triggers/openapi.py).
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from local.stack.processes import ChildProcess, free_port, start_python_module

pytestmark = pytest.mark.integration

KEY = "hardening-key"
APP = "tests.local.host_test_app"
LIMIT = 4096  # FUNCTIONS_REQUEST_BODY_SIZE_LIMIT for this host, so the limit is testable without big uploads
VALUES = {
    "LOCAL_FUNCTION_KEY": KEY,
    "TEST_SCHEDULE": "0 0 0 1 1 *",
    "TEST_QUEUE": "hardening-jobs",
    "FUNCTIONS_REQUEST_BODY_SIZE_LIMIT": str(LIMIT),
}
CLEAN_ENV = {name: "" for name in [*VALUES, "ServiceBusConnection", "ServiceBusConnection__fullyQualifiedNamespace"]}
ANSWER_TIMEOUT = 10.0  # generous: a correct host answers in milliseconds; only a hang reaches it


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    closed: bool  # the host closed the connection after this answer

    def error(self) -> dict[str, Any]:
        """The JSON error envelope, checked for shape and media type."""
        assert self.headers.get("content-type", "").startswith("application/json"), (self.status, self.headers)
        payload = json.loads(self.body)
        assert isinstance(payload, dict) and set(payload) == {"error"}, payload
        error: dict[str, Any] = payload["error"]
        assert isinstance(error.get("code"), str) and error["code"], error
        assert isinstance(error.get("message"), str) and error["message"], error
        return error


def _read_answer(sock: socket.socket, buffer: bytearray) -> Answer:
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"the host closed the connection without an answer; got {bytes(buffer)!r}")
        buffer += chunk
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("iso-8859-1").split("\r\n")
    version, status, *_ = status_line.split(" ")
    assert version.startswith("HTTP/1."), status_line
    headers: dict[str, str] = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    body = bytearray(rest)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    buffer[:] = body[length:]
    return Answer(int(status), headers, bytes(body[:length]), closed=False)


def exchange(port: int, data: bytes, *, expect_continue: bool = False, then: bytes = b"") -> Answer:
    """Send `data` (maybe only headers), read one answer; `then` is sent after a `100 Continue`, if one comes.

    `closed`: the answer says `Connection: close` and the host then really ends the connection (it must, when it
    did not read a body it was announced, or the body's bytes would be parsed as the next request)."""
    with socket.create_connection(("127.0.0.1", port), timeout=ANSWER_TIMEOUT) as sock:
        sock.sendall(data)
        buffer = bytearray()
        try:
            answer = _read_answer(sock, buffer)
            if expect_continue and answer.status == 100:
                sock.sendall(then)
                answer = _read_answer(sock, buffer)
        except TimeoutError:
            raise AssertionError(f"no answer within {ANSWER_TIMEOUT}s: the host waits for something") from None
        if answer.headers.get("connection", "").lower() == "close":
            try:
                ended = not buffer and sock.recv(1) == b""
            except ConnectionResetError:
                ended = True
            except TimeoutError:
                ended = False
            assert ended, "the answer says Connection: close, yet the host kept the connection open"
            answer.closed = True
        return answer


def request(method: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@pytest.fixture(scope="module")
def port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    folder = tmp_path_factory.mktemp("hardening")
    settings = Path(folder) / "local.settings.json"
    settings.write_text(json.dumps({"IsEncrypted": False, "Values": VALUES}), encoding="utf-8")
    number = free_port()
    args = ["--app", APP, "--settings", str(settings), "--no-broker"]
    child: ChildProcess = start_python_module("hardening-host", "local.host", port=number, args=args, env=CLEAN_ENV)
    try:
        yield number
    finally:
        child.stop()
    assert child.process.returncode == 0


# -- Content-Length ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["-1", "abc", "1e3", " 12x", "0x10", "5, 6"])
def test_a_broken_content_length_is_a_prompt_json_400(port: int, value: str) -> None:
    answer = exchange(port, request("POST", "/api/echo", {"x-functions-key": KEY, "Content-Length": value}))
    assert answer.status == 400 and answer.closed
    error = answer.error()
    assert error["code"] == "invalidContentLength" and error["field"] == "Content-Length"


def test_a_negative_content_length_is_refused_before_routing(port: int) -> None:
    """The message cannot be delimited, so neither the route nor the key can make it readable."""
    answer = exchange(port, request("POST", "/api/nowhere", {"Content-Length": "-1"}))
    assert answer.status == 400 and answer.error()["code"] == "invalidContentLength"


@pytest.mark.parametrize("length", [LIMIT + 1, 10**12, 10**40])
def test_a_body_over_the_limit_is_413_without_being_read(port: int, length: int) -> None:
    """Only the headers are sent: an answer at all proves the host did not wait for the body."""
    answer = exchange(port, request("POST", "/api/echo", {"x-functions-key": KEY, "Content-Length": str(length)}))
    assert answer.status == 413 and answer.closed
    error = answer.error()
    assert error["code"] == "payloadTooLarge" and error["field"] == "Content-Length" and str(LIMIT) in error["message"]


def test_the_limit_is_exact_a_body_at_it_is_read_and_one_byte_more_is_413(port: int) -> None:
    body = json.dumps({"text": "x" * (LIMIT - 20)}).encode()
    body += b" " * (LIMIT - len(body))
    headers = {"x-functions-key": KEY, "Content-Length": str(len(body)), "Content-Type": "application/json"}
    answer = exchange(port, request("POST", "/api/echo", headers, body))
    assert answer.status == 201 and json.loads(answer.body)["json"]["text"] == "x" * (LIMIT - 20)
    assert not answer.closed  # keep-alive survives a request whose body was read
    over = exchange(port, request("POST", "/api/echo", {**headers, "Content-Length": str(LIMIT + 1)}))
    assert over.status == 413 and over.closed and over.error()["code"] == "payloadTooLarge"


# -- route and key before the body ---------------------------------------------------------------------------------
def test_a_missing_key_is_401_before_the_body_is_read(port: int) -> None:
    answer = exchange(
        port, request("POST", "/api/echo", {"Content-Length": "1000", "Content-Type": "application/json"})
    )
    assert (answer.status, answer.body) == (401, b"")  # Azure's empty 401, as documented in the OpenAPI document
    assert answer.closed  # the unread body must never be parsed as the next request


def test_an_unknown_route_is_a_json_404_before_the_body_is_read(port: int) -> None:
    answer = exchange(port, request("PUT", "/api/nothing-here", {"Content-Length": "1000"}))
    assert answer.status == 404 and answer.closed and answer.error()["code"] == "notFound"


def test_expect_continue_is_answered_only_after_routing_and_the_key(port: int) -> None:
    body = b'{"a": 1}'
    headers = {"Content-Length": str(len(body)), "Content-Type": "application/json", "Expect": "100-continue"}
    refused = exchange(port, request("POST", "/api/echo", headers), expect_continue=True, then=body)
    assert refused.status == 401 and refused.closed  # final answer at once, no 100 Continue for a keyless client
    accepted = exchange(
        port, request("POST", "/api/echo", {**headers, "x-functions-key": KEY}), expect_continue=True, then=body
    )
    assert accepted.status == 201 and json.loads(accepted.body)["json"] == {"a": 1}


# -- chunked bodies ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("size_line", "status"), [(b"-1", 400), (b"zz", 400), (b"", 400), (b"1 2", 400), (b"1" * 40, 413)]
)
def test_a_broken_or_absurd_chunk_size_is_a_json_error(port: int, size_line: bytes, status: int) -> None:
    headers = {"x-functions-key": KEY, "Transfer-Encoding": "chunked"}
    answer = exchange(port, request("POST", "/api/echo", headers, size_line + b"\r\nabc\r\n0\r\n\r\n"))
    assert answer.status == status and answer.closed
    assert answer.error()["code"] == ("invalidChunk" if status == 400 else "payloadTooLarge")


def test_a_chunked_body_is_read_within_the_limit_and_refused_413_as_soon_as_it_exceeds_it(port: int) -> None:
    headers = {"x-functions-key": KEY, "Transfer-Encoding": "chunked", "Content-Type": "application/json"}
    body = b'4\r\n{"a"\r\n4;ext=1\r\n: 2}\r\n0\r\nX-Trailer: 1\r\n\r\n'  # an extension and a trailer
    answer = exchange(port, request("POST", "/api/echo", headers, body))
    assert answer.status == 201 and json.loads(answer.body)["json"] == {"a": 2} and not answer.closed
    first = f"{LIMIT:x}\r\n".encode() + b"x" * LIMIT + b"\r\n"
    answer = exchange(port, request("POST", "/api/echo", headers, first + b"1\r\n"))  # the extra chunk: no data sent
    assert answer.status == 413 and answer.closed and answer.error()["code"] == "payloadTooLarge"


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Transfer-Encoding": "gzip"}, 501),
        ({"Transfer-Encoding": "gzip, chunked"}, 501),
        ({"Transfer-Encoding": "chunked, gzip"}, 400),
        ({"Transfer-Encoding": "chunked", "Content-Length": "5"}, 400),
    ],
)
def test_other_transfer_codings_and_ambiguous_framing_are_refused_as_json(
    port: int, headers: dict[str, str], status: int
) -> None:
    answer = exchange(port, request("POST", "/api/echo", {"x-functions-key": KEY, **headers}, b"0\r\n\r\n"))
    assert answer.status == status and answer.closed
    assert answer.error()["field"] == "Transfer-Encoding"


# -- every error of the host is JSON -------------------------------------------------------------------------------
def test_an_unknown_route_and_an_undeclared_method_are_json_404s(port: int) -> None:
    for raw in (
        request("GET", "/api/nothing-here", {}),
        request("GET", "/outside-the-prefix", {}),
        request("DELETE", "/api/greet/ada", {}),  # a known route, another method: Azure's 404
        request("BREW", "/api/greet/ada", {}),  # a method no route declares
    ):
        answer = exchange(port, raw)
        assert answer.status == 404 and not answer.closed, raw
        assert answer.error()["code"] == "notFound"


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"GARBAGE\r\n\r\n", 400),  # no target, no version
        (b"GET /api/greet/a HTTP/1.1 extra\r\n\r\n", 400),  # too many words
        (b"GET /api/greet/a HTTP/x.y\r\n\r\n", 400),  # a version that is not one
        (b"GET /api/greet/a HTTP/2.0\r\n\r\n", 505),  # a version this server does not speak
        (b"GET /api/greet/a\r\n\r\n", 400),  # HTTP/0.9: no status line could carry an answer
        (b"G(T /api/greet/a HTTP/1.1\r\nHost: x\r\n\r\n", 400),  # not a method token
        (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", 414),  # request line too long
        (b"GET /api/greet/a HTTP/1.1\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n", 431),  # header line too long
        (b"GET /api/greet/a HTTP/1.1\r\n" + b"X-A: 1\r\n" * 120 + b"\r\n", 431),  # too many headers
    ],
)
def test_a_malformed_request_is_answered_with_a_json_error(port: int, raw: bytes, status: int) -> None:
    answer = exchange(port, raw)
    assert answer.status == status and answer.closed
    assert not answer.body.lstrip().startswith(b"<")
    answer.error()


def test_the_admin_api_errors_are_json_too(port: int) -> None:
    missing = exchange(port, request("GET", "/admin/functions/no-such-function", {"x-functions-key": KEY}))
    assert missing.status == 404 and missing.error()["code"] == "notFound"
    refused = exchange(
        port, request("POST", "/admin/functions/greet", {"x-functions-key": KEY, "Content-Length": "2"}, b"{}")
    )
    assert refused.status == 400 and "HTTP function" in refused.error()["message"]
    keyless = exchange(port, request("GET", "/admin/host/status", {}))
    assert (keyless.status, keyless.body) == (401, b"")


def test_chunked_over_http_1_0_is_refused(port: int) -> None:
    raw = (
        b"POST /api/echo HTTP/1.0\r\nx-functions-key: "
        + KEY.encode()
        + b"\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    )
    answer = exchange(port, raw)
    assert answer.status == 400 and answer.error()["code"] == "invalidTransferEncoding"


def test_the_host_keeps_serving_after_hostile_requests(port: int) -> None:
    for raw in (b"GARBAGE\r\n\r\n", request("POST", "/api/echo", {"Content-Length": "-1"})):
        exchange(port, raw)
    answer = exchange(port, request("GET", "/api/greet/still-up", {}))
    assert answer.status == 200 and json.loads(answer.body)["name"] == "still-up"
