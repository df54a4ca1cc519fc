"""The one body parser (`shared/triggers/http_body.py`) on every route, through the registered functions: what a caller
sends is never a 500, a body that is not JSON is a 415, one too large a 413, one nested too deep a 400 naming the
body, and the document says so (413/415 on every operation that takes a body)."""

from __future__ import annotations

import json
from typing import Any

import azure.functions as func
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from local.fakes.queue import InMemoryJobQueue
from shared.triggers.http_body import _TOKENS, MAX_BODY_BYTES, MAX_JSON_DEPTH
from shared.triggers.http_support import ROUTES, RouteSpec
from shared.triggers.notifications_bc import MAX_NOTIFICATION_BYTES
from shared.triggers.openapi import document
from tests.functions.conftest import FUNCTIONS, Api

pytestmark = pytest.mark.integration
BODY_ROUTES = [spec for spec in ROUTES if spec.body is not None]
# BC's notifications read their own, larger bodies (1,000 entries per subscription and window: see the route)
LIMITS = {"bc_notifications": MAX_NOTIFICATION_BYTES}
NO_BODY_ROUTES = [spec for spec in ROUTES if spec.body is None and spec.function_name in FUNCTIONS]


def route_params(spec: RouteSpec) -> dict[str, str]:
    """Values for the path parameters of the body routes (all of them name a mapping)."""
    return {name: "CUSTOMER" for name in ("name", "mapping") if f"{{{name}}}" in spec.route}


def send(spec: RouteSpec, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """A raw request: unlike `Api.call`, the headers are exactly these (no Content-Type unless given)."""
    request = func.HttpRequest(
        spec.method,
        f"http://localhost/api/{spec.route}",
        headers=headers or {},
        params={},
        route_params=route_params(spec),
        body=body,
    )
    response = FUNCTIONS[spec.function_name].get_user_function()(request)
    payload = response.get_body()
    return response.status_code, json.loads(payload) if payload else None


def test_nineteen_operations_take_a_body() -> None:
    assert len(BODY_ROUTES) == 19, [spec.function_name for spec in BODY_ROUTES]


@pytest.mark.parametrize("spec", BODY_ROUTES, ids=lambda s: s.function_name)
def test_deeply_nested_json_is_a_400_naming_the_body_on_every_body_route(api: Api, spec: RouteSpec) -> None:
    for raw in (b"[" * 200_000, b'{"a":' * 50_000, b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1)):
        status, answer = send(spec, raw, {"Content-Type": "application/json"})
        assert (status, answer["error"]["code"], answer["error"]["field"]) == (400, "invalidJson", "body"), answer


@pytest.mark.parametrize("spec", BODY_ROUTES, ids=lambda s: s.function_name)
def test_a_body_of_another_media_type_is_a_415_and_nothing_happens(api: Api, spec: RouteSpec) -> None:
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1"):
        status, answer = send(spec, b"{}", {"Content-Type": content_type})
        assert (status, answer["error"]["code"]) == (415, "unsupportedMediaType"), (content_type, answer)
        assert answer["error"]["field"] == "Content-Type"
    status, answer = send(spec, b"{}")  # a body without any Content-Type is not taken for JSON either
    assert status == 415, answer


def test_a_text_plain_post_does_not_start_a_full_sync(api: Api) -> None:
    status, answer = api.call("start_full_sync", "POST", raw=b"{}", headers={"content-type": "text/plain"})
    assert status == 415, answer
    assert isinstance(api.services.queue, InMemoryJobQueue)
    assert api.services.queue.receive(max_messages=10) == []  # nothing was sent


def test_json_with_a_utf8_charset_is_taken(api: Api) -> None:
    for content_type in ("application/json; charset=utf-8", 'Application/JSON;charset="UTF-8"'):
        status, answer = api.call("patch_mapping", "PATCH", {}, route={"name": "CURRENCY"},
                                  headers={"content-type": content_type})  # fmt: skip
        assert status == 200, (content_type, answer)


@pytest.mark.parametrize("spec", BODY_ROUTES, ids=lambda s: s.function_name)
def test_an_oversize_body_is_a_413(api: Api, spec: RouteSpec) -> None:
    limit = LIMITS.get(spec.function_name, MAX_BODY_BYTES)
    raw = b'{"x": "' + b"a" * limit + b'"}'
    status, answer = send(spec, raw, {"Content-Type": "application/json"})
    assert (status, answer["error"]["code"], answer["error"]["field"]) == (413, "payloadTooLarge", "body")


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b"\xff\xfe{}", "not UTF-8"),
        (b'{"mapping": NaN}', "NaN"),
        (b'{"mapping": 1e999}', "too large"),
        (b'{"mapping": "\\ud800"}', "surrogate"),
        (b"null", "JSON object"),
        (b"{not json", "line 1"),
        (b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH, "JSON object"),  # deep enough, but not an object
    ],
)
def test_malformed_bodies_are_400s_naming_the_body(api: Api, raw: bytes, why: str) -> None:
    status, answer = api.call("retry_sync_errors", "POST", raw=raw)
    assert (status, answer["error"]["field"]) == (400, "body"), answer
    assert why in answer["error"]["message"]


@pytest.mark.parametrize("spec", NO_BODY_ROUTES, ids=lambda s: s.function_name)
def test_an_operation_without_a_body_refuses_one(api: Api, spec: RouteSpec) -> None:
    """Refused before the handler runs (it would silently ignore the body): nothing else is looked at."""
    request = func.HttpRequest(spec.method, f"http://localhost/api/{spec.route}", body=b"[" * 200_000)
    response = FUNCTIONS[spec.function_name].get_user_function()(request)
    answer = json.loads(response.get_body())
    assert (response.status_code, answer["error"]["code"]) == (400, "bodyNotAllowed")


def test_the_document_lists_413_and_415_where_a_body_is_taken() -> None:
    for path in document()["paths"].values():
        for operation in path.values():
            takes_body = "requestBody" in operation
            assert ("413" in operation["responses"]) == takes_body, operation["operationId"]
            assert ("415" in operation["responses"]) == takes_body, operation["operationId"]


def test_get_jobs_without_a_mapping_is_refused_as_the_document_says(api: Api) -> None:
    operation = document()["paths"]["/api/jobs"]["get"]
    mapping = next(p for p in operation["parameters"] if p["name"] == "mapping")
    assert mapping["required"] is True
    status, answer = api.call("list_jobs")
    assert (status, answer["error"]["field"]) == (400, "mapping")
    status, answer = api.call("list_jobs", params={"mapping": "CUSTOMER"})
    assert status == 200 and answer["mapping"] == "CUSTOMER"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet='"\\[]{}a\n', max_size=120))
def test_the_depth_scan_never_rescans_so_it_is_linear(text: str) -> None:
    """A string token that starts always matches (to its quote or to the end of the text). If one could fail, the
    scanner would retry from the next quote and a body like `"\\"\\"\\"...` (256 KiB) would take minutes."""
    for position, char in enumerate(text):
        if char == '"':
            assert _TOKENS.match(text, position) is not None, (text, position)
