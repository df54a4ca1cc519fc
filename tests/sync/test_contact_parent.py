"""CONTACT's parent company in the Sales -> BC direction (behaviour `parentCompany`), on the real stack (emulators +
Azurite): a Sales contact created in BC is a person of the company contact related to its parent account's customer,
so it is inside CONTACT's own BC filter; without a coupled parent it is refused, never created without a company."""

from __future__ import annotations

import uuid

import pytest

from local.emulators.business_central.seed import seeded_id as bc_seeded
from shared.domain.errors import SyncError
from shared.engine.lookups import LookupFailed, LookupResolver
from shared.engine.mapping_run import run_mapping
from shared.mappings.contacts import PARENT_LOOKUP
from shared.services.coupling import create_in_business_central, create_in_dataverse
from shared.services.matching import match_and_couple
from tests.sync.conftest import SyncStack
from tests.sync.test_incremental import dv_get

pytestmark = pytest.mark.integration


def _sales_contact(stack: SyncStack, account_id: str | None) -> str:
    contact_id = str(uuid.uuid4())
    body: dict[str, object] = {"firstname": "Lena", "lastname": f"Berg {contact_id[:6]}"}
    if account_id:
        body["parentcustomerid_account@odata.bind"] = f"/accounts({account_id})"
    stack.dataverse.create_row("contacts", contact_id, body)
    return contact_id


def test_a_sales_contact_created_in_bc_gets_its_parent_accounts_company(sync_stack: SyncStack) -> None:
    stack = sync_stack
    for name in ("SALESPEOPLE", "CURRENCY"):
        match_and_couple(stack.context, name)
    match_and_couple(stack.context, "CUSTOMER", create_if_no_match=True)
    customer = stack.context.couplings.find_by_bc_id("CUSTOMER", bc_seeded("customer", "Adatum Corporation"))
    assert customer is not None
    coupling = create_in_business_central(stack.context, "CONTACT", _sales_contact(stack, customer.dataverse_id))
    person = stack.bc.get_entity("contacts", coupling.bc_id, ["type", "companyNumber", "companyName", "displayName"])
    company = stack.bc.get_entity("contacts", bc_seeded("contact-company", "Adatum Corporation"), ["number"])
    assert person is not None and company is not None
    assert (person["type"], person["companyNumber"], person["companyName"]) == (
        "Person",
        company["number"],
        "Adatum Corporation",
    )
    in_filter = stack.bc.list_changed_since(
        "contacts", None, ["id"], extra_filter="type eq 'Person' and companyNumber ne ''"
    )
    assert coupling.bc_id in {row["id"] for page in in_filter for row in page.rows}


def test_a_sales_contact_whose_account_is_not_coupled_is_refused(sync_stack: SyncStack) -> None:
    stack = sync_stack
    for name in ("SALESPEOPLE", "CURRENCY"):
        match_and_couple(stack.context, name)
    account_id = str(uuid.uuid4())
    stack.dataverse.create_row("accounts", account_id, {"name": f"Uncoupled {account_id[:6]}"})
    contact_id = _sales_contact(stack, account_id)
    with pytest.raises(SyncError) as refused:
        create_in_business_central(stack.context, "CONTACT", contact_id)
    assert refused.value.code == "contactMissingCompany" and refused.value.field == "parentcustomerid"
    assert stack.context.couplings.find_by_dataverse_id("CONTACT", contact_id) is None


def test_a_contact_under_an_account_created_in_bc_gets_that_customers_company(sync_stack: SyncStack) -> None:
    """The customer the sync creates from the account gets its company contact from BC itself (Customer.OnInsert),
    and the contact created next is a person of it."""
    stack = sync_stack
    for name in ("SALESPEOPLE", "CURRENCY"):
        match_and_couple(stack.context, name)
    account_id = str(uuid.uuid4())
    account = {"name": f"Northwind {account_id[:6]}", "customertypecode": 3}  # a Customer account: CUSTOMER's
    stack.dataverse.create_row("accounts", account_id, account)
    customer = create_in_business_central(stack.context, "CUSTOMER", account_id)
    coupling = create_in_business_central(stack.context, "CONTACT", _sales_contact(stack, account_id))
    person = stack.bc.get_entity("contacts", coupling.bc_id, ["companyNumber", "companyName"])
    created = stack.bc.get_entity("customers", customer.bc_id, ["displayName"])
    assert person is not None and created is not None
    assert person["companyNumber"] and person["companyName"] == created["displayName"]


# A vendor's contacts: BC resolves a person's parent account through its company's customer OR vendor (CDS Int. Table
# Subscriber FindParentCRMAccountForContact; CRM Synch. Helper FindContactByAccountId), so VENDOR couplings count too.


