"""Building blocks the mapping families share: the lookups every family repeats and the words of the gaps.

Why a shared module: the currency and owner lookups appear on a dozen mappings; writing them once keeps them equal
(a lookup that differs by one entity set between two mappings is a bug nobody sees in review).

Conventions of the catalog (the catalog test checks them):
- `bc_field` is an API v2.0 property, or for page/custom sources the canonical camelCase name of
  `connectors/business_central/entity_sources.py`; `bc_filter` of a page-sourced mapping is written in those canonical
  names too.
- A BC default field mapping is covered by a `FieldMapping` whose `bc_default_field` names BC's field (the default
  pair is then `bc_default_field` -> `dataverse_field`), or by a `Gap` with the reason. BC's default rows that have
  no BC field (a constant written to Dataverse, e.g. `owneridtype`) are named `CONSTANT`.
- Dataverse's company filter (`bcbi_companyid` = this company or empty) is not in the static filters: the company
  id is a setting, so the engine adds it at run time.
"""

from __future__ import annotations

from shared.domain.mapping import Availability, Direction, FieldMapping, Gap, Lookup

TO = Direction.TO_DATAVERSE
FROM = Direction.FROM_DATAVERSE
BOTH = Direction.BIDIRECTIONAL

CONSTANT = "(constant)"
"""The `bc_default_field` of a BC default row that writes a constant instead of a BC field."""

SYNC_SCHEDULE = "SYNC_SCHEDULE"  # the incremental timer every regular mapping runs on (default every 5 minutes)
ORDER_SCHEDULE = "ORDER_SYNC_SCHEDULE"  # sales-order status updates (5 minutes)
INVOICE_SCHEDULE = "INVOICE_SYNC_SCHEDULE"  # posted invoices with payments and statistics (15 minutes)

CURRENCY_LOOKUP = Lookup(
    mapping="CURRENCY",
    target_entity_set="transactioncurrencies",
    navigation="transactioncurrencyid",
    bc_key="code",
    bc_entity_set="currencies",
    local_currency=True,  # blank is BC's LCY (`LCY_NOTE`)
)
OWNER_LOOKUP = Lookup(
    mapping="SALESPEOPLE",
    target_entity_set="systemusers",
    navigation="ownerid",
    bc_key="code",
    bc_entity_set="salespeoplePurchasers",
)
CUSTOMER_LOOKUP = Lookup(
    mapping="CUSTOMER",
    target_entity_set="accounts",
    navigation="customerid_account",
    bc_key="number",
    bc_entity_set="customers",
)

LCY_NOTE = (
    "BC has no nulls: a blank currency code is the local currency (LCY), which has no BC currency row and so no "
    "coupling; it resolves to the Dataverse currency whose ISO code is the LCY code, and back to blank. API v2.0 "
    "documents return the LCY code instead of blank, which means the same."
)
OWNER_NOTE = (
    "Person ownership model: the owner is the systemuser coupled to the salesperson. BC's 'Not Null': a blank "
    "salesperson leaves the Dataverse owner unchanged (never write a null owner). Team ownership model: nothing "
    "maps to the owner; what the sync creates is owned by the company's default owning team and updates keep the "
    "owner (engine/lookups.py no_owner, connectors/dataverse/company_scope.py)."
)
OWNER_TYPE_REASON = (
    "The owner is written as ownerid@odata.bind to /systemusers(<id>), which sets owneridtype; owneridtype is "
    "read-only in the Web API."
)
TOTALS_REASON = (
    "Totals are calculated columns in Dataverse (not valid for create; the emulator computes them from the lines as "
    "Sales does and refuses writes to an order's): Sales' order totals follow from the lines the order process "
    "writes, so BC's amounts are not written to them."
)
INVOICE_TOTALS_REASON = (
    "Written by the invoice process, as BC's code does after inserting the invoice and its lines (an update: "
    "Dataverse refuses totals on create): totalamount = Amount Including VAT, totaltax = Amount Including VAT - "
    "Amount, totalamountlessfreight = totalamount - totaltax, totaldiscountamount = Invoice Discount Amount, "
    "totallineitemdiscountamount = the lines' Line Discount Amount. The details carry BC's tax, so the totals Sales "
    "calculates from them equal BC's to the cent too. Prices including VAT (BC's extra 'Rounding' detail) are not "
    "handled."
)
NO_SHIPPING_AGENT = (
    "API v2.0 has no shipping agents (no shippingAgents entity set, no shipping agent property on customers or "
    "documents), so there is no BC value to carry."
)


def account_fields() -> tuple[FieldMapping, ...]:
    """The account fields BC maps alike for a customer and a vendor (CDS Setup Defaults: ResetCustomerAccountMapping
    and ResetVendorAccountMapping, microsoft/BCApps) and API v2.0 exposes on both sets: the name (our match
    criterion), the address, the currency, e-mail, home page and phone, all both ways."""
    return (
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
    )


def payment_terms() -> FieldMapping:
    """An account's payment terms: API v2.0 carries the terms' id, the PAYMENT TERMS option map translates it."""
    return FieldMapping(
        "paymentTermsId",
        "paymenttermscode",
        BOTH,
        transform="option:paymentTerms",
        bc_default_field="Payment Terms Code",
        note="The API carries the payment terms id; the option map translates it (see PAYMENT TERMS).",
    )


def account_number(record: str) -> FieldMapping:
    """BC's No. -> accountnumber, which BC adds disabled (CRM Integration Management, AddExtraFieldMappings)."""
    return FieldMapping(
        "number",
        "accountnumber",
        TO,
        enabled=False,
        bc_default_field="No.",
        note=f"Added disabled by BC; enable it to show the BC {record} number in Sales.",
    )


def currency(
    bc_field: str = "currencyCode", direction: Direction = BOTH, bc_default: str | None = "Currency Code"
) -> FieldMapping:
    """A currency code resolved through the CURRENCY couplings (blank = LCY, see `LCY_NOTE`)."""
    return FieldMapping(
        bc_field,
        "transactioncurrencyid",
        direction,
        lookup=CURRENCY_LOOKUP,
        bc_default_field=bc_default,
        note=LCY_NOTE,
    )


def owner(bc_field: str = "salespersonCode", bc_default: str = "Salesperson Code") -> FieldMapping:
    """BC's Person-ownership owner mapping: salesperson -> the coupled systemuser."""
    return FieldMapping(bc_field, "ownerid", TO, lookup=OWNER_LOOKUP, bc_default_field=bc_default, note=OWNER_NOTE)


def owner_type_gap() -> Gap:
    return Gap(CONSTANT, "owneridtype", Availability.MAPPED_DIFFERENTLY, OWNER_TYPE_REASON)


def missing(bc_default: str, dataverse_field: str | None, reason: str) -> Gap:
    """A BC default field mapping this project cannot carry."""
    return Gap(bc_default, dataverse_field, Availability.NOT_AVAILABLE, reason)


def differently(bc_default: str, dataverse_field: str | None, reason: str) -> Gap:
    """A BC default field mapping whose effect this project reaches another way."""
    return Gap(bc_default, dataverse_field, Availability.MAPPED_DIFFERENTLY, reason)


def all_missing(reason: str, *pairs: tuple[str, str | None]) -> tuple[Gap, ...]:
    """Every default field of a mapping that is out of scope as a whole, with the one reason that applies."""
    return tuple(missing(bc_default, dataverse_field, reason) for bc_default, dataverse_field in pairs)
