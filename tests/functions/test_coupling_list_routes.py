"""The couplings of a mapping as a list (issue 24) through the registered functions over the real stack: one page at a
time, Synchronize Now on selected records, uncouple selected, and uncouple all as a queued job whose progress its job
entry shows, delivered again without counting twice. Bad input is a 400 naming the field."""

from __future__ import annotations

import json
import uuid
from typing import Any

import azure.functions as func
import pytest

from local.fakes.queue import InMemoryJobQueue, to_function_message
from shared.domain.coupling import Coupling
from shared.domain.jobs import JobKind, JobMessage
from shared.services import uncouple_all as uncouple_module
from tests.functions.conftest import FUNCTIONS, Api
from tests.functions.test_queue_handler import service_bus_message

pytestmark = pytest.mark.integration
SYNC_JOB = FUNCTIONS["sync_job"].get_user_function()
M = "CURRENCY"  # a mapping with no after-uncouple behaviour, whose couplings the tests make up


def couple_many(api: Api, count: int, mapping: str = M) -> list[Coupling]:
    made = api.services.context.couplings.create_couplings(
        [Coupling(mapping, str(uuid.UUID(int=n + 1)), str(uuid.uuid4())) for n in range(count)]
    )
    return [c for c in made if c is not None]


def raw_call(name: str, method: str, body: Any, route: dict[str, str]) -> func.HttpResponse:
    request = func.HttpRequest(
        method,
        f"http://localhost/api/{name}",
        headers={"content-type": "application/json"},
        params={},
        route_params=route,
        body=json.dumps(body).encode(),
    )
    response: func.HttpResponse = FUNCTIONS[name].get_user_function()(request)
    return response


def deliver(queue: InMemoryJobQueue, *, crash_first: bool = False) -> int:
    """Deliver until the queue is empty, as the host does (abandon on an exception, so it comes back)."""
    deliveries = 0
    while locked := queue.receive(max_messages=1):
        deliveries += 1
        try:
            SYNC_JOB(to_function_message(locked[0]))
        except Exception:
            queue.abandon(locked[0].lock_token)
            continue
        queue.complete(locked[0].lock_token)
    return deliveries


# -- GET couplings/{mapping}/list ------------------------------------------------------------------------------------
def test_250_couplings_are_listed_in_three_pages_each_once(api: Api) -> None:
    couplings = couple_many(api, 250)
    pages, token = [], None
    while True:
        params = {"top": "100", **({"continuationToken": token} if token else {})}
        status, body = api.call("list_coupling_page", params=params, route={"mapping": M})
        assert status == 200, body
        pages.append(body["value"])
        token = body["continuationToken"]
        if token is None:
            break
    assert [len(page) for page in pages] == [100, 100, 50]
    assert sorted(c["bcId"] for page in pages for c in page) == sorted(c.bc_id for c in couplings)
    assert set(pages[0][0]) >= {"bcId", "dataverseId", "skipped", "synchronized", "coupledOn"}
    status, body = api.call("list_coupling_page", route={"mapping": M})
    assert (status, len(body["value"])) == (200, 100)  # top defaults to 100


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"top": "0"}, "top"),
        ({"top": "1001"}, "top"),
        ({"top": "ten"}, "top"),
        ({"continuationToken": "not-a-token"}, "continuationToken"),
        ({"skipped": "maybe"}, "skipped"),
        ({"skip": "1"}, "skip"),
    ],
)
def test_a_bad_page_request_is_a_400_naming_the_parameter(api: Api, params: dict[str, str], field: str) -> None:
    status, body = api.call("list_coupling_page", params=params, route={"mapping": M})
    assert (status, body["error"]["field"]) == (400, field), body


def test_a_token_of_another_mapping_is_refused(api: Api) -> None:
    couple_many(api, 3, "SALESPEOPLE")
    _, body = api.call("list_coupling_page", params={"top": "1"}, route={"mapping": "SALESPEOPLE"})
    status, refused = api.call(
        "list_coupling_page", params={"continuationToken": body["continuationToken"]}, route={"mapping": M}
    )
    assert (status, refused["error"]["code"]) == (400, "invalidContinuationToken")


# -- POST synchronize/selected --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"mapping": "CUSTOMER", "direction": "sideways", "bcIds": ["x"]}, "direction"),
        ({"mapping": "CUSTOMER", "direction": "toDataverse", "bcIds": []}, "bcIds"),
        ({"mapping": "CUSTOMER", "direction": "toDataverse", "bcIds": ["a"] * 1001}, "bcIds"),
        ({"mapping": "CUSTOMER", "direction": "toDataverse", "bcIds": [" "]}, "bcIds"),
        ({"mapping": "CUSTOMER", "direction": "toDataverse", "dataverseIds": ["not-a-guid"]}, "dataverseIds"),
        ({"mapping": "CUSTOMER", "direction": "toDataverse", "bcIds": ["a"], "dataverseIds": []}, "bcIds"),
        ({"mapping": "CUSTOMER", "direction": "toDataverse"}, "bcIds"),
        ({"mapping": "NOPE", "direction": "toDataverse", "bcIds": ["a"]}, "mapping"),
    ],
)
def test_a_bad_selection_is_a_400_naming_the_field(api: Api, body: dict[str, Any], field: str) -> None:
    status, answer = api.call("synchronize_selected", "POST", body)
    assert (status, answer["error"]["field"]) == (400, field), answer


