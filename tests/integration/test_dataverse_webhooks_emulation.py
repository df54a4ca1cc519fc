"""The Dataverse emulator's webhooks (local/emulators/dataverse/webhooks.py), over real HTTP: a service endpoint and
its asynchronous steps registered through the Web API, and the RemoteExecutionContext posted to a local receiver
after a committed write, with the HttpHeader auth values, filtering attributes honoured and the retry bounded."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.conftest import Authority, EmulatorHandle
from tests.integration.dataverse_helpers import api, create, error_code
from tests.integration.test_dataverse_batch import ChangeSet, Op, post_batch

pytestmark = pytest.mark.integration

SECRET_HEADER = "x-bcsync-secret"
SECRET = "s3cr3t-" + uuid.uuid4().hex


@dataclass
class Receiver:
    """A webhook receiver on loopback: records every post and answers `statuses` in turn (then 200)."""

    url: str
    posts: list[tuple[dict[str, str], dict[str, Any]]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    holder: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)))
            target = holder[0]
            with target.lock:
                target.posts.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status = target.statuses.pop(0) if target.statuses else 200
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder.append(Receiver(f"http://127.0.0.1:{server.server_address[1]}/api/notifications/dataverse"))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield holder[0]
    finally:
        server.shutdown()
        server.server_close()


def admin(dv: EmulatorHandle) -> dict[str, Any]:
    body: dict[str, Any] = dv.admin("GET", "webhooks").json()
    return body


def settle(dv: EmulatorHandle, timeout: float = 15.0) -> list[dict[str, Any]]:
    """Wait until the emulator has no post left to make; return its post log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = admin(dv)
        if state["pending"] == 0:
            posts: list[dict[str, Any]] = state["posts"]
            return posts
        time.sleep(0.05)
    raise AssertionError(f"posts still pending: {admin(dv)}")


def one(dv: EmulatorHandle, path: str) -> dict[str, Any]:
    response = dv.session.get(api(dv, path))
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()["value"]
    assert len(rows) == 1, rows
    return rows[0]


def authvalue(secret: str = SECRET) -> str:
    return f'<settings><setting name="{SECRET_HEADER}" value="{secret}" /></settings>'


def register_endpoint(dv: EmulatorHandle, url: str) -> str:
    row = create(
        dv,
        "serviceendpoints",
        {"name": "bc-sales-sync", "url": url, "contract": 8, "authtype": 5, "authvalue": authvalue()},
    )
    return str(row["serviceendpointid"])


def register_step(
    dv: EmulatorHandle, endpoint: str, message: str, table: str = "account", filtering: str | None = None
) -> str:
    message_id = one(dv, f"sdkmessages?$filter=name eq '{message}'")["sdkmessageid"]
    where = f"_sdkmessageid_value eq {message_id} and primaryobjecttypecode eq '{table}'"
    filter_id = one(dv, f"sdkmessagefilters?$filter={where}")["sdkmessagefilterid"]
    body: dict[str, Any] = {
        "name": f"{message} of {table}",
        "sdkmessageid@odata.bind": f"/sdkmessages({message_id})",
        "sdkmessagefilterid@odata.bind": f"/sdkmessagefilters({filter_id})",
        "eventhandler_serviceendpoint@odata.bind": f"/serviceendpoints({endpoint})",
        "stage": 40,
        "mode": 1,
    }
    if filtering is not None:
        body["filteringattributes"] = filtering
    return str(create(dv, "sdkmessageprocessingsteps", body)["sdkmessageprocessingstepid"])


@pytest.fixture
def hooked(dataverse: EmulatorHandle, receiver: Receiver) -> tuple[EmulatorHandle, Receiver, str]:
    """Steps on Create, Update (filtered on name and telephone1) and Delete of account, posting without delay."""
    dataverse.admin("POST", "webhooks", json={"delaySeconds": 0, "retryDelaySeconds": 0.05}).raise_for_status()
    endpoint = register_endpoint(dataverse, receiver.url)
    register_step(dataverse, endpoint, "Create")
    register_step(dataverse, endpoint, "Update", filtering="name,telephone1")
    register_step(dataverse, endpoint, "Delete")
    return dataverse, receiver, endpoint


def who_am_i(dv: EmulatorHandle) -> str:
    return str(dv.session.get(api(dv, "WhoAmI")).json()["UserId"])


