"""VENDOR: BC vendors <-> Dataverse accounts of type Vendor, as BC's default (CDS Setup Defaults,
ResetVendorAccountMapping, microsoft/BCApps src/Layers/W1/BaseApp/Integration/Dataverse/CDSSetupDefaults.Codeunit.al).

Why these choices:
- One table, two mappings: CUSTOMER and VENDOR both couple to `account`, told apart by the account's relationship
  type. BC's integration table filters say which is whose (CUSTOMER: `customertypecode` Customer (3), VENDOR: Vendor
  (11), both active only), and every read of a mapping (incremental run, full synchronization, match-based
  coupling) stays inside its own filter, so neither mapping ever picks the other's accounts. Create in Business
  Central takes an account through the mapping of its type only, as BC does: an inactive Vendor account is VENDOR's,
  never a customer (`services/create_mapping.py`).
- An account created from a vendor gets `customertypecode` Vendor: BC creates it from its BCIVENDOR config template,
  which sets that type (`dataverse_on_create`); without it the new account would fall outside this mapping's own
  filter and never come back. A vendor created from an account in BC gets no constant (BC's BCIVEND template is a
  copy of an existing vendor template, if any).
- BC's table filter keeps blocked vendors out (`Blocked` = blank; the Vendor Blocked enum is blank, Payment, All).
- Direction, sync-only-coupled and dependencies are BC's (bidirectional, because Vendor is not listed in
  GetDefaultDirection; "Synch. Only Coupled Records" on; SALESPEOPLE, CURRENCY, PAYMENT TERMS, SHIPMENT METHOD,
  SHIPPING AGENT in the Person ownership model), so the full synchronization runs VENDOR in BC's second wave beside
  CUSTOMER. Sync-only-coupled means a vendor account made in Sales reaches BC by a full synchronization, match-based
  coupling with "create if no match", or "create in Business Central", never by the incremental run alone.
- Match on the name, as CUSTOMER (BC defines no default match criteria).
- API v2.0 vendors (page 30010) carry fewer of BC's fields than customers: no purchaser (so no owner is written),
  no contact name, fax, mobile phone, primary contact, or shipment method. Those defaults are gaps, with the reason.
- No behaviour: BC's "an inactive account blocks its record" rule (UpdateCustomerBlocked) is for customers only
  (CRM Int. Table Subscriber, OnAfterTransferRecordFields, case 'CRM Account-Customer').
"""

from __future__ import annotations

from shared.domain.mapping import TableMapping
from shared.mappings.common import (
    BOTH,
    CONSTANT,
    NO_SHIPPING_AGENT,
    SYNC_SCHEDULE,
    account_fields,
    account_number,
    missing,
    payment_terms,
)

NOT_ON_VENDORS = "not exposed by API v2.0 vendors"
VENDOR_TYPE = 11  # account.customertypecode Vendor (CRM Account, CustomerTypeCode option; bc-integration-facts.md)

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
    dataverse_filter=f"statecode eq 0 and customertypecode eq {VENDOR_TYPE}",
    dependencies=("SALESPEOPLE", "CURRENCY", "PAYMENT TERMS", "SHIPMENT METHOD", "SHIPPING AGENT"),
    sync_only_coupled=True,
    dataverse_on_create={"customertypecode": VENDOR_TYPE},
    schedule=SYNC_SCHEDULE,
    fields=(*account_fields(), payment_terms(), account_number("vendor")),
    gaps=(
        missing(
            CONSTANT,
            "owneridtype",
            "No owner is written (API v2.0 vendors have no purchaser code), so neither is its type.",
        ),
        missing("Purchaser Code", "ownerid", f"Purchaser Code is {NOT_ON_VENDORS}: the owner stays as Sales sets it."),
        missing("Contact", "address1_primarycontactname", f"Contact (the contact name text) is {NOT_ON_VENDORS}."),
        missing("Fax No.", "fax", f"Fax No. is {NOT_ON_VENDORS}."),
        missing(
            "Shipment Method Code",
            "address1_freighttermscode",
            f"Shipment Method Code is {NOT_ON_VENDORS} (customers carry shipmentMethodId, vendors do not).",
        ),
        missing("Shipping Agent Code", "address1_shippingmethodcode", NO_SHIPPING_AGENT),
        missing("Primary Contact No.", "primarycontactid", f"Primary Contact No. is {NOT_ON_VENDORS}."),
        missing("Mobile Phone No.", "telephone2", f"Mobile Phone No. is {NOT_ON_VENDORS}."),
    ),
    note=(
        "Accounts of relationship type Vendor (customertypecode 11) only: CUSTOMER's filter (type Customer) keeps "
        "them out of CUSTOMER, and an account created from a vendor gets type Vendor (BC's BCIVENDOR template). "
        "A vendor account made in Sales reaches BC through a full synchronization, match-based coupling that "
        "creates, or Create in Business Central; the incremental run synchronizes coupled records only (BC's "
        "default)."
    ),
)

MAPPINGS = (VENDOR,)
