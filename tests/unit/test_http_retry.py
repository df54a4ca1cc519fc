"""HttpClient's retry, refresh, error and paging rules (shared/connectors/http.py), against a scripted local server.

The server answers each request with the next scripted reply (status, headers, body, or a dropped connection) and
records what it received; `sleep` is injected so waits are recorded, never slept.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from shared.connectors.errors import ApiError
from shared.connectors.http import HttpClient, RetryPolicy
from shared.domain.errors import ErrorKind


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict/list -> JSON, str -> text, None -> empty
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without answering (outcome unknown to the client)
    delay: float = 0.0  # seconds before answering (to meet the client's read timeout)


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class ScriptedServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.replies: deque[Reply] = deque()
        self.seen: list[Seen] = []
        self.url = f"http://127.0.0.1:{self.server_address[1]}"

    def script(self, *replies: Reply) -> None:
        self.replies.extend(replies)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ScriptedServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.seen.append(Seen(self.command, self.path, dict(self.headers.items()), body))
        reply = self.server.replies.popleft() if self.server.replies else Reply(599, {"error": {"code": "NoScript"}})
        if reply.drop:
            self.close_connection = True
            return
        time.sleep(reply.delay)
        if isinstance(reply.body, dict | list):
            payload, content_type = json.dumps(reply.body).encode(), "application/json"
        else:
            payload, content_type = (reply.body or "").encode(), "text/html"
        self.send_response(reply.status)
        self.send_header("Content-Type", content_type)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve


@pytest.fixture(scope="module")
def running_server() -> Iterator[ScriptedServer]:
    httpd = ScriptedServer()
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def server(running_server: ScriptedServer) -> ScriptedServer:
    """The module's server with an empty script and no recorded requests."""
    running_server.replies.clear()
    running_server.seen.clear()
    return running_server


class FakeTokens:
    """A TokenProvider whose token changes on every invalidate(), so the server can tell which one it got."""

    def __init__(self) -> None:
        self.generation = 0

    def get_token(self) -> str:
        return f"token-{self.generation}"

    def invalidate(self) -> None:
        self.generation += 1


def client_for(
    server: ScriptedServer, *, tokens: FakeTokens | None = None, **policy: Any
) -> tuple[HttpClient, list[float]]:
    waits: list[float] = []
    client = HttpClient(server.url, tokens, policy=RetryPolicy(**policy), sleep=waits.append, seed=42)
    return client, waits


OK = Reply(200, {"ok": True})
DROP = Reply(drop=True)


def test_429_retry_after_is_honoured_exactly(server: ScriptedServer) -> None:
    server.script(Reply(429, headers={"Retry-After": "7"}), Reply(429, headers={"Retry-After": "1.5"}), OK)
    server.script(Reply(429, headers={"Retry-After": "0"}), OK)
    client, waits = client_for(server)
    assert client.get_json("/a") == {"ok": True}
    assert client.get_json("/b") == {"ok": True}
    assert waits == [7.0, 1.5, 0.0]
    assert (client.stats.attempts, client.stats.retries, client.stats.waited) == (5, 3, 8.5)


def test_backoff_without_retry_after_is_jittered_and_bounded(server: ScriptedServer) -> None:
    server.script(*[Reply(503)] * 5, OK)
    client, waits = client_for(server, backoff_base=1.0, backoff_max=4.0, jitter=0.25)
    client.get_json("/")
    bases = [1.0, 2.0, 4.0, 4.0, 4.0]
    assert len(waits) == 5
    assert all(0.75 * base <= wait <= 1.25 * base for wait, base in zip(waits, bases, strict=True)), waits
    assert waits != bases  # jitter really applied (seeded, so deterministic)


def test_backoff_never_exceeds_backoff_max() -> None:
    import random

    policy = RetryPolicy(backoff_base=1.0, backoff_max=4.0, jitter=0.25)
    rng = random.Random(0)
    assert max(policy.backoff(attempt, rng) for attempt in range(1, 30)) <= policy.backoff_max


def test_total_wait_is_capped_and_the_last_error_raised(server: ScriptedServer) -> None:
    server.script(*[Reply(429, {"error": {"code": "Throttled", "message": "slow down"}}, {"Retry-After": "4"})] * 3)
    client, waits = client_for(server, max_total_wait=10.0)
    with pytest.raises(ApiError) as caught:
        client.get_json("/")
    assert waits == [4.0, 4.0]  # a third wait would bring the total to 12 > 10: give up instead
    assert (caught.value.status, caught.value.code, caught.value.attempts) == (429, "Throttled", 3)
    assert caught.value.is_transient and caught.value.retry_after == 4.0
    server.script(Reply(429, headers={"Retry-After": "60"}))
    with pytest.raises(ApiError):
        client.get_json("/")
    assert waits == [4.0, 4.0]  # a Retry-After beyond the cap is not waited at all


