"""GET|PATCH /api/setup through the registered functions: sources, validation, the write-in rule, etags."""

from __future__ import annotations

import pytest

from local.emulators.business_central.seed import seeded_id as bc_seeded
from shared.domain.coupling import Coupling
from tests.functions.conftest import Api

pytestmark = pytest.mark.integration
DESK = bc_seeded("item", "1896-S")


def test_defaults_and_app_settings_are_reported_with_their_source(api: Api) -> None:
    status, body = api.call("get_setup")
    assert status == 200
    assert body["values"]["salesOrderIntegrationEnabled"] is False
    assert body["sources"]["salesOrderIntegrationEnabled"] == "default"
    assert (body["values"]["bcCompany"], body["sources"]["bcCompany"]) == ("CRONUS USA, Inc.", "appSetting")
    assert body["etag"] is None  # nothing stored yet


def test_patch_stores_an_override_and_null_drops_it(api: Api) -> None:
    status, body = api.call(
        "patch_setup", "PATCH", {"salesOrderIntegrationEnabled": True, "writeInProductNumber": "1900-s"}
    )
    assert status == 200, body
    assert body["values"]["writeInProductNumber"] == "1900-S"  # Code[20]: upper-cased
    assert body["sources"]["salesOrderIntegrationEnabled"] == "override"
    status, again = api.call("get_setup")
    assert again["values"]["salesOrderIntegrationEnabled"] is True and again["etag"] == body["etag"]
    status, body = api.call("patch_setup", "PATCH", {"salesOrderIntegrationEnabled": None})
    assert status == 200 and body["sources"]["salesOrderIntegrationEnabled"] == "default"
    assert body["values"]["writeInProductNumber"] == "1900-S"  # the other override stays


def test_a_write_in_item_coupled_to_a_product_is_refused_and_nothing_is_stored(api: Api) -> None:
    api.services.context.couplings.create_coupling(
        Coupling("ITEM-PRODUCT", DESK, "6f0c1b9e-0000-4000-8000-000000000001")
    )
    status, body = api.call("patch_setup", "PATCH", {"writeInProductNumber": "1896-S"})
    assert status == 409
    assert body["error"]["code"] == "writeInProductCoupled" and body["error"]["field"] == "writeInProductNumber"
    assert "6f0c1b9e-0000-4000-8000-000000000001" in body["error"]["message"]
    status, body = api.call("get_setup")
    assert body["values"]["writeInProductNumber"] == "" and body["etag"] is None


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"writeInProductNumber": "NO-SUCH-ITEM"}, "writeInProductNumber", "unknownWriteInProduct"),
        ({"writeInProductType": "Service"}, "writeInProductType", "invalidValue"),
        ({"writeInProductNumber": "X" * 21}, "writeInProductNumber", "invalidValue"),
        ({"autoCreateSalesOrders": "yes"}, "autoCreateSalesOrders", "invalidValue"),
        ({"bcCompany": "No Such Company"}, "bcCompany", "unknownCompany"),
        ({"pageServices": {"customer": "Customers"}}, "pageServices.customer", "invalidValue"),
        ({"colour": "blue"}, "colour", "unknownField"),
        ({"ownershipModel": "Team"}, "ownershipModel", "invalidValue"),
    ],
)
def test_bad_values_are_a_400_naming_the_field(api: Api, change: dict[str, object], field: str, code: str) -> None:
    status, body = api.call("patch_setup", "PATCH", change)
    assert status == 400, body
    assert (body["error"]["field"], body["error"]["code"]) == (field, code)


def test_a_resource_write_in_and_page_service_names_are_accepted(api: Api) -> None:
    status, body = api.call(
        "patch_setup",
        "PATCH",
        {
            "writeInProductType": "Resource",
            "writeInProductNumber": "R0010",
            "pageServices": {"resource": "ResourceCard"},
        },
    )
    assert status == 200, body
    assert body["values"]["pageServices"] == {"resource": "ResourceCard"}


def test_a_stale_if_match_is_a_409_and_changes_nothing(api: Api) -> None:
    status, first = api.call("patch_setup", "PATCH", {"autoProcessQuotes": True})
    assert status == 200
    status, _ = api.call("patch_setup", "PATCH", {"autoProcessQuotes": False}, headers={"If-Match": first["etag"]})
    assert status == 200
    status, body = api.call(
        "patch_setup", "PATCH", {"autoCreateSalesOrders": True}, headers={"If-Match": first["etag"]}
    )
    assert status == 409 and body["error"]["code"] == "etagMismatch"
    status, body = api.call("get_setup")
    assert body["values"]["autoCreateSalesOrders"] is False and body["values"]["autoProcessQuotes"] is False


def test_the_ownership_model_is_chosen_by_the_setup(api: Api) -> None:
    """Issue 22: BC's "Ownership Model" (Person, today's salespeople as owners, or Team); a PATCH stores it."""
    status, body = api.call("patch_setup", "PATCH", {"ownershipModel": "team"})
    assert status == 200, body
    assert body["values"]["ownershipModel"] == "team"
    status, body = api.call("patch_setup", "PATCH", {"ownershipModel": None})
    assert status == 200 and body["values"]["ownershipModel"] == "person", body
