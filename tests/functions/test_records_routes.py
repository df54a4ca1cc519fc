"""The console's reads: both sides of a coupled record (the conflict view) and a mapping's recent jobs."""

from __future__ import annotations

import pytest

from local.emulators.business_central.seed import seeded_id as bc_seeded
from tests.functions.conftest import Api
from tests.functions.test_http_handlers import couple_basics

pytestmark = pytest.mark.integration
CANNON = bc_seeded("customer", "The Cannon Group PLC")


def test_compare_shows_both_sides_and_a_chosen_side_makes_them_equal(api: Api) -> None:
    couple_basics(api)
    status, body = api.call("create_in_dataverse", "POST", {"bcId": CANNON}, route={"mapping": "CUSTOMER"})
    assert status == 201, body
    account_id = body["dataverseId"]
    customer = api.stack.bc.get_entity("customers", CANNON) or {}
    api.stack.bc.update_entity("customers", CANNON, {"city": "Solihull"}, str(customer["@odata.etag"]))
    api.stack.dataverse.update_row("accounts", account_id, {"address1_city": "Redditch"})
    status, body = api.call("compare_record", route={"mapping": "CUSTOMER"}, params={"bcId": CANNON})
    assert status == 200, body
    city = next(f for f in body["fields"] if f["dataverseField"] == "address1_city")
    assert (city["bc"], city["dataverse"], city["differs"]) == ("Solihull", "Redditch", True)
    assert not next(f for f in body["fields"] if f["dataverseField"] == "name")["differs"]
    status, _ = api.call("synchronize_now", "POST", {"mapping": "CUSTOMER", "bcId": CANNON, "direction": "toDataverse"})
    assert status == 200
    status, body = api.call("compare_record", route={"mapping": "CUSTOMER"}, params={"dataverseId": account_id})
    assert status == 200 and not [f["key"] for f in body["fields"] if f["differs"]]
    status, body = api.call("compare_record", route={"mapping": "CUSTOMER"}, params={})
    assert (status, body["error"]["field"]) == (400, "bcId")
    status, body = api.call(
        "compare_record", route={"mapping": "CUSTOMER"}, params={"bcId": bc_seeded("customer", "Trey Research")}
    )
    assert (status, body["error"]["code"]) == (404, "notCoupled")


def test_recent_jobs_of_a_mapping_newest_first(api: Api) -> None:
    for _ in range(2):
        status, body = api.call("run_mapping_now", "POST", route={"name": "CURRENCY"})
        assert status == 200, body
    status, body = api.call("list_jobs", params={"mapping": "CURRENCY", "limit": "5"})
    assert status == 200 and len(body["value"]) == 2
    assert body["value"][0]["startedOn"] >= body["value"][1]["startedOn"]
    assert set(body["value"][0]["counters"]) >= {"inserted", "modified", "unchanged", "failed"}
    assert api.call("list_jobs", params={"mapping": "CURRENCY", "limit": "0"})[0] == 400
    assert api.call("list_jobs", params={})[0] == 400
