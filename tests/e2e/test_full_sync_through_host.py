"""A full synchronization through the local Functions host, as an admin runs it: `POST /api/full-sync`, the chunks
go out through the real `azure-servicebus` sender to the local broker and come back to the queue trigger, the
review is polled while it runs. Volume data on both sides, and 429s and 5xx switched on in both emulators."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from local.stack import LocalStack

pytestmark = pytest.mark.integration
BENCH_CUSTOMERS = 1500
FAULTS = {"status429Rate": 0.03, "status5xxRate": 0.02, "retryAfterSeconds": 0}


@pytest.fixture(scope="module")
def volume_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalStack, requests.Session]]:
    stack = LocalStack.on_free_ports(cert_dir=Path(tmp_path_factory.mktemp("identity-volume")))
    stack.start()
    admin = requests.Session()
    admin.trust_env = False
    try:
        admin.post(f"{stack.urls['dataverse']}/_admin/seed", json={"profile": "demo"}, timeout=60).raise_for_status()
        bench = {"profile": "bench", "counts": {"customers": BENCH_CUSTOMERS}}
        admin.post(f"{stack.urls['business_central']}/_admin/seed", json=bench, timeout=300).raise_for_status()
        for name in ("business_central", "dataverse"):
            admin.post(f"{stack.urls[name]}/_admin/faults", json=FAULTS, timeout=30).raise_for_status()
        api = requests.Session()
        api.trust_env = False
        api.headers["x-functions-key"] = stack.function_key
        yield stack, api
    finally:
        stack.stop()


def _wait(api: requests.Session, url: str, timeout: float = 600) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    seen_running = False
    while time.monotonic() < deadline:
        review: dict[str, Any] = api.get(url, timeout=30).json()
        seen_running |= any(line["status"] == "running" for line in review["lines"])
        if review["status"] in ("finished", "failed"):
            review["seenRunning"] = seen_running
            return review
        time.sleep(0.5)
    raise AssertionError(f"the run did not end in {timeout} s: {review}")


def test_a_full_sync_through_the_host_with_faults_copies_every_customer_once(
    volume_stack: tuple[LocalStack, requests.Session],
) -> None:
    stack, api = volume_stack
    base = stack.urls["functions"]
    answer = api.post(f"{base}/full-sync", json={"mappings": ["SALESPEOPLE", "CURRENCY", "CUSTOMER"]}, timeout=120)
    assert answer.status_code == 202, answer.text
    review = _wait(api, f"{base}/full-sync/{answer.json()['runId']}")
    assert review["status"] == "finished", review
    assert review["seenRunning"]  # the review was readable while lines ran
    customer = next(line for line in review["lines"] if line["mapping"] == "CUSTOMER")
    assert customer["chunks"]["done"] == customer["chunks"]["total"] > 1
    assert customer["counters"]["failed"] == 0, customer["errors"]
    assert customer["counters"]["coupled"] >= BENCH_CUSTOMERS  # the bench customers, plus the demo accounts
    admin = requests.Session()
    admin.trust_env = False
    for name in ("business_central", "dataverse"):
        stats = admin.get(f"{stack.urls[name]}/_admin/stats", timeout=30).json()
        assert sum(stats["faults"].values()) > 0, (name, stats["faults"])  # faults were really met, and retried
        off = {"status429Rate": 0, "status5xxRate": 0}  # the test's own reads below have no retry policy
        admin.post(f"{stack.urls[name]}/_admin/faults", json=off, timeout=30).raise_for_status()
    assert _names(stack, "accounts", "name") == sorted(set(_names(stack, "accounts", "name")))  # none twice
    assert {f"Bench customer {n:06d}" for n in range(BENCH_CUSTOMERS)} <= set(_names(stack, "accounts", "name"))
    again = api.post(f"{base}/full-sync", json={"mappings": ["SALESPEOPLE", "CURRENCY", "CUSTOMER"]}, timeout=120)
    second = _wait(api, f"{base}/full-sync/{again.json()['runId']}")
    assert second["status"] == "finished", second
    assert sum(line["counters"]["inserted"] for line in second["lines"]) == 0, second["lines"]


def _names(stack: LocalStack, entity_set: str, column: str) -> list[str]:
    """Every value of `column`, read with the app's own credentials path (MSAL against the local authority)."""
    from local.emulators.tokens import acquire_local_token

    session = requests.Session()
    session.trust_env = False
    settings = stack.app_settings()
    token = acquire_local_token(
        stack.urls["authority"],
        stack.ca_file,
        settings["CLIENT_ID"],
        settings["CLIENT_SECRET"],
        stack.urls["dataverse"],
        settings["TENANT_ID"],
    )
    session.headers["Authorization"] = f"Bearer {token}"
    url: str | None = f"{stack.urls['dataverse']}/api/data/v9.2/{entity_set}?$select={column}"
    names: list[str] = []
    while url:
        body = session.get(url, timeout=60).json()
        names += [row[column] for row in body["value"]]
        url = body.get("@odata.nextLink")
    return sorted(names)