def test_authvalue_is_write_only_and_must_be_the_settings_xml(dataverse: EmulatorHandle, receiver: Receiver) -> None:
    endpoint = register_endpoint(dataverse, receiver.url)
    row = dataverse.session.get(api(dataverse, f"serviceendpoints({endpoint})")).json()
    assert row["authvalue"] is None and row["isauthvalueset"] is True and row["contract"] == 8
    assert SECRET not in json.dumps(row)
    body = {"name": "x", "url": receiver.url, "contract": 8, "authtype": 5, "authvalue": "x-key: value"}
    response = dataverse.session.post(api(dataverse, "serviceendpoints"), json=body)
    assert response.status_code == 400 and "settings" in response.text
    far = {**body, "authvalue": authvalue(), "url": "https://example.com:8443/hook"}
    assert dataverse.session.post(api(dataverse, "serviceendpoints"), json=far).status_code == 400
    queue = {**body, "authvalue": authvalue(), "contract": 2}
    assert dataverse.session.post(api(dataverse, "serviceendpoints"), json=queue).status_code == 501


def test_create_update_delete_post_the_context_with_the_header(
    hooked: tuple[EmulatorHandle, Receiver, str],
) -> None:
    dv, receiver, _ = hooked
    account = create(dv, "accounts", {"name": "Hooked", "telephone1": "1"})["accountid"]
    assert dv.session.patch(api(dv, f"accounts({account})"), json={"name": "Renamed"}).status_code == 204
    assert dv.session.delete(api(dv, f"accounts({account})")).status_code == 204
    log = settle(dv)
    assert [entry["message"] for entry in log] == ["Create", "Update", "Delete"]
    assert all(entry["outcome"] == "delivered" and entry["attempt"] == 1 for entry in log)
    assert [body["MessageName"] for _, body in receiver.posts] == ["Create", "Update", "Delete"]
    user = who_am_i(dv)
    for headers, body in receiver.posts:
        assert headers[SECRET_HEADER] == SECRET
        assert headers["x-ms-dynamics-entity-name"] == "account"
        assert headers["x-ms-dynamics-request-name"] == body["MessageName"]
        assert body["PrimaryEntityName"] == "account" and body["PrimaryEntityId"] == account
        assert body["UserId"] == body["InitiatingUserId"] == user
        assert body["Stage"] == 40 and body["Mode"] == 1 and body["OrganizationId"]
        assert body["OperationCreatedOn"].startswith("/Date(")
    update = receiver.posts[1][1]["InputParameters"][0]
    assert update["key"] == "Target"
    attributes = {a["key"]: a["value"] for a in update["value"]["Attributes"]}
    assert attributes["name"] == "Renamed" and attributes["accountid"] == account
    assert "telephone1" not in attributes  # an update's Target carries what the request set
    delete = receiver.posts[2][1]["InputParameters"][0]["value"]
    assert delete["LogicalName"] == "account" and delete["Id"] == account and delete["__type"].startswith("EntityRef")


def test_update_of_unfiltered_attributes_posts_nothing(hooked: tuple[EmulatorHandle, Receiver, str]) -> None:
    dv, receiver, _ = hooked
    account = create(dv, "accounts", {"name": "Quiet"})["accountid"]
    settle(dv)
    receiver.posts.clear()
    assert dv.session.patch(api(dv, f"accounts({account})"), json={"fax": "123"}).status_code == 204
    assert settle(dv)[-1]["message"] == "Create" and receiver.posts == []
    assert dv.session.patch(api(dv, f"accounts({account})"), json={"telephone1": "9"}).status_code == 204
    settle(dv)
    assert [body["MessageName"] for _, body in receiver.posts] == ["Update"]


