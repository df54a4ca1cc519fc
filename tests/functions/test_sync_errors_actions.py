"""The Sync errors routes of issue 24 over the real stack (emulators over HTTP, Azurite): the list paged
server-side, Find for Deleted as a queued job (202 and its Location; delivered through the queue trigger, its entry
queued, then finished with the counts; a BC customer deleted and a Sales account deleted: both found, with the side;
the same message delivered again changes and counts nothing, and a second find records nothing new), and Delete
Records (preview and token, the token round trip, a token that no longer
matches or was made up: 409 and nothing deleted, a record BC refuses to delete reported for that record only)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import azure.functions as func
import pytest

from local.emulators.business_central.seed import COMPANY_ID
from local.fakes.queue import InMemoryJobQueue
from shared.domain.coupling import Coupling
from shared.domain.jobs import JobKind, JobMessage
from shared.domain.records import Side
from shared.mappings import CATALOG
from tests.functions.conftest import FUNCTIONS, Api
from tests.functions.test_coupling_list_routes import SYNC_JOB, deliver
from tests.functions.test_queue_handler import service_bus_message

pytestmark = pytest.mark.integration
M = "CUSTOMER"


@dataclass(frozen=True)
class Pair:
    bc_id: str
    dv_id: str
    name: str


def coupled_pair(api: Api, name: str) -> Pair:
    """A new BC customer and a new Sales account of that name (type Customer, inside CUSTOMER's filter), coupled."""
    context = api.stack.context
    customer = context.bc.create_entity("customers", {"displayName": name})
    account_id = str(uuid.uuid4())
    context.dataverse.create_row("accounts", account_id, {"name": name, "customertypecode": 3})
    context.couplings.create_coupling(Coupling(M, str(customer["id"]), account_id))
    return Pair(str(customer["id"]), account_id, name)


def gone_in_bc(api: Api, pair: Pair) -> None:
    api.stack.context.bc.delete_entity("customers", pair.bc_id)


def gone_in_sales(api: Api, pair: Pair) -> None:
    api.stack.context.dataverse.delete_row("accounts", pair.dv_id)


def queue_find(api: Api, mapping: str = M) -> func.HttpResponse:
    request = func.HttpRequest(
        "POST",
        "http://localhost/api/find_deleted_records",
        headers={"content-type": "application/json"},
        params={},
        route_params={},
        body=json.dumps({"mapping": mapping}).encode(),
    )
    response: func.HttpResponse = FUNCTIONS["find_deleted_records"].get_user_function()(request)
    return response


def find(api: Api, mapping: str = M) -> dict[str, Any]:
    """Find for Deleted as the console runs it: queue the job, let the worker take it, read its finished entry."""
    response = queue_find(api, mapping)
    assert response.status_code == 202, response.get_body()
    job_id = json.loads(response.get_body())["jobId"]
    queue = api.services.queue
    assert isinstance(queue, InMemoryJobQueue)
    assert deliver(queue) == 1
    status, job = api.call("get_job", route={"jobId": job_id}, params={"mapping": mapping})
    assert (status, job["status"]) == (200, "finished"), job
    return dict(job)


def errors(api: Api) -> dict[str, dict[str, Any]]:
    status, listed = api.call("list_sync_errors", params={"mapping": M, "top": "1000"})
    assert status == 200, listed
    return {e["id"]: e for e in listed["value"]}


def delete(api: Api, ids: list[str], token: str | None = None) -> tuple[int, Any]:
    body: dict[str, Any] = {"mapping": M, "ids": ids}
    if token is not None:
        body["confirmationToken"] = token
    return api.call("delete_deleted_records", "POST", body)


def bc_exists(api: Api, bc_id: str) -> bool:
    return api.stack.context.bc.get_entity("customers", bc_id) is not None


def sales_exists(api: Api, dv_id: str) -> bool:
    return api.stack.context.dataverse.get_row("accounts", dv_id) is not None


def test_the_list_pages_server_side_and_refuses_a_bad_top_or_token(api: Api) -> None:
    for n in range(5):
        api.stack.context.errors.record_error(M, Side.BC, f"page-{n}", "badValue", f"error {n}")
    api.stack.context.errors.record_error("CONTACT", Side.BC, "contact-1", "badValue", "a contact's")

    seen: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        params = {"mapping": M, "top": "2", **({"continuationToken": token} if token else {})}
        status, page = api.call("list_sync_errors", params=params)
        assert status == 200 and len(page["value"]) <= 2, page
        seen += [e["id"] for e in page["value"]]
        pages += 1
        token = page["continuationToken"]
        if token is None:
            break
    assert seen == [f"page-{n}" for n in range(5)] and pages == 3
    status, everything = api.call("list_sync_errors")  # no mapping: every mapping's, one page of 100
    assert status == 200 and {e["id"] for e in everything["value"]} == {*seen, "contact-1"}

    for top in ("0", "1001", "x", "-1"):
        status, answer = api.call("list_sync_errors", params={"mapping": M, "top": top})
        assert (status, answer["error"]["field"]) == (400, "top"), top
    _, first = api.call("list_sync_errors", params={"mapping": M, "top": "2"})
    for bad, mapping in (("nonsense", M), (first["continuationToken"], "CONTACT")):
        status, answer = api.call("list_sync_errors", params={"mapping": mapping, "continuationToken": bad})
        assert (status, answer["error"]["code"], answer["error"]["field"]) == (
            400,
            "invalidContinuationToken",
            "continuationToken",
        )


def test_find_for_deleted_is_a_queued_job_that_records_each_broken_coupling_once_with_the_side_that_is_gone(
    api: Api,
) -> None:
    customer_gone, account_gone, intact = (coupled_pair(api, f"Find {n} {uuid.uuid4().hex[:6]}") for n in range(3))
    gone_in_bc(api, customer_gone)
    gone_in_sales(api, account_gone)

    response = queue_find(api)
    assert response.status_code == 202, response.get_body()
    answer = json.loads(response.get_body())
    job_id = answer["jobId"]
    assert (answer["mapping"], answer["status"]) == (M, "queued")
    assert response.headers["Location"] == f"/api/jobs/{job_id}?mapping={M}"
    status, queued = api.call("get_job", route={"jobId": job_id}, params={"mapping": M})
    assert (status, queued["status"]) == (200, "queued")
    assert errors(api) == {}  # nothing is found before a worker takes the job

    queue = api.services.queue
    assert isinstance(queue, InMemoryJobQueue)
    assert deliver(queue) == 1
    _, job = api.call("get_job", route={"jobId": job_id}, params={"mapping": M})
    counters = job["counters"]
    assert job["status"] == "finished" and job["finishedOn"], job
    assert job["startedOn"] == queued["startedOn"]  # the same entry, replaced
    assert (counters["deleted"], counters["failed"], counters["skipped"], counters["uncoupled"]) == (2, 2, 0, 0)
    assert counters["unchanged"] >= 3  # every coupling of the mapping compared
    assert "1 record(s) deleted in Business Central, 1 in Dataverse" in job["message"]
    assert "2 recorded on the Sync errors list, 0 already there" in job["message"]
    listed = errors(api)
    left_in_sales = listed[customer_gone.dv_id]  # the entry is on the record that is left
    assert (left_in_sales["side"], left_in_sales["code"]) == ("dv", "coupledRecordDeleted")
    assert "Business Central" in left_in_sales["message"]
    left_in_bc = listed[account_gone.bc_id]
    assert (left_in_bc["side"], left_in_bc["code"]) == ("bc", "coupledRecordDeleted")
    assert "Dataverse" in left_in_bc["message"]
    assert intact.bc_id not in listed and intact.dv_id not in listed

    # The same message delivered again (Service Bus may): the finished job changes and counts nothing.
    SYNC_JOB(service_bus_message(JobMessage(JobKind.FIND_DELETED, job_id, {"mapping": M}), delivery_count=2))
    _, redelivered = api.call("get_job", route={"jobId": job_id}, params={"mapping": M})
    assert redelivered == job
    assert errors(api) == listed  # counts and last-seen times as they were

    again = find(api)  # a new find: each recorded once already
    assert (again["counters"]["failed"], again["counters"]["skipped"]) == (0, 2), again
    assert "0 recorded on the Sync errors list, 2 already there" in again["message"]
    again_listed = errors(api)
    assert [again_listed[i]["count"] for i in (customer_gone.dv_id, account_gone.bc_id)] == [1, 1]
    assert not again_listed[account_gone.bc_id]["skipped"]


def test_a_find_that_failed_is_found_again_on_its_next_delivery_without_counting_twice(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A delivery that dies after recording goes on the failed entry; the next delivery finds again and counts what
    the first recorded as already there (the find records each entry once)."""
    from shared.services import deleted_records, find_deleted_job

    gone = coupled_pair(api, f"Crash {uuid.uuid4().hex[:6]}")
    gone_in_sales(api, gone)
    real = deleted_records.find_deleted
    calls = {"n": 0}

    def dies_after_recording(*args: Any) -> Any:
        calls["n"] += 1
        report = real(*args)
        if calls["n"] == 1:
            raise RuntimeError("the worker died")
        return report

    monkeypatch.setattr(find_deleted_job, "find_deleted", dies_after_recording)
    response = queue_find(api)
    job_id = json.loads(response.get_body())["jobId"]
    queue = api.services.queue
    assert isinstance(queue, InMemoryJobQueue)
    assert deliver(queue) == 2  # failed once (abandoned), then delivered again
    assert calls["n"] == 2
    _, job = api.call("get_job", route={"jobId": job_id}, params={"mapping": M})
    assert job["status"] == "finished", job
    assert (job["counters"]["failed"], job["counters"]["skipped"], job["counters"]["deleted"]) == (0, 1, 1)
    assert errors(api)[gone.bc_id]["count"] == 1


def test_a_find_shows_its_progress_on_its_entry_while_it_runs(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """The entry says "running" with what was compared and found so far, every `PROGRESS_CHECKS` couplings checked
    (here 2), not only when it ends."""
    from shared.services import deleted_records

    monkeypatch.setattr(deleted_records, "PROGRESS_CHECKS", 2)
    pairs = [coupled_pair(api, f"Progress {n} {uuid.uuid4().hex[:6]}") for n in range(5)]
    for pair in pairs:
        gone_in_bc(api, pair)
    seen: list[dict[str, Any]] = []
    jobs = api.services.context.jobs
    record = jobs.record_job

    def watched(job: Any) -> None:
        seen.append({"status": job.status, "deleted": job.counters.deleted, "message": job.message})
        record(job)

    monkeypatch.setattr(jobs, "record_job", watched)
    job = find(api)
    running = [s for s in seen if s["status"] == "running"]
    assert any(s["message"].startswith("Listing the Business Central ids") for s in running), running
    assert any(s["message"].startswith("Checking again") and s["deleted"] >= 2 for s in running), running
    assert len(running) < 10  # reported every few couplings, not per record
    assert (job["counters"]["deleted"], job["counters"]["failed"]) == (5, 5)


def test_delete_records_previews_then_deletes_with_the_token_what_was_shown(api: Api) -> None:
    customer_gone, account_gone, intact = (coupled_pair(api, f"Delete {n} {uuid.uuid4().hex[:6]}") for n in range(3))
    gone_in_bc(api, customer_gone)
    gone_in_sales(api, account_gone)
    find(api)
    api.stack.context.errors.record_error(M, Side.BC, intact.bc_id, "badValue", "both records exist")
    api.stack.context.errors.record_error(M, Side.DATAVERSE, "never-coupled", "badValue", "an uncoupled record's")
    ids = [customer_gone.dv_id, account_gone.bc_id, intact.bc_id, "no-such-error", "never-coupled"]

    status, preview = delete(api, ids)
    assert status == 200 and preview["confirmed"] is False and preview["confirmationToken"], preview
    outcomes = {r["id"]: r for r in preview["records"]}
    assert (outcomes[customer_gone.dv_id]["outcome"], outcomes[customer_gone.dv_id]["side"]) == ("toDelete", "dv")
    assert outcomes[customer_gone.dv_id]["name"] == customer_gone.name
    assert (outcomes[account_gone.bc_id]["outcome"], outcomes[account_gone.bc_id]["side"]) == ("toDelete", "bc")
    assert outcomes[account_gone.bc_id]["name"] == account_gone.name
    assert outcomes[intact.bc_id]["outcome"] == "bothExist" and outcomes["no-such-error"]["outcome"] == "noError"
    assert outcomes["never-coupled"]["outcome"] == "notCoupled"
    assert sales_exists(api, customer_gone.dv_id) and bc_exists(api, account_gone.bc_id)  # nothing deleted yet

    status, made_up = delete(api, ids, "0" * 64)
    assert (status, made_up["error"]["code"], made_up["error"]["field"]) == (
        409,
        "confirmationMismatch",
        "confirmationToken",
    )
    assert sales_exists(api, customer_gone.dv_id) and bc_exists(api, account_gone.bc_id)
    status, _ = delete(api, ids[:2], preview["confirmationToken"])  # a token is bound to its ids
    assert status == 409 and sales_exists(api, customer_gone.dv_id)

    status, done = delete(api, ids, preview["confirmationToken"])
    assert status == 200 and done["confirmed"] is True, done
    outcomes = {r["id"]: r["outcome"] for r in done["records"]}
    assert outcomes == {
        customer_gone.dv_id: "deleted",
        account_gone.bc_id: "deleted",
        intact.bc_id: "bothExist",
        "no-such-error": "noError",
        "never-coupled": "notCoupled",
    }
    assert not sales_exists(api, customer_gone.dv_id) and not bc_exists(api, account_gone.bc_id)
    assert bc_exists(api, intact.bc_id) and sales_exists(api, intact.dv_id)
    couplings = api.stack.context.couplings
    assert couplings.find_by_bc_id(M, customer_gone.bc_id) is None
    assert couplings.find_by_bc_id(M, account_gone.bc_id) is None
    assert couplings.find_by_bc_id(M, intact.bc_id) is not None
    assert set(errors(api)) == {intact.bc_id, "never-coupled"}


def test_a_list_that_changed_since_the_preview_is_refused_and_nothing_is_deleted(api: Api) -> None:
    first, second = (coupled_pair(api, f"Changed {n} {uuid.uuid4().hex[:6]}") for n in range(2))
    gone_in_sales(api, first)
    find(api)
    api.stack.context.errors.record_error(M, Side.BC, second.bc_id, "badValue", "both exist, for now")
    ids = [first.bc_id, second.bc_id]
    status, preview = delete(api, ids)
    assert status == 200 and [r["outcome"] for r in preview["records"]] == ["toDelete", "bothExist"]

    gone_in_sales(api, second)  # now the second would be deleted too: not what the admin confirmed
    status, answer = delete(api, ids, preview["confirmationToken"])
    assert (status, answer["error"]["code"]) == (409, "confirmationMismatch")
    assert bc_exists(api, first.bc_id) and bc_exists(api, second.bc_id)


def test_a_delete_the_app_refuses_is_reported_for_that_record_and_the_others_go_on(api: Api) -> None:
    refused, deletable = (coupled_pair(api, f"Refused {n} {uuid.uuid4().hex[:6]}") for n in range(2))
    gone_in_sales(api, refused)
    gone_in_sales(api, deletable)
    root = api.stack.bc_handle.company_root(COMPANY_ID)
    quote = {"customerId": refused.bc_id, "salesQuoteLines": [{"lineType": "Item", "lineObjectNumber": "1896-S"}]}
    response = api.stack.bc_handle.session.post(f"{root}/salesQuotes", json=quote)
    assert response.status_code == 201, response.text  # BC keeps a customer with an outstanding quote
    find(api)

    ids = [refused.bc_id, deletable.bc_id]
    _, preview = delete(api, ids)
    status, done = delete(api, ids, preview["confirmationToken"])
    assert status == 200, done
    records = {r["id"]: r for r in done["records"]}
    assert records[deletable.bc_id]["outcome"] == "deleted" and not bc_exists(api, deletable.bc_id)
    assert (
        records[refused.bc_id]["outcome"] == "refused"
        and "outstanding sales quote" in records[refused.bc_id]["message"]
    )
    assert bc_exists(api, refused.bc_id)
    assert api.stack.context.couplings.find_by_bc_id(M, refused.bc_id) is not None  # kept with its entry
    assert refused.bc_id in errors(api)


def test_a_sales_account_an_order_names_is_refused_by_dataverse_and_reported(api: Api) -> None:
    pair = coupled_pair(api, f"Ordered {uuid.uuid4().hex[:6]}")
    gone_in_bc(api, pair)
    order = {"name": "Still open", "customerid_account@odata.bind": f"/accounts({pair.dv_id})"}
    api.stack.context.dataverse.create_row("salesorders", str(uuid.uuid4()), order)
    find(api)

    _, preview = delete(api, [pair.dv_id])
    status, done = delete(api, [pair.dv_id], preview["confirmationToken"])
    assert status == 200, done
    [record] = done["records"]
    assert (record["outcome"], record["side"]) == ("refused", "dv") and "names it as its customer" in record["message"]
    assert sales_exists(api, pair.dv_id) and pair.dv_id in errors(api)


@pytest.mark.parametrize(
    ("name", "body", "field"),
    [
        ("find_deleted_records", {}, "mapping"),
        ("find_deleted_records", {"mapping": "NOPE"}, "mapping"),
        ("find_deleted_records", {"mapping": M, "ids": []}, "ids"),
        ("delete_deleted_records", {"mapping": M}, "ids"),
        ("delete_deleted_records", {"mapping": M, "ids": []}, "ids"),
        ("delete_deleted_records", {"mapping": M, "ids": "all"}, "ids"),
        ("delete_deleted_records", {"mapping": M, "ids": [" "]}, "ids"),
        ("delete_deleted_records", {"mapping": M, "ids": ["x"] * 201}, "ids"),
        ("delete_deleted_records", {"mapping": M, "ids": ["x"], "confirmationToken": 5}, "confirmationToken"),
        ("delete_deleted_records", {"mapping": M, "ids": ["x"], "confirmationToken": " "}, "confirmationToken"),
        ("delete_deleted_records", {"mapping": "NOPE", "ids": ["x"]}, "mapping"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(api: Api, name: str, body: dict[str, Any], field: str) -> None:
    status, answer = api.call(name, "POST", body)
    assert (status, answer["error"]["field"]) == (400, field), answer


def test_every_mapping_answers_find_for_deleted_and_delete_records_as_documented(api: Api) -> None:
    """No 500 for any mapping: one the engine cannot run record by record (an option mapping, one of BC's processes,
    a page source not configured) is 409 `mappingNotRunnable`, as retry answers it, before anything is queued; every
    job queued runs to its end."""
    for name in CATALOG:
        status, found = api.call("find_deleted_records", "POST", {"mapping": name})
        assert status in (202, 409), (name, found)
        if status == 409:
            assert found["error"]["code"] == "mappingNotRunnable", (name, found)
        status, planned = api.call("delete_deleted_records", "POST", {"mapping": name, "ids": ["not-listed"]})
        assert status in (200, 409), (name, planned)
        if status == 200:
            assert [r["outcome"] for r in planned["records"]] == ["noError"] and planned["confirmationToken"] is None
    queue = api.services.queue
    assert isinstance(queue, InMemoryJobQueue)
    deliver(queue)
    jobs = [j for name in CATALOG for j in api.services.context.jobs.list_jobs(name) if j.job_id.startswith("findD")]
    assert jobs and {j.status for j in jobs} == {"finished"}, [(j.mapping, j.message) for j in jobs]
