"""A person's company (`contacts.companyNumber`, BC's Contact."Company No.").

Why: the field relates to Contact where Type = Company (microsoft/BCApps src/Layers/W1/BaseApp/CRM/Contact/
Contact.Table.al, field 5051, TableRelation), so BC refuses a number that is no contact or a person, and validating it
copies the company's name to the person (InheritCompanyToPersonData: "Company Name"). A client that creates persons
(the CONTACT mapping creating from Sales) must find the company contact itself; a lenient emulator would hide that.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from local.emulators.business_central.errors import dialog
from local.emulators.store import Row

if TYPE_CHECKING:
    from local.emulators.business_central.writer import Writer

CONTACTS = "contacts"


def apply_company_number(writer: Writer, company_id: str, entity_set: str, row: Row, changed: set[str]) -> None:
    if entity_set != CONTACTS or "companyNumber" not in changed or not row.get("companyNumber"):
        return
    company = writer.find_by(company_id, CONTACTS, "number", row["companyNumber"])
    if company is None or company.get("type") != "Company":
        raise dialog(
            f"The field companyNumber of table Contact contains a value ({row['companyNumber']}) that cannot be "
            f"found in the related table (Contact where Type = Company)."
        )
    row["companyName"] = company.get("displayName", "")
