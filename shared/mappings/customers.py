"""CUSTOMER (BC customers <-> Dataverse accounts of type Customer) and VENDOR (out of scope, kept for coverage).

Why these choices:
- Match on the name first (our choice; BC defines no default criteria for customers): it is the one field both
  sides always have. The account number is the better key once the disabled `number -> accountnumber` is enabled.
- Payment terms and shipment method travel as option-set values through the option mappings (see `options.py`);
  API v2.0 customers carry their *ids* (`paymentTermsId`, `shipmentMethodId`), not the codes.
- Deactivating an account in Sales blocks its customer (BC's UpdateCustomerBlocked): behaviour
  `blockInactiveCustomer` (engine/behaviours/states.py), since inactive accounts are outside the Dataverse filter.
- New accounts get `customertypecode` Customer (BC's BCICUSTOME template), otherwise they would fall outside this
  mapping's own Dataverse filter and never come back.
"""

from __future__ import annotations

from shared.domain.mapping import FieldMapping, TableMapping
from shared.mappings.common import (
    BOTH,
    CONSTANT,
    NO_SHIPPING_AGENT,
    SYNC_SCHEDULE,
    TO,
    all_missing,
    currency,
    missing,
    owner,
    owner_type_gap,
)

NOT_ON_CUSTOMERS = "not exposed by API v2.0 customers"

CUSTOMER = TableMapping(
    name="CUSTOMER",
    bc_entity="customer",
    bc_entity_set="customers",
    dataverse_table="account",
    dataverse_entity_set="accounts",
    dataverse_id="accountid",
    direction=BOTH,
    bc_default_table="Customer",
    bc_filter="blocked eq '_x0020_'",
    dataverse_filter="statecode eq 0 and customertypecode eq 3",
    dependencies=("SALESPEOPLE", "CURRENCY", "PAYMENT TERMS", "SHIPMENT METHOD", "SHIPPING AGENT"),
    sync_only_coupled=True,
    dataverse_on_create={"customertypecode": 3},
    behaviours=("blockInactiveCustomer", "dropAccountStatistics"),
    schedule=SYNC_SCHEDULE,
    fields=(
        owner(),
        FieldMapping(
            "displayName",
            "name",
            BOTH,
            transform="truncate100",
            match_priority=1,
            bc_default_field="Name",
            note="Our match criterion. BC Name is Text[100], account name up to 160 characters.",
        ),
        FieldMapping("addressLine1", "address1_line1", BOTH, transform="truncate100", bc_default_field="Address"),
        FieldMapping("addressLine2", "address1_line2", BOTH, transform="truncate50", bc_default_field="Address 2"),
        FieldMapping("postalCode", "address1_postalcode", BOTH, transform="upper", bc_default_field="Post Code"),
        FieldMapping("city", "address1_city", BOTH, bc_default_field="City"),
        FieldMapping(
            "country",
            "address1_country",
            BOTH,
            transform="upper",
            bc_default_field="Country/Region Code",
            note="BC holds a country code, Sales free text; BC does not validate this field either.",
        ),
        FieldMapping("state", "address1_stateorprovince", BOTH, bc_default_field="County"),
        currency(),
        FieldMapping("email", "emailaddress1", BOTH, bc_default_field="E-Mail"),
        FieldMapping("website", "websiteurl", BOTH, bc_default_field="Home Page"),
        FieldMapping("phoneNumber", "telephone1", BOTH, bc_default_field="Phone No."),
        FieldMapping(
            "shipmentMethodId",
            "address1_freighttermscode",
            BOTH,
            transform="option:shipmentMethods",
            bc_default_field="Shipment Method Code",
            note="The API carries the shipment method id; the option map translates it (see SHIPMENT METHOD).",
        ),
        FieldMapping(
            "paymentTermsId",
            "paymenttermscode",
            BOTH,
            transform="option:paymentTerms",
            bc_default_field="Payment Terms Code",
            note="The API carries the payment terms id; the option map translates it (see PAYMENT TERMS).",
        ),
        FieldMapping(
            "creditLimit",
            "creditlimit",
            TO,
            bc_default_field="Credit Limit (LCY)",
            note="An LCY amount, written as is (as BC does) whatever the account's currency.",
        ),
        FieldMapping(
            "number",
            "accountnumber",
            TO,
            enabled=False,
            bc_default_field="No.",
            note="Added disabled by BC; enable it to show the BC customer number in Sales.",
        ),
    ),
    gaps=(
        owner_type_gap(),
        missing("Contact", "address1_primarycontactname", f"Contact (the contact name text) is {NOT_ON_CUSTOMERS}."),
        missing("Fax No.", "fax", f"Fax No. is {NOT_ON_CUSTOMERS}."),
        missing("Shipping Agent Code", "address1_shippingmethodcode", NO_SHIPPING_AGENT),
        missing(
            "Primary Contact No.",
            "primarycontactid",
            f"Primary Contact No. is {NOT_ON_CUSTOMERS} (a companion-extension API could add it).",
        ),
        missing("Mobile Phone No.", "telephone2", f"Mobile Phone No. is {NOT_ON_CUSTOMERS}."),
    ),
    note=(
        "An account deactivated in Sales (statuscode Inactive) blocks its customer (Blocked = All, when not blocked "
        "yet) on the next incremental run: behaviour `blockInactiveCustomer`, which reads the coupled accounts that "
        "left the Dataverse filter since the checkpoint; at once on Synchronize Now from Sales of that customer; in "
        "a full synchronization only when the Dataverse filter admits inactive accounts (it reads in the filter, as "
        "BC). Only that direction, as BC: reactivating does not unblock."
    ),
)

VENDOR_REASON = (
    "Vendors are out of scope: this integration covers the sales side, and vendor accounts (customertypecode "
    "Vendor) are not synchronized."
)

VENDOR = TableMapping(
    name="VENDOR",
    bc_entity="vendor",
    bc_entity_set="vendors",
    dataverse_table="account",
    dataverse_entity_set="accounts",
    dataverse_id="accountid",
    direction=BOTH,
    bc_default_table="Vendor",
    bc_filter="blocked eq '_x0020_'",
    dataverse_filter="statecode eq 0 and customertypecode eq 11",
    dependencies=("SALESPEOPLE", "CURRENCY", "PAYMENT TERMS", "SHIPMENT METHOD", "SHIPPING AGENT"),
    enabled=False,
    fields=(),
    gaps=all_missing(
        VENDOR_REASON,
        (CONSTANT, "owneridtype"),
        ("Purchaser Code", "ownerid"),
        ("Name", "name"),
        ("Contact", "address1_primarycontactname"),
        ("Address", "address1_line1"),
        ("Address 2", "address1_line2"),
        ("Post Code", "address1_postalcode"),
        ("City", "address1_city"),
        ("Country/Region Code", "address1_country"),
        ("County", "address1_stateorprovince"),
        ("Currency Code", "transactioncurrencyid"),
        ("E-Mail", "emailaddress1"),
        ("Fax No.", "fax"),
        ("Home Page", "websiteurl"),
        ("Phone No.", "telephone1"),
        ("Shipment Method Code", "address1_freighttermscode"),
        ("Shipping Agent Code", "address1_shippingmethodcode"),
        ("Payment Terms Code", "paymenttermscode"),
        ("Primary Contact No.", "primarycontactid"),
        ("No.", "accountnumber"),
        ("Mobile Phone No.", "telephone2"),
    ),
    note="Gap-only: kept so the coverage against BC's defaults is complete and CONTACT's dependency resolves.",
)

MAPPINGS = (CUSTOMER, VENDOR)
