"""Each route's happy path and each class of bad input, through the registered functions (real HttpRequests)."""

from __future__ import annotations

import pytest

from local.emulators.business_central.seed import seeded_id as bc_seeded
from tests.functions.conftest import Api

pytestmark = pytest.mark.integration
CANNON = bc_seeded("customer", "The Cannon Group PLC")


def couple_basics(api: Api) -> None:
    for name in ("SALESPEOPLE", "CURRENCY"):
        status, _ = api.call("match_couplings", "POST", {}, route={"mapping": name})
        assert status == 200


def test_mappings_list_get_patch_and_reset(api: Api) -> None:
    status, body = api.call("list_mappings")
    assert status == 200 and {m["name"] for m in body["value"]} >= {"CUSTOMER", "CONTACT", "CURRENCY"}
    status, body = api.call("patch_mapping", "PATCH", {"conflictPolicy": "merge"}, route={"name": "CUSTOMER"})
    assert status == 200 and body["overrides"] == {"conflictPolicy": "merge"}
    status, body = api.call("get_mapping", route={"name": "CUSTOMER"})
    assert body["overrides"] == {"conflictPolicy": "merge"}
    status, body = api.call("patch_mapping", "PATCH", {"direction": "bidirectional"}, route={"name": "CURRENCY"})
    assert (status, body["error"]["field"]) == (400, "direction")  # an override may only narrow
    status, body = api.call("reset_mapping", "POST", route={"name": "CUSTOMER"})
    assert status == 200 and body["overrides"] == {}


