"""Both emulators answer a broken body framing at once, as the services' front ends do, instead of hanging a
thread: `rfile.read(-1)` on `Content-Length: -1` waited for the client to close (found by issue 18's outsider
on the local host; the emulators had the same read)."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest

from tests.conftest import BusinessCentralHandle, EmulatorHandle
from tests.local.test_host_hardening import exchange, request

pytestmark = pytest.mark.integration


def _port(base_url: str) -> int:
    return int(urlsplit(base_url).port or 0)


@pytest.mark.parametrize("length", ["-1", "abc", "1, 2"])
def test_a_broken_content_length_is_a_prompt_json_400(
    dataverse: EmulatorHandle, business_central: BusinessCentralHandle, length: str
) -> None:
    for base in (dataverse.base_url, business_central.base_url):
        answer = exchange(_port(base), request("POST", "/api/data/v9.2/accounts", {"Content-Length": length}))
        assert answer.status == 400, answer
        assert json.loads(answer.body)["error"]["code"] == "BadRequest"


def test_a_huge_content_length_is_refused_unread(dataverse: EmulatorHandle) -> None:
    answer = exchange(
        _port(dataverse.base_url), request("POST", "/api/data/v9.2/accounts", {"Content-Length": "10" * 10})
    )
    assert answer.status == 413 and answer.closed
