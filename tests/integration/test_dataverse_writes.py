"""Dataverse emulator over real HTTP: writes, validation, conditional requests, lookups."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import EmulatorHandle
from tests.integration.dataverse_helpers import api, create, error_code

pytestmark = pytest.mark.integration


def test_create_with_client_chosen_id_and_system_columns(dataverse: EmulatorHandle) -> None:
    account_id = str(uuid.uuid4())
    row = create(dataverse, "accounts", {"accountid": account_id, "name": "Contoso"})
    assert row["accountid"] == account_id
    assert row["name"] == "Contoso"
    assert row["@odata.etag"] == f'W/"{row["versionnumber"]}"'
    assert row["modifiedon"].endswith("Z") and row["createdon"] == row["modifiedon"]
    assert row["_modifiedby_value"] and row["_modifiedby_value"] == row["_createdby_value"]
    assert row["statecode"] == 0 and row["statuscode"] == 1


def test_create_without_representation_returns_entity_id(dataverse: EmulatorHandle) -> None:
    response = dataverse.session.post(api(dataverse, "accounts"), json={"name": "NoBody"})
    assert response.status_code == 204
    assert response.headers["OData-EntityId"].startswith(api(dataverse, "accounts("))


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"name": "x", "nosuchcolumn": 1}, "0x80048d19"),
        ({"name": 42}, "0x80048d19"),
        ({"name": "x", "numberofemployees": "many"}, "0x80048d19"),
        ({"name": "x", "numberofemployees": True}, "0x80048d19"),
        ({"name": "x", "creditlimit": "100"}, "0x80048d19"),
        ({"name": "x", "donotphone": "yes"}, "0x80048d19"),
        ({"name": "x" * 161}, "0x80044331"),
        ({"name": "x", "accountnumber": "A" * 21}, "0x80044331"),
        ({"name": "x", "customertypecode": 999}, "0x8004431a"),
        ({"name": "x", "_primarycontactid_value": str(uuid.uuid4())}, "0x80048d19"),
        ({"name": "x", "primarycontactid": str(uuid.uuid4())}, "0x80048d19"),
        ({"name": "x", "createdon": "2020-01-01T00:00:00Z"}, "0x80040203"),
        ({"name": "x", "accountid": "not-a-guid"}, "0x80048d19"),
    ],
)
def test_rejects_what_dataverse_rejects(dataverse: EmulatorHandle, body: dict[str, object], code: str) -> None:
    response = dataverse.session.post(api(dataverse, "accounts"), json=body)
    assert response.status_code == 400
    assert error_code(response) == code
    listed = dataverse.session.get(api(dataverse, "accounts"), params={"$select": "name"}).json()
    assert listed["value"] == []  # nothing half-written


def test_string_at_exact_max_length_is_accepted(dataverse: EmulatorHandle) -> None:
    assert create(dataverse, "accounts", {"name": "x" * 160})["name"] == "x" * 160


def test_post_with_existing_id_is_refused(dataverse: EmulatorHandle) -> None:
    row = create(dataverse, "accounts", {"name": "A"})
    again = dataverse.session.post(api(dataverse, "accounts"), json={"accountid": row["accountid"], "name": "B"})
    assert again.status_code == 412
    assert error_code(again) == "0x80040237"


def test_patch_is_upsert(dataverse: EmulatorHandle) -> None:
    account_id = str(uuid.uuid4())
    url = api(dataverse, f"accounts({account_id})")
    created = dataverse.session.patch(url, json={"name": "First"}, headers={"Prefer": "return=representation"})
    assert created.status_code == 201
    updated = dataverse.session.patch(url, json={"name": "Second"}, headers={"Prefer": "return=representation"})
    assert updated.status_code == 200
    assert updated.json()["name"] == "Second"
    assert int(updated.json()["versionnumber"]) > int(created.json()["versionnumber"])


def test_if_match_star_updates_only(dataverse: EmulatorHandle) -> None:
    missing = api(dataverse, f"accounts({uuid.uuid4()})")
    response = dataverse.session.patch(missing, json={"name": "x"}, headers={"If-Match": "*"})
    assert response.status_code == 404
    assert error_code(response) == "0x80040217"
    assert dataverse.session.get(missing).status_code == 404


def test_if_none_match_star_creates_only(dataverse: EmulatorHandle) -> None:
    row = create(dataverse, "accounts", {"name": "Exists"})
    url = api(dataverse, f"accounts({row['accountid']})")
    response = dataverse.session.patch(url, json={"name": "Changed"}, headers={"If-None-Match": "*"})
    assert response.status_code == 412
    assert dataverse.session.get(url).json()["name"] == "Exists"
    fresh = api(dataverse, f"accounts({uuid.uuid4()})")
    assert dataverse.session.patch(fresh, json={"name": "New"}, headers={"If-None-Match": "*"}).status_code == 204


def test_stale_etag_is_refused_and_current_etag_accepted(dataverse: EmulatorHandle) -> None:
    row = create(dataverse, "accounts", {"name": "V1"})
    url = api(dataverse, f"accounts({row['accountid']})")
    first_etag = row["@odata.etag"]
    assert dataverse.session.patch(url, json={"name": "V2"}, headers={"If-Match": first_etag}).status_code == 204
    stale = dataverse.session.patch(url, json={"name": "V3"}, headers={"If-Match": first_etag})
    assert stale.status_code == 412
    assert error_code(stale) == "0x80060882"
    current = dataverse.session.get(url)
    assert current.json()["name"] == "V2"
    assert dataverse.session.delete(url, headers={"If-Match": first_etag}).status_code == 412
    assert dataverse.session.delete(url, headers={"If-Match": current.headers["ETag"]}).status_code == 204
    assert dataverse.session.get(url).status_code == 404


def test_get_with_current_etag_is_not_modified(dataverse: EmulatorHandle) -> None:
    row = create(dataverse, "accounts", {"name": "Cached"})
    url = api(dataverse, f"accounts({row['accountid']})")
    assert dataverse.session.get(url, headers={"If-None-Match": row["@odata.etag"]}).status_code == 304
    dataverse.session.patch(url, json={"name": "Changed"})
    assert dataverse.session.get(url, headers={"If-None-Match": row["@odata.etag"]}).status_code == 200


def test_modifiedon_moves_on_update(dataverse: EmulatorHandle) -> None:
    row = create(dataverse, "accounts", {"name": "Clock"})
    url = api(dataverse, f"accounts({row['accountid']})")
    dataverse.session.patch(url, json={"name": "Clock 2"})
    after = dataverse.session.get(url).json()
    assert after["modifiedon"] >= row["modifiedon"]
    assert after["versionnumber"] > row["versionnumber"]
    assert after["createdon"] == row["createdon"]


def test_lookup_bind_and_read_back(dataverse: EmulatorHandle) -> None:
    currency = create(
        dataverse, "transactioncurrencies", {"isocurrencycode": "EUR", "currencyname": "Euro", "exchangerate": 0.9}
    )
    account = create(
        dataverse,
        "accounts",
        {
            "name": "Bound",
            "transactioncurrencyid@odata.bind": f"/transactioncurrencies({currency['transactioncurrencyid']})",
        },
    )
    assert account["_transactioncurrencyid_value"] == currency["transactioncurrencyid"]
    contact = create(
        dataverse,
        "contacts",
        {
            "firstname": "Ann",
            "lastname": "Lee",
            "parentcustomerid_account@odata.bind": f"/accounts({account['accountid']})",
        },
    )
    assert contact["_parentcustomerid_value"] == account["accountid"]
    assert contact["fullname"] == "Ann Lee"
    annotated = dataverse.session.get(
        api(dataverse, f"contacts({contact['contactid']})"),
        params={"$select": "_parentcustomerid_value"},
        headers={"Prefer": 'odata.include-annotations="*"'},
    ).json()
    assert annotated["_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] == "account"
    assert annotated["_parentcustomerid_value@OData.Community.Display.V1.FormattedValue"] == "Bound"


def test_polymorphic_customer_on_sales_order(dataverse: EmulatorHandle) -> None:
    contact = create(dataverse, "contacts", {"firstname": "Solo", "lastname": "Buyer"})
    order = create(
        dataverse,
        "salesorders",
        {"name": "Order for a contact", "customerid_contact@odata.bind": f"/contacts({contact['contactid']})"},
    )
    assert order["_customerid_value"] == contact["contactid"]
    assert order["_contactid_value"] == contact["contactid"] and order["_accountid_value"] is None
    assert order["ordernumber"].startswith("ORD-")


@pytest.mark.parametrize(
    ("key", "target_set"),
    [
        ("parentcustomerid_account@odata.bind", "accounts"),  # target row does not exist
        ("parentcustomerid@odata.bind", "accounts"),  # polymorphic lookup needs the target suffix
        ("parentcustomerid_account@odata.bind", "contacts"),  # wrong target table for that navigation
        ("parentcustomerid_account@odata.bind", "nosuchset"),
    ],
)
def test_bad_binds_are_refused(dataverse: EmulatorHandle, key: str, target_set: str) -> None:
    response = dataverse.session.post(
        api(dataverse, "contacts"), json={"lastname": "X", key: f"/{target_set}({uuid.uuid4()})"}
    )
    assert response.status_code in (400, 404)
    expected = (
        "0x80040217" if (key, target_set) == ("parentcustomerid_account@odata.bind", "accounts") else "0x80048d19"
    )
    assert error_code(response) == expected
    assert dataverse.session.get(api(dataverse, "contacts")).json()["value"] == []


def test_lookup_can_be_cleared_with_null_bind(dataverse: EmulatorHandle) -> None:
    account = create(dataverse, "accounts", {"name": "Parent"})
    contact = create(
        dataverse,
        "contacts",
        {"lastname": "Child", "parentcustomerid_account@odata.bind": f"/accounts({account['accountid']})"},
    )
    url = api(dataverse, f"contacts({contact['contactid']})")
    assert dataverse.session.patch(url, json={"parentcustomerid_account@odata.bind": None}).status_code == 204
    assert dataverse.session.get(url).json()["_parentcustomerid_value"] is None


def test_create_only_and_not_valid_for_create_columns(dataverse: EmulatorHandle) -> None:
    currency = create(
        dataverse, "transactioncurrencies", {"isocurrencycode": "USD", "currencyname": "US Dollar", "exchangerate": 1}
    )
    other = create(
        dataverse, "transactioncurrencies", {"isocurrencycode": "EUR", "currencyname": "Euro", "exchangerate": 0.9}
    )
    contact = create(dataverse, "contacts", {"lastname": "Buyer"})
    order = create(
        dataverse,
        "salesorders",
        {
            "name": "O",
            "customerid_contact@odata.bind": f"/contacts({contact['contactid']})",
            "transactioncurrencyid@odata.bind": f"/transactioncurrencies({currency['transactioncurrencyid']})",
        },
    )
    change = dataverse.session.patch(
        api(dataverse, f"salesorders({order['salesorderid']})"),
        json={"transactioncurrencyid@odata.bind": f"/transactioncurrencies({other['transactioncurrencyid']})"},
    )
    assert change.status_code == 400
    product = dataverse.session.post(
        api(dataverse, "products"),
        json={"name": "P", "productnumber": "P1", "pricelevelid@odata.bind": f"/pricelevels({uuid.uuid4()})"},
    )
    assert product.status_code == 400


def test_delete_of_missing_row_is_404_and_delete_cascades_lines(dataverse: EmulatorHandle) -> None:
    assert dataverse.session.delete(api(dataverse, f"accounts({uuid.uuid4()})")).status_code == 404
    contact = create(dataverse, "contacts", {"lastname": "Buyer"})
    order = create(
        dataverse,
        "salesorders",
        {
            "name": "With lines",
            "customerid_contact@odata.bind": f"/contacts({contact['contactid']})",
            "order_details": [{"quantity": 1, "isproductoverridden": True, "productdescription": "Thing"}],
        },
    )
    lines = dataverse.session.get(api(dataverse, "salesorderdetails")).json()["value"]
    assert [line["_salesorderid_value"] for line in lines] == [order["salesorderid"]]
    assert dataverse.session.delete(api(dataverse, f"salesorders({order['salesorderid']})")).status_code == 204
    assert dataverse.session.get(api(dataverse, "salesorderdetails")).json()["value"] == []


def test_unknown_entity_set_is_404(dataverse: EmulatorHandle) -> None:
    response = dataverse.session.get(api(dataverse, "nosuchthings"))
    assert response.status_code == 404
    assert "error" in response.json()


def test_an_empty_string_is_stored_as_null(dataverse: EmulatorHandle) -> None:
    row = create(dataverse, "accounts", {"name": "Blank phone", "telephone1": ""})
    assert row["telephone1"] is None