def test_ids_that_are_not_coupled_are_left_and_counted(api: Api) -> None:
    ids = [str(uuid.uuid4()) for _ in range(3)]
    status, body = api.call("synchronize_selected", "POST", {"mapping": M, "direction": "toDataverse", "bcIds": ids})
    assert status == 200, body
    assert [(r["bcId"], r["reason"]) for r in body["left"]] == [(i, "notCoupled") for i in ids]
    assert body["counts"] == {"selected": 3, "synchronized": 0, "left": 3, "failed": 0}


# -- POST couplings/{mapping}/uncouple -------------------------------------------------------------------------------
def test_selected_couplings_are_uncoupled_now_with_an_outcome_each(api: Api) -> None:
    couplings = couple_many(api, 5)
    stranger = str(uuid.uuid4())
    ids = [couplings[0].bc_id, couplings[3].bc_id.upper(), stranger]
    status, body = api.call("uncouple_couplings", "POST", {"bcIds": ids}, route={"mapping": M})
    assert status == 200, body
    assert [(r["bcId"], r["outcome"]) for r in body["value"]] == [
        (couplings[0].bc_id, "uncoupled"),
        (couplings[3].bc_id, "uncoupled"),
        (stranger, "notCoupled"),
    ]
    assert body["value"][0]["dataverseId"] == couplings[0].dataverse_id
    assert body["counts"] == {"uncoupled": 2, "notCoupled": 1}
    left = {c.bc_id for c in api.services.context.couplings.list_couplings(M)}
    assert left == {couplings[n].bc_id for n in (1, 2, 4)}


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "bcIds"), ({"all": False}, "all"), ({"all": True, "bcIds": ["a"]}, "bcIds"), ({"bcIds": []}, "bcIds")],
)
def test_a_bad_uncouple_request_is_a_400_naming_the_field(api: Api, body: dict[str, Any], field: str) -> None:
    status, answer = api.call("uncouple_couplings", "POST", body, route={"mapping": M})
    assert (status, answer["error"]["field"]) == (400, field), answer


def test_uncouple_all_is_a_queued_job_whose_entry_shows_its_progress(api: Api) -> None:
    couple_many(api, 250)
    response = raw_call("uncouple_couplings", "POST", {"all": True}, {"mapping": M})
    assert response.status_code == 202, response.get_body()
    job_id = json.loads(response.get_body())["jobId"]
    assert response.headers["Location"] == f"/api/jobs/{job_id}?mapping={M}"
    status, job = api.call("get_job", route={"jobId": job_id})
    assert (status, job["status"], job["mapping"]) == (200, "queued", M)
    status, job = api.call("get_job", route={"jobId": job_id}, params={"mapping": M})  # as the page polls it
    assert (status, job["status"]) == (200, "queued")
    status, _ = api.call("get_job", route={"jobId": job_id}, params={"mapping": "CONTACT"})
    assert status == 404  # not among that mapping's jobs

    queue = api.services.queue
    assert isinstance(queue, InMemoryJobQueue)
    assert deliver(queue) == 1
    status, job = api.call("get_job", route={"jobId": job_id})
    assert (job["status"], job["counters"]["uncoupled"]) == ("finished", 250), job
    assert list(api.services.context.couplings.list_couplings(M)) == []


def test_a_job_delivered_again_after_a_crash_goes_on_and_never_counts_twice(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    couple_many(api, 250)
    monkeypatch.setattr(uncouple_module, "BATCH", 60)
    real = uncouple_module.uncouple_couplings
    calls = {"n": 0}

    def dies_on_the_third_batch(*args: Any) -> list[bool]:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("the worker died")
        return real(*args)

    monkeypatch.setattr(uncouple_module, "uncouple_couplings", dies_on_the_third_batch)
    response = raw_call("uncouple_couplings", "POST", {"all": True}, {"mapping": M})
    job_id = json.loads(response.get_body())["jobId"]
    queue = api.services.queue
    assert isinstance(queue, InMemoryJobQueue)
    locked = queue.receive(max_messages=1)
    with pytest.raises(RuntimeError):
        SYNC_JOB(to_function_message(locked[0]))
    _, job = api.call("get_job", route={"jobId": job_id})
    assert (job["status"], job["counters"]["uncoupled"]) == ("failed", 120), job  # two batches of 60 done
    queue.abandon(locked[0].lock_token)

    assert deliver(queue) == 1  # delivered again: it goes on from what is still coupled
    _, job = api.call("get_job", route={"jobId": job_id})
    assert (job["status"], job["counters"]["uncoupled"]) == ("finished", 250), job
    duplicate = JobMessage(JobKind.UNCOUPLE_ALL, job_id, {"mapping": M})
    SYNC_JOB(
        service_bus_message(duplicate, delivery_count=2)
    )  # a duplicate of a finished job: nothing more, nothing counted
    _, again = api.call("get_job", route={"jobId": job_id})
    assert (again["status"], again["counters"]["uncoupled"], again["finishedOn"]) == (
        "finished",
        250,
        job["finishedOn"],
    )
