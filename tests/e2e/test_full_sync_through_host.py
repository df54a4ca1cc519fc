"""A full synchronization through the local Functions host, as an admin runs it: `POST /api/full-sync`, the chunks
go out through the real `azure-servicebus` sender to the local broker and come back to the queue trigger, the
review is polled while it runs.

Two stacks with the same generated data (customers, persons of companies, items with their units on the BC side;
the demo accounts and contacts on the Dataverse side, so customers are coupled by matching as well as created):
one clean, one where everything goes wrong at once: 429s and 5xx in both emulators, every message delivered twice,
a share of first deliveries crashing mid-chunk (the worker dies between two requests), completions lost. Their
end states must be identical, record by record, on both sides and in the couplings; a second run inserts nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from local.emulators.business_central.seed import COMPANY_ID
from local.stack.launcher import LocalStack
from shared.mappings import carrying, run_list
from shared.storage.couplings import TableCouplingStore
from shared.storage.tables import TableFactory

# two stacks and two full syncs: minutes; queue faults (duplicates, crashes, lost completions): part of the chaos suite
pytestmark = [pytest.mark.integration, pytest.mark.chaos, pytest.mark.timeout(600)]
COUNTS = {"customers": 2000, "contacts": 2000, "items": 400}
MAPPINGS = list(run_list(*carrying(bc_sets=COUNTS)))  # the generated records' mappings and what they depend on
# Couple Records creates what has no match only when the mapping says so (BC's rule): the generated customers and
# persons are created in Sales here, as the admin of this story chose
CREATE_IF_NO_MATCH = ("CUSTOMER", "CONTACT")
FAULTS = {"status429Rate": 0.03, "status5xxRate": 0.02, "retryAfterSeconds": 0}
CHAOS = {"duplicate": True, "crashRate": 0.3, "crashAfterMax": 6, "lostCompletionRate": 0.1, "seed": 11}
BC_RESOURCE = "https://api.businesscentral.dynamics.com"
DATAVERSE_VIEW = {  # entity set -> columns compared (ids included: created ids are deterministic)
    "accounts": ["accountid", "name", "address1_city", "_transactioncurrencyid_value"],
    "contacts": ["contactid", "fullname", "emailaddress1"],
    "uomschedules": ["uomscheduleid", "name"],
    "uoms": ["name", "_uomscheduleid_value", "quantity"],  # no uomid: Dataverse makes each group's base unit
    "products": ["productid", "productnumber", "name", "_defaultuomid_value", "_defaultuomscheduleid_value"],
}
# no `number`: BC gives a created record the next number of its series, so numbers follow the arrival order
BC_VIEW = {"customers": ["id", "displayName", "city"], "contacts": ["id", "displayName", "type", "email"]}


def _session(key: str | None = None) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    if key:
        session.headers["x-functions-key"] = key
    return session


def _read_all(session: requests.Session, url: str | None, params: dict[str, str] | None = None) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    while url:
        body = session.get(url, params=params, timeout=60).json()
        rows += body["value"]
        url, params = body.get("@odata.nextLink"), None
    return rows


def _text(value: Any) -> str:
    return repr(float(value)) if isinstance(value, int | float) and not isinstance(value, bool) else str(value)


def snapshot(stack: LocalStack) -> dict[str, Any]:
    """Both sides and the couplings, as sorted tuples: two runs compare record by record."""
    dv = _session()
    dv.headers["Authorization"] = f"Bearer {stack.token(stack.urls['dataverse'])}"
    bc = _session()
    bc.headers["Authorization"] = f"Bearer {stack.token(BC_RESOURCE)}"
    state: dict[str, Any] = {}
    for entity_set, columns in DATAVERSE_VIEW.items():
        url = f"{stack.urls['dataverse']}/api/data/v9.2/{entity_set}"
        rows = _read_all(dv, url, {"$select": ",".join(columns)})
        state[f"dataverse/{entity_set}"] = sorted(tuple(_text(row.get(c)) for c in columns) for row in rows)
    base = f"{stack.app_settings()['BC_BASE_URL']}/api/v2.0/companies({COMPANY_ID})"
    for entity_set, columns in BC_VIEW.items():
        rows = _read_all(bc, f"{base}/{entity_set}", {"$select": ",".join(columns)})
        state[f"bc/{entity_set}"] = sorted(tuple(_text(row.get(c)) for c in columns) for row in rows)
    couplings = TableCouplingStore(TableFactory.from_connection_string(stack.env()["AzureWebJobsStorage"]))
    for name in MAPPINGS:
        state[f"couplings/{name}"] = sorted((c.bc_id, c.dataverse_id) for c in couplings.list_couplings(name))
    return state


def _wait(api: requests.Session, url: str, timeout: float = 900) -> dict[str, Any]:
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


def full_sync(stack: LocalStack) -> dict[str, Any]:
    api = _session(stack.function_key)
    base = stack.urls["functions"]
    for name in CREATE_IF_NO_MATCH:  # the admin's "Create New in Case of No Match" (BC's default is off)
        patched = api.patch(f"{base}/mappings/{name}", json={"createIfNoMatch": True}, timeout=60)
        assert patched.status_code == 200, patched.text
    answer = api.post(f"{base}/full-sync", json={"mappings": MAPPINGS}, timeout=120)
    assert answer.status_code == 202, answer.text
    return _wait(api, f"{base}/full-sync/{answer.json()['runId']}")


def _faults(stack: LocalStack, faults: dict[str, Any]) -> list[int]:
    """Switch faults; returns how many each emulator had injected before."""
    admin, seen = _session(), []
    for name in ("business_central", "dataverse"):
        stats = admin.get(f"{stack.urls[name]}/_admin/stats", timeout=30).json()
        seen.append(sum(stats["faults"].values()))
        admin.post(f"{stack.urls[name]}/_admin/faults", json=faults, timeout=30).raise_for_status()
    return seen


def _stack(tmp: Path, host_env: dict[str, str]) -> LocalStack:
    stack = LocalStack.on_free_ports(cert_dir=tmp)
    stack.host_env = {"FULL_SYNC_CHUNK_RECORDS": "200", **host_env}  # several chunks per line of the bench data
    stack.start()
    admin = _session()
    admin.post(f"{stack.urls['dataverse']}/_admin/seed", json={"profile": "demo"}, timeout=60).raise_for_status()
    bench = {"profile": "bench", "counts": COUNTS}
    admin.post(f"{stack.urls['business_central']}/_admin/seed", json=bench, timeout=300).raise_for_status()
    return stack


@pytest.fixture(scope="module")
def clean_state(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    stack = _stack(tmp_path_factory.mktemp("identity-clean"), {})
    try:
        review = full_sync(stack)
        assert review["status"] == "finished", review
        return snapshot(stack)
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def chaotic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalStack, dict[str, Any]]]:
    stack = _stack(tmp_path_factory.mktemp("identity-chaos"), {"LOCAL_HOST_CHAOS": json.dumps(CHAOS)})
    try:
        _faults(stack, FAULTS)
        review = full_sync(stack)
        yield stack, review
    finally:
        stack.stop()


def test_everything_going_wrong_at_once_ends_exactly_as_a_clean_run(
    clean_state: dict[str, Any], chaotic: tuple[LocalStack, dict[str, Any]]
) -> None:
    stack, review = chaotic
    assert review["status"] == "finished", review
    assert review["seenRunning"]  # the review was readable while lines ran
    lines = {line["mapping"]: line for line in review["lines"]}
    for name in ("CUSTOMER", "CONTACT", "ITEM-PRODUCT"):
        assert lines[name]["chunks"]["done"] == lines[name]["chunks"]["total"] > 1, lines[name]
        assert lines[name]["counters"]["failed"] == 0, lines[name]
    assert all(injected > 0 for injected in _faults(stack, {"status429Rate": 0, "status5xxRate": 0}))
    root = stack.urls["functions"].removesuffix("/api")
    status = _session().get(f"{root}/admin/host/status", params={"code": stack.function_key}, timeout=30).json()
    assert all(status["chaos"][what] > 0 for what in ("crashed", "duplicated", "lostCompletions")), status
    chaotic_state = snapshot(stack)
    for part, rows in clean_state.items():
        assert chaotic_state[part] == rows, part  # record by record
    created = len(clean_state["dataverse/products"])
    assert created >= COUNTS["items"] and len(clean_state["couplings/CUSTOMER"]) >= COUNTS["customers"]
    names = [row[1] for row in chaotic_state["dataverse/accounts"]]
    assert len(names) == len(set(names))  # no account twice


def test_a_second_run_inserts_nothing(chaotic: tuple[LocalStack, dict[str, Any]]) -> None:
    stack, _ = chaotic
    second = full_sync(stack)
    assert second["status"] == "finished", second
    assert sum(line["counters"]["inserted"] for line in second["lines"]) == 0, second["lines"]
