"""CUSTOMER: BC customers <-> Dataverse accounts of type Customer (VENDOR, the same table's vendors: `vendors.py`).

Why these choices:
- Match on the name first (our choice; BC defines no default criteria for customers): it is the one field both
  sides always have. The account number is the better key once the disabled `number -> accountnumber` is enabled.
- Payment terms and shipment method travel as option-set values through the option mappings (see `options.py`);
  API v2.0 customers carry their *ids* (`paymentTermsId`, `shipmentMethodId`), not the codes.
- Deactivating an account in Sales blocks its customer (BC's UpdateCustomerBlocked): behaviour
  `blockInactiveCustomer` (engine/behaviours/states.py), since inactive accounts are outside the Dataverse filter.
- New accounts get `customertypecode` Customer (BC's BCICUSTOME template), otherwise they would fall outside this
  mapping's own Dataverse filter and never come back. The filter (`customertypecode eq 3`, as BC's) is also what keeps
  VENDOR's accounts (type Vendor) out of this mapping: matching, full synchronization and incremental runs all read
  inside it.
- The fields BC maps alike for customers and vendors come from `common.account_fields()`.
"""

from __future__ import annotations

from shared.domain.mapping import FieldMapping, TableMapping
from shared.mappings.common import (
    BOTH,
    NO_SHIPPING_AGENT,
    SYNC_SCHEDULE,
    TO,
    account_fields,
    account_number,
    missing,
    owner,
    owner_type_gap,
    payment_terms,
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
        *account_fields(),
        FieldMapping(
            "shipmentMethodId",
            "address1_freighttermscode",
            BOTH,
            transform="option:shipmentMethods",
            bc_default_field="Shipment Method Code",
            note="The API carries the shipment method id; the option map translates it (see SHIPMENT METHOD).",
        ),
        payment_terms(),
        FieldMapping(
            "creditLimit",
            "creditlimit",
            TO,
            bc_default_field="Credit Limit (LCY)",
            note="An LCY amount, written as is (as BC does) whatever the account's currency.",
        ),
        account_number("customer"),
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

MAPPINGS = (CUSTOMER,)
