"""Issue 24's match routes through the registered functions, over the real stack: the criteria the console starts
from, a job queued (202, Location, its entry "queued"), run by the `sync-jobs` trigger, its log read page by page,
and the 400s naming the field at fault."""

from __future__ import annotations

import json
from typing import Any

import pytest

from local.fakes.queue import InMemoryJobQueue
from shared.connectors.service_bus.messages import message_fields
from shared.domain.jobs import JobMessage
from tests.functions.conftest import FUNCTIONS, Api
from tests.functions.test_http_handlers import couple_basics
from tests.functions.test_queue_handler import service_bus_message

pytestmark = pytest.mark.integration
SYNC_JOB = FUNCTIONS["sync_job"].get_user_function()


@pytest.fixture
def basics(api: Api) -> None:
    """The customers' salespeople and currencies coupled (CUSTOMER's lookups), so customers can match."""
    couple_basics(api)


def sent_jobs(api: Api) -> list[JobMessage]:
    queue = api.services.queue
    assert isinstance(queue, InMemoryJobQueue)
    received = queue.receive(max_messages=10)
    for message in received:
        queue.complete(message.lock_token)
    return [JobMessage.from_json(message.envelope.body) for message in received]


def test_the_criteria_route_lists_the_matchable_fields_and_the_mapping_s_own(api: Api) -> None:
    status, answer = api.call("match_criteria", route={"mapping": "CUSTOMER"})
    assert status == 200, answer
    keys = {f["key"]: f for f in answer["fields"]}
    assert keys["displayName>name"]["use"] is True and keys["displayName>name"]["priority"] == 1
    assert keys["city>address1_city"]["use"] is False and keys["city>address1_city"]["priority"] is None
    assert answer["criteria"] == [{"field": "displayName>name", "priority": 1, "caseSensitive": False}]
    assert answer["canCreate"] is True and isinstance(answer["createIfNoMatch"], bool)


@pytest.mark.usefixtures("basics")
def test_a_queued_job_runs_from_the_queue_and_its_log_is_read_a_page_at_a_time(api: Api) -> None:
    body = {"criteria": [{"field": "displayName", "priority": 1, "caseSensitive": False}], "createIfNoMatch": False}
    status, answer = api.call("start_match_job", "POST", body, route={"mapping": "CUSTOMER"})
    assert status == 202, answer
    job_id = answer["jobId"]
    status, job = api.call("get_job", route={"jobId": job_id})
    assert (status, job["status"], job["mapping"]) == (200, "queued", "CUSTOMER")
    [message] = sent_jobs(api)
    assert message.message_id == job_id
    chosen = [{"field": "displayName>name", "priority": 1, "caseSensitive": False}]  # by the field's key
    assert message.payload["criteria"] == chosen and message.payload["createIfNoMatch"] is False
    assert message.payload["queuedOn"] == answer["queuedOn"] == job["startedOn"]

    SYNC_JOB(service_bus_message(message))
    status, job = api.call("get_job", route={"jobId": job_id})
    assert (job["status"], job["startedOn"]) == ("finished", answer["queuedOn"])
    assert job["counters"]["coupled"] >= 1

    route = {"mapping": "CUSTOMER", "jobId": job_id}
    rows: list[dict[str, Any]] = []
    params: dict[str, str] = {"top": "2"}
    pages = 0
    while True:
        status, page = api.call("match_job_log", route=route, params=params)
        assert status == 200, page
        assert len(page["value"]) <= 2
        rows += page["value"]
        pages += 1
        if page["continuationToken"] is None:
            break
        params = {"top": "2", "continuationToken": page["continuationToken"]}
    assert pages >= 3 and len(rows) == len({r["bcId"] for r in rows})
    by_outcome = {r["outcome"] for r in rows}
    assert {"coupled", "unmatched"} <= by_outcome
    coupled = next(r for r in rows if r["outcome"] == "coupled")
    assert coupled["dataverseId"] and coupled["priority"] == 1
    status, unmatched = api.call("match_job_log", route=route, params={"outcome": "unmatched"})
    assert unmatched["value"] and all(r["reason"] in ("noMatch", "severalMatches") for r in unmatched["value"])
    status, other = api.call("match_job_log", route={"mapping": "CONTACT", "jobId": job_id})
    assert (status, other["value"]) == (200, [])


@pytest.mark.usefixtures("basics")
def test_the_match_route_takes_criteria_and_its_dry_run_logs_nothing(api: Api) -> None:
    body = {
        "criteria": [{"field": "city", "priority": 2.0}, {"field": "displayName", "priority": 1}]
    }  # 2.0: an integer
    status, report = api.call("match_couplings", "POST", body, route={"mapping": "CUSTOMER"}, params={"dryRun": "true"})
    assert status == 200, report
    assert report["dryRun"] is True and report["coupled"]
    assert {pair["priority"] for pair in report["coupled"]} <= {1, 2}
    status, page = api.call("match_job_log", route={"mapping": "CUSTOMER", "jobId": report["jobId"]})
    assert (status, page["value"]) == (200, [])
    status, report = api.call("match_couplings", "POST", body, route={"mapping": "CUSTOMER"})
    assert status == 200 and report["coupled"]
    status, page = api.call("match_job_log", route={"mapping": "CUSTOMER", "jobId": report["jobId"]})
    assert len(page["value"]) == report["examined"]  # the synchronous run keeps its log too


