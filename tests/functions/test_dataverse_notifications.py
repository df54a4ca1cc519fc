"""Sales -> us in seconds (issue 23), through the registered functions over the real stack: the app registers its
webhook in the Dataverse emulator (`services/notifications_dataverse_registration.ensure_registration`), the emulator
posts the RemoteExecutionContext of a committed write to a loopback server that hands it to the registered
`notifications_dataverse` function as the Functions host would, and the function wakes the mappings on the queue."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import azure.functions as func
import pytest
import requests
from azure.functions.servicebus import ServiceBusMessage

from local.emulators.business_central.seed import seeded_id as bc_seeded
from local.fakes.queue import InMemoryJobQueue
from shared.engine.mapping_run import run_mapping
from shared.storage.dataverse_endpoints import HEADER
from shared.storage.tables import TableFactory
from shared.triggers import notifications_dataverse as notifications
from tests.conftest import Authority
from tests.functions.conftest import FUNCTIONS, Api
from tests.sync.mappings_for_tests import currency_mapping, customer_mapping
from tests.sync.test_incremental import couple_currencies, patch_bc_customer

pytestmark = pytest.mark.integration
API = "/api/data/v9.2"
NOTIFY = FUNCTIONS["notifications_dataverse"].get_user_function()
SYNC_JOB = FUNCTIONS["sync_job"].get_user_function()


@dataclass
class Forwarder:
    """The app's public base URL on loopback: each POST becomes a `func.HttpRequest` to the registered function."""

    base_url: str
    answers: list[tuple[int, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def settled(self, dv: Any, timeout: float = 120.0) -> list[tuple[int, Any]]:
        """Wait until the emulator has nothing left to post; every answer so far."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if dv.admin("GET", "webhooks").json()["pending"] == 0:
                with self.lock:
                    return list(self.answers)
            time.sleep(0.05)
        raise AssertionError("the emulator still has posts to make")


@pytest.fixture
def forwarder() -> Iterator[Forwarder]:
    holder: list[Forwarder] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            request = func.HttpRequest(
                "POST", f"http://localhost{self.path}", headers=dict(self.headers.items()), params={}, body=body
            )
            response = NOTIFY(request)
            payload = response.get_body()
            with holder[0].lock:
                holder[0].answers.append((response.status_code, json.loads(payload) if payload else None))
            self.send_response(response.status_code)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder.append(Forwarder(f"http://127.0.0.1:{server.server_address[1]}"))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield holder[0]
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Hooked:
    api: Api
    forwarder: Forwarder
    queue: InMemoryJobQueue
    sales: requests.Session  # a Sales user: another application user of the org

    @property
    def dv(self) -> Any:
        return self.api.stack.dv_handle

    def url(self, path: str) -> str:
        return f"{self.dv.base_url}{API}/{path}"


@pytest.fixture
def hooked(api: Api, forwarder: Forwarder, azurite: str, authority: Authority) -> Iterator[Hooked]:
    """Customers coupled to no one yet, the webhook on, posts without delay."""
    stack = api.stack
    stack.use(currency_mapping(), customer_mapping())
    couple_currencies(stack)
    api.services.storage = TableFactory.from_connection_string(azurite, prefix=f"n{uuid.uuid4().hex[:12]}")
    api.services.environment = {
        **api.services.environment,
        "NOTIFICATION_BASE_URL": forwarder.base_url,
        "NOTIFICATIONS_DATAVERSE": "true",
    }
    stack.dv_handle.admin("POST", "webhooks", json={"delaySeconds": 0}).raise_for_status()
    notifications.forget_registration()
    sales = requests.Session()
    sales.trust_env = False
    token = authority.token(stack.dv_handle.base_url, client_id=str(uuid.uuid4()))
    sales.headers["Authorization"] = f"Bearer {token}"
    assert isinstance(api.services.queue, InMemoryJobQueue)
    yield Hooked(api, forwarder, api.services.queue, sales)
    notifications.forget_registration()


def steps(hooked: Hooked) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = hooked.dv.session.get(hooked.url("sdkmessageprocessingsteps")).json()["value"]
    return rows


def runs(queue: InMemoryJobQueue) -> list[str]:
    return sorted(envelope.message_id for envelope, _ in queue.scheduled_messages())


def context(user: str, table: str = "account") -> dict[str, Any]:
    return {
        "MessageName": "Update",
        "PrimaryEntityName": table,
        "PrimaryEntityId": str(uuid.uuid4()),
        "InitiatingUserId": user,
    }


def test_registration_creates_the_endpoint_and_steps_and_a_second_run_changes_nothing(hooked: Hooked) -> None:
    first = notifications.ensure_registration(hooked.api.services)
    assert first.endpoint_action == "created"
    assert {"Create account", "Update account", "Delete account"} <= set(first.created)
    assert {"name", "address1_city", "telephone1", "emailaddress1", "statecode", "customertypecode"} <= set(
        first.tables["account"]
    )
    endpoint = hooked.dv.session.get(hooked.url(f"serviceendpoints({first.endpoint})")).json()
    assert (endpoint["contract"], endpoint["authtype"], endpoint["url"]) == (
        8, 5, f"{hooked.forwarder.base_url}/api/notifications/dataverse",
    )  # fmt: skip
    assert endpoint["authvalue"] is None and endpoint["isauthvalueset"] is True
    registered = steps(hooked)
    assert len(registered) == len(first.created)
    assert all((s["stage"], s["mode"], s["statecode"]) == (40, 1, 0) for s in registered)
    update = next(s for s in registered if s["name"].endswith("Update of account"))
    assert set(update["filteringattributes"].split(",")) == set(first.tables["account"])
    hooked.dv.admin("DELETE", "stats")
    second = notifications.ensure_registration(hooked.api.services)
    assert not second.changed, second.as_dict()
    writes = {k: v for k, v in hooked.dv.stats()["byMethod"].items() if k != "GET"}
    assert writes == {}, writes  # nothing written when everything is right
    # repair: a step changed, disabled or deleted by hand is put back, a stray step on our endpoint is removed
    patch = {"filteringattributes": "fax"}
    path = f"sdkmessageprocessingsteps({update['sdkmessageprocessingstepid']})"
    assert hooked.dv.session.patch(hooked.url(path), json=patch).status_code == 204
    deleted = next(s for s in registered if s["name"].endswith("Delete of account"))
    path = f"sdkmessageprocessingsteps({deleted['sdkmessageprocessingstepid']})"
    assert hooked.dv.session.delete(hooked.url(path)).status_code == 204
    create_step = next(s for s in registered if s["name"].endswith("Create of contact"))
    disable = {"statecode": 1, "statuscode": 2}
    path = f"sdkmessageprocessingsteps({create_step['sdkmessageprocessingstepid']})"
    assert hooked.dv.session.patch(hooked.url(path), json=disable).status_code == 204
    stray = dict(deleted)
    filters = hooked.dv.session.get(
        hooked.url("sdkmessagefilters"),
        params={
            "$filter": f"primaryobjecttypecode eq 'invoice' and _sdkmessageid_value eq {stray['_sdkmessageid_value']}"
        },
    ).json()["value"]
    body = {
        "name": "stray",
        "sdkmessageid@odata.bind": f"/sdkmessages({stray['_sdkmessageid_value']})",
        "sdkmessagefilterid@odata.bind": f"/sdkmessagefilters({filters[0]['sdkmessagefilterid']})",
        "eventhandler_serviceendpoint@odata.bind": f"/serviceendpoints({first.endpoint})",
        "stage": 40,
        "mode": 1,
    }
    assert hooked.dv.session.post(hooked.url("sdkmessageprocessingsteps"), json=body).status_code == 204
    third = notifications.ensure_registration(hooked.api.services)
    assert sorted(third.updated) == ["Create contact", "Update account"] and len(third.created) == 1
    assert len(third.deleted) == 1
    after = steps(hooked)
    assert len(after) == len(first.created) and all(s["statecode"] == 0 for s in after)
    assert not notifications.ensure_registration(hooked.api.services).changed


def test_a_forged_post_is_401_and_wakes_nothing(hooked: Hooked) -> None:
    notifications.ensure_registration(hooked.api.services)
    body = json.dumps(context(str(uuid.uuid4()))).encode()
    for headers in ({}, {HEADER: "not-the-secret"}, {HEADER: ""}):
        request = func.HttpRequest(
            "POST", "http://localhost/api/notifications/dataverse",
            headers={"content-type": "application/json", **headers}, params={}, body=body,
        )  # fmt: skip
        response = NOTIFY(request)
        answer = json.loads(response.get_body())
        assert (response.status_code, answer["error"]["code"]) == (401, "unauthorized"), answer
        assert "not-the-secret" not in response.get_body().decode()
    assert runs(hooked.queue) == [] and hooked.queue.active_messages() == []


def test_a_bad_context_is_a_400_naming_the_field(hooked: Hooked) -> None:
    notifications.ensure_registration(hooked.api.services)
    record = notifications.registered(hooked.api.services)
    assert record is not None
    body = {**context(str(uuid.uuid4())), "PrimaryEntityId": "not-a-guid"}
    request = func.HttpRequest(
        "POST", "http://localhost/api/notifications/dataverse",
        headers={"content-type": "application/json", HEADER: record.secret}, params={}, body=json.dumps(body).encode(),
    )  # fmt: skip
    response = NOTIFY(request)
    answer = json.loads(response.get_body())
    assert (response.status_code, answer["error"]["field"]) == (400, "PrimaryEntityId"), answer
    assert runs(hooked.queue) == []


def test_a_sales_users_account_change_wakes_customer_and_the_apps_own_writes_wake_nothing(hooked: Hooked) -> None:
    notifications.ensure_registration(hooked.api.services)
    stack = hooked.api.stack
    run_mapping(stack.context, "CUSTOMER")  # BC -> Sales: the app creates 6 accounts (and 4 customers in BC)
    patch_bc_customer(stack, "C00030", {"city": "Savannah"})
    assert run_mapping(stack.context, "CUSTOMER").counters.modified == 1  # ... and updates one account
    answers = hooked.forwarder.settled(hooked.dv)
    assert len(answers) == 7 and all(a == (202, {"ownChange": True, "woken": {}}) for a in answers), answers
    assert runs(hooked.queue) == []
    coupling = stack.context.couplings.find_by_bc_id("CUSTOMER", bc_seeded("customer", "Trey Research"))
    assert coupling is not None
    response = hooked.sales.patch(hooked.url(f"accounts({coupling.dataverse_id})"), json={"telephone1": "555-0123"})
    assert response.status_code == 204, response.text
    status, answer = hooked.forwarder.settled(hooked.dv)[-1]
    assert status == 202 and answer["ownChange"] is False and "CUSTOMER" in answer["woken"][""]
    assert any(message.startswith("wake/-/CUSTOMER/") for message in runs(hooked.queue))


def test_an_update_of_an_attribute_no_mapping_reads_posts_nothing(hooked: Hooked) -> None:
    report = notifications.ensure_registration(hooked.api.services)
    assert "fax" not in report.tables["account"]
    created = hooked.sales.post(
        hooked.url("accounts"), json={"name": "Quiet Ltd"}, headers={"Prefer": "return=representation"}
    )
    assert created.status_code == 201, created.text
    before = len(hooked.forwarder.settled(hooked.dv))
    account = created.json()["accountid"]
    assert hooked.sales.patch(hooked.url(f"accounts({account})"), json={"fax": "123"}).status_code == 204
    assert len(hooked.forwarder.settled(hooked.dv)) == before
    assert hooked.dv.admin("GET", "webhooks").json()["posts"][-1]["message"] == "Create"


def test_a_burst_of_1000_account_changes_makes_at_most_two_runs_and_each_change_lands_once(hooked: Hooked) -> None:
    notifications.ensure_registration(hooked.api.services)
    stack = hooked.api.stack
    run_mapping(stack.context, "CUSTOMER")
    couplings = list(stack.context.couplings.list_couplings("CUSTOMER"))
    assert len(couplings) == 10
    hooked.forwarder.settled(hooked.dv)
    with hooked.forwarder.lock:
        hooked.forwarder.answers.clear()
    for round_number in range(100):  # 100 UpdateMultiple of the 10 coupled accounts: 1,000 changes
        targets = [
            {"@odata.type": "Microsoft.Dynamics.CRM.account", "accountid": c.dataverse_id,
             "telephone1": f"555-{round_number:04d}"}
            for c in couplings
        ]  # fmt: skip
        response = hooked.sales.post(
            hooked.url("accounts/Microsoft.Dynamics.CRM.UpdateMultiple"), json={"Targets": targets}
        )
        assert response.status_code == 204, response.text
    answers = hooked.forwarder.settled(hooked.dv, timeout=300)
    assert len(answers) == 1000 and all(status == 202 for status, _ in answers)
    woken = [m for m in runs(hooked.queue) if m.startswith("wake/-/CUSTOMER/")]
    assert 1 <= len(woken) <= 2, woken
    for envelope, _ in hooked.queue.scheduled_messages():
        if envelope.message_id in woken:
            SYNC_JOB(
                ServiceBusMessage(
                    body=envelope.body, message_id=envelope.message_id, content_type=envelope.content_type,
                    delivery_count=1, application_properties=dict(envelope.application_properties),
                    user_properties=dict(envelope.application_properties),
                )
            )  # fmt: skip
    jobs = stack.context.jobs.list_jobs("CUSTOMER")
    modified = sum(job.counters.modified for job in jobs[: len(woken)])
    assert modified == 10  # each changed account lands in BC once, with its last value
    assert {bc_customer_by_id(hooked, c.bc_id)["phoneNumber"] for c in couplings} == {"555-0099"}


def bc_customer_by_id(hooked: Hooked, bc_id: str) -> dict[str, Any]:
    from local.emulators.business_central.seed import COMPANY_ID

    handle = hooked.api.stack.bc_handle
    row: dict[str, Any] = handle.session.get(f"{handle.company_root(COMPANY_ID)}/customers({bc_id})").json()
    return row


def test_with_notifications_off_a_post_is_404_and_registration_does_nothing(hooked: Hooked) -> None:
    hooked.api.services.environment = {**hooked.api.services.environment, "NOTIFICATIONS_DATAVERSE": "false"}
    report = notifications.ensure_registration(hooked.api.services)
    assert not report.enabled and not report.changed
    assert hooked.dv.session.get(hooked.url("serviceendpoints")).json()["value"] == []
    request = func.HttpRequest(
        "POST", "http://localhost/api/notifications/dataverse",
        headers={"content-type": "application/json"}, params={}, body=json.dumps(context(str(uuid.uuid4()))).encode(),
    )  # fmt: skip
    response = NOTIFY(request)
    assert (response.status_code, json.loads(response.get_body())["error"]["code"]) == (404, "notificationsOff")
    assert runs(hooked.queue) == []


def test_the_notifications_timer_keeps_the_org_s_registration_once_per_tick(hooked: Hooked) -> None:
    """The timer (`triggers/notifications_timer.keep_all`) registers the webhook for the org once per tick, reported
    with the first company; a later tick finds nothing to fix; a step deleted in Sales is made again."""
    from shared.triggers.notifications_timer import keep_all

    (first,) = keep_all().values()
    assert first["dataverse"]["endpointAction"] == "created" and first["bc"] is None, first
    assert {"Create account", "Update account", "Delete account"} <= set(first["dataverse"]["created"])
    (second,) = keep_all().values()
    assert (second["dataverse"]["endpointAction"], second["dataverse"]["created"]) == ("none", []), second
    update = next(s for s in steps(hooked) if s["name"].endswith("Update of account"))
    path = f"sdkmessageprocessingsteps({update['sdkmessageprocessingstepid']})"
    assert hooked.dv.session.delete(hooked.url(path)).status_code == 204
    (third,) = keep_all().values()
    assert third["dataverse"]["created"] == ["Update account"], third


def test_switched_off_the_timer_removes_the_webhook_it_registered_once(hooked: Hooked) -> None:
    """As the BC side deletes its subscriptions when switched off, the Dataverse side removes its steps, its
    endpoint and its stored row on the next tick (steps first), then asks nothing more of Dataverse."""
    from shared.triggers.notifications_timer import keep_all

    (on,) = keep_all().values()
    created = on["dataverse"]["created"]
    assert created and steps(hooked)
    hooked.api.services.environment = {**hooked.api.services.environment, "NOTIFICATIONS_DATAVERSE": "false"}
    (off,) = keep_all().values()
    assert off["dataverse"]["endpointAction"] == "removed" and len(off["dataverse"]["deleted"]) == len(created), off
    assert steps(hooked) == []
    assert hooked.dv.session.get(hooked.url("serviceendpoints")).json()["value"] == []
    hooked.dv.admin("DELETE", "stats")
    assert list(keep_all().values()) == [{"bc": None, "dataverse": None}]  # nothing left: nothing asked
    by_set = hooked.dv.stats()["byEntitySet"]
    assert isinstance(by_set, dict)
    assert not {"serviceendpoints", "sdkmessageprocessingsteps"} & set(by_set), by_set
