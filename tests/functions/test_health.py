"""`GET /api/health` through the registered function, against the real emulators, the local token authority and
Azurite; each unhealthy case breaks one real adapter (a closed port, a refused credential, a stale job)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from azure.data.tables import TableServiceClient

from local.fakes.queue import InMemoryJobQueue
from local.stack.processes import free_port
from shared.connectors.service_bus.queue import ServiceBusJobQueue
from shared.domain.errors import FatalError
from shared.domain.jobs import JobKind, JobMessage
from shared.domain.records import Counters, LineStatus, ReviewLine, SyncJob, SyncRun
from shared.domain.watermarks import format_instant
from shared.storage.tables import TableFactory
from shared.triggers import health
from tests.conftest import CLIENT_SECRET
from tests.functions.conftest import Api, api  # noqa: F401 - the fixture, shared

pytestmark = pytest.mark.integration
INCREMENTAL = {"SALESPEOPLE", "CURRENCY", "UNIT GROUP", "ITEM UOM", "CUSTOMER", "CONTACT", "ITEM-PRODUCT"}


@pytest.fixture
def app(api: Api, azurite: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:  # noqa: F811
    """The API with the storage probe bootstrap gives it in Azure (a table factory), and no answer cache."""
    api.services.storage = TableFactory.from_connection_string(azurite, prefix=f"h{uuid.uuid4().hex[:12]}")
    monkeypatch.setattr(health, "CACHE_SECONDS", 0.0)
    yield api


def finished_job(app: Api, mapping: str, age: timedelta) -> SyncJob:
    now = datetime.now(UTC)
    job = SyncJob(mapping, f"run-{uuid.uuid4()}", format_instant(now - age - timedelta(seconds=3)),
                  format_instant(now - age), "finished", Counters(modified=2))  # fmt: skip
    app.services.context.jobs.record_job(job)
    return job


def test_healthy_reports_every_dependency_for_real(app: Api) -> None:
    job = finished_job(app, "CUSTOMER", timedelta(minutes=2))
    status, body = app.call("health")
    assert status == 200, body
    assert body["status"] == "healthy" and "failing" not in body and "warnings" not in body
    checks = body["checks"]
    assert checks["storage"] == {"ok": True} and checks["queue"] == {"ok": True}
    assert checks["deadLetters"] == {"ok": True, "count": 0, "active": 0, "scheduled": 0}
    assert checks["tokens"] == {"ok": True, "apps": {"businessCentral": {"ok": True}, "dataverse": {"ok": True}}}
    jobs = checks["jobs"]
    assert jobs["ok"] is True and jobs["staleAfterMinutes"] == 60
    assert set(jobs["mappings"]) >= INCREMENTAL  # the enabled mappings the incremental timer runs
    customer = jobs["mappings"]["CUSTOMER"]
    assert (customer["jobId"], customer["lastSuccess"], customer["stale"]) == (job.job_id, job.finished_on, False)
    assert 115 <= customer["ageSeconds"] <= 180
    assert jobs["mappings"]["CONTACT"] == {"lastSuccess": None, "stale": False}  # never ran: a fresh install


def test_dead_letters_are_counted_without_failing_the_health(app: Api) -> None:
    queue = app.services.queue
    assert isinstance(queue, InMemoryJobQueue)
    queue.send([JobMessage(JobKind.MAPPING_RUN, "run/CUSTOMER/1", {"mapping": "CUSTOMER"})])
    (locked,) = queue.receive()
    queue.dead_letter(locked.lock_token, "MaxDeliveryCountExceeded")
    status, body = app.call("health")
    assert status == 200 and body["checks"]["deadLetters"]["count"] == 1 and body["warnings"] == ["deadLetters"]


def test_a_dead_letter_count_that_cannot_be_read_only_warns(app: Api) -> None:
    """The count needs a management read (Service Bus: queue read rights) that sending and receiving do not."""
    queue = app.services.queue
    assert isinstance(queue, InMemoryJobQueue)

    def refused() -> None:
        raise FatalError("ServiceBusUnauthorized", "Service Bus refused to read the queue")

    queue.message_counts = refused  # type: ignore[method-assign,assignment]
    status, body = app.call("health")
    assert status == 200 and body["warnings"] == ["deadLetters"]
    assert body["checks"]["deadLetters"] == {"ok": False, "error": "ServiceBusUnauthorized"}


def test_a_dataverse_token_that_cannot_be_obtained_is_a_503_naming_it_without_its_text(app: Api) -> None:
    class Refused:
        def get_token(self) -> str:
            raise FatalError("invalid_client", f"AADSTS7000215: Invalid client secret provided: {CLIENT_SECRET}")

        def invalidate(self) -> None:
            pass

    app.stack.dataverse.http.tokens = Refused()
    status, body = app.call("health")
    assert status == 503
    assert body["failing"] == ["tokens.dataverse"] and body["error"]["code"] == "unhealthy"
    assert body["checks"]["tokens"]["apps"] == {
        "businessCentral": {"ok": True},
        "dataverse": {"ok": False, "error": "invalid_client"},
    }
    assert CLIENT_SECRET not in json.dumps(body) and "AADSTS" not in json.dumps(body)


def test_unreachable_storage_is_a_503(app: Api) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}/devstoreaccount1"  # nothing listens there
    closed = (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
        "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"
        f"TableEndpoint={endpoint};"
    )
    app.services.storage = TableFactory(TableServiceClient.from_connection_string(closed))
    status, body = app.call("health")
    assert status == 503 and body["failing"] == ["storage"]
    assert body["checks"]["storage"] == {"ok": False, "error": "StorageUnavailable"}
    assert "AccountKey" not in json.dumps(body) and endpoint not in json.dumps(body)


def test_an_unreachable_service_bus_is_a_503(app: Api) -> None:
    """The real adapter against a closed port: its sender link cannot open (the emulator form has no counts)."""
    connection = (
        f"Endpoint=sb://127.0.0.1:{free_port()};SharedAccessKeyName=RootManageSharedAccessKey;"
        "SharedAccessKey=not-a-real-key;UseDevelopmentEmulator=true"
    )
    queue = ServiceBusJobQueue("sync-jobs", connection_string=connection, client_options={"retry_total": 0})
    app.services.queue = queue
    try:
        status, body = app.call("health")
    finally:
        queue.close()
    assert status == 503 and body["failing"] == ["queue"]
    assert body["checks"]["queue"]["ok"] is False and body["checks"]["queue"]["error"].startswith("ServiceBus")
    assert body["checks"]["deadLetters"]["count"] is None
    assert "not-a-real-key" not in json.dumps(body)


def test_a_mapping_without_a_recent_success_is_a_503_until_the_threshold_allows_it(app: Api) -> None:
    finished_job(app, "CUSTOMER", timedelta(minutes=90))
    status, body = app.call("health")
    assert status == 503 and body["failing"] == ["jobs"]
    assert body["checks"]["jobs"]["stale"] == ["CUSTOMER"]
    assert body["checks"]["jobs"]["mappings"]["CUSTOMER"]["stale"] is True
    app.services.environment = {**app.services.environment, health.STALE_SETTING: "120"}
    status, body = app.call("health")
    assert status == 200 and body["checks"]["jobs"]["staleAfterMinutes"] == 120


def test_an_answer_is_reused_for_a_few_seconds(app: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """An anonymous route that reads storage and the queue must not let a flood of probes multiply those reads."""
    monkeypatch.setattr(health, "CACHE_SECONDS", 60.0)
    assert app.call("health")[0] == 200
    app.services.storage = None
    assert app.call("health")[0] == 200  # the first answer, reused
    monkeypatch.setattr(health, "CACHE_SECONDS", 0.0)
    status, body = app.call("health")
    assert status == 503 and body["checks"]["storage"] == {"ok": False, "error": "notConfigured"}


def test_the_health_answer_matches_its_document(app: Api) -> None:
    from shared.triggers.openapi import document

    operation = document()["paths"]["/api/health"]["get"]
    assert operation["security"] == [] and {"200", "503"} <= set(operation["responses"])
    status, body = app.call("health")
    assert status == 200 and set(operation["responses"]["200"]["content"]["application/json"]["schema"]["required"])
    assert {"status", "checks"} <= set(body)


def _line_progressed(app: Api, run_id: str, minutes_ago: float) -> str:
    """A run whose CUSTOMER line is running, last progressed `minutes_ago`; CONTACT waits for it."""
    now = datetime.now(UTC)
    runs = app.services.runs
    started = format_instant(now - timedelta(hours=1))
    runs.create_run(
        SyncRun(run_id, started, "running", ("CUSTOMER", "CONTACT")),
        [ReviewLine("CUSTOMER", "x"), ReviewLine("CONTACT", "x")],
    )
    _, (customer, _) = runs.get_run(run_id)
    progressed = format_instant(now - timedelta(minutes=minutes_ago))
    runs.update_line(run_id, replace(customer, status=LineStatus.RUNNING, started_on=started, progressed_on=progressed))
    return progressed


def test_a_stalled_full_sync_line_only_warns_naming_the_run_and_the_line(app: Api) -> None:
    """Nothing is wrong with the app itself: an admin restarts the run. 20 minutes is past the 15-minute default."""
    since = _line_progressed(app, "fs-stalled", 20)
    _line_progressed(app, "fs-moving", 1)
    status, body = app.call("health")
    assert status == 200 and body["status"] == "healthy" and body["warnings"] == ["fullSync"], body
    assert body["checks"]["fullSync"] == {
        "ok": False,
        "stallAfterMinutes": 15,
        "stalled": [{"runId": "fs-stalled", "mapping": "CUSTOMER", "lastProgressOn": since}],
    }
    app.services.environment = {**app.services.environment, "FULL_SYNC_STALL_MINUTES": "30"}
    status, body = app.call("health")
    assert status == 200 and "warnings" not in body
    assert body["checks"]["fullSync"] == {"ok": True, "stallAfterMinutes": 30}


def test_a_run_store_that_cannot_be_read_only_warns(app: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    def refused() -> list[str]:
        raise FatalError("AuthorizationFailure", "This request is not authorized")

    monkeypatch.setattr(app.services.runs, "active_runs", refused)
    status, body = app.call("health")
    assert status == 200 and body["warnings"] == ["fullSync"]
    assert body["checks"]["fullSync"] == {"ok": False, "error": "AuthorizationFailure"}
