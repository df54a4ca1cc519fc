"""Emulator rules behind CONTACT, over HTTP: Dataverse computes fullname from every name part (first, middle, last),
and BC's read-only contactsInformation relates a company contact to its customer (the parent account's second hop)."""

from __future__ import annotations

import uuid

import pytest

from local.emulators.business_central.seed import seeded_id
from tests.conftest import BusinessCentralHandle, EmulatorHandle
from tests.integration.dataverse_helpers import api, create

pytestmark = pytest.mark.integration


def test_fullname_is_computed_from_first_middle_and_last_name(dataverse: EmulatorHandle) -> None:
    contact_id = str(uuid.uuid4())
    body = {"contactid": contact_id, "firstname": "Mary", "middlename": "Ann", "lastname": "Smith"}
    assert create(dataverse, "contacts", body)["fullname"] == "Mary Ann Smith"
    response = dataverse.session.patch(
        api(dataverse, f"contacts({contact_id})"), json={"middlename": None}, headers={"If-Match": "*"}
    )
    assert response.status_code == 204
    assert dataverse.session.get(api(dataverse, f"contacts({contact_id})")).json()["fullname"] == "Mary Smith"
    refused = dataverse.session.patch(
        api(dataverse, f"contacts({contact_id})"), json={"fullname": "X"}, headers={"If-Match": "*"}
    )
    assert refused.status_code == 400  # computed, never written


def test_contacts_information_relates_the_company_contact_to_its_customer(
    business_central: BusinessCentralHandle, bc_demo: str
) -> None:
    session = business_central.session
    company = session.get(
        f"{bc_demo}/contacts", params={"$filter": "type eq 'Company' and displayName eq 'Adatum Corporation'"}
    ).json()["value"][0]
    rows = session.get(
        f"{bc_demo}/contactsInformation",
        params={"$filter": f"contactNumber eq '{company['number']}' and relatedType eq 'Customer'"},
    ).json()["value"]
    assert [(r["contactId"], r["relatedId"], r["contactType"]) for r in rows] == [
        (company["id"], seeded_id("customer", "Adatum Corporation"), "Company")
    ]
    refused = session.post(f"{bc_demo}/contactsInformation", json={"contactNumber": company["number"]})
    assert refused.status_code in (400, 405)  # read-only, as API v2.0 page 30072


def test_a_person_company_number_must_be_a_company_contact(
    business_central: BusinessCentralHandle, bc_demo: str
) -> None:
    """Contact."Company No." relates to Contact where Type = Company (Contact.Table.al, field 5051): a person's
    company number that is no contact, or a person, is refused; a company's number is taken, with its name."""
    session = business_central.session
    contacts = session.get(f"{bc_demo}/contacts", params={"$select": "number,type,displayName"}).json()["value"]
    company = next(c for c in contacts if c["type"] == "Company")
    person = next(c for c in contacts if c["type"] == "Person")
    for wrong in ("NO-SUCH-CONTACT", person["number"]):
        refused = session.post(
            f"{bc_demo}/contacts", json={"displayName": "Ann Lee", "type": "Person", "companyNumber": wrong}
        )
        assert refused.status_code == 400, refused.text
        assert "companyNumber" in refused.json()["error"]["message"]
    taken = session.post(
        f"{bc_demo}/contacts", json={"displayName": "Ann Lee", "type": "Person", "companyNumber": company["number"]}
    )
    assert taken.status_code == 201, taken.text
    assert taken.json()["companyName"] == company["displayName"]


def test_a_customer_created_through_the_api_gets_its_company_contact(
    business_central: BusinessCentralHandle, bc_demo: str
) -> None:
    """Customer.OnInsert -> CustCont-Update.OnInsert: a company contact with the customer's name and a business
    relation, so contactsInformation relates it at once and persons can be created under it."""
    session = business_central.session
    name = f"Fabrikam {uuid.uuid4().hex[:6]}"
    customer = session.post(f"{bc_demo}/customers", json={"displayName": name, "city": "Oslo"})
    assert customer.status_code == 201, customer.text
    rows = session.get(
        f"{bc_demo}/contactsInformation",
        params={"$filter": f"relatedId eq {customer.json()['id']} and relatedType eq 'Customer'"},
    ).json()["value"]
    assert [(r["contactName"], r["contactType"]) for r in rows] == [(name, "Company")]
    person = session.post(
        f"{bc_demo}/contacts",
        json={"displayName": "Ann Lee", "type": "Person", "companyNumber": rows[0]["contactNumber"]},
    )
    assert person.status_code == 201 and person.json()["companyName"] == name, person.text


def test_a_vendor_created_through_the_api_gets_its_company_contact(
    business_central: BusinessCentralHandle, bc_demo: str
) -> None:
    """Vendor.OnInsert -> VendCont-Update.OnInsert: a company contact with the vendor's name and a business relation
    to the vendor (relatedType = Vendor in contactsInformation), never listed as a customer's."""
    session = business_central.session
    name = f"Litware {uuid.uuid4().hex[:6]}"
    vendor = session.post(f"{bc_demo}/vendors", json={"displayName": name, "city": "Bergen"})
    assert vendor.status_code == 201, vendor.text
    vendor_id = vendor.json()["id"]
    rows = session.get(
        f"{bc_demo}/contactsInformation",
        params={"$filter": f"relatedId eq {vendor_id} and relatedType eq 'Vendor'"},
    ).json()["value"]
    assert [(r["contactName"], r["contactType"], r["relatedType"]) for r in rows] == [(name, "Company", "Vendor")]
    as_customer = session.get(
        f"{bc_demo}/contactsInformation",
        params={"$filter": f"relatedId eq {vendor_id} and relatedType eq 'Customer'"},
    ).json()["value"]
    assert as_customer == []
    company = session.get(f"{bc_demo}/contacts({rows[0]['contactId']})").json()
    assert (company["type"], company["contactBusinessRelation"]) == ("Company", "Vendor")
    person = session.post(
        f"{bc_demo}/contacts",
        json={"displayName": "Ola Nord", "type": "Person", "companyNumber": rows[0]["contactNumber"]},
    )
    assert person.status_code == 201 and person.json()["companyName"] == name, person.text
