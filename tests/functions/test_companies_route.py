"""`GET /api/companies` and `GET /api/health` per company (issue 22, item 6), through the registered functions over the
real stack with the three companies of `test_companies.py` (production's CRONUS, key ""; sandbox's CRONUS, "sbx";
production's Fabrikam, "fab"), each with its own tables on Azurite.

What is checked: the list names every configured company in order, and each entry's `parameter` names that company
on the other routes; health asks the shared checks once and each company's jobs and full-sync lines apart, names a
failing company's check, and `?company=` narrows it to today's one-company shape; the console page takes `company`."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from local.emulators.business_central.seed import COMPANY_NAME, FABRIKAM_NAME, PRODUCTION, SANDBOX
from shared.bootstrap import Services, set_companies
from shared.domain.records import Counters, LineStatus, ReviewLine, SyncJob, SyncRun
from shared.domain.watermarks import format_instant
from shared.storage.tables import TableFactory
from shared.triggers import health
from shared.triggers.openapi import document
from tests.functions.conftest import Api
from tests.functions.test_companies import PRIMARY, Companies, companies  # noqa: F401 - the fixture, shared

pytestmark = pytest.mark.integration
SHARED = {"storage", "queue", "deadLetters", "tokens"}


@pytest.fixture
def probed(companies: Companies, azurite: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Companies]:  # noqa: F811
    """Each company with the storage probe bootstrap gives it in Azure, and no answer cache."""
    for key, services in companies.services.items():
        services.storage = TableFactory.from_connection_string(azurite, prefix=f"h{uuid.uuid4().hex[:10]}{key}")
    monkeypatch.setattr(health, "CACHE_SECONDS", 0.0)
    yield companies


def finished(services: Services, mapping: str, age: timedelta) -> SyncJob:
    now = datetime.now(UTC)
    job = SyncJob(mapping, f"run-{uuid.uuid4()}", format_instant(now - age - timedelta(seconds=3)),
                  format_instant(now - age), "finished", Counters(modified=1))  # fmt: skip
    services.context.jobs.record_job(job)
    return job


def stalled_line(services: Services, run_id: str) -> str:
    """A running full sync whose CUSTOMER line last progressed 20 minutes ago (past the 15-minute default)."""
    now = datetime.now(UTC)
    services.runs.create_run(
        SyncRun(run_id, format_instant(now - timedelta(hours=1)), "running", ("CUSTOMER",)),
        [ReviewLine("CUSTOMER", "x")],
    )
    _, (line,) = services.runs.get_run(run_id)
    progressed = format_instant(now - timedelta(minutes=20))
    started = format_instant(now - timedelta(hours=1))
    services.runs.update_line(
        run_id, replace(line, status=LineStatus.RUNNING, started_on=started, progressed_on=progressed)
    )
    return progressed


# -- GET /api/companies ----------------------------------------------------------------------------------------
def test_the_list_names_every_configured_company_in_order(companies: Companies) -> None:  # noqa: F811
    status, body = companies.api.call("list_companies")
    assert status == 200, body
    assert body["value"] == [
        {"key": "", "environment": PRODUCTION, "company": COMPANY_NAME, "label": f"{PRODUCTION}/{COMPANY_NAME}",
         "primary": True, "parameter": f"{PRODUCTION}/{COMPANY_NAME}"},
        {"key": "sbx", "environment": SANDBOX, "company": COMPANY_NAME, "label": f"{SANDBOX}/{COMPANY_NAME}",
         "primary": False, "parameter": "sbx"},
        {"key": "fab", "environment": PRODUCTION, "company": FABRIKAM_NAME, "label": f"{PRODUCTION}/{FABRIKAM_NAME}",
         "primary": False, "parameter": "fab"},
    ]  # fmt: skip


def test_each_entry_s_parameter_names_its_company_on_the_other_routes(companies: Companies) -> None:  # noqa: F811
    before = companies.call("get_setup", "sbx")[1]["values"]["autoProcessQuotes"]
    status, body = companies.call("patch_setup", "sbx", method="PATCH", body={"autoProcessQuotes": not before})
    assert status == 200, body
    _, body = companies.api.call("list_companies")
    values = {}
    for entry in body["value"]:
        status, setup = companies.call("get_setup", entry["parameter"])
        assert status == 200, (entry, setup)
        assert setup["values"]["bcCompany"] == entry["company"]
        values[entry["key"]] = setup["values"]["autoProcessQuotes"]
    assert values == {"": before, "sbx": not before, "fab": before}  # the change is the sandbox's only


def test_the_list_takes_no_company_and_works_with_one(api: Api) -> None:
    status, body = api.call("list_companies")
    assert status == 200 and len(body["value"]) == 1 and body["value"][0]["primary"] is True
    status, body = api.call("list_companies", params={"company": "fab"})
    assert (status, body["error"]["code"], body["error"]["field"]) == (400, "unknownParameter", "company")


# -- GET /api/health -------------------------------------------------------------------------------------------
def test_health_reports_each_company_apart_and_names_the_failing_one(probed: Companies) -> None:
    primary_job = finished(probed.services[""], "CUSTOMER", timedelta(minutes=2))
    finished(probed.services["fab"], "CUSTOMER", timedelta(minutes=90))  # its timer stopped an hour and a half ago

    status, body = probed.api.call("health")
    assert status == 503 and body["status"] == "unhealthy", body
    assert body["failing"] == ["companies[fab].jobs"] and "companies[fab].jobs" in body["error"]["message"]
    assert set(body["checks"]) == SHARED and all(check["ok"] for check in body["checks"].values())  # asked once
    reports = {entry["key"]: entry for entry in body["companies"]}
    assert [entry["key"] for entry in body["companies"]] == ["", "sbx", "fab"]
    assert reports["fab"]["label"] == f"{PRODUCTION}/{FABRIKAM_NAME}" and reports["fab"]["parameter"] == "fab"
    assert (reports["fab"]["status"], reports["fab"]["failing"]) == ("unhealthy", ["jobs"])
    assert reports["fab"]["checks"]["jobs"]["stale"] == ["CUSTOMER"]
    for key in ("", "sbx"):
        assert reports[key]["status"] == "healthy" and "failing" not in reports[key], reports[key]
        assert set(reports[key]["checks"]) == {"jobs", "fullSync"}
    assert reports[""]["checks"]["jobs"]["mappings"]["CUSTOMER"]["jobId"] == primary_job.job_id
    assert reports["sbx"]["checks"]["jobs"]["mappings"]["CUSTOMER"] == {"lastSuccess": None, "stale": False}


def test_a_stalled_line_in_one_company_warns_naming_it(probed: Companies) -> None:
    since = stalled_line(probed.services["sbx"], "fs-sbx-stalled")
    status, body = probed.api.call("health")
    assert status == 200 and body["status"] == "healthy", body
    assert body["warnings"] == ["companies[sbx].fullSync"]
    sandbox = next(entry for entry in body["companies"] if entry["key"] == "sbx")
    assert sandbox["warnings"] == ["fullSync"]
    assert sandbox["checks"]["fullSync"]["stalled"] == [
        {"runId": "fs-sbx-stalled", "mapping": "CUSTOMER", "lastProgressOn": since}
    ]
    others = [entry for entry in body["companies"] if entry["key"] != "sbx"]
    assert all(entry["checks"]["fullSync"] == {"ok": True, "stallAfterMinutes": 15} for entry in others)


def test_company_narrows_the_report_to_today_s_shape(probed: Companies) -> None:
    finished(probed.services["fab"], "CUSTOMER", timedelta(minutes=90))
    status, body = probed.api.call("health", params={"company": "sbx"})
    assert status == 200 and "companies" not in body and "failing" not in body, body
    assert set(body["checks"]) == SHARED | {"jobs", "fullSync"}
    assert body["company"]["key"] == "sbx" and body["company"]["label"] == f"{SANDBOX}/{COMPANY_NAME}"

    status, body = probed.api.call("health", params={"company": "Fabrikam, Inc."})  # by name, as every route
    assert status == 503 and body["failing"] == ["jobs"] and body["company"]["key"] == "fab", body
    status, body = probed.api.call("health", params={"company": f"{PRODUCTION}/{COMPANY_NAME}"})
    assert status == 200 and body["company"]["primary"] is True, body


def test_an_unknown_or_ambiguous_company_is_a_400_naming_company(probed: Companies) -> None:
    status, body = probed.api.call("health", params={"company": "Contoso"})
    assert (status, body["error"]["code"], body["error"]["field"]) == (400, "companyNotConfigured", "company")
    status, body = probed.api.call("health", params={"company": COMPANY_NAME})  # in production and in sandbox
    assert (status, body["error"]["code"], body["error"]["field"]) == (400, "companyAmbiguous", "company")


def test_each_company_s_answer_is_reused_apart(probed: Companies, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(health, "CACHE_SECONDS", 60.0)
    assert probed.api.call("health", params={"company": "fab"})[0] == 200
    finished(probed.services["fab"], "CUSTOMER", timedelta(minutes=90))
    assert probed.api.call("health", params={"company": "fab"})[0] == 200  # the first answer, reused
    status, body = probed.api.call("health")  # another question: asked for real
    assert status == 503 and body["failing"] == ["companies[fab].jobs"], body


def test_with_one_company_the_report_is_today_s_and_names_it_only_when_asked(api: Api, azurite: str) -> None:
    set_companies([PRIMARY])  # one configured company (the `api` fixture forgets it)
    api.services.storage = TableFactory.from_connection_string(azurite, prefix=f"h{uuid.uuid4().hex[:12]}")
    status, body = api.call("health")
    assert status == 200 and "companies" not in body and "company" not in body, body  # today's answer
    status, named = api.call("health", params={"company": COMPANY_NAME})
    assert status == 200 and named["checks"].keys() == body["checks"].keys(), named
    assert (named["company"]["label"], named["company"]["primary"]) == (f"{PRODUCTION}/{COMPANY_NAME}", True)
    status, named = api.call("health", params={"company": "fab"})
    assert (status, named["error"]["code"], named["error"]["field"]) == (400, "companyNotConfigured", "company")


# -- the document and the console page -------------------------------------------------------------------------
def test_the_document_describes_the_list_and_the_optional_company_of_health_and_the_console() -> None:
    paths = document()["paths"]
    listing = paths["/api/companies"]["get"]
    assert listing["security"] == [{"functionKey": []}] and "parameters" not in listing
    schema = listing["responses"]["200"]["content"]["application/json"]["schema"]
    assert set(schema["properties"]["value"]["items"]["required"]) >= {"key", "label", "primary", "parameter"}
    for path in ("/api/health", "/api/console"):
        (parameter,) = paths[path]["get"]["parameters"]
        assert (parameter["name"], parameter["required"]) == ("company", False), path
    assert paths["/api/health"]["get"]["x-rule-codes"] == ["companyAmbiguous", "companyNotConfigured"]
    assert "x-rule-codes" not in paths["/api/console"]["get"]  # the page never resolves it: its scripts do


def test_the_console_page_takes_company(api: Api) -> None:
    from shared.triggers.console import console_page
    from tests.functions.test_console_route import call

    assert console_page is not None
    response = call("console_page", params={"code": "k", "company": "fab"})
    assert response.status_code == 200 and b"fab" not in response.get_body()  # the page, never echoing it
    for blank in ("", " ", "\x0c", "x" * 251):  # outside the document's shape (the API fuzz sent %0C)
        response = call("console_page", params={"code": "k", "company": blank})
        assert response.status_code == 400 and json.loads(response.get_body())["error"]["field"] == "company"
