"""`contactsInformation` (API v2.0 page 30072, read-only): which customer or vendor a contact is related to.

Why computed: in BC the rows come from a temporary Contact Information Buffer filled from the Contact Business
Relation table (5054: Contact No., Link to Table, No.), so the API has nothing stored to serve. The emulator keeps
a company contact's business relations on it as internal properties (never returned): `@relatedCustomerId` (set by
the seed, and when a customer is created through the API) and `@relatedVendorId` (when a vendor is created through
the API). It computes one row per relation: contactId/contactNumber/contactName/contactType of the company contact,
relatedId = the customer's or vendor's id, relatedType = Customer or Vendor (microsoft/BCApps
src/Layers/W1/BaseApp/CRM/Contact/ContactInformationBuffer.Table.al, LoadDataFromFilters: Link to Table Customer ->
the customer's SystemId, Vendor -> the vendor's SystemId; api-facts: "links a contact to its customer/vendor"). A
company that is both customer and vendor has both rows, as it has both relations in BC.

Known differences from BC, kept (UNCONFIRMED what clients of the emulator would gain; noted so nobody relies on
them): BC's page refuses a read without both a relatedId and a relatedType filter ("id type not specified.",
APIV2ContactsInformation.Page.al OnFindRecord), and for a related company with persons it lists the persons
(Company No. = the company), the company itself only when it has none. The emulator serves the whole set and lists
only the contact that holds the relation (the company).
"""

from __future__ import annotations

from local.emulators.business_central.api.records import Records
from local.emulators.business_central.naming import table_name
from local.emulators.store import Row

RELATED_CUSTOMER = "@relatedCustomerId"
RELATED_VENDOR = "@relatedVendorId"
RELATIONS = ((RELATED_CUSTOMER, "customers", "Customer"), (RELATED_VENDOR, "vendors", "Vendor"))


def contact_information_rows(records: Records, company_id: str) -> list[Row]:
    related_sets = {
        entity_set: {row["id"] for row in records.store.rows(table_name(company_id, entity_set))}
        for _, entity_set, _ in RELATIONS
    }
    rows: list[Row] = []
    for contact in records.store.rows(table_name(company_id, "contacts")):
        for marker, entity_set, related_type in RELATIONS:
            related = contact.get(marker)
            if not related or related not in related_sets[entity_set]:  # a relation to a deleted record is gone
                continue
            rows.append(
                {
                    "contactId": contact["id"],
                    "contactNumber": contact.get("number", ""),
                    "contactName": contact.get("displayName", ""),
                    "contactType": contact.get("type", "Company"),
                    "relatedId": related,
                    "relatedType": related_type,
                    "@version": contact.get("@version", 0),
                }
            )
    return rows
