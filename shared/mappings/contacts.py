"""CONTACT: BC person contacts of a company <-> Dataverse contacts whose parent is an account.

Why the name is carried the way it is: API v2.0 contacts expose only `displayName` (BC's Name, which BC derives from
First Name, Middle Name and Surname). Dataverse computes `fullname` from `firstname` + `lastname` and does not let it
be written. So BC's name is written whole into `lastname` (with `firstname`/`middlename` cleared, so `fullname` is
exactly BC's name) and read back from `fullname`. Round trip: a Sales user's "Andy" + "Teal" becomes BC "Andy Teal";
a BC rename writes "Andrew Teal" into `lastname` and clears `firstname`, so Sales never shows "Andy Andrew Teal".

Why the parent account is a disabled field: a BC person's `companyNumber` is the number of a *company contact*, not
of a customer; the customer is linked to that company contact by a business relation (API v2.0 exposes it only in
the read-only `contactsInformation`: contactNumber -> relatedId where relatedType = Customer). A lookup through the
CUSTOMER couplings needs that second hop, which `Lookup` cannot express yet and the BC emulator does not fill yet
(a `Lookup` extension is proposed). BC itself sets the parent in code, not by a field mapping.
"""

from __future__ import annotations

from shared.domain.mapping import FieldMapping, Lookup, TableMapping
from shared.mappings.common import BOTH, CONSTANT, FROM, SYNC_SCHEDULE, TO, differently, missing

NOT_ON_CONTACTS = "not exposed by API v2.0 contacts"
NAME_REASON = (
    "API v2.0 contacts expose only displayName (BC Name = First Name + Middle Name + Surname, derived by BC): "
    "displayName is written whole into lastname, firstname/middlename are cleared, and fullname is read back."
)

PARENT_LOOKUP = Lookup(
    mapping="CUSTOMER",
    target_entity_set="accounts",
    navigation="parentcustomerid_account",
    bc_key="number",
    bc_entity_set="contacts",
)

CONTACT = TableMapping(
    name="CONTACT",
    bc_entity="contact",
    bc_entity_set="contacts",
    dataverse_table="contact",
    dataverse_entity_set="contacts",
    dataverse_id="contactid",
    direction=BOTH,
    bc_default_table="Contact",
    bc_filter="type eq 'Person' and companyNumber ne ''",
    dataverse_filter="_parentcustomerid_value ne null and statecode eq 0",
    dependencies=("CUSTOMER", "VENDOR"),
    sync_only_coupled=True,
    schedule=SYNC_SCHEDULE,
    fields=(
        FieldMapping(
            "email",
            "emailaddress1",
            BOTH,
            match_priority=1,
            bc_default_field="E-Mail",
            note="Our first match criterion (BC defines none for contacts).",
        ),
        FieldMapping(
            "displayName",
            "fullname",
            FROM,
            transform="truncate100",
            match_priority=2,
            note="Our second match criterion; fullname is computed by Dataverse from firstname + lastname.",
        ),
        FieldMapping(
            "displayName",
            "lastname",
            TO,
            note="BC's whole name; with firstname and middlename cleared, Sales' fullname is exactly BC's name.",
        ),
        FieldMapping(None, "firstname", TO, constant="", note="Cleared so fullname equals BC's name."),
        FieldMapping(None, "middlename", TO, constant="", note="Cleared so fullname equals BC's name."),
        FieldMapping("addressLine1", "address1_line1", BOTH, transform="truncate100", bc_default_field="Address"),
        FieldMapping("addressLine2", "address1_line2", BOTH, transform="truncate50", bc_default_field="Address 2"),
        FieldMapping("postalCode", "address1_postalcode", BOTH, transform="upper", bc_default_field="Post Code"),
        FieldMapping("city", "address1_city", BOTH, bc_default_field="City"),
        FieldMapping("country", "address1_country", BOTH, transform="upper", bc_default_field="Country/Region Code"),
        FieldMapping("state", "address1_stateorprovince", BOTH, bc_default_field="County"),
        FieldMapping("website", "websiteurl", BOTH, bc_default_field="Home Page"),
        FieldMapping("mobilePhoneNumber", "mobilephone", BOTH, bc_default_field="Mobile Phone No."),
        FieldMapping("phoneNumber", "telephone1", BOTH, bc_default_field="Phone No."),
        FieldMapping(
            "type",
            None,
            FROM,
            constant="Person",
            bc_default_field="Type",
            note="A contact created from Sales is a person in BC.",
        ),
        FieldMapping(
            "companyNumber",
            "parentcustomerid",
            TO,
            lookup=PARENT_LOOKUP,
            enabled=False,
            note=(
                "companyNumber is the BC company contact's number; the account is the one coupled to the customer "
                "that company contact is related to (business relation). Needs a two-hop lookup: disabled until the "
                "engine has it."
            ),
        ),
    ),
    gaps=(
        missing(
            CONSTANT,
            "owneridtype",
            f"No owner is written (the salesperson is {NOT_ON_CONTACTS}), so neither is its type.",
        ),
        missing("Salesperson Code", "ownerid", f"Salesperson Code is {NOT_ON_CONTACTS}; Sales keeps its owner."),
        missing("Currency Code", "transactioncurrencyid", f"Currency Code is {NOT_ON_CONTACTS}."),
        missing("Fax No.", "fax", f"Fax No. is {NOT_ON_CONTACTS}."),
        differently("First Name", "firstname", NAME_REASON),
        differently("Middle Name", "middlename", NAME_REASON),
        differently("Surname", "lastname", NAME_REASON),
        missing("Pager", "pager", f"Pager is {NOT_ON_CONTACTS}."),
        missing(
            CONSTANT,
            "parentcustomeridtype",
            "Not yet: the parent account is not written while companyNumber -> parentcustomerid waits for a two-hop "
            "lookup; then its parentcustomerid_account@odata.bind sets the type (read-only in the Web API).",
        ),
        missing("Salutation Code", "salutation", f"Salutation Code is {NOT_ON_CONTACTS}."),
    ),
    note=(
        "BC's Dataverse filter also requires parentcustomeridtype = account, which a Web API filter on the lookup "
        "cannot say; a contact under a contact passes our filter (harmless: only coupled contacts are synced). "
        "Until the parent is written, a contact created in Sales from BC has no parent and so only flows BC -> Sales."
    ),
)

MAPPINGS = (CONTACT,)
