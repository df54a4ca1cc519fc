"""Business Central emulator over real HTTP: URLs, auth, AL-typed validation, If-Match, numbers, documents."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from local.emulators.business_central.seed import COMPANY_ID
from tests.conftest import Authority, BusinessCentralHandle

pytestmark = pytest.mark.integration


def code_of(response: Any) -> str:
    body = response.json()
    assert set(body) == {"error"}, body
    code: str = body["error"]["code"]
    return code


def post(bc: BusinessCentralHandle, url: str, body: dict[str, Any]) -> dict[str, Any]:
    response = bc.session.post(url, json=body)
    assert response.status_code == 201, response.text
    row: dict[str, Any] = response.json()
    return row


def test_companies_and_company_scoped_urls(business_central: BusinessCentralHandle, bc_demo: str) -> None:
    companies = business_central.session.get(f"{business_central.api_root}/companies").json()["value"]
    assert [c["name"] for c in companies] == ["CRONUS USA, Inc."]
    scoped = business_central.session.get(f"{bc_demo}/customers", params={"$select": "number"}).json()["value"]
    by_query = business_central.session.get(
        f"{business_central.api_root}/customers", params={"company": COMPANY_ID, "$select": "number"}
    ).json()["value"]
    other_tenant = business_central.session.get(
        f"{business_central.base_url}/another-tenant/sandbox/api/v2.0/companies({COMPANY_ID})/customers",
        params={"$select": "number"},
    ).json()["value"]
    assert sorted(r["number"] for r in scoped) == sorted(r["number"] for r in by_query)
    assert sorted(r["number"] for r in scoped) == sorted(r["number"] for r in other_tenant)
    assert len(scoped) == 6


def test_unknown_company_and_missing_company(business_central: BusinessCentralHandle, bc_demo: str) -> None:
    missing = business_central.session.get(f"{business_central.api_root}/companies({uuid.uuid4()})/customers")
    assert missing.status_code == 404
    no_company = business_central.session.get(f"{business_central.api_root}/customers")
    assert no_company.status_code == 400


def test_token_must_be_for_the_bc_resource(
    business_central: BusinessCentralHandle, authority: Authority, bc_demo: str
) -> None:
    url = f"{bc_demo}/customers"
    assert business_central.session.get(url, headers={"Authorization": ""}).status_code == 401
    wrong = authority.token("http://127.0.0.1:7082")
    assert business_central.session.get(url, headers={"Authorization": f"Bearer {wrong}"}).status_code == 401


def test_create_with_chosen_id_number_series_and_code_upper_case(
    business_central: BusinessCentralHandle, bc_demo: str
) -> None:
    chosen = str(uuid.uuid4())
    row = post(
        business_central, f"{bc_demo}/customers", {"id": chosen, "displayName": "New Co", "salespersonCode": " jo "}
    )
    assert row["id"] == chosen
    assert row["number"] == "C00070"  # the demo used C00010..C00060
    assert row["salespersonCode"] == "JO"
    assert row["blocked"] == "_x0020_" and row["balanceDue"] == 0 and row["email"] == ""  # BC has no nulls
    assert row["@odata.etag"].startswith('W/"') and row["lastModifiedDateTime"].endswith("Z")
    duplicate = business_central.session.post(f"{bc_demo}/customers", json={"id": chosen, "displayName": "Twice"})
    assert duplicate.status_code == 400
    assert code_of(duplicate) == "Internal_EntityWithSameKeyExists"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"displayName": "x", "nosuch": 1}, "BadRequest"),
        ({"displayName": "x" * 101}, "Application_StringExceededLength"),
        ({"displayName": "x", "number": "N" * 21}, "Application_StringExceededLength"),
        ({"displayName": "x", "balanceDue": 10}, "BadRequest"),  # read-only
        ({"displayName": "x", "lastModifiedDateTime": "2020-01-01T00:00:00Z"}, "BadRequest"),
        ({"displayName": "x", "blocked": "Nope"}, "BadRequest"),  # not an enum member
        ({"displayName": "x", "blocked": " "}, "BadRequest"),  # the raw name, not the OData form
        ({"displayName": 5}, "BadRequest"),
        ({"displayName": "x", "creditLimit": "10"}, "BadRequest"),
        ({"displayName": "x", "taxLiable": "yes"}, "BadRequest"),
        ({"displayName": "x", "currencyId": "not-a-guid"}, "BadRequest"),
        ({"displayName": "x", "currencyCode": "XYZ"}, "Application_DialogException"),
    ],
)
def test_rejects_what_bc_rejects(
    business_central: BusinessCentralHandle, bc_demo: str, body: dict[str, Any], code: str
) -> None:
    response = business_central.session.post(f"{bc_demo}/customers", json=body)
    assert response.status_code == 400
    assert code_of(response) == code
    count = business_central.session.get(f"{bc_demo}/customers", params={"$count": "true", "$top": "0"}).json()
    assert count["@odata.count"] == 6  # nothing half-written


def test_enum_members_in_odata_form(business_central: BusinessCentralHandle, bc_demo: str) -> None:
    row = post(
        business_central,
        f"{bc_demo}/contacts",
        {"displayName": "Bank", "type": "Company", "contactBusinessRelation": "Bank_x0020_Account"},
    )
    assert row["contactBusinessRelation"] == "Bank_x0020_Account"
    blocked = post(business_central, f"{bc_demo}/customers", {"displayName": "Blocked", "blocked": "All"})
    assert blocked["blocked"] == "All"


def test_patch_and_delete_need_if_match_and_a_current_etag(
    business_central: BusinessCentralHandle, bc_demo: str
) -> None:
    row = post(business_central, f"{bc_demo}/customers", {"displayName": "Versioned"})
    url = f"{bc_demo}/customers({row['id']})"
    missing = business_central.session.patch(url, json={"displayName": "No etag"})
    assert missing.status_code == 400 and code_of(missing) == "BadRequest_InvalidToken"
    assert business_central.session.delete(url).status_code == 400
    changed = business_central.session.patch(url, json={"displayName": "V2"}, headers={"If-Match": row["@odata.etag"]})
    assert changed.status_code == 200
    assert changed.json()["@odata.etag"] != row["@odata.etag"]
    assert changed.json()["lastModifiedDateTime"] >= row["lastModifiedDateTime"]
    stale = business_central.session.patch(url, json={"displayName": "V3"}, headers={"If-Match": row["@odata.etag"]})
    assert stale.status_code == 409 and code_of(stale) == "Request_EntityChanged"
    assert business_central.session.get(url).json()["displayName"] == "V2"
    assert business_central.session.delete(url, headers={"If-Match": row["@odata.etag"]}).status_code == 409
    assert business_central.session.delete(url, headers={"If-Match": changed.json()["@odata.etag"]}).status_code == 204
    assert business_central.session.get(url).status_code == 404


def test_sales_order_deep_insert_numbers_and_lines(business_central: BusinessCentralHandle, bc_demo: str) -> None:
    order = post(
        business_central,
        f"{bc_demo}/salesOrders",
        {
            "customerNumber": "C00010",
            "externalDocumentNumber": " ord-42 ",
            "salesOrderLines": [
                {"lineType": "Item", "lineObjectNumber": "1896-S", "quantity": 2},
                {"lineType": "Comment", "description": "Deliver to the back door"},
            ],
        },
    )
    assert order["number"] == "S-ORD101001"
    assert order["externalDocumentNumber"] == "ORD-42"
    assert order["customerName"] == "The Cannon Group PLC" and order["status"] == "Draft"
    assert order["totalAmountExcludingTax"] == pytest.approx(2001.6)
    lines = business_central.session.get(f"{bc_demo}/salesOrders({order['id']})/salesOrderLines").json()["value"]
    assert [(line["sequence"], line["lineType"], line["description"]) for line in lines] == [
        (10000, "Item", "ATHENS Desk"),
        (20000, "Comment", "Deliver to the back door"),
    ]
    assert lines[0]["itemId"] != "00000000-0000-0000-0000-000000000000"
    with_no_number = business_central.session.post(
        f"{bc_demo}/salesOrders", json={"customerNumber": "C00010", "number": "X1"}
    )
    assert with_no_number.status_code == 400  # number is read-only on documents: it comes from the series


@pytest.mark.parametrize(
    "line",
    [
        {"lineType": "Comment", "description": "x", "quantity": 1},  # a comment line has only a description
        {"lineType": "Comment", "description": "d" * 101},
        {"lineType": "Item", "lineObjectNumber": "NO-SUCH-ITEM", "quantity": 1},
        {"lineType": "Resource", "lineObjectNumber": "NO-SUCH-RESOURCE", "quantity": 1},
        {"lineType": "Banana", "description": "x"},
    ],
)
def test_bad_lines_refuse_the_whole_document(
    business_central: BusinessCentralHandle, bc_demo: str, line: dict[str, Any]
) -> None:
    response = business_central.session.post(
        f"{bc_demo}/salesOrders",
        json={
            "customerNumber": "C00010",
            "salesOrderLines": [{"lineType": "Item", "lineObjectNumber": "1900-S"}, line],
        },
    )
    assert response.status_code == 400
    assert business_central.session.get(f"{bc_demo}/salesOrders").json()["value"] == []
    assert business_central.session.get(f"{bc_demo}/salesOrderLines", params={"$top": "1"}).json()["value"] == []


def test_documents_need_an_existing_unblocked_customer(business_central: BusinessCentralHandle, bc_demo: str) -> None:
    assert business_central.session.post(f"{bc_demo}/salesOrders", json={}).status_code == 400
    unknown = business_central.session.post(f"{bc_demo}/salesOrders", json={"customerNumber": "C99999"})
    assert unknown.status_code == 400 and code_of(unknown) == "Application_DialogException"
    blocked = post(business_central, f"{bc_demo}/customers", {"displayName": "Stop", "blocked": "All"})
    refused = business_central.session.post(f"{bc_demo}/salesOrders", json={"customerId": blocked["id"]})
    assert refused.status_code == 400 and code_of(refused) == "Application_DialogException"


def test_a_line_change_moves_the_header(business_central: BusinessCentralHandle, bc_demo: str) -> None:
    order = post(business_central, f"{bc_demo}/salesOrders", {"customerNumber": "C00020"})
    line = post(
        business_central,
        f"{bc_demo}/salesOrders({order['id']})/salesOrderLines",
        {"lineType": "Item", "lineObjectNumber": "1900-S", "quantity": 3},
    )
    after_insert = business_central.session.get(f"{bc_demo}/salesOrders({order['id']})").json()
    assert after_insert["@odata.etag"] != order["@odata.etag"]
    assert after_insert["lastModifiedDateTime"] >= order["lastModifiedDateTime"]
    assert after_insert["totalAmountExcludingTax"] == pytest.approx(3 * 192.8)
    line_url = f"{bc_demo}/salesOrders({order['id']})/salesOrderLines({line['id']})"
    patched = business_central.session.patch(line_url, json={"quantity": 1}, headers={"If-Match": line["@odata.etag"]})
    assert patched.status_code == 200
    after_patch = business_central.session.get(f"{bc_demo}/salesOrders({order['id']})").json()
    assert after_patch["totalAmountExcludingTax"] == pytest.approx(192.8)
    assert after_patch["@odata.etag"] != after_insert["@odata.etag"]


@pytest.mark.parametrize(
    "entity_set",
    [
        "customers",
        "contacts",
        "salespeoplePurchasers",
        "currencies",
        "unitsOfMeasure",
        "items",
        "paymentTerms",
        "shipmentMethods",
        "opportunities",
        "salesOrders",
        "salesOrderLines",
        "salesQuotes",
        "salesQuoteLines",
        "salesInvoices",
        "salesInvoiceLines",
        "salesShipments",
        "salesShipmentLines",
        "customerPayments",
        "customerFinancialDetails",
        "salesOrderArchives",
        "salesQuoteArchives",
        "vendors",
    ],
)
def test_every_entity_set_the_sync_needs_is_served(
    business_central: BusinessCentralHandle, bc_demo: str, entity_set: str
) -> None:
    response = business_central.session.get(f"{bc_demo}/{entity_set}", params={"$top": "1"})
    assert response.status_code == 200, response.text
    assert isinstance(response.json()["value"], list)


@pytest.mark.parametrize("entity_set", ["salesShipments", "customerFinancialDetails", "salesOrderArchives"])
def test_read_only_sets_refuse_writes(business_central: BusinessCentralHandle, bc_demo: str, entity_set: str) -> None:
    response = business_central.session.post(f"{bc_demo}/{entity_set}", json={})
    assert response.status_code == 405
