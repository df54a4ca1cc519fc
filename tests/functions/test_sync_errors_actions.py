"""The Sync errors routes of issue 24 over the real stack (emulators over HTTP, Azurite): the list paged
server-side, Find for Deleted (a BC customer deleted and a Sales account deleted: both found, with the side, and a
second find records nothing new), and Delete Records (preview and token, the token round trip, a token that no longer
matches or was made up: 409 and nothing deleted, a record BC refuses to delete reported for that record only)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from local.emulators.business_central.seed import COMPANY_ID
from shared.domain.coupling import Coupling
from shared.domain.records import Side
from shared.mappings import CATALOG
from tests.functions.conftest import Api

pytestmark = pytest.mark.integration
M = "CUSTOMER"


@dataclass(frozen=True)
class Pair:
    bc_id: str
    dv_id: str
    name: str


def coupled_pair(api: Api, name: str) -> Pair:
    """A new BC customer and a new Sales account of that name, coupled."""
    context = api.stack.context
    customer = context.bc.create_entity("customers", {"displayName": name})
    account_id = str(uuid.uuid4())
    context.dataverse.create_row("accounts", account_id, {"name": name})
    context.couplings.create_coupling(Coupling(M, str(customer["id"]), account_id))
    return Pair(str(customer["id"]), account_id, name)


def gone_in_bc(api: Api, pair: Pair) -> None:
    api.stack.context.bc.delete_entity("customers", pair.bc_id)


def gone_in_sales(api: Api, pair: Pair) -> None:
    api.stack.context.dataverse.delete_row("accounts", pair.dv_id)


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


def test_find_for_deleted_records_each_broken_coupling_once_with_the_side_that_is_gone(api: Api) -> None:
    customer_gone, account_gone, intact = (coupled_pair(api, f"Find {n} {uuid.uuid4().hex[:6]}") for n in range(3))
    gone_in_bc(api, customer_gone)
    gone_in_sales(api, account_gone)

    status, found = api.call("find_deleted_records", "POST", {"mapping": M})
    assert status == 200, found
    assert (found["bcDeleted"], found["dataverseDeleted"], found["recorded"], found["alreadyRecorded"]) == (1, 1, 2, 0)
    assert found["couplings"] >= 3
    listed = errors(api)
    left_in_sales = listed[customer_gone.dv_id]  # the entry is on the record that is left
    assert (left_in_sales["side"], left_in_sales["code"]) == ("dv", "coupledRecordDeleted")
    assert "Business Central" in left_in_sales["message"]
    left_in_bc = listed[account_gone.bc_id]
    assert (left_in_bc["side"], left_in_bc["code"]) == ("bc", "coupledRecordDeleted")
    assert "Dataverse" in left_in_bc["message"]
    assert intact.bc_id not in listed and intact.dv_id not in listed

    status, again = api.call("find_deleted_records", "POST", {"mapping": M})
    assert status == 200 and (again["recorded"], again["alreadyRecorded"]) == (0, 2), again
    again_listed = errors(api)
    assert [again_listed[i]["count"] for i in (customer_gone.dv_id, account_gone.bc_id)] == [1, 1]
    assert not again_listed[account_gone.bc_id]["skipped"]


def test_delete_records_previews_then_deletes_with_the_token_what_was_shown(api: Api) -> None:
    customer_gone, account_gone, intact = (coupled_pair(api, f"Delete {n} {uuid.uuid4().hex[:6]}") for n in range(3))
    gone_in_bc(api, customer_gone)
    gone_in_sales(api, account_gone)
    api.call("find_deleted_records", "POST", {"mapping": M})
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
    api.call("find_deleted_records", "POST", {"mapping": M})
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
    api.call("find_deleted_records", "POST", {"mapping": M})

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
    api.call("find_deleted_records", "POST", {"mapping": M})

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
    a page source not configured) is 409 `mappingNotRunnable`, as retry answers it."""
    for name in CATALOG:
        status, found = api.call("find_deleted_records", "POST", {"mapping": name})
        assert status in (200, 409), (name, found)
        if status == 409:
            assert found["error"]["code"] == "mappingNotRunnable", (name, found)
        status, planned = api.call("delete_deleted_records", "POST", {"mapping": name, "ids": ["not-listed"]})
        assert status in (200, 409), (name, planned)
        if status == 200:
            assert [r["outcome"] for r in planned["records"]] == ["noError"] and planned["confirmationToken"] is None