def test_attempts_are_capped(server: ScriptedServer) -> None:
    server.script(*[Reply(429, headers={"Retry-After": "0"})] * 10)
    client, waits = client_for(server, max_attempts=4)
    with pytest.raises(ApiError) as caught:
        client.get_json("/")
    assert caught.value.attempts == 4 and len(server.seen) == 4 and len(waits) == 3


IDEMPOTENT_CALLS = [
    ("GET", {}, None),
    ("PUT", {}, None),
    ("DELETE", {}, None),
    ("PATCH", {"If-Match": 'W/"1"'}, None),
    ("PATCH", {"If-None-Match": "*"}, None),
    ("POST", {}, True),  # a create with a deterministic id, made idempotent by the caller
]
UNKNOWN_OUTCOMES = [
    pytest.param(Reply(502), id="502"),
    pytest.param(Reply(504), id="504"),
    pytest.param(DROP, id="drop"),
]


@pytest.mark.parametrize("fault", UNKNOWN_OUTCOMES)
@pytest.mark.parametrize(("method", "headers", "idempotent"), IDEMPOTENT_CALLS)
def test_unknown_outcome_is_retried_for_idempotent_calls(
    server: ScriptedServer, fault: Reply, method: str, headers: dict[str, str], idempotent: bool | None
) -> None:
    server.script(fault, Reply(204))
    client, waits = client_for(server)
    response = client.request(method, "/x", json_body={"a": 1}, headers=headers, idempotent=idempotent)
    assert response.status_code == 204
    assert [seen.method for seen in server.seen] == [method, method] and len(waits) == 1


@pytest.mark.parametrize("fault", UNKNOWN_OUTCOMES)
@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_unknown_outcome_is_not_retried_for_a_plain_write(server: ScriptedServer, fault: Reply, method: str) -> None:
    server.script(fault, Reply(201))
    client, waits = client_for(server)
    with pytest.raises(ApiError) as caught:
        client.request(method, "/x", json_body={"name": "new"})
    assert caught.value.is_transient and caught.value.attempts == 1
    assert caught.value.status == (None if fault.drop else fault.status)
    assert caught.value.code == ("ConnectionFailed" if fault.drop else "HTTP" + str(fault.status))
    assert len(server.seen) == 1 and waits == []


def test_a_read_timeout_is_an_unknown_outcome(server: ScriptedServer) -> None:
    server.script(Reply(200, {"late": True}, delay=0.3), OK, Reply(201, delay=0.3))
    waits: list[float] = []
    client = HttpClient(server.url, None, timeout=(1.0, 0.1), sleep=waits.append, seed=1)
    assert client.get_json("/") == {"ok": True} and len(waits) == 1  # a GET is simply asked again
    with pytest.raises(ApiError) as caught:
        client.request("POST", "/x", json_body={})  # a POST may have been applied: the caller decides
    assert (caught.value.status, caught.value.code, caught.value.is_transient) == (None, "ConnectionFailed", True)
    assert len(waits) == 1


@pytest.mark.parametrize("refusal", [Reply(503), Reply(429, headers={"Retry-After": "2"})], ids=["503", "429"])
def test_refused_requests_are_retried_even_for_a_post(server: ScriptedServer, refusal: Reply) -> None:
    server.script(refusal, Reply(201, {"id": 1}))
    client, waits = client_for(server)
    assert client.request("POST", "/x", json_body={}).json() == {"id": 1}
    assert len(server.seen) == 2 and len(waits) == 1


def test_401_invalidates_the_token_and_retries_once(server: ScriptedServer) -> None:
    tokens = FakeTokens()
    server.script(Reply(401), Reply(201))
    client, waits = client_for(server, tokens=tokens)
    assert client.request("POST", "/x", json_body={}).status_code == 201  # a 401 was not processed: safe to resend
    assert [seen.headers["Authorization"] for seen in server.seen] == ["Bearer token-0", "Bearer token-1"]
    assert client.stats.token_refreshes == 1 and waits == []


