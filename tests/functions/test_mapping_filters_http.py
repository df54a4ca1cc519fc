"""`PATCH /api/mappings/{name}`: filters checked when saved (400 naming `bcFilter`/`dataverseFilter` and the position),
the documented `fields` forms taken, and an override stored before the check existed reported on `GET` and refused
with a documented 409 wherever the mapping is used (never a 422 from the other service, never a 500)."""

from __future__ import annotations

from typing import Any

import pytest

from shared.bootstrap import for_run
from shared.domain.odata_filter import MAX_FILTER_LENGTH
from shared.mappings import CATALOG
from shared.triggers.openapi import document
from shared.triggers.timers import SYNC_SCHEDULE, run_scheduled_mappings
from tests.functions.conftest import Api

pytestmark = pytest.mark.integration
CUSTOMER = {"name": "CUSTOMER"}
BC_ID = "00000000-0000-0000-0000-000000000001"
BAD_STORED = {"bcFilter": "displayName eq 'x"}  # what an unchecked PATCH used to store


def documented_statuses(operation_id: str) -> set[int]:
    return {
        int(status)
        for path in document()["paths"].values()
        for operation in path.values()
        if operation["operationId"] == operation_id
        for status in operation["responses"]
    }


def patch(api: Api, body: dict[str, Any], name: str = "CUSTOMER") -> tuple[int, Any]:
    return api.call("patch_mapping", "PATCH", body, route={"name": name})


@pytest.mark.parametrize(
    ("body", "field", "position"),
    [
        ({"bcFilter": "displayName eq 'x"}, "bcFilter", 17),  # unterminated string
        ({"bcFilter": "displayName eq 'x' and nosuchfield eq 1"}, "bcFilter", 23),  # unknown field
        ({"bcFilter": "displayName eq 5"}, "bcFilter", 15),  # a number for a text field
        ({"dataverseFilter": "accountid eq '0d8a1c5e-0000-0000-0000-00000000000a'"}, "dataverseFilter", 13),
        ({"dataverseFilter": "statecode eq 0 and"}, "dataverseFilter", 18),
        ({"dataverseFilter": "not name eq 'x'"}, "dataverseFilter", 0),  # not binds tighter than eq
        ({"bcFilter": "displayName eq '" + "x" * 100_000 + "'"}, "bcFilter", MAX_FILTER_LENGTH),  # huge
    ],
)
def test_a_bad_filter_is_a_400_naming_the_key_and_the_position(
    api: Api, body: dict[str, Any], field: str, position: int
) -> None:
    status, answer = patch(api, body)
    assert status == 400, answer
    assert (answer["error"]["code"], answer["error"]["field"]) == ("invalidFilter", field)
    assert answer["error"]["message"].startswith(f"{field}: ")
    assert f"position {position}" in answer["error"]["message"]
    assert len(answer["error"]["message"]) < 300  # a 100,000-character filter is not echoed back
    status, described = api.call("get_mapping", route=CUSTOMER)
    assert described["overrides"] == {}  # nothing was stored


def test_a_good_filter_is_stored_and_used(api: Api) -> None:
    body = {"bcFilter": "blocked eq '_x0020_' and startswith(displayName, 'A')", "dataverseFilter": "statecode eq 0"}
    status, answer = patch(api, body)
    assert status == 200, answer
    assert (answer["bcFilter"], answer["dataverseFilter"]) == (body["bcFilter"], body["dataverseFilter"])
    assert for_run(api.services).context.mapping("CUSTOMER").bc_filter == body["bcFilter"]  # the next run's
    status, answer = api.call("run_mapping_now", "POST", route=CUSTOMER)
    assert status == 200, answer


def test_the_documented_fields_form_is_accepted_and_the_longer_one_too(api: Api) -> None:
    fields = document()["paths"]["/api/mappings/{name}"]["patch"]["requestBody"]["content"]["application/json"]
    assert {"type": "boolean"} in fields["schema"]["properties"]["fields"]["additionalProperties"]["oneOf"]
    status, answer = patch(api, {"fields": {"city>address1_city": False}})
    assert status == 200, answer
    by_key = {f["key"]: f for f in answer["fields"]}
    assert by_key["city>address1_city"]["enabled"] is False
    assert answer["overrides"] == {"fields": {"city>address1_city": False}}
    status, answer = patch(api, {"fields": {"city>address1_city": {"enabled": True}}})
    assert status == 200, answer
    assert answer["overrides"] == {"fields": {"city>address1_city": True}}  # stored in the short form
    status, answer = patch(api, {"fields": {"city>address1_city": "no"}})
    assert (status, answer["error"]["code"]) == (400, "invalidValue")
    assert answer["error"]["field"] == "fields.city>address1_city"


def store_legacy_override(api: Api, override: dict[str, Any]) -> None:
    """As an unchecked PATCH stored it before filters were checked."""
    store = api.services.settings_store
    stored, etag = store.get_settings("mapping")
    store.update_settings("mapping", {**stored, "CUSTOMER": override}, etag)


