"""HttpClient against the real emulators with faults injected: no duplicate create, no lost write, waits that follow
Retry-After.

`dropAfterProcessingRate: 1` applies a write and then hangs up: the one case where the client cannot know the outcome.
To let a retry through, the injected `sleep` (called between attempts, instead of sleeping) switches the fault off,
so the second attempt meets a healthy service: exactly the "it worked, but we did not hear back" story.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from shared.connectors.auth import ClientSecretTokenProvider, TokenSession
from shared.connectors.errors import ApiError
from shared.connectors.http import HttpClient, RetryPolicy
from shared.domain.errors import ErrorKind
from tests.conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    TENANT,
    Authority,
    BusinessCentralHandle,
    EmulatorHandle,
)

pytestmark = pytest.mark.integration

API = "/api/data/v9.2"


def _provider(authority: Authority, resource: str) -> ClientSecretTokenProvider:
    return ClientSecretTokenProvider(
        TENANT,
        CLIENT_ID,
        CLIENT_SECRET,
        resource,
        authority_host=authority.url,
        http_client=TokenSession(verify=str(authority.ca_file)),
        instance_discovery=False,
    )


def _client(
    authority: Authority, emulator: EmulatorHandle, sleep: Callable[[float], None], **policy: Any
) -> HttpClient:
    return HttpClient(
        emulator.base_url, _provider(authority, emulator.resource), policy=RetryPolicy(**policy), sleep=sleep, seed=3
    )


def _faults(emulator: EmulatorHandle, **faults: Any) -> None:
    response = emulator.admin("POST", "faults", json=faults)
    assert response.status_code == 200, response.text


def _faults_seen(emulator: EmulatorHandle) -> dict[str, int]:
    faults: dict[str, int] = emulator.stats()["faults"]  # type: ignore[assignment]
    return faults


def _accounts_named(dataverse: EmulatorHandle, name: str) -> list[dict[str, Any]]:
    response = dataverse.session.get(
        f"{dataverse.base_url}{API}/accounts", params={"$filter": f"name eq '{name}'", "$select": "name,accountnumber"}
    )
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()["value"]
    return rows


def test_gets_survive_a_429_storm_waiting_exactly_retry_after(authority: Authority, dataverse: EmulatorHandle) -> None:
    waits: list[float] = []
    client = _client(authority, dataverse, waits.append, max_attempts=20)
    _faults(dataverse, status429Rate=0.5, retryAfterSeconds=3, seed=7)
    for _ in range(20):
        assert client.get_json(f"{API}/WhoAmI")["UserId"]
    throttled = _faults_seen(dataverse)["429"]
    assert throttled >= 5 and client.stats.retries == throttled
    assert waits == [3.0] * throttled  # Retry-After, not a back-off of our own
    assert dataverse.stats()["requests"] == 20  # every GET got through exactly once


def test_gets_survive_5xx_and_dropped_connections(
    authority: Authority, business_central: BusinessCentralHandle
) -> None:
    waits: list[float] = []
    client = _client(authority, business_central, waits.append, max_attempts=20)
    _faults(business_central, status5xxRate=0.3, dropRate=0.2, seed=11)
    for _ in range(20):
        assert client.get_json(f"{business_central.api_root}/companies")["value"] == []
    faults = _faults_seen(business_central)
    assert faults.get("drop", 0) > 0 and sum(faults.get(str(s), 0) for s in (502, 503, 504)) > 0
    assert client.stats.retries == sum(faults.values()) == len(waits)


def test_post_create_with_unknown_outcome_is_not_retried(authority: Authority, dataverse: EmulatorHandle) -> None:
    waits: list[float] = []
    client = _client(authority, dataverse, waits.append)
    name = f"Contoso {uuid.uuid4()}"
    _faults(dataverse, dropAfterProcessingRate=1)
    with pytest.raises(ApiError) as caught:
        client.request("POST", f"{API}/accounts", json_body={"name": name})
    assert (caught.value.status, caught.value.code, caught.value.kind) == (
        None,
        "ConnectionFailed",
        ErrorKind.TRANSIENT,
    )
    assert caught.value.attempts == 1 and waits == []
    _faults(dataverse, dropAfterProcessingRate=0)
    assert len(_accounts_named(dataverse, name)) == 1  # it was created once; a retry would have made a twin


def test_bc_post_create_with_unknown_outcome_is_not_retried(
    authority: Authority, business_central: BusinessCentralHandle, bc_demo: str
) -> None:
    client = _client(authority, business_central, lambda _: pytest.fail("a plain POST must not be retried"))
    name = f"Fabrikam {uuid.uuid4().hex[:8]}"
    _faults(business_central, dropAfterProcessingRate=1)
    with pytest.raises(ApiError) as caught:
        client.request("POST", f"{bc_demo}/customers", json_body={"displayName": name})
    assert caught.value.is_transient and caught.value.attempts == 1
    _faults(business_central, dropAfterProcessingRate=0)
    found = client.get_json(f"{bc_demo}/customers", params={"$filter": f"displayName eq '{name}'"})["value"]
    assert len(found) == 1


def _heal_on_first_wait(emulator: EmulatorHandle, waits: list[float]) -> Callable[[float], None]:
    def sleep(seconds: float) -> None:
        waits.append(seconds)
        _faults(emulator, dropAfterProcessingRate=0)

    return sleep


def test_idempotent_upsert_is_retried_and_lands_exactly_once(authority: Authority, dataverse: EmulatorHandle) -> None:
    waits: list[float] = []
    client = _client(authority, dataverse, _heal_on_first_wait(dataverse, waits))
    account_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"CUSTOMER/{uuid.uuid4()}"))  # deterministic per source record
    name = f"Upserted {account_id}"
    _faults(dataverse, dropAfterProcessingRate=1)
    body = {"name": name, "accountnumber": "C10000"}
    response = client.request("PATCH", f"{API}/accounts({account_id})", json_body=body, idempotent=True)
    assert response.status_code == 204
    assert client.stats.retries == 1 and len(waits) == 1 and _faults_seen(dataverse)["dropAfterProcessing"] == 1
    rows = _accounts_named(dataverse, name)
    assert [(row["accountid"], row["name"], row["accountnumber"]) for row in rows] == [(account_id, name, "C10000")]


@pytest.mark.parametrize("write", ["create-only PATCH", "POST with a deterministic id", "PATCH with If-Match"])
def test_conditional_write_retried_after_unknown_outcome_answers_412(
    authority: Authority, dataverse: EmulatorHandle, write: str
) -> None:
    """No duplicate and no lost write, but the retry meets the first attempt's own effect and gets a 412 (a record
    error): `after_unknown_outcome` tells the connector to re-read before reporting it."""
    client = _client(authority, dataverse, _heal_on_first_wait(dataverse, []))
    account_id, name = str(uuid.uuid4()), f"Conditional {uuid.uuid4()}"
    url, body, headers, idempotent = f"{API}/accounts({account_id})", {"name": name}, {"If-None-Match": "*"}, None
    if write == "POST with a deterministic id":
        url, body, headers, idempotent = f"{API}/accounts", {"accountid": account_id, "name": name}, {}, True
    elif write == "PATCH with If-Match":
        client.request("PATCH", url, json_body={"name": "before"}, idempotent=True)
        etag = client.request("GET", url, params={"$select": "name"}).json()["@odata.etag"]
        headers = {"If-Match": etag}
    _faults(dataverse, dropAfterProcessingRate=1)
    with pytest.raises(ApiError) as caught:
        client.request(
            "PATCH" if "PATCH" in write else "POST", url, json_body=body, headers=headers, idempotent=idempotent
        )
    assert (caught.value.status, caught.value.kind, caught.value.attempts) == (412, ErrorKind.RECORD, 2)
    assert caught.value.after_unknown_outcome  # the flag tells the connector to re-read: the write was probably ours
    rows = _accounts_named(dataverse, name)
    assert [row["accountid"] for row in rows] == [account_id]  # written exactly once, and not lost