def _vendor_basics(stack: SyncStack) -> None:
    for name in ("SALESPEOPLE", "CURRENCY"):
        match_and_couple(stack.context, name)
    run_mapping(stack.context, "PAYMENT TERMS")


def _bc_vendor_company(stack: SyncStack, name: str) -> tuple[str, str]:
    """A vendor created through the API, and the number of the company contact BC makes for it (VendCont-Update)."""
    vendor_id = str(stack.bc.create_entity("vendors", {"displayName": name})["id"])
    pages = stack.bc.list_changed_since(
        "contactsInformation",
        None,
        ["contactNumber", "contactType", "relatedId", "relatedType"],
        extra_filter=f"relatedId eq {vendor_id} and relatedType eq 'Vendor'",
    )
    rows = [row for page in pages for row in page.rows]
    assert [(r["contactType"], r["relatedType"]) for r in rows] == [("Company", "Vendor")], rows
    return vendor_id, str(rows[0]["contactNumber"])


def _bc_person(stack: SyncStack, company_number: str, name: str) -> str:
    body = {"type": "Person", "displayName": name, "companyNumber": company_number}
    return str(stack.bc.create_entity("contacts", body)["id"])


def test_a_bc_person_of_a_vendors_company_gets_the_vendors_account(sync_stack: SyncStack) -> None:
    stack = sync_stack
    _vendor_basics(stack)
    vendor_id, company_number = _bc_vendor_company(stack, "Fabrikam Supplies")
    vendor = create_in_dataverse(stack.context, "VENDOR", vendor_id)
    person_id = _bc_person(stack, company_number, "Ines Moreau")
    coupling = create_in_dataverse(stack.context, "CONTACT", person_id)
    contact = dv_get(stack, f"contacts({coupling.dataverse_id})", **{"$select": "_parentcustomerid_value,fullname"})
    assert (contact["_parentcustomerid_value"], contact["fullname"]) == (vendor.dataverse_id, "Ines Moreau")
    row = stack.bc.get_entity("contacts", person_id) or {}
    stack.bc.update_entity("contacts", person_id, {"phoneNumber": "+33 1 55 01 02 03"}, str(row["@odata.etag"]))
    again = run_mapping(stack.context, "CONTACT")  # the run's read-ahead resolves the parent the same way
    assert (again.counters.modified, again.counters.failed) == (1, 0), stack.context.errors.list_errors("CONTACT")
    contact = dv_get(stack, f"contacts({coupling.dataverse_id})", **{"$select": "_parentcustomerid_value,telephone1"})
    assert (contact["_parentcustomerid_value"], contact["telephone1"]) == (vendor.dataverse_id, "+33 1 55 01 02 03")


def test_a_bc_person_of_an_uncoupled_vendors_company_waits_for_the_coupling(sync_stack: SyncStack) -> None:
    """The company's vendor is not coupled (and it has no customer): Create in Dataverse is refused as for an
    uncoupled customer, and the lookup names the VENDOR record to couple; no contact reaches Sales."""
    stack = sync_stack
    _vendor_basics(stack)
    _, company_number = _bc_vendor_company(stack, "Uncoupled Supplies")
    person_id = _bc_person(stack, company_number, "Noel Petit")
    with pytest.raises(SyncError) as refused:
        create_in_dataverse(stack.context, "CONTACT", person_id)
    assert (refused.value.code, refused.value.field) == ("dependencyNotCoupled", "companyNumber")
    assert stack.context.couplings.find_by_bc_id("CONTACT", person_id) is None
    with pytest.raises(LookupFailed) as failed:
        LookupResolver(stack.context).to_dataverse_id(PARENT_LOOKUP, company_number)
    assert failed.value.code == "lookupNotCoupled" and f"VENDOR '{company_number}'" in str(failed.value)


def test_a_sales_contact_of_a_vendor_account_gets_the_vendors_company_in_bc(sync_stack: SyncStack) -> None:
    stack = sync_stack
    _vendor_basics(stack)
    vendor_id, company_number = _bc_vendor_company(stack, "Contoso Parts")
    vendor = create_in_dataverse(stack.context, "VENDOR", vendor_id)
    coupling = create_in_business_central(stack.context, "CONTACT", _sales_contact(stack, vendor.dataverse_id))
    person = stack.bc.get_entity("contacts", coupling.bc_id, ["type", "companyNumber", "companyName"])
    assert person is not None
    assert (person["type"], person["companyNumber"], person["companyName"]) == (
        "Person",
        company_number,
        "Contoso Parts",
    )
