"""The Dataverse emulator's shared pipeline over real HTTP: token check, the calling application user, service
protection (per-user request window and concurrency), injected faults, and the `/_admin` endpoints.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
import requests

from local.emulators.protection import Limits, ServiceProtection, Throttled
from tests.conftest import Authority, EmulatorHandle

pytestmark = pytest.mark.integration

API = "/api/data/v9.2"
REQUESTS_LIMIT = "0x80072322"
CONCURRENCY_LIMIT = "0x80072326"
OTHER_CLIENT_ID = "99999999-8888-7777-6666-555555555555"


def api(dv: EmulatorHandle) -> str:
    return f"{dv.base_url}{API}"


def session_with(token: str | None) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    if token is not None:
        session.headers["Authorization"] = f"Bearer {token}"
    return session


@pytest.fixture
def other_client(authority: Authority, dataverse: EmulatorHandle) -> Iterator[requests.Session]:
    """A second application (another client id, so another application user) with a valid token."""
    with session_with(authority.token(dataverse.base_url, client_id=OTHER_CLIENT_ID)) as session:
        yield session


def error_code(response: requests.Response) -> str:
    body = response.json()
    assert set(body) == {"error"}
    assert isinstance(body["error"]["message"], str)
    code: str = body["error"]["code"]
    return code


def who_am_i(session: requests.Session, dv: EmulatorHandle) -> str:
    response = session.get(f"{api(dv)}/WhoAmI", timeout=30)
    assert response.status_code == 200
    user_id: str = response.json()["UserId"]
    return user_id


def account_count(dv: EmulatorHandle) -> int:
    response = dv.session.get(f"{api(dv)}/accounts", params={"$count": "true", "$select": "name"}, timeout=30)
    assert response.status_code == 200
    count: int = response.json()["@odata.count"]
    return count


def create_account(session: requests.Session, dv: EmulatorHandle, name: str) -> str:
    response = session.post(f"{api(dv)}/accounts", json={"name": name}, timeout=30)
    assert response.status_code == 204, response.text
    return response.headers["OData-EntityId"].rsplit("(", 1)[1].rstrip(")")


def configure(dv: EmulatorHandle, path: str, values: dict[str, Any]) -> dict[str, Any]:
    response = dv.admin("POST", path, json=values)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# -- authentication --------------------------------------------------------------------------------------------
def assert_unauthorized(response: requests.Response) -> None:
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert error_code(response)


def test_missing_authorization_header_is_401_and_changes_nothing(dataverse: EmulatorHandle) -> None:
    with session_with(None) as anonymous:
        assert_unauthorized(anonymous.get(f"{api(dataverse)}/accounts", timeout=30))
        assert_unauthorized(anonymous.post(f"{api(dataverse)}/accounts", json={"name": "Sneaky"}, timeout=30))
    assert account_count(dataverse) == 0


@pytest.mark.parametrize("authorization", ["Bearer garbage", "Bearer a.b.c", "Basic dXNlcjpwYXNz", "Bearer "])
def test_malformed_credentials_are_401(dataverse: EmulatorHandle, authorization: str) -> None:
    response = dataverse.session.get(f"{api(dataverse)}/accounts", headers={"Authorization": authorization}, timeout=30)
    assert_unauthorized(response)


def test_token_for_another_resource_is_401(dataverse: EmulatorHandle, authority: Authority) -> None:
    with session_with(authority.token("https://api.businesscentral.dynamics.com")) as wrong_audience:
        assert_unauthorized(wrong_audience.get(f"{api(dataverse)}/WhoAmI", timeout=30))


def test_modifiedby_is_the_calling_application_user(dataverse: EmulatorHandle, other_client: requests.Session) -> None:
    me, other = who_am_i(dataverse.session, dataverse), who_am_i(other_client, dataverse)
    assert me != other
    account_id = create_account(dataverse.session, dataverse, "Audited")
    url = f"{api(dataverse)}/accounts({account_id})"

    created = dataverse.session.get(url, timeout=30).json()
    assert created["_createdby_value"] == me
    assert created["_modifiedby_value"] == me

    assert (
        other_client.patch(url, json={"name": "Audited again"}, headers={"If-Match": "*"}, timeout=30).status_code
        == 204
    )
    updated = dataverse.session.get(url, timeout=30).json()
    assert updated["name"] == "Audited again"
    assert updated["_modifiedby_value"] == other
    assert updated["_createdby_value"] == me


# -- service protection ----------------------------------------------------------------------------------------
def assert_throttled(response: requests.Response, code: str) -> int:
    assert response.status_code == 429
    assert error_code(response) == code
    retry_after = int(response.headers["Retry-After"])
    assert retry_after >= 1
    return retry_after


def test_requests_limit_is_per_user_and_per_window(dataverse: EmulatorHandle, other_client: requests.Session) -> None:
    configure(dataverse, "limits", {"requestsPerWindow": 5, "windowSeconds": 2})
    url = f"{api(dataverse)}/accounts"

    assert [dataverse.session.get(url, timeout=30).status_code for _ in range(5)] == [200] * 5
    retry_after = assert_throttled(dataverse.session.get(url, timeout=30), REQUESTS_LIMIT)
    assert retry_after <= 2
    assert other_client.get(url, timeout=30).status_code == 200  # limits are per application user
    assert dataverse.stats()["throttled"] == 1

    time.sleep(retry_after)
    assert dataverse.session.get(url, timeout=30).status_code == 200


def test_operations_inside_a_batch_count_toward_the_limit(dataverse: EmulatorHandle) -> None:
    configure(dataverse, "limits", {"requestsPerWindow": 5, "windowSeconds": 60})
    part = (
        "--b\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
        f"GET {API}/accounts HTTP/1.1\r\n\r\n\r\n"
    )
    body = (part * 5 + "--b--\r\n").encode()

    batch = dataverse.session.post(
        f"{api(dataverse)}/$batch", data=body, headers={"Content-Type": "multipart/mixed; boundary=b"}, timeout=30
    )

    assert batch.status_code == 200
    assert_throttled(dataverse.session.get(f"{api(dataverse)}/accounts", timeout=30), REQUESTS_LIMIT)


class SlowRequest(threading.Thread):
    """One GET on its own connection, run on a thread so the main thread can probe while it is in flight."""

    def __init__(self, url: str, authorization: str | bytes) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.authorization = authorization if isinstance(authorization, str) else authorization.decode()
        self.status: int | None = None

    def run(self) -> None:
        with session_with(None) as session:
            session.headers["Authorization"] = self.authorization
            self.status = session.get(self.url, timeout=30).status_code


def test_concurrency_limit_over_http(dataverse: EmulatorHandle, other_client: requests.Session) -> None:
    """maxConcurrent=1: while one slow query holds the user's only slot, the same user's next request is refused.

    Injected latency is applied before admission (it never holds a slot), so the slow request is a real one: a
    long `$filter` over a few thousand rows. A thread keeps it in flight while the main thread probes.
    """
    for chunk in range(4):
        targets = [{"@odata.type": "Microsoft.Dynamics.CRM.account", "name": f"Row {chunk}-{n}"} for n in range(1000)]
        response = dataverse.session.post(
            f"{api(dataverse)}/accounts/Microsoft.Dynamics.CRM.CreateMultiple", json={"Targets": targets}, timeout=30
        )
        assert response.status_code == 200
    configure(dataverse, "limits", {"maxConcurrent": 1})
    slow_filter = " or ".join(f"name eq 'missing {n}'" for n in range(400))
    slow_url = f"{api(dataverse)}/accounts?$select=name&$filter={slow_filter}"

    refused: requests.Response | None = None
    for _attempt in range(3):
        slow = SlowRequest(slow_url, dataverse.session.headers["Authorization"])
        slow.start()
        while slow.is_alive() and refused is None:
            probe = dataverse.session.get(f"{api(dataverse)}/WhoAmI", timeout=30)
            if probe.status_code == 429:
                refused = probe
                # at the same moment, another application user is not affected by this user's slot
                assert other_client.get(f"{api(dataverse)}/WhoAmI", timeout=30).status_code == 200
        slow.join()
        assert slow.status == 200
        if refused is not None:
            break
    assert refused is not None, "the slow request never overlapped a probe"
    assert assert_throttled(refused, CONCURRENCY_LIMIT) == 1
    assert dataverse.session.get(f"{api(dataverse)}/WhoAmI", timeout=30).status_code == 200  # slot released
    assert int(str(dataverse.stats()["throttled"])) >= 1


def test_concurrency_gate_in_process() -> None:
    """The same rule, deterministic: ServiceProtection holds a slot per key for the duration of `admit`."""
    protection = ServiceProtection(Limits(requestsPerWindow=100, windowSeconds=60, maxConcurrent=2, maxQueued=0))
    with ExitStack() as held:
        held.enter_context(protection.admit("user-a"))
        held.enter_context(protection.admit("user-a"))
        with pytest.raises(Throttled) as refused:
            held.enter_context(protection.admit("user-a"))
        assert refused.value.kind == "concurrency"
        assert refused.value.retry_after == 1
        with protection.admit("user-b"):  # per key
            pass
    with protection.admit("user-a"):  # slots are released on exit
        pass


def test_requests_window_in_process_with_fake_clock() -> None:
    now = [1000.0]
    protection = ServiceProtection(Limits(requestsPerWindow=3, windowSeconds=10, maxConcurrent=5), clock=lambda: now[0])
    for _ in range(3):
        with protection.admit("user-a"):
            protection.charge("user-a", 1)
        now[0] += 1
    with pytest.raises(Throttled) as refused:
        protection.check_window("user-a")
    assert refused.value.kind == "requests"
    assert refused.value.retry_after == 7  # the oldest charge (t=1000) leaves the window at t=1010; now is 1003
    now[0] += 7
    protection.check_window("user-a")


# -- faults ----------------------------------------------------------------------------------------------------
def test_429_storm_answers_every_request_with_retry_after(dataverse: EmulatorHandle) -> None:
    configure(dataverse, "faults", {"status429Rate": 1, "retryAfterSeconds": 3})

    for _ in range(3):
        response = dataverse.session.get(f"{api(dataverse)}/accounts", timeout=30)
        assert response.status_code == 429
        assert response.headers["Retry-After"] == "3"
        assert error_code(response) == REQUESTS_LIMIT
    assert dataverse.stats()["faults"] == {"429": 3}


def test_5xx_fault(dataverse: EmulatorHandle) -> None:
    configure(dataverse, "faults", {"status5xxRate": 1, "seed": 7})

    statuses = {dataverse.session.get(f"{api(dataverse)}/accounts", timeout=30).status_code for _ in range(12)}

    assert statuses <= {502, 503, 504}
    assert len(statuses) >= 2  # 12 seeded draws from three statuses


def test_5xx_fault_does_not_apply_the_write(dataverse: EmulatorHandle) -> None:
    configure(dataverse, "faults", {"status5xxRate": 1})
    response = dataverse.session.post(f"{api(dataverse)}/accounts", json={"name": "Lost"}, timeout=30)
    assert response.status_code in (502, 503, 504)
    assert int(response.headers["Retry-After"]) >= 1
    configure(dataverse, "faults", {"status5xxRate": 0})
    assert account_count(dataverse) == 0


def test_drop_fault_closes_the_connection_before_processing(dataverse: EmulatorHandle) -> None:
    configure(dataverse, "faults", {"dropRate": 1})
    with pytest.raises(requests.exceptions.ConnectionError):
        dataverse.session.post(f"{api(dataverse)}/accounts", json={"name": "Dropped"}, timeout=30)
    configure(dataverse, "faults", {"dropRate": 0})
    assert account_count(dataverse) == 0


def test_drop_after_processing_applies_the_write(dataverse: EmulatorHandle) -> None:
    configure(dataverse, "faults", {"dropAfterProcessingRate": 1})
    account_id = str(uuid.uuid4())
    with pytest.raises(requests.exceptions.ConnectionError):
        dataverse.session.patch(
            f"{api(dataverse)}/accounts({account_id})", json={"name": "Outcome unknown"}, timeout=30
        )
    with pytest.raises(requests.exceptions.ConnectionError):
        dataverse.session.post(f"{api(dataverse)}/accounts", json={"name": "Also applied"}, timeout=30)
    configure(dataverse, "faults", {"dropAfterProcessingRate": 0})

    row = dataverse.session.get(f"{api(dataverse)}/accounts({account_id})", timeout=30)
    assert row.status_code == 200
    assert row.json()["name"] == "Outcome unknown"
    assert account_count(dataverse) == 2
    assert dataverse.stats()["faults"] == {"dropAfterProcessing": 2}


def test_latency_fault(dataverse: EmulatorHandle) -> None:
    configure(dataverse, "faults", {"latencyMs": 200})
    started = time.perf_counter()
    response = dataverse.session.get(f"{api(dataverse)}/WhoAmI", timeout=30)
    assert response.status_code == 200
    assert time.perf_counter() - started >= 0.2


def test_fault_seed_makes_a_storm_reproducible(dataverse: EmulatorHandle) -> None:
    settings = {"status429Rate": 0.5, "seed": 1234}

    def storm() -> list[int]:
        configure(dataverse, "faults", settings)
        return [dataverse.session.get(f"{api(dataverse)}/WhoAmI", timeout=30).status_code for _ in range(20)]

    first, second = storm(), storm()
    assert first == second
    assert set(first) == {200, 429}


@pytest.mark.parametrize(
    "values",
    [
        {"status429Rate": 1.5},
        {"dropRate": -0.1},
        {"latencyMs": -1},
        {"status5xxRate": "0.5"},
        {"status429Rate": True},
        {"seed": "abc"},
        {"nosuchfault": 0.1},
    ],
)
def test_invalid_fault_settings_are_rejected_and_not_applied(dataverse: EmulatorHandle, values: dict[str, Any]) -> None:
    before = dataverse.admin("GET", "faults").json()

    response = dataverse.admin("POST", "faults", json={"latencyMs": 5, **values})

    assert response.status_code == 400
    assert error_code(response)
    assert dataverse.admin("GET", "faults").json() == before


def test_get_faults_returns_settings_and_reset_clears_them(dataverse: EmulatorHandle) -> None:
    defaults = dataverse.admin("GET", "faults").json()
    assert defaults["status429Rate"] == 0
    assert defaults["latencyMs"] == 0
    assert defaults["seed"] is None

    configure(dataverse, "faults", {"status5xxRate": 0.25, "latencyMs": 10})
    configure(dataverse, "faults", {"retryAfterSeconds": 9})  # settings merge
    current = dataverse.admin("GET", "faults").json()
    assert current == {**defaults, "status5xxRate": 0.25, "latencyMs": 10, "retryAfterSeconds": 9}

    dataverse.reset()
    assert dataverse.admin("GET", "faults").json() == defaults


def test_reset_clears_limits(dataverse: EmulatorHandle) -> None:
    defaults = dataverse.admin("GET", "limits").json()
    configure(dataverse, "limits", {"requestsPerWindow": 1})
    assert dataverse.session.get(f"{api(dataverse)}/WhoAmI", timeout=30).status_code == 200
    assert dataverse.session.get(f"{api(dataverse)}/WhoAmI", timeout=30).status_code == 429

    dataverse.reset()

    assert dataverse.admin("GET", "limits").json() == defaults
    assert dataverse.session.get(f"{api(dataverse)}/WhoAmI", timeout=30).status_code == 200


def test_zero_requests_per_window_throttles_instead_of_crashing(dataverse: EmulatorHandle) -> None:
    """`requestsPerWindow: 0` is either refused by `/_admin/limits` or blocks every request with a 429, never a 500."""
    configured = dataverse.admin("POST", "limits", json={"requestsPerWindow": 0})
    if configured.status_code == 400:
        return
    assert configured.status_code == 200
    assert_throttled(dataverse.session.get(f"{api(dataverse)}/WhoAmI", timeout=30), REQUESTS_LIMIT)


# -- stats -----------------------------------------------------------------------------------------------------
def test_stats_count_requests_by_method_and_entity_set(dataverse: EmulatorHandle) -> None:
    assert dataverse.session.get(f"{api(dataverse)}/accounts", timeout=30).status_code == 200
    assert dataverse.session.get(f"{api(dataverse)}/accounts", params={"$top": "1"}, timeout=30).status_code == 200
    assert (
        dataverse.session.post(f"{api(dataverse)}/contacts", json={"lastname": "Counted"}, timeout=30).status_code
        == 204
    )

    stats = dataverse.stats()
    assert stats["requests"] == 3
    assert stats["chargedUnits"] == 3
    assert stats["byMethod"] == {"GET": {"requests": 2, "units": 2}, "POST": {"requests": 1, "units": 1}}
    assert stats["byEntitySet"] == {"accounts": {"GET": 2}, "contacts": {"POST": 1}}

    assert dataverse.admin("DELETE", "stats").status_code == 204
    assert dataverse.stats() == {
        "requests": 0,
        "chargedUnits": 0,
        "throttled": 0,
        "faults": {},
        "byMethod": {},
        "byEntitySet": {},
    }


def test_stats_count_throttled_requests_apart(dataverse: EmulatorHandle) -> None:
    configure(dataverse, "limits", {"requestsPerWindow": 2, "windowSeconds": 60})
    statuses = [dataverse.session.get(f"{api(dataverse)}/accounts", timeout=30).status_code for _ in range(5)]

    assert statuses == [200, 200, 429, 429, 429]
    stats = dataverse.stats()
    assert stats["requests"] == 2
    assert stats["throttled"] == 3


# -- seed ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "body",
    [
        {"profile": "nope"},
        {"profile": "bench", "counts": {"accounts": -1}},
        {"profile": "bench", "counts": {"accounts": "ten"}},
        {"profile": "bench", "counts": {"acounts": 5}},
    ],
)
def test_seed_rejects_bad_requests(dataverse: EmulatorHandle, body: dict[str, Any]) -> None:
    response = dataverse.admin("POST", "seed", json=body)
    assert response.status_code == 400
    assert error_code(response)
    assert account_count(dataverse) == 0


def test_bench_seed_creates_exactly_the_counts(dataverse: EmulatorHandle) -> None:
    response = configure(dataverse, "seed", {"profile": "bench", "counts": {"accounts": 50, "contacts": 20}})
    assert response["created"] == {"account": 50, "contact": 20}

    def count(entity_set: str) -> int:
        body = dataverse.session.get(
            f"{api(dataverse)}/{entity_set}", params={"$count": "true", "$top": "1"}, timeout=30
        ).json()
        value: int = body["@odata.count"]
        return value

    assert count("accounts") == 50
    assert count("contacts") == 20


def test_demo_seed_uses_stable_ids(dataverse: EmulatorHandle) -> None:
    from local.emulators.dataverse.seed import seeded_id

    configure(dataverse, "seed", {"profile": "demo"})
    account_id = seeded_id("account", "Trey Research")
    row = dataverse.session.get(f"{api(dataverse)}/accounts({account_id})", params={"$select": "name"}, timeout=30)
    assert row.status_code == 200
    assert row.json()["name"] == "Trey Research"