def test_batch_and_bulk_messages_post_per_target_and_rollbacks_post_nothing(
    hooked: tuple[EmulatorHandle, Receiver, str],
) -> None:
    dv, receiver, _ = hooked
    ops = [Op("POST", "/api/data/v9.2/accounts", {"name": f"Batch {i}"}, content_id=str(i)) for i in (1, 2)]
    assert post_batch(dv, [ChangeSet(ops)]).status == 200
    failing = [ops[0], Op("POST", "/api/data/v9.2/accounts", {"name": "x", "nosuchcolumn": 1}, content_id="9")]
    assert post_batch(dv, [ChangeSet(failing, boundary="changeset_y")]).status == 400  # rolled back: no post
    targets = [{"@odata.type": "Microsoft.Dynamics.CRM.account", "name": f"Bulk {i}"} for i in range(3)]
    created = dv.session.post(api(dv, "accounts/Microsoft.Dynamics.CRM.CreateMultiple"), json={"Targets": targets})
    assert created.status_code == 200, created.text
    updates = [
        {"@odata.type": "Microsoft.Dynamics.CRM.account", "accountid": row_id, "name": "Bulk renamed"}
        for row_id in created.json()["Ids"]
    ]
    response = dv.session.post(api(dv, "accounts/Microsoft.Dynamics.CRM.UpdateMultiple"), json={"Targets": updates})
    assert response.status_code == 204, response.text
    settle(dv)
    messages = [body["MessageName"] for _, body in receiver.posts]
    assert messages == ["Create"] * 5 + ["Update"] * 3
    assert {body["PrimaryEntityId"] for _, body in receiver.posts[2:5]} == set(created.json()["Ids"])


def test_a_failed_post_is_retried_once_only_after_502_503_504(hooked: tuple[EmulatorHandle, Receiver, str]) -> None:
    dv, receiver, _ = hooked
    receiver.statuses[:] = [503, 503]
    create(dv, "accounts", {"name": "Twice"})
    log = settle(dv)
    assert [(e["attempt"], e["status"], e["outcome"]) for e in log] == [(1, 503, "retrying"), (2, 503, "failed")]
    receiver.statuses[:] = [500]
    create(dv, "accounts", {"name": "Once"})
    log = settle(dv)
    assert [(e["attempt"], e["status"], e["outcome"]) for e in log[2:]] == [(1, 500, "failed")]
    assert len(receiver.posts) == 3


def test_a_disabled_step_posts_nothing(hooked: tuple[EmulatorHandle, Receiver, str]) -> None:
    dv, receiver, _ = hooked
    steps = dv.session.get(api(dv, "sdkmessageprocessingsteps")).json()["value"]
    for step in steps:
        patch = {"statecode": 1, "statuscode": 2}
        response = dv.session.patch(
            api(dv, f"sdkmessageprocessingsteps({step['sdkmessageprocessingstepid']})"), json=patch
        )
        assert response.status_code == 204, response.text
    account = create(dv, "accounts", {"name": "Silent"})["accountid"]
    dv.session.delete(api(dv, f"accounts({account})"))
    assert settle(dv) == [] and receiver.posts == []


def test_the_context_names_the_calling_user(hooked: tuple[EmulatorHandle, Receiver, str], authority: Authority) -> None:
    """A write by another app (another application user) carries that user's id, not the registering app's."""
    dv, receiver, _ = hooked
    other = dv.session.__class__()
    other.trust_env = False
    other.headers["Authorization"] = f"Bearer {authority.token(dv.base_url, client_id=str(uuid.uuid4()))}"
    response = other.post(api(dv, "accounts"), json={"name": "By a user"})
    assert response.status_code == 204, response.text
    their_id = other.get(api(dv, "WhoAmI")).json()["UserId"]
    settle(dv)
    ((_, body),) = receiver.posts
    assert body["InitiatingUserId"] == body["UserId"] == their_id != who_am_i(dv)


def test_step_rules(hooked: tuple[EmulatorHandle, Receiver, str]) -> None:
    dv, _, endpoint = hooked
    with pytest.raises(AssertionError):
        register_step(dv, endpoint, "Create", filtering="name")  # filtering attributes: Update only
    message_id = one(dv, "sdkmessages?$filter=name eq 'Update'")["sdkmessageid"]
    sync = {
        "name": "sync",
        "sdkmessageid@odata.bind": f"/sdkmessages({message_id})",
        "eventhandler_serviceendpoint@odata.bind": f"/serviceendpoints({endpoint})",
        "stage": 40,
        "mode": 0,
    }
    response = dv.session.post(api(dv, "sdkmessageprocessingsteps"), json=sync)
    assert response.status_code == 501, response.text
    response = dv.session.post(api(dv, "sdkmessageprocessingsteps"), json={**sync, "mode": 1, "stage": 20})
    assert response.status_code == 400 and error_code(response)