@pytest.mark.parametrize(
    ("name", "method", "body", "route", "field"),
    [
        ("create_coupling", "POST", {"bcId": CANNON}, None, "dataverseId"),  # the first missing, by name
        ("create_coupling", "POST", {"mapping": "NOPE", "bcId": CANNON, "dataverseId": CANNON}, None, "mapping"),
        ("create_coupling", "POST", {"mapping": "CUSTOMER", "bcId": CANNON, "dataverseId": CANNON, "x": 1}, None, "x"),
        ("create_coupling", "POST", {"mapping": "CUSTOMER", "bcId": 5, "dataverseId": CANNON}, None, "bcId"),
        (
            "synchronize_now",
            "POST",
            {"mapping": "CUSTOMER", "bcId": CANNON, "direction": "sideways"},
            None,
            "direction",
        ),
        ("synchronize_now", "POST", {"mapping": "CUSTOMER", "direction": "toDataverse"}, None, "bcId"),
        ("patch_mapping", "PATCH", {"enabled": "yes"}, {"name": "CUSTOMER"}, "enabled"),
        ("patch_mapping", "PATCH", {"enabled": True}, {"name": "NOPE"}, "name"),
        ("retry_sync_errors", "POST", {"mapping": "CUSTOMER"}, None, "ids"),
        ("match_couplings", "POST", {"fields": []}, {"mapping": "CUSTOMER"}, "fields"),
        ("create_in_dataverse", "POST", {}, {"mapping": "CUSTOMER"}, "bcId"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(
    api: Api, name: str, method: str, body: object, route: dict[str, str] | None, field: str
) -> None:
    status, answer = api.call(name, method, body, route=route)
    assert status == 400, answer
    assert answer["error"]["field"] == field


def test_malformed_json_is_a_400(api: Api) -> None:
    status, answer = api.call("create_coupling", "POST", raw=b"{not json")
    assert (status, answer["error"]["code"], answer["error"]["field"]) == (400, "invalidJson", "body")


def test_coupling_routes(api: Api) -> None:
    couple_basics(api)
    accounts = api.stack.dv_handle.session.get(
        f"{api.stack.dv_handle.base_url}/api/data/v9.2/accounts", params={"$filter": "name eq 'The Cannon Group PLC'"}
    ).json()["value"]
    account_id = accounts[0]["accountid"]
    status, body = api.call(
        "create_coupling",
        "POST",
        {"mapping": "CUSTOMER", "bcId": CANNON, "dataverseId": account_id, "synchronize": "toDataverse"},
    )
    assert status == 201, body
    assert body["coupling"]["dataverseId"] == account_id and "synchronization" in body
    status, body = api.call("find_coupling", route={"mapping": "CUSTOMER"}, params={"bcId": CANNON})
    assert status == 200 and body["dataverseId"] == account_id
    status, body = api.call(
        "create_coupling",
        "POST",
        {"mapping": "CUSTOMER", "bcId": bc_seeded("customer", "Trey Research"), "dataverseId": account_id},
    )
    assert status == 409  # the account is already coupled to another customer
    status, body = api.call(
        "synchronize_now", "POST", {"mapping": "CUSTOMER", "bcId": CANNON, "direction": "fromDataverse"}
    )
    assert status == 200 and body["outcome"] in ("modified", "unchanged")
    assert api.call("delete_coupling", "DELETE", route={"mapping": "CUSTOMER", "bcId": CANNON})[0] == 204
    status, body = api.call("find_coupling", route={"mapping": "CUSTOMER"}, params={"bcId": CANNON})
    assert (status, body["error"]["code"]) == (404, "notCoupled")


def test_dependency_refusal_is_a_409_naming_what_to_couple(api: Api) -> None:
    status, body = api.call(
        "create_in_dataverse",
        "POST",
        {"bcId": bc_seeded("customer", "Alpine Ski House")},
        route={"mapping": "CUSTOMER"},
    )
    assert status == 409 and body["error"]["code"] == "dependencyNotCoupled"
    assert "SALESPEOPLE" in body["error"]["message"] or "CURRENCY" in body["error"]["message"]


def test_create_in_dataverse_then_run_the_mapping_and_read_the_job(api: Api) -> None:
    couple_basics(api)
    status, body = api.call(
        "create_in_dataverse",
        "POST",
        {"bcId": bc_seeded("customer", "Adatum Corporation")},
        route={"mapping": "CUSTOMER"},
    )
    assert status == 201, body
    status, job = api.call("run_mapping_now", "POST", route={"name": "CUSTOMER"})
    assert status == 200 and job["status"] == "finished"
    status, again = api.call("get_job", route={"jobId": job["jobId"]})
    assert status == 200 and again["counters"] == job["counters"]
    assert api.call("get_job", route={"jobId": "run-unknown"})[0] == 404
    status, errors = api.call("list_sync_errors", params={"mapping": "CUSTOMER"})
    assert status == 200 and isinstance(errors["value"], list)


def test_a_downstream_outage_is_a_503_with_retry_after(api: Api) -> None:
    api.stack.dv_handle.admin("POST", "faults", json={"status5xxRate": 1})
    status, body = api.call(
        "synchronize_now",
        "POST",
        {"mapping": "CURRENCY", "bcId": bc_seeded("currency", "EUR"), "direction": "toDataverse"},
    )
    api.stack.dv_handle.admin("POST", "faults", json={"status5xxRate": 0})
    assert status in (404, 503), body  # not coupled -> 404 before any call; else the outage -> 503


def test_an_undocumented_query_parameter_is_a_400_naming_it_but_the_key_is_the_hosts(api: Api) -> None:
    status, answer = api.call("list_sync_errors", params={"mappings": "CUSTOMER"})  # a typo of `mapping`
    assert (status, answer["error"]["code"], answer["error"]["field"]) == (400, "unknownParameter", "mappings")
    status, answer = api.call("list_sync_errors", params={"mapping": "CUSTOMER", "code": "the-function-key"})
    assert status == 200 and answer == {"value": [], "continuationToken": None}
    status, answer = api.call("list_mappings", params={"top": "5"})
    assert (status, answer["error"]["field"]) == (400, "top")


@pytest.mark.parametrize(
    ("name", "method", "body", "route", "why"),
    [
        ("match_couplings", "POST", {}, {"mapping": "PAYMENT TERMS"}, "option mapping"),
        ("create_in_dataverse", "POST", {"bcId": CANNON}, {"mapping": "SALESPRC-PRODPRICE"}, "'salesPrices'"),
    ],
)
def test_a_mapping_the_engine_cannot_run_is_a_409_saying_why(
    api: Api, name: str, method: str, body: object, route: dict[str, str] | None, why: str
) -> None:
    status, answer = api.call(name, method, body, route=route)
    assert (status, answer["error"]["code"]) == (409, "mappingNotRunnable"), answer
    assert why in answer["error"]["message"]
