"""The real `BusinessCentralClient` against the BC emulator while it misbehaves: throttling with Retry-After, 5xx,
connections dropped before and after BC did the work.

What must hold whatever the network does: no create is ever duplicated (chosen ids; counted on the server), no
write is lost (every value read back), waits are the ones BC asked for (a recording no-op sleep, so the test takes
no wall time), a batch of 250 creates costs exactly 3 HTTP requests, and a 409 is merged only when asked and only
once. The emulator's fault dice are seeded, so a failure replays.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
import requests

from local.emulators.business_central.seed import COMPANY_ID, COMPANY_NAME
from shared.connectors.business_central.client import BusinessCentralClient
from shared.connectors.http import HttpClient
from shared.domain.errors import ConcurrencyError
from tests.conftest import BC_RESOURCE, TENANT, Authority, BusinessCentralHandle

pytestmark = [pytest.mark.integration, pytest.mark.chaos]
RATES = ("status429Rate", "status5xxRate", "dropRate", "dropAfterProcessingRate")


class Recorder:
    def __init__(self) -> None:
        self.sleeps: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.sleeps.append(seconds)


def make_client(
    bc: BusinessCentralHandle, authority: Authority, http_class: type[HttpClient] = HttpClient
) -> tuple[BusinessCentralClient, Recorder]:
    recorder = Recorder()
    base = f"{bc.base_url}/{TENANT}/production"
    tokens = authority.token_provider(BC_RESOURCE)
    http = http_class(base, tokens, sleep=recorder, seed=7)
    client = BusinessCentralClient(base, tokens, COMPANY_NAME, http=http)
    client.resolve_company(COMPANY_NAME)  # outside the storm and the request counts
    return client, recorder


def faults(bc: BusinessCentralHandle, **values: Any) -> None:
    response = bc.admin("POST", "faults", json={**dict.fromkeys(RATES, 0), **values})
    assert response.status_code == 200, response.text


def stored(bc: BusinessCentralHandle, city: str) -> list[dict[str, Any]]:
    """What the server holds (faults off first: the check must not be part of the storm)."""
    faults(bc)
    response = bc.session.get(
        f"{bc.company_root(COMPANY_ID)}/customers",
        params={"$filter": f"city eq '{city}'", "$select": "id,displayName,phoneNumber"},
    )
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()["value"]
    return rows


def test_waits_follow_retry_after_on_429(
    business_central: BusinessCentralHandle, bc_demo: str, authority: Authority
) -> None:
    client, recorder = make_client(business_central, authority)
    faults(business_central, status429Rate=0.4, retryAfterSeconds=7, seed=11)
    for index in range(10):
        client.create_entity("customers", {"displayName": f"Throttled {index}", "city": "Throttle"})
    injected = business_central.stats()["faults"]
    assert recorder.sleeps and recorder.sleeps == [7.0] * injected["429"]  # type: ignore[index]
    assert len(stored(business_central, "Throttle")) == 10


def test_5xx_are_retried_and_each_create_lands_once(
    business_central: BusinessCentralHandle, bc_demo: str, authority: Authority
) -> None:
    client, recorder = make_client(business_central, authority)
    faults(business_central, status5xxRate=0.35, seed=5)
    ids = [str(uuid.uuid4()) for _ in range(12)]
    for index, chosen in enumerate(ids):
        assert (
            client.create_entity("customers", {"displayName": f"Flaky {index}", "city": "5xx"}, chosen)["id"] == chosen
        )
    assert recorder.sleeps and set(recorder.sleeps) == {1.0}  # the injected 5xx say Retry-After: 1
    assert sorted(row["id"] for row in stored(business_central, "5xx")) == sorted(ids)


def test_dropped_connections_neither_duplicate_nor_lose_writes(
    business_central: BusinessCentralHandle, bc_demo: str, authority: Authority
) -> None:
    client, _ = make_client(business_central, authority)
    faults(business_central, dropRate=0.2, dropAfterProcessingRate=0.25, seed=3)
    created = [
        client.create_entity("customers", {"displayName": f"Dropped {i}", "city": "Drop"}, str(uuid.uuid4()))
        for i in range(15)
    ]
    for index, row in enumerate(created):  # a PATCH repeated after it landed meets its own new ETag: merge absorbs it
        client.update_entity("customers", row["id"], {"phoneNumber": f"555-{index:04}"}, row["@odata.etag"], merge=True)
    assert business_central.stats()["faults"].get("dropAfterProcessing")  # type: ignore[attr-defined]
    on_server = stored(business_central, "Drop")
    assert sorted(r["id"] for r in on_server) == sorted(r["id"] for r in created)
    assert {r["id"]: r["phoneNumber"] for r in on_server} == {r["id"]: f"555-{i:04}" for i, r in enumerate(created)}


def creates(count: int, city: str) -> list[dict[str, Any]]:
    return [
        {"method": "POST", "url": "customers", "body": {"displayName": f"{city} {i}", "city": city}}
        for i in range(count)
    ]


def test_a_batch_of_250_creates_is_3_requests(
    business_central: BusinessCentralHandle, bc_demo: str, authority: Authority
) -> None:
    client, _ = make_client(business_central, authority)
    business_central.admin("DELETE", "stats")
    outcomes = client.execute_batch(creates(250, "Bulk"))
    stats = business_central.stats()
    assert [o.status for o in outcomes] == [201] * 250
    assert (stats["requests"], stats["chargedUnits"]) == (3, 250)
    assert len(stored(business_central, "Bulk")) == 250


def test_a_batch_storm_neither_repeats_nor_loses_creates(
    business_central: BusinessCentralHandle, bc_demo: str, authority: Authority
) -> None:
    client, _ = make_client(business_central, authority)
    faults(business_central, dropRate=0.2, dropAfterProcessingRate=0.5, seed=21)  # seed 21: a chunk's answer is lost
    outcomes = client.execute_batch(creates(180, "Storm"))
    assert all(o.ok for o in outcomes), [o.status for o in outcomes if not o.ok]
    assert business_central.stats()["faults"].get("dropAfterProcessing")  # type: ignore[attr-defined]
    on_server = stored(business_central, "Storm")
    assert len(on_server) == 180 == len({r["id"] for r in on_server})
    assert {o.body["id"] for o in outcomes} == {r["id"] for r in on_server}


def lose_first_batch_answer(http: HttpClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """The server does the work, then the connection drops before the answer arrives (exactly once)."""
    send = http.session.request
    lost: list[bool] = []

    def request(method: str, url: str, **kwargs: Any) -> Any:
        response = send(method, url, **kwargs)
        if method == "POST" and url.endswith("$batch") and not lost:
            lost.append(True)
            raise requests.ConnectionError("connection reset after the server answered")
        return response

    monkeypatch.setattr(http.session, "request", request)


@pytest.mark.parametrize(("atomic", "count", "requests_sent"), [(False, 150, 4), (True, 100, 3)])
def test_a_batch_whose_answer_is_lost_is_settled_by_reading_back(
    business_central: BusinessCentralHandle,
    bc_demo: str,
    authority: Authority,
    monkeypatch: pytest.MonkeyPatch,
    atomic: bool,
    count: int,
    requests_sent: int,
) -> None:
    client, _ = make_client(business_central, authority)
    lose_first_batch_answer(client.http, monkeypatch)
    business_central.admin("DELETE", "stats")
    outcomes = client.execute_batch(creates(count, "Lost"), atomic=atomic)
    assert all(o.ok for o in outcomes), [o.status for o in outcomes if not o.ok]
    # the lost one, its repeat (stopped at the first "already exists"), one GET batch reading the chunk back,
    # and (not atomic) the second chunk
    assert business_central.stats()["requests"] == requests_sent
    on_server = stored(business_central, "Lost")
    assert len(on_server) == count == len({r["id"] for r in on_server})
    assert {o.body["id"] for o in outcomes} == {r["id"] for r in on_server}


class RacingHttp(HttpClient):
    """After the client re-reads an entity (the merge step), someone else changes it again."""

    race: Callable[[], None] | None = None

    def request(self, method: str, path_or_url: str, **kwargs: Any) -> Any:
        response = super().request(method, path_or_url, **kwargs)
        if method == "GET" and self.race is not None and "customers(" in path_or_url:
            self.race()
        return response


def test_409_is_merged_only_when_asked_and_only_once(
    business_central: BusinessCentralHandle, bc_demo: str, authority: Authority
) -> None:
    client, _ = make_client(business_central, authority, RacingHttp)
    row = client.create_entity("customers", {"displayName": "Contended", "city": "Race"}, str(uuid.uuid4()))
    url = f"{business_central.company_root(COMPANY_ID)}/customers({row['id']})"

    def other_writer(city: str) -> None:
        answer = business_central.session.patch(url, json={"city": city}, headers={"If-Match": "*"})
        assert answer.status_code == 200, answer.text

    def patches() -> int:
        by_method: dict[str, dict[str, int]] = business_central.stats()["byMethod"]  # type: ignore[assignment]
        return by_method.get("PATCH", {}).get("requests", 0)

    other_writer("Race")  # their change
    business_central.admin("DELETE", "stats")
    with pytest.raises(ConcurrencyError):
        client.update_entity("customers", row["id"], {"phoneNumber": "1"}, row["@odata.etag"])
    assert patches() == 1
    merged = client.update_entity("customers", row["id"], {"phoneNumber": "2"}, row["@odata.etag"], merge=True)
    assert (merged["city"], merged["phoneNumber"]) == ("Race", "2") and patches() == 3
    assert isinstance(client.http, RacingHttp)
    client.http.race = lambda: other_writer("Race")  # they win again between our re-read and our retry
    with pytest.raises(ConcurrencyError):
        client.update_entity("customers", row["id"], {"phoneNumber": "3"}, row["@odata.etag"], merge=True)
    assert patches() == 6  # ours (409), the racer's, ours after the re-read (409 again): no third try
