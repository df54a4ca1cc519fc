"""Business Central emulator over real HTTP: queries, paging, JSON $batch, service protection."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest

from local.emulators.business_central.seed import COMPANY_ID
from tests.conftest import BusinessCentralHandle

pytestmark = pytest.mark.integration


def values(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()["value"]
    return rows


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("city eq 'Atlanta'", ["C00030", "C00050"]),
        ("city eq 'atlanta'", []),  # BC filters are case-sensitive (AL filter semantics)
        ("country ne 'US' and salespersonCode eq 'JO'", ["C00010", "C00040"]),
        ("startswith(displayName,'The') or contains(displayName,'Ski')", ["C00010", "C00040"]),
        ("number ge 'C00050'", ["C00050", "C00060"]),
        (
            "lastModifiedDateTime gt 2000-01-01T00:00:00Z and blocked eq '_x0020_'",
            ["C00010", "C00020", "C00030", "C00040", "C00050", "C00060"],
        ),
        (f"id eq {uuid.uuid4()}", []),
    ],
)
def test_filter(business_central: BusinessCentralHandle, bc_demo: str, expression: str, expected: list[str]) -> None:
    rows = values(
        business_central.session.get(
            f"{bc_demo}/customers", params={"$filter": expression, "$select": "number", "$orderby": "number"}
        )
    )
    assert [row["number"] for row in rows] == expected


@pytest.mark.parametrize(
    "params",
    [
        {"$filter": "nosuch eq 1"},
        {"$filter": "city eq"},
        {"$filter": "id eq 'not-a-guid'"},
        {"$select": "nosuch"},
        {"$orderby": "city sideways"},
        {"$expand": "nosuch"},
        {"$apply": "x"},
    ],
)
def test_bad_queries_are_400(business_central: BusinessCentralHandle, bc_demo: str, params: dict[str, str]) -> None:
    assert business_central.session.get(f"{bc_demo}/customers", params=params).status_code == 400


def test_select_returns_only_what_was_selected(business_central: BusinessCentralHandle, bc_demo: str) -> None:
    row = values(business_central.session.get(f"{bc_demo}/items", params={"$select": "number", "$top": "1"}))[0]
    assert set(row) == {"@odata.etag", "number"}


def test_expand_with_nested_select_and_financial_details(business_central: BusinessCentralHandle, bc_demo: str) -> None:
    order = business_central.session.post(
        f"{bc_demo}/salesOrders",
        json={"customerNumber": "C00030", "salesOrderLines": [{"lineType": "Item", "lineObjectNumber": "1908-S"}]},
    ).json()
    expanded = business_central.session.get(
        f"{bc_demo}/salesOrders({order['id']})",
        params={"$select": "number", "$expand": "salesOrderLines($select=lineObjectNumber,unitPrice)"},
    ).json()
    assert expanded["salesOrderLines"] == [
        {"@odata.etag": expanded["salesOrderLines"][0]["@odata.etag"], "lineObjectNumber": "1908-S", "unitPrice": 190.1}
    ]
    customer = values(
        business_central.session.get(
            f"{bc_demo}/customers",
            params={"$filter": "number eq 'C00030'", "$expand": "customerFinancialDetails($select=balance)"},
        )
    )[0]
    assert customer["customerFinancialDetails"]["balance"] == 0
    direct = business_central.session.get(f"{bc_demo}/customers({customer['id']})/customerFinancialDetails").json()
    assert direct["number"] == "C00030"


def test_server_paging_with_max_page_size(business_central: BusinessCentralHandle) -> None:
    business_central.admin("POST", "seed", json={"profile": "bench", "counts": {"customers": 2500}})
    url: str | None = f"{business_central.company_root(COMPANY_ID)}/customers?$select=number&$orderby=displayName"
    seen: list[str] = []
    pages = 0
    while url:
        body = business_central.session.get(url, headers={"Prefer": "odata.maxpagesize=1000"}).json()
        seen += [row["number"] for row in body["value"]]
        url = body.get("@odata.nextLink")
        pages += 1
    assert pages == 3 and len(seen) == 2500 == len(set(seen))
    capped = business_central.session.get(
        f"{business_central.company_root(COMPANY_ID)}/customers",
        params={"$select": "number"},
        headers={"Prefer": "odata.maxpagesize=50000"},
    )
    assert len(capped.json()["value"]) == 2500 and "@odata.nextLink" not in capped.json()


def batch(bc: BusinessCentralHandle, requests: list[dict[str, Any]], **headers: str) -> list[dict[str, Any]]:
    response = bc.session.post(
        f"{bc.api_root}/$batch",
        json={"requests": requests},
        headers={"Content-Type": "application/json", "Accept": "application/json", **headers},
    )
    assert response.status_code == 200, response.text
    responses: list[dict[str, Any]] = response.json()["responses"]
    return responses


def create_customer(name: str, request_id: str) -> dict[str, Any]:
    return {
        "id": request_id,
        "method": "POST",
        "url": f"companies({COMPANY_ID})/customers",
        "headers": {"Content-Type": "application/json"},
        "body": {"displayName": name},
    }


def customer_names(bc: BusinessCentralHandle) -> set[str]:
    rows = values(bc.session.get(f"{bc.company_root(COMPANY_ID)}/customers", params={"$select": "displayName"}))
    return {row["displayName"] for row in rows}


def test_batch_answers_each_request_and_counts_each_operation(
    business_central: BusinessCentralHandle, bc_demo: str
) -> None:
    business_central.admin("DELETE", "stats")
    responses = batch(
        business_central,
        [
            create_customer("Batch A", "a"),
            {"id": "b", "method": "GET", "url": f"companies({COMPANY_ID})/items?$select=number&$top=2"},
            create_customer("Batch B", "c"),
        ],
    )
    assert [(r["id"], r["status"]) for r in responses] == [("a", 201), ("b", 200), ("c", 201)]
    assert len(responses[1]["body"]["value"]) == 2
    stats = business_central.stats()
    assert stats["requests"] == 1 and stats["chargedUnits"] == 3
    assert {"Batch A", "Batch B"} <= customer_names(business_central)


def test_batch_stops_at_first_failure_unless_told_to_continue(
    business_central: BusinessCentralHandle, bc_demo: str
) -> None:
    bad = create_customer("x" * 101, "bad")
    stopped = batch(business_central, [create_customer("First", "1"), bad, create_customer("Never", "3")])
    assert [r["status"] for r in stopped] == [201, 400]
    assert stopped[1]["body"]["error"]["code"] == "Application_StringExceededLength"
    assert "Never" not in customer_names(business_central) and "First" in customer_names(business_central)
    went_on = batch(business_central, [bad, create_customer("After", "2")], Prefer="odata.continue-on-error")
    assert [r["status"] for r in went_on] == [400, 201]
    assert "After" in customer_names(business_central)


def test_snapshot_isolation_makes_the_batch_all_or_nothing(
    business_central: BusinessCentralHandle, bc_demo: str
) -> None:
    responses = batch(
        business_central, [create_customer("Rolled back", "1"), create_customer("y" * 101, "2")], Isolation="snapshot"
    )
    assert [r["status"] for r in responses] == [201, 400]
    assert "Rolled back" not in customer_names(business_central)


def test_batch_limit_is_100_operations(business_central: BusinessCentralHandle, bc_demo: str) -> None:
    requests = [{"id": str(n), "method": "GET", "url": f"companies({COMPANY_ID})/currencies"} for n in range(101)]
    response = business_central.session.post(f"{business_central.api_root}/$batch", json={"requests": requests})
    assert response.status_code == 400
    assert len(batch(business_central, requests[:100])) == 100


def test_requests_over_the_window_get_429_with_retry_after(
    business_central: BusinessCentralHandle, bc_demo: str
) -> None:
    business_central.admin("POST", "limits", json={"requestsPerWindow": 3, "windowSeconds": 60})
    statuses = [business_central.session.get(f"{bc_demo}/currencies").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    throttled = business_central.session.get(f"{bc_demo}/currencies")
    assert int(throttled.headers["Retry-After"]) >= 1


def test_five_concurrent_then_queue_then_429(business_central: BusinessCentralHandle, bc_demo: str) -> None:
    """BC processes 5 requests per principal at once and queues the rest; past the queue it answers 429."""
    business_central.admin("POST", "limits", json={"maxConcurrent": 2, "maxQueued": 1})
    business_central.admin("POST", "faults", json={"latencyMs": 400})
    results: list[tuple[int, float]] = []
    lock = threading.Lock()
    first_sent = time.monotonic()  # a bound that load cannot shrink: the queued call ends >= 2 latencies after it

    def call() -> None:
        status = business_central.session.get(f"{bc_demo}/currencies").status_code
        with lock:
            results.append((status, time.monotonic() - first_sent))

    threads = [threading.Thread(target=call) for _ in range(4)]
    for thread in threads:
        thread.start()
        time.sleep(0.02)
    for thread in threads:
        thread.join()
    statuses = sorted(status for status, _ in results)
    assert statuses == [200, 200, 200, 429]
    assert max(ended for status, ended in results if status == 200) >= 0.8  # the queued one waited its turn