def test_a_stored_bad_filter_is_reported_on_get_and_the_mapping_is_refused_with_a_documented_409(api: Api) -> None:
    store_legacy_override(api, BAD_STORED)
    status, listed = api.call("list_mappings")
    customer = next(m for m in listed["value"] if m["name"] == "CUSTOMER")
    assert status == 200 and customer["overrides"] == BAD_STORED
    assert (customer["overrideError"]["code"], customer["overrideError"]["field"]) == ("invalidFilter", "bcFilter")
    assert "overrideError" not in next(m for m in listed["value"] if m["name"] == "CURRENCY")
    status, one = api.call("get_mapping", route=CUSTOMER)
    assert status == 200 and one["overrideError"]["field"] == "bcFilter" and one["bcFilter"] == "blocked eq '_x0020_'"

    calls: list[tuple[str, str, Any, dict[str, str] | None]] = [
        ("run_mapping_now", "POST", None, CUSTOMER),
        ("start_full_sync", "POST", {}, None),
        ("start_full_sync", "POST", {"mappings": ["CUSTOMER"]}, None),
        ("synchronize_now", "POST", {"mapping": "CUSTOMER", "bcId": BC_ID, "direction": "toDataverse"}, None),
        ("match_couplings", "POST", {}, {"mapping": "CUSTOMER"}),
    ]
    for name, method, body, route in calls:
        status, answer = api.call(name, method, body, route=route)
        assert status == 409, (name, answer)
        assert status in documented_statuses(name), name
        assert (answer["error"]["code"], answer["error"]["field"]) == ("invalidFilter", "bcFilter"), name
        assert "PATCH /api/mappings/CUSTOMER" in answer["error"]["message"], answer


def test_the_timer_reports_the_mapping_and_runs_the_others(api: Api) -> None:
    store_legacy_override(api, BAD_STORED)
    outcomes = run_scheduled_mappings(SYNC_SCHEDULE)
    assert "invalidFilter" in outcomes["CUSTOMER"]
    assert outcomes["CURRENCY"].startswith("finished")


def test_a_stored_bad_filter_is_fixed_by_a_patch_or_a_reset(api: Api) -> None:
    store_legacy_override(api, {**BAD_STORED, "syncOnlyCoupled": False})
    status, answer = patch(api, {"syncOnlyCoupled": True})  # the stored filter is still wrong: named
    assert (status, answer["error"]["field"]) == (400, "bcFilter")
    status, answer = patch(api, {"bcFilter": None})
    assert status == 200 and "overrideError" not in answer, answer
    assert api.call("run_mapping_now", "POST", route=CUSTOMER)[0] == 200
    store_legacy_override(api, BAD_STORED)
    status, answer = api.call("reset_mapping", "POST", route=CUSTOMER)
    assert status == 200 and answer["overrides"] == {}
    assert api.call("start_full_sync", "POST", {"start": False})[0] == 202


GUID = "6f0c1b9e-0000-4000-8000-000000000001"
EVERY_USE: list[tuple[str, str, Any, dict[str, str] | None, dict[str, str] | None]] = [
    ("list_mappings", "GET", None, None, None),
    ("get_mapping", "GET", None, CUSTOMER, None),
    ("reset_mapping", "POST", None, {"name": "CONTACT"}, None),
    ("run_mapping_now", "POST", None, CUSTOMER, None),
    ("list_jobs", "GET", None, None, {"mapping": "CUSTOMER"}),
    ("list_sync_errors", "GET", None, None, {"mapping": "CUSTOMER"}),
    ("retry_sync_errors", "POST", {"mapping": "CUSTOMER", "all": True}, None, None),
    ("create_coupling", "POST", {"mapping": "CUSTOMER", "bcId": GUID, "dataverseId": GUID}, None, None),
    ("find_coupling", "GET", None, {"mapping": "CUSTOMER"}, {"bcId": GUID}),
    ("delete_coupling", "DELETE", None, {"mapping": "CUSTOMER", "bcId": GUID}, None),
    ("match_couplings", "POST", {}, {"mapping": "CUSTOMER"}, None),
    ("create_in_dataverse", "POST", {"bcId": GUID}, {"mapping": "CUSTOMER"}, None),
    ("create_in_business_central", "POST", {"dataverseId": GUID}, {"mapping": "CUSTOMER"}, None),
    ("synchronize_now", "POST", {"mapping": "CUSTOMER", "bcId": GUID, "direction": "toDataverse"}, None, None),
    ("compare_record", "GET", None, {"mapping": "CUSTOMER"}, {"bcId": GUID}),
    ("find_by_number", "GET", None, {"mapping": "CUSTOMER"}, {"number": "10000"}),
    ("start_full_sync", "POST", {}, None, None),
    ("get_item_availability", "GET", None, {"bcId": GUID}, None),
    ("update_customer_statistics", "POST", None, {"bcId": GUID}, None),
    ("create_sales_order_in_bc", "POST", None, {"dataverseId": GUID}, None),
    ("create_posted_invoice_in_dataverse", "POST", None, {"bcId": GUID}, None),
    ("process_quote", "POST", None, {"dataverseId": GUID}, None),
    ("get_quote_archive", "GET", None, {"dataverseId": GUID}, None),
    ("get_setup", "GET", None, None, None),
    ("patch_setup", "PATCH", {"autoProcessQuotes": True}, None, None),
]


@pytest.mark.parametrize(("name", "method", "body", "route", "params"), EVERY_USE, ids=[c[0] for c in EVERY_USE])
def test_with_every_mapping_override_stored_bad_every_answer_is_documented(
    api: Api,
    name: str,
    method: str,
    body: Any,
    route: dict[str, str] | None,
    params: dict[str, str] | None,
) -> None:
    """Overrides stored before the check existed, on every mapping: whatever is called answers a status its operation
    documents (the mapping's use is a 409 naming the key), never a 500 or a 422 the document does not list."""
    store = api.services.settings_store
    _, etag = store.get_settings("mapping")
    store.update_settings("mapping", {mapping: {"bcFilter": "(("} for mapping in CATALOG}, etag)
    status, answer = api.call(name, method, body, route=route, params=params)
    assert status in documented_statuses(name), (status, answer)
    if status == 409 and answer["error"]["code"] in ("invalidFilter", "invalidOverride"):
        assert answer["error"]["field"] == "bcFilter"