def test_second_401_is_fatal_and_403_is_not_refreshed(server: ScriptedServer) -> None:
    tokens = FakeTokens()
    server.script(Reply(401, {"error": {"code": "Unauthorized", "message": "bad token"}}), Reply(401))
    client, _ = client_for(server, tokens=tokens)
    with pytest.raises(ApiError) as caught:
        client.get_json("/")
    assert (caught.value.status, caught.value.kind, tokens.generation, len(server.seen)) == (401, ErrorKind.FATAL, 1, 2)
    server.script(Reply(403))
    with pytest.raises(ApiError) as forbidden:
        client.get_json("/")
    assert forbidden.value.kind is ErrorKind.FATAL and tokens.generation == 1


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        (Reply(429), ErrorKind.TRANSIENT),
        (Reply(502), ErrorKind.TRANSIENT),
        (Reply(503), ErrorKind.TRANSIENT),
        (Reply(504), ErrorKind.TRANSIENT),
        (DROP, ErrorKind.TRANSIENT),
        (Reply(401), ErrorKind.FATAL),
        (Reply(403), ErrorKind.FATAL),
        (Reply(400), ErrorKind.RECORD),
        (Reply(404), ErrorKind.RECORD),
        (Reply(409), ErrorKind.RECORD),
        (Reply(412), ErrorKind.RECORD),
    ],
    ids=lambda value: str(value.status if isinstance(value, Reply) and not value.drop else value),
)
def test_error_kind_per_status(server: ScriptedServer, reply: Reply, kind: ErrorKind) -> None:
    server.script(reply)
    client, _ = client_for(server, max_attempts=1)
    with pytest.raises(ApiError) as caught:
        client.request("POST", "/x", json_body={})
    assert caught.value.kind is kind and caught.value.is_transient is (kind is ErrorKind.TRANSIENT)
    assert caught.value.status == (None if reply.drop else reply.status)


def test_structured_error_fields(server: ScriptedServer) -> None:
    message = "The attribute is invalid. " * 40
    body = {"error": {"code": "0x80048d19", "message": message}}
    server.script(Reply(400, body, {"x-ms-service-request-id": "req-1"}), Reply(502, "<html>Bad gateway</html>"))
    server.script(Reply(404, {"error": {"code": "BadRequest_NotFound", "message": "gone"}}, {"request-id": "bc-7"}))
    client, _ = client_for(server, max_attempts=1)
    with pytest.raises(ApiError) as caught:
        client.request("POST", "/accounts", json_body={})
    error = caught.value
    assert (error.status, error.code, error.message, error.request_id) == (400, "0x80048d19", message, "req-1")
    assert (error.method, error.url) == ("POST", server.url + "/accounts")
    assert error.body_excerpt == json.dumps(body)[:500] and len(error.body_excerpt) == 500
    assert "req-1" in str(error) and "0x80048d19" in str(error)
    with pytest.raises(ApiError) as gateway:
        client.get_json("/")
    assert (gateway.value.code, gateway.value.message) == ("HTTP502", "Bad Gateway")
    assert gateway.value.body_excerpt == "<html>Bad gateway</html>"
    with pytest.raises(ApiError) as missing:
        client.get_json("/")
    assert (missing.value.code, missing.value.request_id) == ("BadRequest_NotFound", "bc-7")


@pytest.mark.parametrize("body", [{"error": "invalid_token", "error_description": "expired"}, {"error": None}])
def test_an_unexpected_error_shape_is_still_an_api_error(server: ScriptedServer, body: dict[str, Any]) -> None:
    server.script(Reply(400, body))
    client, _ = client_for(server)
    with pytest.raises(ApiError) as caught:
        client.get_json("/")
    assert caught.value.status == 400


def test_pages_follow_next_links_exactly(server: ScriptedServer) -> None:
    second = f"{server.url}/accounts?$skiptoken=%3Ccookie%20page%3D%222%22%3E"
    third = f"{server.url}/accounts?$skiptoken=3"
    server.script(
        Reply(200, {"value": [1], "@odata.nextLink": second}), Reply(200, {"value": [2], "@odata.nextLink": third})
    )
    server.script(Reply(200, {"value": [3]}))
    client, _ = client_for(server)
    pages = list(client.pages("/accounts", params={"$select": "name"}))
    assert [page["value"] for page in pages] == [[1], [2], [3]]
    assert [seen.path for seen in server.seen] == [
        "/accounts?%24select=name",
        "/accounts?$skiptoken=%3Ccookie%20page%3D%222%22%3E",
        "/accounts?$skiptoken=3",
    ]


def test_pages_raise_on_a_repeated_next_link(server: ScriptedServer) -> None:
    loop = f"{server.url}/accounts?$skiptoken=1"
    server.script(
        Reply(200, {"value": [1], "@odata.nextLink": loop}), Reply(200, {"value": [2], "@odata.nextLink": loop})
    )
    client, _ = client_for(server)
    pages = client.pages("/accounts")
    assert next(pages)["value"] == [1] and next(pages)["value"] == [2]
    with pytest.raises(ApiError) as caught:
        next(pages)
    assert (caught.value.code, caught.value.kind, len(server.seen)) == ("PagingLoop", ErrorKind.FATAL, 2)


def test_pages_raise_when_a_next_link_points_back_at_the_first_page(server: ScriptedServer) -> None:
    first = f"{server.url}/accounts"
    server.script(
        Reply(200, {"value": [1], "@odata.nextLink": first}), Reply(200, {"value": [1], "@odata.nextLink": first})
    )
    client, _ = client_for(server)
    with pytest.raises(ApiError):
        list(client.pages(first))
    assert len(server.seen) == 1  # page 1 must not be fetched (and yielded) twice
