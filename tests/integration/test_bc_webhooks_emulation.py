"""The BC emulator's webhooks over real HTTP (api-facts A8): subscriptions need the handshake, expire after 3 days,
are renewed by PATCH; notifications are batched per URL, become one `collection` past the threshold, are retried on
408/429/5xx and delete the subscription on any other error; unsupported resources are refused."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from local.emulators.business_central.seed import COMPANY_ID
from tests.conftest import BusinessCentralHandle

pytestmark = pytest.mark.integration

# (method, path with query, body) -> (status, body, content type)
Handler = Callable[[str, str, bytes], tuple[int, bytes, str]]


class Receiver:
    """A notification URL on a free port: by default it echoes the handshake token and records each notification
    POST, answering the next of `statuses` (202 when none is left). `handler` replaces all of that (the functions
    tests forward to the registered function)."""

    def __init__(self, handler: Handler | None = None) -> None:
        self.posts: list[dict[str, Any]] = []
        self.handshakes = 0
        self.statuses: list[int] = []
        self.echo = True
        self.handler = handler
        owner = self

        class _Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                status, payload, content_type = (owner.handler or owner.default)(self.command, self.path, body)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _answer

            def log_message(self, *args: Any) -> None:
                """Quiet."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def default(self, method: str, target: str, body: bytes) -> tuple[int, bytes, str]:
        token = parse_qs(urlsplit(target).query).get("validationToken")
        if token:
            self.handshakes += 1
            return (200, token[0].encode(), "text/plain") if self.echo else (200, b"nope", "text/plain")
        self.posts.append(json.loads(body))
        return (self.statuses.pop(0) if self.statuses else 202), b"", "text/plain"

    def entries(self) -> list[dict[str, Any]]:
        return [entry for post in self.posts for entry in post["value"]]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def wait_for(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


def fast(bc: BusinessCentralHandle, **knobs: float) -> None:
    settings = {"batchDelaySeconds": 0.3, "retryDelaySeconds": 0.1, **knobs}
    response = bc.admin("POST", "webhooks", json=settings)
    assert response.status_code == 200, response.text


def subscribe(bc: BusinessCentralHandle, url: str, entity_set: str = "customers", state: str = "s3cret") -> Any:
    body = {"notificationUrl": url, "resource": f"/api/v2.0/companies({COMPANY_ID})/{entity_set}", "clientState": state}
    return bc.session.post(f"{bc.api_root}/subscriptions", json=body)


def a_customer(bc: BusinessCentralHandle, root: str) -> dict[str, Any]:
    return dict(bc.session.get(f"{root}/customers", params={"$top": "1"}).json()["value"][0])


def rename(bc: BusinessCentralHandle, root: str, customer: dict[str, Any], name: str) -> None:
    url = f"{root}/customers({customer['id']})"
    response = bc.session.patch(url, json={"displayName": name}, headers={"If-Match": "*"})
    assert response.status_code == 200, response.text


def test_handshake_is_required_and_the_subscription_is_not_company_scoped(
    business_central: BusinessCentralHandle, bc_demo: str, receiver: Receiver
) -> None:
    receiver.echo = False
    refused = subscribe(business_central, receiver.url)
    assert refused.status_code == 400 and receiver.handshakes == 1
    assert business_central.session.get(f"{business_central.api_root}/subscriptions").json()["value"] == []
    receiver.echo = True
    created = subscribe(business_central, receiver.url)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["resource"] == f"/api/v2.0/companies({COMPANY_ID})/customers" and body["clientState"] == "s3cret"
    listed = business_central.session.get(f"{business_central.api_root}/subscriptions").json()["value"]
    assert [s["subscriptionId"] for s in listed] == [body["subscriptionId"]]
    scoped = business_central.session.get(f"{bc_demo}/subscriptions")
    assert scoped.status_code in (400, 404)


@pytest.mark.parametrize("entity_set", ["contacts", "customerPayments", "salesOrderLines", "nonsense"])
def test_an_unsupported_resource_is_refused(
    business_central: BusinessCentralHandle, bc_demo: str, receiver: Receiver, entity_set: str
) -> None:
    response = subscribe(business_central, receiver.url, entity_set)
    assert response.status_code == 400 and response.json()["error"]["code"] == "BadRequest"
    assert receiver.handshakes == 0


def test_expiry_after_three_days_and_renewal_by_patch(
    business_central: BusinessCentralHandle, bc_demo: str, receiver: Receiver
) -> None:
    fast(business_central)
    created = subscribe(business_central, receiver.url).json()
    url = f"{business_central.api_root}/subscriptions('{created['subscriptionId']}')"
    assert business_central.session.patch(url, json={}).status_code == 400  # If-Match is required
    receiver.echo = False
    assert business_central.session.patch(url, json={}, headers={"If-Match": "*"}).status_code == 400
    receiver.echo = True
    fast(business_central, subscriptionClockAdvanceSeconds=3600)
    renewed = business_central.session.patch(url, json={}, headers={"If-Match": created["@odata.etag"]})
    assert renewed.status_code == 200, renewed.text
    assert renewed.json()["expirationDateTime"] > created["expirationDateTime"] and receiver.handshakes == 3
    # three days after the renewal it is gone: not listed, 404, and a change notifies no one
    fast(business_central, subscriptionClockAdvanceSeconds=3600 + 3 * 86400 + 5)
    assert business_central.session.get(url).status_code == 404
    assert business_central.session.get(f"{business_central.api_root}/subscriptions").json()["value"] == []
    rename(business_central, bc_demo, a_customer(business_central, bc_demo), "After expiry")
    time.sleep(1.0)
    assert receiver.posts == []


def test_changes_are_batched_into_one_post_and_a_line_change_notifies_the_header(
    business_central: BusinessCentralHandle, bc_demo: str, receiver: Receiver
) -> None:
    fast(business_central, batchDelaySeconds=2.0)
    lines = [{"lineType": "Item", "lineObjectNumber": "1896-S", "quantity": 2}]
    order = business_central.session.post(
        f"{bc_demo}/salesOrders", json={"customerNumber": "C00010", "salesOrderLines": lines}
    ).json()
    customers_sub = subscribe(business_central, receiver.url).json()
    orders_sub = subscribe(business_central, receiver.url, "salesOrders").json()
    customer = a_customer(business_central, bc_demo)
    for index in range(3):
        rename(business_central, bc_demo, customer, f"Batched {index}")
    line = business_central.session.get(f"{bc_demo}/salesOrders({order['id']})/salesOrderLines").json()["value"][0]
    patched = business_central.session.patch(
        f"{bc_demo}/salesOrders({order['id']})/salesOrderLines({line['id']})",
        json={"quantity": 7},
        headers={"If-Match": "*"},
    )
    assert patched.status_code == 200, patched.text
    time.sleep(0.5)
    assert receiver.posts == []  # held back for the batching delay
    wait_for(lambda: len(receiver.posts) == 1, 10)
    time.sleep(0.5)
    assert len(receiver.posts) == 1  # one POST for both subscriptions of the URL
    entries = receiver.entries()
    by_sub = {e["subscriptionId"] for e in entries}
    assert by_sub == {customers_sub["subscriptionId"], orders_sub["subscriptionId"]}
    customer_entries = [e for e in entries if e["subscriptionId"] == customers_sub["subscriptionId"]]
    assert len(customer_entries) == 3 and {e["changeType"] for e in customer_entries} == {"updated"}
    assert customer_entries[0]["resource"] == f"api/v2.0/companies({COMPANY_ID})/customers({customer['id']})"
    assert customer_entries[0]["clientState"] == "s3cret"
    order_entries = [e for e in entries if e["subscriptionId"] == orders_sub["subscriptionId"]]
    assert order_entries and all(f"salesOrders({order['id']})" in e["resource"] for e in order_entries)
    assert {e["changeType"] for e in order_entries} == {"updated"}


def test_created_and_deleted_and_a_rolled_back_batch_notifies_nothing(
    business_central: BusinessCentralHandle, bc_demo: str, receiver: Receiver
) -> None:
    fast(business_central)
    subscribe(business_central, receiver.url)
    made = business_central.session.post(f"{bc_demo}/customers", json={"displayName": "Webhook New"}).json()
    business_central.session.delete(f"{bc_demo}/customers({made['id']})", headers={"If-Match": "*"})
    wait_for(lambda: len(receiver.entries()) >= 2)
    kinds = [e["changeType"] for e in receiver.entries() if made["id"] in e["resource"]]
    assert kinds == ["created", "deleted"]
    receiver.posts.clear()
    customer = a_customer(business_central, bc_demo)
    missing = "00000000-0000-0000-0000-000000000001"
    batch = {
        "requests": [
            {"id": "1", "method": "PATCH", "url": f"companies({COMPANY_ID})/customers({customer['id']})",
             "headers": {"If-Match": "*"}, "body": {"displayName": "Rolled back"}},
            {"id": "2", "method": "PATCH", "url": f"companies({COMPANY_ID})/customers({missing})",
             "headers": {"If-Match": "*"}, "body": {"displayName": "Missing"}},
        ]
    }  # fmt: skip
    answer = business_central.session.post(
        f"{business_central.api_root}/$batch", json=batch, headers={"Isolation": "snapshot"}
    )
    assert answer.status_code == 200
    time.sleep(1.0)
    assert receiver.posts == []


def test_more_changes_than_the_threshold_make_one_collection_notification(
    business_central: BusinessCentralHandle, bc_demo: str, receiver: Receiver
) -> None:
    fast(business_central, batchDelaySeconds=1.0, collectionThreshold=5)
    created = subscribe(business_central, receiver.url).json()
    for index in range(6):
        business_central.session.post(f"{bc_demo}/customers", json={"displayName": f"Bulk {index}"})
    wait_for(lambda: len(receiver.posts) == 1)
    (entry,) = receiver.entries()
    assert entry["changeType"] == "collection" and entry["subscriptionId"] == created["subscriptionId"]
    assert entry["resource"].startswith(f"api/v2.0/companies({COMPANY_ID})/customers?$filter=lastModifiedDateTime")


def test_retries_on_5xx_then_an_other_error_deletes_the_subscription(
    business_central: BusinessCentralHandle, bc_demo: str, receiver: Receiver
) -> None:
    fast(business_central)
    created = subscribe(business_central, receiver.url).json()
    receiver.statuses = [503, 429, 202]
    customer = a_customer(business_central, bc_demo)
    rename(business_central, bc_demo, customer, "Retried")
    wait_for(lambda: len(receiver.posts) == 3)
    assert receiver.posts[0] == receiver.posts[2]  # the same payload, retried
    assert business_central.session.get(f"{business_central.api_root}/subscriptions").json()["value"]
    receiver.statuses = [400]
    rename(business_central, bc_demo, customer, "Refused")
    wait_for(lambda: len(receiver.posts) == 4)
    listed = business_central.session.get(f"{business_central.api_root}/subscriptions").json()["value"]
    assert created["subscriptionId"] not in [s["subscriptionId"] for s in listed]
    rename(business_central, bc_demo, customer, "Nobody listens")
    time.sleep(1.0)
    assert len(receiver.posts) == 4


def test_two_hundred_subscriptions_per_environment(
    business_central: BusinessCentralHandle, bc_demo: str, receiver: Receiver
) -> None:
    for _ in range(200):
        assert subscribe(business_central, receiver.url).status_code == 201
    refused = subscribe(business_central, receiver.url)
    assert refused.status_code == 400 and "200" in refused.json()["error"]["message"]


def test_a_page_web_service_write_of_an_api_record_notifies_its_subscription(
    business_central: BusinessCentralHandle, bc_demo: str, receiver: Receiver
) -> None:
    """Page 42 (SalesOrder) writes the same record as the API's salesOrders: its subscription hears of it."""
    from tests.integration.test_bc_sales_order_page import header_path, new_order, page_url

    fast(business_central)
    order = new_order(business_central, bc_demo)
    created = subscribe(business_central, receiver.url, "salesOrders").json()
    changed = business_central.session.patch(
        page_url(business_central, header_path(order["number"])),
        json={"Your_Reference": "Via the page"},
        headers={"If-Match": order["@odata.etag"]},
    )
    assert changed.status_code == 200, changed.text
    wait_for(lambda: len(receiver.posts) == 1)
    (entry,) = receiver.entries()
    assert entry["subscriptionId"] == created["subscriptionId"] and entry["changeType"] == "updated"
    assert entry["resource"] == f"api/v2.0/companies({COMPANY_ID})/salesOrders({order['id']})"


def test_retries_stop_after_the_retry_period_and_keep_the_subscription(
    business_central: BusinessCentralHandle, bc_demo: str, receiver: Receiver
) -> None:
    fast(business_central, retryDelaySeconds=0.1, retryForSeconds=0.5)
    subscribe(business_central, receiver.url)
    receiver.statuses = [500] * 50
    rename(business_central, bc_demo, a_customer(business_central, bc_demo), "Never delivered")
    wait_for(lambda: len(receiver.posts) >= 2)
    time.sleep(1.5)
    attempts = len(receiver.posts)
    assert 2 <= attempts <= 4  # 0.1 + 0.2 (+ 0.4 would pass the 0.5 s period): bounded, with doubling waits
    time.sleep(0.5)
    assert len(receiver.posts) == attempts
    assert business_central.session.get(f"{business_central.api_root}/subscriptions").json()["value"]
