"""Issue 23, the safety net: the poll (the `incremental_sync` timer's run) catches a change no notification woke a
run for, says so on its job entry (`trigger`, `missedByNotifications`), warns once, and `/api/health` reports the
mapping under `notifications.<mapping>` until a later poll finds none missed; a run a notification woke leaves the
poll nothing to report; with notifications off nothing is ever reported. Real emulators over HTTP and Azurite.

The expected notification delay is set to 1 s here (BC's is 30 s + the wake window + a margin by default), so a
change made 1.5 s before a poll is one a notification should already have brought."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator

import pytest
from azure.functions.servicebus import ServiceBusMessage

from shared.connectors.service_bus.messages import message_fields
from shared.domain.jobs import JobKind, JobMessage
from shared.storage.tables import TableFactory
from shared.triggers import health
from shared.triggers.timers import SYNC_SCHEDULE, run_scheduled_mappings
from tests.functions.conftest import FUNCTIONS, Api
from tests.sync.mappings_for_tests import currency_mapping, customer_mapping
from tests.sync.test_incremental import bc_customer, couple_currencies, patch_account, patch_bc_customer

pytestmark = pytest.mark.integration
SYNC_JOB = FUNCTIONS["sync_job"].get_user_function()
NOTIFICATIONS_ON = {
    "NOTIFICATION_BASE_URL": "https://sync.example.test",
    "NOTIFICATIONS_BC": "true",
    "NOTIFICATIONS_DATAVERSE": "true",
    "NOTIFY_WAKE_WINDOW_SECONDS": "1",
    "NOTIFY_BC_DELAY_SECONDS": "0",
    "NOTIFY_DATAVERSE_DELAY_SECONDS": "0",
    "NOTIFY_MISSED_MARGIN_SECONDS": "0",
}
LATER_THAN_A_NOTIFICATION = 1.5  # seconds: past the 1 s expected delay above


@pytest.fixture
def app(api: Api, azurite: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    """The API with a storage probe (as in Azure) and no health answer cache; CUSTOMER copies every customer and
    account (the test mapping, on the timer), and the first poll has copied them both ways (a first read is never
    counted as missed)."""
    api.stack.use(currency_mapping(), customer_mapping(schedule=SYNC_SCHEDULE))
    couple_currencies(api.stack)
    api.services.storage = TableFactory.from_connection_string(azurite, prefix=f"n{uuid.uuid4().hex[:12]}")
    monkeypatch.setattr(health, "CACHE_SECONDS", 0.0)
    run_scheduled_mappings(SYNC_SCHEDULE)
    yield api


def _notifications_on(app: Api) -> None:
    app.services.environment = {**app.services.environment, **NOTIFICATIONS_ON}


def _last_job(app: Api) -> dict[str, object]:
    status, body = app.call("list_jobs", params={"mapping": "CUSTOMER", "limit": "1"})
    assert status == 200, body
    job: dict[str, object] = body["value"][0]
    return job


def _health_warnings(app: Api) -> list[str]:
    _, body = app.call("health")
    return [name for name in body.get("warnings", []) if name.startswith("notifications")]


def _missed_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage().startswith("notifications missed")]


def test_a_poll_that_finds_a_change_no_notification_woke_reports_it_until_a_poll_finds_none(
    app: Api, caplog: pytest.LogCaptureFixture
) -> None:
    _notifications_on(app)
    patch_bc_customer(app.stack, "C00030", {"city": "Missed City"})
    time.sleep(LATER_THAN_A_NOTIFICATION)
    with caplog.at_level(logging.INFO):
        outcomes = run_scheduled_mappings(SYNC_SCHEDULE)
    assert "missed by notifications: {'bc': 1}" in outcomes["CUSTOMER"], outcomes
    job = _last_job(app)
    assert (job["trigger"], job["missedByNotifications"], job["missedBySide"]) == ("poll", 1, {"bc": 1})
    assert len(_missed_warnings(caplog)) == 1 and _missed_warnings(caplog)[0].levelno == logging.WARNING
    _, body = app.call("health")
    assert "notifications.CUSTOMER" in body["warnings"], body
    check = body["checks"]["notifications"]
    assert check["ok"] is False and check["sides"] == ["bc", "dv"]
    assert check["mappings"]["CUSTOMER"]["bySide"] == {"bc": 1}
    assert check["mappings"]["CUSTOMER"]["jobId"] == job["jobId"]

    coupling = app.stack.context.couplings.find_by_bc_id("CUSTOMER", bc_customer(app.stack, "C00030")["id"])
    assert coupling is not None
    patch_account(app.stack, coupling.dataverse_id, {"telephone1": "+1 404 555 0101"})  # missed again, other side
    time.sleep(LATER_THAN_A_NOTIFICATION)
    caplog.clear()
    with caplog.at_level(logging.INFO):
        run_scheduled_mappings(SYNC_SCHEDULE)
    assert _last_job(app)["missedBySide"] == {"dv": 1}
    assert _missed_warnings(caplog) == []  # said once, while the notifications stay broken
    assert _health_warnings(app) == ["notifications.CUSTOMER"]

    run_scheduled_mappings(SYNC_SCHEDULE)  # nothing new: the poll finds none missed
    assert (_last_job(app)["trigger"], _last_job(app)["missedByNotifications"]) == ("poll", 0)
    assert _health_warnings(app) == []
    assert app.call("health")[1]["checks"]["notifications"] == {"ok": True, "sides": ["bc", "dv"]}


def test_a_change_a_notification_woke_a_run_for_leaves_the_poll_nothing_to_report(app: Api) -> None:
    _notifications_on(app)
    patch_bc_customer(app.stack, "C00040", {"city": "Woken City"})
    wake = JobMessage(JobKind.MAPPING_RUN, f"wake/-/CUSTOMER/{int(time.time())}", {"mapping": "CUSTOMER"})
    fields = message_fields(wake)
    SYNC_JOB(
        ServiceBusMessage(
            body=wake.to_json().encode(),
            message_id=wake.message_id,
            content_type=fields["content_type"],
            delivery_count=1,
            application_properties=fields["application_properties"],
            user_properties=fields["application_properties"],
        )
    )
    woken = _last_job(app)
    assert woken["trigger"] == "wake" and woken["counters"]["modified"] == 1  # type: ignore[index]
    assert woken["missedByNotifications"] == 0
    time.sleep(LATER_THAN_A_NOTIFICATION)
    outcomes = run_scheduled_mappings(SYNC_SCHEDULE)
    assert not any("missed" in outcome for outcome in outcomes.values()), outcomes
    job = _last_job(app)
    assert (job["trigger"], job["missedByNotifications"], job["missedBySide"]) == ("poll", 0, {})
    assert _health_warnings(app) == []


def test_with_notifications_off_nothing_is_ever_reported(app: Api, caplog: pytest.LogCaptureFixture) -> None:
    app.services.environment = {**app.services.environment, **NOTIFICATIONS_ON, "NOTIFICATIONS_BC": "false",
                                "NOTIFICATIONS_DATAVERSE": "false"}  # fmt: skip
    patch_bc_customer(app.stack, "C00050", {"city": "Polled City"})
    time.sleep(LATER_THAN_A_NOTIFICATION)
    with caplog.at_level(logging.INFO):
        outcomes = run_scheduled_mappings(SYNC_SCHEDULE)
    assert outcomes["CUSTOMER"].startswith("finished") and "missed" not in outcomes["CUSTOMER"], outcomes
    job = _last_job(app)
    assert (job["trigger"], job["counters"]["modified"], job["missedByNotifications"]) == ("poll", 1, 0)  # type: ignore[index]
    assert _missed_warnings(caplog) == []
    _, body = app.call("health")
    assert "notifications" not in body["checks"] and _health_warnings(app) == []
    app.services.environment = {**app.services.environment, "NOTIFICATIONS_BC": "true", "NOTIFICATION_BASE_URL": ""}
    assert "notifications" not in app.call("health")[1]["checks"]  # no base URL: notifications are off
