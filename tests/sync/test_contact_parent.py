"""CONTACT's parent company in the Sales -> BC direction (behaviour `parentCompany`), on the real stack (emulators +
Azurite): a Sales contact created in BC is a person of the company contact related to its parent account's customer,
so it is inside CONTACT's own BC filter; without a coupled parent it is refused, never created without a company."""

from __future__ import annotations

import uuid

import pytest

from local.emulators.business_central.seed import seeded_id as bc_seeded
from shared.domain.errors import SyncError
from shared.services.coupling import create_in_business_central
from shared.services.matching import match_and_couple
from tests.sync.conftest import SyncStack

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
