"""CONTACT: BC person contacts of a company <-> Dataverse contacts whose parent is an account.

Why the name parts are carried by a behaviour (`nameParts`, shared/engine/behaviours/names.py): API v2.0 contacts
expose only `displayName` (BC's Name); BC keeps First Name, Middle Name and Surname beside it (its NameBreakdown
splits a new Name into them; a changed part rebuilds the Name), and they are on page 5055 "Name Details" only. So the
parts are read from page 5055 when it is published, else from BC's NameBreakdown of the name; a BC name that is
exactly the parts Sales holds joined stands for those parts (a part Sales has is never blanked while BC's name did
not change); a changed BC name sends its parts to firstname/middlename/lastname together; a part changed in Sales
rebuilds BC's name (and goes through page 5055 when published). Dataverse computes `fullname` from the parts.

Why the parent account takes two hops: a BC person's `companyNumber` is the number of a *company contact*, not of
a customer; the customer is linked to that company contact by a business relation, which API v2.0 exposes only in
the read-only `contactsInformation` (contactNumber -> relatedId where relatedType = Customer). The lookup reads that
link row (`Lookup.bc_id_field = "relatedId"`), then the CUSTOMER coupling of the customer, so a contact created
from a BC person has its parent account and falls inside this mapping's own Dataverse filter.

Why a vendor's company counts too: BC resolves the parent through the company's customer OR vendor (CDS Int. Table
Subscriber, FindParentCRMAccountForContact; microsoft/BCApps src/Layers/W1/BaseApp/Integration/Dataverse/
CDSIntTableSubscriber.Codeunit.al). A company related to a customer takes that customer's account, even when the
company is also a vendor's and even when that customer is not coupled (then the lookup fails: the record waits,
where BC would leave the parent empty); only a company related to no customer takes its vendor's account (the
lookup's `otherwise`, relatedType = Vendor, then the VENDOR coupling). Related to neither: a record error. Back,
Sales -> BC, the order is the same (CRM Synch. Helper FindContactByAccountId: the account's coupled customer with a
company contact, else its coupled vendor's company contact; behaviour parentCompany).
"""

from __future__ import annotations

from shared.domain.mapping import FieldMapping, Lookup, TableMapping
from shared.mappings.common import BOTH, CONSTANT, FROM, SYNC_SCHEDULE, TO, differently, missing

NOT_ON_CONTACTS = "not exposed by API v2.0 contacts"
PARTS_NOTE = (
    "Not on API v2.0 contacts: read from page 5055 Name Details when published, else BC's NameBreakdown of "
    "displayName; a BC name equal to the parts Sales holds joined keeps Sales' parts (behaviour nameParts). "
)

VENDOR_PARENT_LOOKUP = Lookup(
    mapping="VENDOR",
    target_entity_set="accounts",
    navigation="parentcustomerid_account",
    bc_key="contactNumber",
    bc_entity_set="contactsInformation",
    bc_scope="relatedType eq 'Vendor'",
    bc_id_field="relatedId",
)
PARENT_LOOKUP = Lookup(
    mapping="CUSTOMER",
    target_entity_set="accounts",
    navigation="parentcustomerid_account",
    bc_key="contactNumber",
    bc_entity_set="contactsInformation",
    bc_scope="relatedType eq 'Customer'",
    bc_id_field="relatedId",
    otherwise=VENDOR_PARENT_LOOKUP,
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
            note=(
                "Our second match criterion; fullname is computed by Dataverse from the parts. Never compared on "
                "its own: the parts carry the name, and a write of a part to BC sends displayName rebuilt from the "
                "parts (non-empty ones joined by single spaces, cut to 100, as BC rebuilds its Name)."
            ),
        ),
        FieldMapping(
            "firstName",
            "firstname",
            BOTH,
            bc_default_field="First Name",
            note=PARTS_NOTE + "Everything before the middle name in a breakdown; cut to 30 characters for BC.",
        ),
        FieldMapping(
            "middleName",
            "middlename",
            BOTH,
            bc_default_field="Middle Name",
            note=PARTS_NOTE + "The next-to-last word of a name of 3 words or more in a breakdown.",
        ),
        FieldMapping(
            "surname",
            "lastname",
            BOTH,
            bc_default_field="Surname",
            note=PARTS_NOTE + "The last word of a name of 2 words or more in a breakdown.",
        ),
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
            note=(
                "companyNumber is the BC company contact's number; the engine looks up the customer that company "
                "contact is related to (contactsInformation: contactNumber -> relatedId where relatedType = "
                "Customer), then the account coupled to that customer (CUSTOMER couplings); a company related to no "
                "customer takes the account of its vendor (relatedType = Vendor, VENDOR couplings), as BC's "
                "FindParentCRMAccountForContact. A company whose customer (or, with none, vendor) is not coupled, "
                "or that is related to neither, is a record error (couple it first)."
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
        missing("Pager", "pager", f"Pager is {NOT_ON_CONTACTS}."),
        differently(
            CONSTANT,
            "parentcustomeridtype",
            "Set by the parentcustomerid_account@odata.bind of companyNumber -> parentcustomerid (the type is "
            "read-only in the Web API).",
        ),
        missing("Salutation Code", "salutation", f"Salutation Code is {NOT_ON_CONTACTS}."),
    ),
    behaviours=("nameParts", "parentCompany"),
    note=(
        "BC's Dataverse filter also requires parentcustomeridtype = account, which a Web API filter on the lookup "
        "cannot say; a contact under a contact passes our filter (harmless: only coupled contacts are synced). "
        "The parent account is written BC -> Sales (companyNumber -> parentcustomerid); a contact created in BC from "
        "Sales gets the company contact of its parent account's customer, else of its vendor (behaviour "
        "parentCompany, as BC's UpdateContactParentCompany on insert), and is refused without one; later parent "
        "changes in Sales are not carried to BC, as in BC."
    ),
)

MAPPINGS = (CONTACT,)