@pytest.mark.parametrize("function", ["match_couplings", "start_match_job"])
@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {"criteria": [{"field": "displayName", "priority": 1}, {"field": "city", "priority": 0}]},
            "criteria[1].priority",
        ),
        ({"criteria": [{"field": "displayName", "priority": 1.5}]}, "criteria[0].priority"),
        ({"criteria": [{"field": "displayName", "priority": True}]}, "criteria[0].priority"),
        ({"criteria": [{"field": "displayName"}]}, "criteria[0].priority"),
        ({"criteria": [{"field": "shoeSize", "priority": 1}]}, "criteria[0].field"),
        ({"criteria": [{"field": " ", "priority": 1}]}, "criteria[0].field"),
        ({"criteria": [{"priority": 1}]}, "criteria[0].field"),
        ({"criteria": [{"field": "city", "priority": 1, "caseSensitive": "yes"}]}, "criteria[0].caseSensitive"),
        ({"criteria": [{"field": "city", "priority": 1, "weight": 2}]}, "criteria[0].weight"),
        ({"criteria": ["city"]}, "criteria[0]"),
        ({"criteria": []}, "criteria"),
        ({"criteria": [{"field": "city", "priority": 1}], "fields": ["city"]}, "criteria"),
    ],
)
def test_a_bad_criterion_is_a_400_naming_it_and_nothing_is_queued(
    api: Api, function: str, body: dict[str, Any], field: str
) -> None:
    status, answer = api.call(function, "POST", body, route={"mapping": "CUSTOMER"})
    assert (status, answer["error"]["field"]) == (400, field), answer
    assert sent_jobs(api) == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"top": "0"}, "top"),
        ({"top": "1001"}, "top"),
        ({"top": "ten"}, "top"),
        ({"continuationToken": "not a token"}, "continuationToken"),
        ({"continuationToken": "e30"}, "continuationToken"),  # "{}": JSON, but not a token of a page
        ({"outcome": "lost"}, "outcome"),
        ({"skip": "1"}, "skip"),
    ],
)
def test_a_bad_page_request_is_a_400_naming_it(api: Api, params: dict[str, str], field: str) -> None:
    status, answer = api.call("match_job_log", route={"mapping": "CUSTOMER", "jobId": "match-x"}, params=params)
    assert (status, answer["error"]["field"]) == (400, field), answer


@pytest.mark.usefixtures("basics")
def test_an_older_match_message_without_criteria_still_runs_with_the_mapping_s_own(api: Api) -> None:
    job = JobMessage.from_json(json.dumps({"kind": "matchCoupling", "version": 1, "messageId": "old-1",
                                           "payload": {"mapping": "CUSTOMER", "fields": ["city"]}}))  # fmt: skip
    assert message_fields(job)["content_type"]
    SYNC_JOB(service_bus_message(job))
    finished = api.services.context.jobs.find_job("old-1")
    assert finished is not None and finished.status == "finished"
    _, page = api.call("match_job_log", route={"mapping": "CUSTOMER", "jobId": "old-1"})
    coupled = [row for row in page["value"] if row["outcome"] == "coupled"]
    assert coupled and {row["priority"] for row in coupled} == {1}  # the mapping's name criterion, not `fields`


@pytest.mark.usefixtures("basics")
@pytest.mark.parametrize(
    ("function", "body"),
    [("start_match_job", {"createIfNoMatch": False}), ("uncouple_couplings", {"all": True})],
)
def test_a_job_whose_message_cannot_be_sent_is_failed_not_left_queued(
    api: Api, monkeypatch: pytest.MonkeyPatch, function: str, body: dict[str, Any]
) -> None:
    """Both queued-job routes (`triggers/queued_jobs.py`): a send that fails marks the entry failed with why, so no
    page polls a job that never runs; a send that works answers the Location of the job in its mapping's jobs."""
    status, answer = api.call(function, "POST", body, route={"mapping": "CUSTOMER"})
    assert status == 202, answer
    jobs = api.services.context.jobs
    assert jobs.find_job(answer["jobId"], "CUSTOMER") is not None

    def unreachable(messages: Any) -> None:  # as the Service Bus adapter reports an unreachable namespace
        from shared.domain.errors import TransientError

        raise TransientError("serviceUnavailable", "the namespace cannot be reached")

    monkeypatch.setattr(api.services.queue, "send", unreachable)
    before = {job.job_id for job in jobs.list_jobs("CUSTOMER")}
    status, answer = api.call(function, "POST", body, route={"mapping": "CUSTOMER"})
    assert status == 503, answer  # a downstream service unavailable: try again
    [new] = [job for job in jobs.list_jobs("CUSTOMER") if job.job_id not in before]
    assert (new.status, new.message[:11]) == ("failed", "Not queued:") and "cannot be reached" in new.message


@pytest.mark.usefixtures("basics")
def test_the_location_of_a_queued_job_reads_it_from_its_mapping_s_jobs(api: Api) -> None:
    from tests.functions.test_coupling_list_routes import raw_call

    response = raw_call("start_match_job", "POST", {"createIfNoMatch": False}, {"mapping": "CUSTOMER"})
    job_id = json.loads(response.get_body())["jobId"]
    assert response.headers["Location"] == f"/api/jobs/{job_id}?mapping=CUSTOMER"
