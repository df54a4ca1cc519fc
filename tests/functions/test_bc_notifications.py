"""BC -> us notifications through the registered functions over the real stack (issue 23): the BC emulator's
webhooks call `/api/notifications/bc` (a small HTTP bridge hands each call to the registered function as the
Functions host would), the subscriptions are kept by `ensure_subscriptions` in Azurite, and the woken runs are run by
the registered queue trigger."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import azure.functions as func
import pytest

from local.emulators.business_central.seed import COMPANY_ID, COMPANY_NAME
from local.fakes.queue import InMemoryJobQueue, to_function_message
from shared.bootstrap import run_services
from shared.domain.jobs import JobKind, JobMessage
from shared.engine.mapping_run import run_mapping
from shared.mappings import get_mapping
from shared.services.notifications_bc import EnsureReport
from shared.storage.bc_subscriptions import BcSubscriptionStore
from shared.storage.tables import TableFactory
from shared.triggers.notifications_timer import ensure_subscriptions
from tests.functions.conftest import FUNCTIONS, Api
from tests.integration.test_bc_webhooks_emulation import Receiver, wait_for
from tests.sync.test_incremental import API, dv_writes, patch_account

pytestmark = pytest.mark.integration
HANDSHAKE = FUNCTIONS["bc_notification_handshake"].get_user_function()
NOTIFY = FUNCTIONS["bc_notifications"].get_user_function()
SYNC_JOB = FUNCTIONS["sync_job"].get_user_function()


def call(
    method: str, params: dict[str, str], body: bytes = b"", content_type: str | None = "application/json"
) -> tuple[int, bytes, str]:
    request = func.HttpRequest(
        method,
        "http://localhost/api/notifications/bc",
        headers={"content-type": content_type} if content_type else {},
        params=params,
        route_params={},
        body=body,
    )
    response = (HANDSHAKE if method == "GET" else NOTIFY)(request)
    return response.status_code, response.get_body(), response.mimetype


@dataclass
class Notifying:
    api: Api
    receiver: Receiver
    store: BcSubscriptionStore

    @property
    def queue(self) -> InMemoryJobQueue:
        queue = self.api.services.queue
        assert isinstance(queue, InMemoryJobQueue)
        return queue

    @property
    def bc(self) -> Any:
        return self.api.stack.bc_handle

    def ensure(self) -> EnsureReport:
        return ensure_subscriptions(run_services())

    def runs(self) -> list[JobMessage]:
        envelopes = [e for e, _ in self.queue.scheduled_messages()] + self.queue.active_messages()
        return [JobMessage.from_json(e.body.decode()) for e in envelopes]

    def drain(self) -> int:
        """Run every woken job with the registered queue trigger, once its window has ended."""
        wait_for(lambda: not self.queue.scheduled_messages(), 10)
        handled = 0
        while locked := self.queue.receive(max_messages=1):
            SYNC_JOB(to_function_message(locked[0]))
            self.queue.complete(locked[0].lock_token)
            handled += 1
        return handled

    def bc_root(self) -> str:
        return str(self.bc.company_root(COMPANY_ID))

    def customers_subscription(self) -> str:
        (found,) = [s for s in self.store.all() if s.entity_set == "customers"]
        return found.subscription_id


@pytest.fixture
def notifying(api: Api, azurite: str) -> Iterator[Notifying]:
    def bridge(method: str, target: str, body: bytes) -> tuple[int, bytes, str]:
        params = dict(parse_qsl(urlsplit(target).query, keep_blank_values=True))
        status, payload, mimetype = call(method, params, body, "application/json" if body else None)
        return status, payload, mimetype or "text/plain"

    receiver = Receiver(bridge)
    base = receiver.url.removesuffix("/hook")
    tables = TableFactory.from_connection_string(azurite, prefix=f"n{uuid.uuid4().hex[:12]}")
    api.services.storage = tables
    api.services.environment = {
        "BC_COMPANY": COMPANY_NAME,
        "NOTIFICATION_BASE_URL": base,
        "NOTIFICATIONS_BC": "true",
        "NOTIFY_WAKE_WINDOW_SECONDS": "1",
    }
    api.stack.bc_handle.admin("POST", "webhooks", json={"batchDelaySeconds": 0.3}).raise_for_status()
    try:
        yield Notifying(api, receiver, BcSubscriptionStore(tables))
    finally:
        receiver.close()


def rename_customer(n: Notifying, name: str) -> str:
    customer = n.bc.session.get(f"{n.bc_root()}/customers", params={"$top": "1"}).json()["value"][0]
    response = n.bc.session.patch(
        f"{n.bc_root()}/customers({customer['id']})", json={"displayName": name}, headers={"If-Match": "*"}
    )
    assert response.status_code == 200, response.text
    return str(customer["id"])


def test_the_handshake_echoes_a_bounded_token_as_text(notifying: Notifying) -> None:
    assert call("GET", {"validationToken": "abc-123_x.y~z"}) == (200, b"abc-123_x.y~z", "text/plain")
    assert call("POST", {"validationToken": "tok"}, content_type=None)[:2] == (200, b"tok")
    status, body, _ = call("GET", {"validationToken": "<script>alert(1)</script>"})
    assert status == 400 and json.loads(body)["error"]["field"] == "validationToken"
    status, body, _ = call("GET", {"validationToken": "x" * 513})
    assert status == 400
    status, body, _ = call("GET", {"validationToken": "t", "company": "nobody/nowhere"})
    assert status == 400 and json.loads(body)["error"]["field"] == "company"


def test_subscriptions_are_created_for_the_entity_sets_read_towards_sales(notifying: Notifying) -> None:
    report = notifying.ensure()
    # salesInvoices: the posted-invoice process reads it (POSTEDSALESINV-INV is enabled in the catalog)
    assert sorted(report.created) == ["currencies", "customers", "items", "salesInvoices", "vendors"]
    assert not report.errors
    listed = notifying.bc.session.get(f"{notifying.bc.api_root}/subscriptions").json()["value"]
    assert sorted(s["resource"].rsplit("/", 1)[-1] for s in listed) == sorted(report.created)
    assert all(s["notificationUrl"].endswith("/api/notifications/bc") for s in listed)
    again = notifying.ensure()
    assert sorted(again.kept) == sorted(report.created) and not (again.created or again.deleted or again.renewed)


def test_a_bad_body_is_a_400_naming_the_field_and_a_forged_state_a_401_that_wakes_nothing(
    notifying: Notifying,
) -> None:
    notifying.ensure()
    subscription_id = notifying.customers_subscription()
    entry = {"subscriptionId": subscription_id, "clientState": "forged", "changeType": "updated", "resource": "x"}
    status, body, _ = call("POST", {}, json.dumps({"value": [{**entry, "changeType": "touched"}]}).encode())
    assert status == 400 and json.loads(body)["error"]["field"] == "value[0].changeType"
    status, body, _ = call("POST", {}, json.dumps({"value": []}).encode())
    assert status == 400 and json.loads(body)["error"]["field"] == "value"
    assert call("POST", {}, json.dumps({"value": [entry]}).encode())[0] == 401
    unknown = {**entry, "subscriptionId": uuid.uuid4().hex}
    assert call("POST", {}, json.dumps({"value": [unknown]}).encode())[0] == 401
    genuine = {**entry, "clientState": notifying.store.find(subscription_id).client_state}  # type: ignore[union-attr]
    status, body, _ = call("POST", {}, json.dumps({"value": [genuine, entry]}).encode())
    assert status == 401 and b"forged" not in body
    assert notifying.runs() == []
    status, body, _ = call("POST", {}, json.dumps({"value": [genuine]}).encode())
    assert status == 202 and json.loads(body) == {"woken": ["CUSTOMER"]}


def test_a_customer_changed_in_bc_wakes_one_customer_run(notifying: Notifying) -> None:
    notifying.ensure()
    rename_customer(notifying, "Notified Ltd.")
    wait_for(lambda: bool(notifying.runs()))
    time.sleep(0.5)
    (run,) = notifying.runs()
    assert run.kind is JobKind.MAPPING_RUN and run.payload["mapping"] == "CUSTOMER"


def test_a_burst_of_1000_changes_makes_at_most_two_runs_and_applies_each_once(notifying: Notifying) -> None:
    context = notifying.api.services.context
    notifying.api.stack.use(replace(get_mapping("CUSTOMER"), sync_only_coupled=False))  # new customers go to Sales
    run_mapping(context, "CUSTOMER")  # the demo customers first
    notifying.ensure()
    names = [f"Burst {index:04d}" for index in range(1000)]
    for start in range(0, 1000, 100):
        requests_ = [
            {"id": str(i), "method": "POST", "url": f"companies({COMPANY_ID})/customers", "body": {"displayName": n}}
            for i, n in enumerate(names[start : start + 100])
        ]
        answer = notifying.bc.session.post(f"{notifying.bc.api_root}/$batch", json={"requests": requests_})
        assert answer.status_code == 200 and all(r["status"] == 201 for r in answer.json()["responses"])
    wait_for(lambda: bool(notifying.runs()), 10)
    time.sleep(1.0)
    runs = notifying.runs()
    assert 1 <= len(runs) <= 2 and {r.payload["mapping"] for r in runs} == {"CUSTOMER"}
    assert notifying.drain() == len(runs)
    woken_jobs = context.jobs.list_jobs("CUSTOMER")[: len(runs)]  # newest first: the woken runs
    assert sum(job.counters.inserted for job in woken_jobs) == 1000
    accounts = notifying.api.stack.dv_handle.session.get(
        f"{notifying.api.stack.dv_handle.base_url}{API}/accounts",
        params={"$select": "name", "$filter": "startswith(name,'Burst ')"},
        headers={"Prefer": "odata.maxpagesize=5000"},
    ).json()["value"]
    assert sorted(a["name"] for a in accounts) == names  # every change applied, once


def test_an_expired_subscription_is_repaired_and_one_about_to_expire_renewed(notifying: Notifying) -> None:
    notifying.ensure()
    first = notifying.customers_subscription()
    before = notifying.store.find(first)
    in_two_and_a_half_days = datetime.now(UTC) + timedelta(days=2.5)
    renewed = ensure_subscriptions(run_services(), now=in_two_and_a_half_days)  # within 24 h of the expiry
    assert "customers" in renewed.renewed and notifying.customers_subscription() == first
    after = notifying.store.find(first)
    assert before is not None and after is not None and after.etag != before.etag  # renewed: a new version
    notifying.bc.admin("POST", "webhooks", json={"subscriptionClockAdvanceSeconds": 6 * 86400}).raise_for_status()
    repaired = notifying.ensure()
    assert "customers" in repaired.repaired and notifying.customers_subscription() != first
    rename_customer(notifying, "After repair")
    wait_for(lambda: bool(notifying.runs()))


def test_a_deleted_subscription_is_created_again(notifying: Notifying) -> None:
    notifying.ensure()
    first = notifying.customers_subscription()
    deleted = notifying.bc.session.delete(
        f"{notifying.bc.api_root}/subscriptions('{first}')", headers={"If-Match": "*"}
    )
    assert deleted.status_code == 204
    report = notifying.ensure()
    assert report.repaired == ["customers"] and notifying.customers_subscription() != first


def test_our_own_writes_to_bc_wake_the_customer_run_at_most_once_and_it_changes_nothing(
    notifying: Notifying,
) -> None:
    context = notifying.api.services.context
    notifying.api.stack.use(replace(get_mapping("CUSTOMER"), sync_only_coupled=False))
    run_mapping(context, "CUSTOMER")  # the demo customers created in Sales and coupled
    notifying.ensure()
    coupling = next(iter(context.couplings.list_couplings("CUSTOMER")))
    patch_account(notifying.api.stack, coupling.dataverse_id, {"name": "Renamed in Sales"})
    written = run_mapping(context, "CUSTOMER")  # Sales -> BC: our write to BC notifies customers
    assert written.counters.modified >= 1
    wait_for(lambda: bool(notifying.runs()))
    time.sleep(1.0)
    assert len(notifying.runs()) == 1
    writes = dv_writes(notifying.api.stack)
    assert notifying.drain() == 1
    echo = context.jobs.list_jobs("CUSTOMER")[0]
    assert echo.counters.modified == 0 and echo.counters.inserted == 0  # nothing written back: no loop
    assert dv_writes(notifying.api.stack) == writes
    time.sleep(1.0)
    assert notifying.runs() == []  # and it woke nothing again


def test_the_timer_keeps_subscriptions_only_while_notifications_are_on(notifying: Notifying) -> None:
    from shared.triggers.notifications_timer import keep_all

    timer = FUNCTIONS["notification_registrations"].get_trigger()
    assert timer.schedule == "%NOTIFICATIONS_SCHEDULE%" and not timer.run_on_startup
    listed = f"{notifying.bc.api_root}/subscriptions"
    environment = dict(notifying.api.services.environment)
    notifying.api.services.environment = {**environment, "NOTIFICATIONS_BC": "false"}
    (off,) = keep_all().values()
    assert off == {"bc": None, "dataverse": None}
    assert notifying.bc.session.get(listed).json()["value"] == []
    notifying.api.services.environment = environment
    (on,) = keep_all().values()
    assert sorted(on["bc"]["created"]) == ["currencies", "customers", "items", "salesInvoices", "vendors"]
    assert len(notifying.bc.session.get(listed).json()["value"]) == 5
    notifying.api.services.environment = {**environment, "NOTIFICATION_BASE_URL": ""}
    (switched_off,) = keep_all().values()  # switched off: every one of ours is deleted, once
    assert sorted(switched_off["bc"]["deleted"]) == ["currencies", "customers", "items", "salesInvoices", "vendors"]
    assert notifying.bc.session.get(listed).json()["value"] == [] and notifying.store.all() == []
    assert list(keep_all().values()) == [{"bc": None, "dataverse": None}]
