"""`contactsInformation` (API v2.0 page 30072, read-only): which customer a contact is related to.

Why computed: in BC the rows come from a temporary Contact Information Buffer filled from the Contact Business
Relation table (5054: Contact No., Link to Table, No.), so the API has nothing stored to serve. The emulator keeps
the business relation on the company contact as the internal `@relatedCustomerId` (set by the seed, never returned)
and computes one row per related contact: contactId/contactNumber/contactName/contactType of the company contact,
relatedId = the customer's id, relatedType = Customer (api-facts: "contactNumber -> relatedId where relatedType =
Customer"). Which contacts BC lists at the top level (only companies, or persons through their company too) is
UNCONFIRMED: the emulator takes the strict reading and lists only the contact that holds the relation (the
company), so a client must go through the person's companyNumber.
"""

from __future__ import annotations

from local.emulators.business_central.api.records import Records
from local.emulators.business_central.naming import table_name
from local.emulators.store import Row

RELATED_CUSTOMER = "@relatedCustomerId"


def contact_information_rows(records: Records, company_id: str) -> list[Row]:
    customers = {row["id"] for row in records.store.rows(table_name(company_id, "customers"))}
    rows: list[Row] = []
    for contact in records.store.rows(table_name(company_id, "contacts")):
        related = contact.get(RELATED_CUSTOMER)
        if not related or related not in customers:  # a relation to a deleted customer is gone with it
            continue
        rows.append(
            {
                "contactId": contact["id"],
                "contactNumber": contact.get("number", ""),
                "contactName": contact.get("displayName", ""),
                "contactType": contact.get("type", "Company"),
                "relatedId": related,
                "relatedType": "Customer",
                "@version": contact.get("@version", 0),
            }
        )
    return rows
