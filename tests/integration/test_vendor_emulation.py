"""The emulators' side of VENDOR over real HTTP: the BC emulator serves `vendors` as page 30010 "APIV2 - Vendors"
does (schemas/bc_api_v2_additions.json, its source cited there), and the Dataverse emulator keeps an account's
relationship type (`customertypecode`, the CRM Account option set) and filters on it, which is how CUSTOMER and VENDOR
tell their accounts apart."""

from __future__ import annotations

from typing import Any

import pytest

from local.emulators.business_central.seed import seeded_id
from tests.conftest import BusinessCentralHandle, EmulatorHandle
from tests.integration.dataverse_helpers import api, create, error_code

pytestmark = pytest.mark.integration
CUSTOMER_TYPE, VENDOR_TYPE = 3, 11  # account.customertypecode Customer / Vendor


def _post(bc: BusinessCentralHandle, url: str, body: dict[str, Any]) -> Any:
    return bc.session.post(url, json=body)


def test_a_vendor_gets_its_number_bcs_blank_values_and_no_customer_fields(
    business_central: BusinessCentralHandle, bc_demo: str
) -> None:
    response = _post(business_central, f"{bc_demo}/vendors", {"displayName": "Fabrikam, Inc.", "city": "Atlanta"})
    assert response.status_code == 201, response.text
    vendor = response.json()
    assert vendor["number"] == "V00010"  # the emulator's vendor series (bc_overlay.json: UNCONFIRMED as CRONUS's)
    assert (vendor["blocked"], vendor["balance"], vendor["currencyCode"], vendor["email"]) == ("_x0020_", 0, "", "")
    for absent in ("shipmentMethodId", "salespersonCode", "creditLimit", "type"):  # not on page 30010
        assert absent not in vendor, absent
    chosen = _post(business_central, f"{bc_demo}/vendors", {"number": "V-OWN", "displayName": "Own number"})
    assert chosen.status_code == 201 and chosen.json()["number"] == "V-OWN"  # `number` is editable on the page


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"displayName": "x", "blocked": "Ship"}, "BadRequest"),  # a Customer Blocked member, not a Vendor one
        ({"displayName": "x", "shipmentMethodId": seeded_id("shipment", "EXW")}, "BadRequest"),
        ({"displayName": "x", "balance": 10}, "BadRequest"),  # a FlowField: read-only
        ({"displayName": "x" * 101}, "Application_StringExceededLength"),  # Name is Text[100]
        ({"displayName": "x", "currencyCode": "XYZ"}, "Application_DialogException"),  # relates to Currency
    ],
)
def test_bc_refuses_what_the_vendor_page_refuses(
    business_central: BusinessCentralHandle, bc_demo: str, body: dict[str, Any], code: str
) -> None:
    response = _post(business_central, f"{bc_demo}/vendors", body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == code, response.text
    listed = business_central.session.get(f"{bc_demo}/vendors", params={"$select": "id"}).json()["value"]
    assert listed == []  # nothing half-written


def test_vendor_references_and_the_blocked_filter(business_central: BusinessCentralHandle, bc_demo: str) -> None:
    terms = seeded_id("terms", "14 DAYS")
    vendor = _post(
        business_central, f"{bc_demo}/vendors", {"displayName": "Terms", "currencyCode": "EUR", "paymentTermsId": terms}
    ).json()
    assert (vendor["currencyId"], vendor["paymentTermsId"]) == (seeded_id("currency", "EUR"), terms)
    blocked = _post(business_central, f"{bc_demo}/vendors", {"displayName": "Stopped", "blocked": "Payment"})
    assert blocked.status_code == 201, blocked.text
    open_vendors = business_central.session.get(
        f"{bc_demo}/vendors", params={"$filter": "blocked eq '_x0020_'", "$select": "displayName"}
    ).json()["value"]
    assert [row["displayName"] for row in open_vendors] == ["Terms"]  # VENDOR's BC filter


def test_dataverse_keeps_the_relationship_type_and_filters_on_it(dataverse: EmulatorHandle) -> None:
    vendor = create(dataverse, "accounts", {"name": "Fabrikam", "customertypecode": VENDOR_TYPE})
    customer = create(dataverse, "accounts", {"name": "Fabrikam", "customertypecode": CUSTOMER_TYPE})
    untyped = create(dataverse, "accounts", {"name": "Fabrikam"})
    assert (vendor["customertypecode"], customer["customertypecode"], untyped["customertypecode"]) == (11, 3, None)

    def ids(query: str) -> set[str]:
        rows = dataverse.session.get(api(dataverse, "accounts"), params={"$filter": query, "$select": "accountid"})
        return {row["accountid"] for row in rows.json()["value"]}

    assert ids("statecode eq 0 and customertypecode eq 11") == {vendor["accountid"]}  # VENDOR's Dataverse filter
    assert ids("statecode eq 0 and customertypecode eq 3") == {customer["accountid"]}  # CUSTOMER's
    changed = dataverse.session.patch(
        api(dataverse, f"accounts({vendor['accountid']})"), json={"customertypecode": 12}, headers={"If-Match": "*"}
    )
    assert changed.status_code == 204  # Other (12) is a member of the option set too
    refused = dataverse.session.post(api(dataverse, "accounts"), json={"name": "x", "customertypecode": 13})
    assert (refused.status_code, error_code(refused)) == (400, "0x8004431a")  # outside the option set
    assert ids("customertypecode eq 12") == {vendor["accountid"]} and ids("customertypecode eq 11") == set()
