"""BC's contact rules: a person's company, and the company contact every new customer or vendor gets.

A person's company (`contacts.companyNumber`, BC's Contact."Company No.").

Why: the field relates to Contact where Type = Company (microsoft/BCApps src/Layers/W1/BaseApp/CRM/Contact/
Contact.Table.al, field 5051, TableRelation), so BC refuses a number that is no contact or a person, and validating it
copies the company's name to the person (InheritCompanyToPersonData: "Company Name"). A client that creates persons
(the CONTACT mapping creating from Sales) must find the company contact itself; a lenient emulator would hide that.

A new customer's company contact. Inserting a customer makes BC create a contact of type Company with the customer's
name and address, and a business relation linking the two (Customer.Table.al OnInsert -> CustCont-Update.OnInsert,
when Marketing Setup's "Bus. Rel. Code for Customers" is set, as in every demo company). So a customer created
through the API has its row in `contactsInformation` at once, and persons can be created under it. Done on the API
route only (`app.py`): the seeds write both records themselves, as BC stores them. Later changes of the customer's
name or address are not copied to the contact here (BC's CustCont-Update.OnModify does): UNCONFIRMED need, left out.

A new vendor's company contact, the same way: Vendor.Table.al OnInsert -> VendCont-Update.OnInsert creates a company
contact and a business relation with Link to Table = Vendor when "Bus. Rel. Code for Vendors" is set (microsoft/BCApps
src/Layers/W1/BaseApp/CRM/BusinessRelation/VendContUpdate.Codeunit.al; set in the demo companies: UNCONFIRMED, the
strict reading for a client, which must then find a vendor's company through `contactsInformation` as a customer's).
The contact's `contactBusinessRelation` is what BC's Contact.UpdateBusinessRelation sets for one relation.
"""

from __future__ import annotations

from local.emulators.business_central.api.business_relations import RELATED_CUSTOMER, RELATED_VENDOR
from local.emulators.business_central.api.records import Records
from local.emulators.business_central.errors import dialog
from local.emulators.store import Row

CONTACTS = "contacts"
CUSTOMERS = "customers"
VENDORS = "vendors"
RELATION = {CUSTOMERS: (RELATED_CUSTOMER, "Customer"), VENDORS: (RELATED_VENDOR, "Vendor")}
COPIED = ("displayName", "addressLine1", "addressLine2", "city", "state", "country", "postalCode", "phoneNumber",
          "email")  # fmt: skip


def apply_company_number(records: Records, company_id: str, entity_set: str, row: Row, changed: set[str]) -> None:
    if entity_set != CONTACTS or "companyNumber" not in changed or not row.get("companyNumber"):
        return
    company = records.find_by(company_id, CONTACTS, "number", row["companyNumber"])
    if company is None or company.get("type") != "Company":
        raise dialog(
            f"The field companyNumber of table Contact contains a value ({row['companyNumber']}) that cannot be "
            f"found in the related table (Contact where Type = Company)."
        )
    row["companyName"] = company.get("displayName", "")


def company_contact_for_new_customer_or_vendor(records: Records, company_id: str, entity_set: str, record: Row) -> None:
    """After a customer or vendor was inserted through the API: its company contact and their business relation (in
    the caller's transaction with the customer or vendor: both or neither)."""
    if entity_set not in RELATION:
        return
    marker, relation = RELATION[entity_set]
    contacts = records.entity_set(CONTACTS)
    body = {name: record[name] for name in COPIED if name in contacts.properties and record.get(name)}
    contact = records.create(company_id, contacts, {**body, "type": "Company", "contactBusinessRelation": relation})
    records.put(company_id, contacts, {**contact, marker: record["id"]})
