"""Document headers: SALESORDER-ORDER and POSTEDSALESINV-INV (the document processes, in processes/sales_orders.py,
quotes.py and invoices.py, add what BC does in code).

Why these shapes:
- SALESORDER-ORDER follows BC's *unidirectional* variant: orders are entered in Sales, created in BC by the
  sales-order process, and BC then keeps Sales informed (ship-to, discount, dates) on the coupled orders only. It is
  disabled until that process exists (BC creates it only with sales-order integration on). Fields of BC's
  bidirectional variant are listed too: disabled where API v2.0 carries them, gaps where it does not.
- POSTEDSALESINV-INV pushes posted invoices. API v2.0 `salesInvoices` holds drafts and posted invoices in one set,
  so the BC filter keeps the statuses only a posted invoice has.
- Order totals (Amount, Amount Including VAT) are calculated by Dataverse from the lines, never written; a posted
  invoice's are BC's, written by the invoice process after its lines, as BC does (`INVOICE_TOTALS_REASON`).

What the engine must know: a Submitted sales order is read-only in Sales, so an update activates it, writes and
submits it again (BC does the same); `transactioncurrencyid` of an order and `invoicenumber` of an invoice are
accepted only on create; an invoice whose Dataverse state is no longer Active (paid, canceled) is not updated again.
"""

from __future__ import annotations

from shared.domain.mapping import Direction, FieldMapping, FullSyncRule, MappingKind, TableMapping
from shared.mappings.common import (
    CONSTANT,
    CUSTOMER_LOOKUP,
    INVOICE_SCHEDULE,
    INVOICE_TOTALS_REASON,
    NO_SHIPPING_AGENT,
    ORDER_SCHEDULE,
    TO,
    TOTALS_REASON,
    currency,
    differently,
    missing,
    owner,
    owner_type_gap,
)

# API v2.0 property suffix, BC field suffix, Dataverse attribute suffix
_ADDRESS = (
    ("Name", "Name", "name"),
    ("AddressLine1", "Address", "line1"),
    ("AddressLine2", "Address 2", "line2"),
    ("City", "City", "city"),
    ("Country", "Country/Region Code", "country"),
    ("PostCode", "Post Code", "postalcode"),
    ("State", "County", "stateorprovince"),
)


def addresses(direction: Direction) -> tuple[FieldMapping, ...]:
    """Ship-to and bill-to address fields: the same seven on orders and invoices, on both sides."""
    return tuple(
        FieldMapping(f"{side}{api}", f"{side.lower()}_{attribute}", direction, bc_default_field=f"{label} {field}")
        for side, label in (("shipTo", "Ship-to"), ("billTo", "Bill-to"))
        for api, field, attribute in _ADDRESS
    )


PAYMENT_TERMS_FIELD = FieldMapping(
    "paymentTermsId", "paymenttermscode", TO, transform="option:paymentTerms", bc_default_field="Payment Terms Code"
)
BIDIRECTIONAL_ONLY = "BC's bidirectional order variant only; unidirectional orders keep what Sales entered."
ORDER_OPTIONS_NOTE = (
    "Sales -> BC: the order process sets it when it creates the order (and the quote process on quotes), from the "
    "PAYMENT TERMS coupling of the order's option (the order picklist carries the account's coupled options with "
    "the same values); an option coupled to no BC code refuses the order, naming paymenttermscode. BC -> Sales: "
    "only once SALESORDER-ORDER runs (disabled until the order process keeps Sales informed)."
)
NOT_ON_ORDERS = "not exposed by API v2.0 salesOrders"

SALESORDER_ORDER = TableMapping(
    name="SALESORDER-ORDER",
    bc_entity="salesOrder",
    bc_entity_set="salesOrders",
    dataverse_table="salesorder",
    dataverse_entity_set="salesorders",
    dataverse_id="salesorderid",
    direction=TO,
    bc_default_table="Sales Header",
    bc_filter="status eq 'Open'",
    dependencies=("ITEM-PRODUCT", "RESOURCE-PRODUCT", "OPPORTUNITY"),
    sync_only_coupled=True,
    enabled=False,
    schedule=ORDER_SCHEDULE,
    kind=MappingKind.PROCESS,
    process=(
        "orders are created by the sales-order process and kept up to date by the order status job "
        "(ORDER_SYNC_SCHEDULE)."
    ),
    full_sync=FullSyncRule.BOTH_WAYS_ONLY,  # one way (BC -> Sales) it is the order process, not a table copy
    fields=(
        FieldMapping(
            "number",
            "ordernumber",
            TO,
            bc_default_field="No.",
            note="BC's unidirectional mapping replaces Sales' order number with BC's.",
        ),
        FieldMapping("number", "bcbi_businesscentralordernumber", TO, bc_default_field="No."),
        owner("salesperson"),
        currency(direction=TO),
        *addresses(TO),
        FieldMapping("discountAmount", "discountamount", TO, bc_default_field="Invoice Discount Amount"),
        FieldMapping(
            "paymentTermsId",
            "paymenttermscode",
            TO,
            transform="option:paymentTerms",
            bc_default_field="Payment Terms Code",
            note=ORDER_OPTIONS_NOTE,
        ),
        FieldMapping(
            "requestedDeliveryDate",
            "requestdeliveryby",
            TO,
            transform="blankToNull",
            bc_default_field="Requested Delivery Date",
        ),
        FieldMapping(
            "customerNumber",
            "customerid",
            TO,
            lookup=CUSTOMER_LOOKUP,
            enabled=False,
            bc_default_field="Sell-to Customer No.",
            note=BIDIRECTIONAL_ONLY,
        ),
        FieldMapping(
            "shipmentMethodId",
            "freighttermscode",
            TO,
            transform="option:shipmentMethods",
            enabled=False,
            bc_default_field="Shipment Method Code",
            note=f"{BIDIRECTIONAL_ONLY} Sales -> BC: the order process sets it when it creates the order ("
            "SHIPMENT METHOD's coupling of the order's option; an uncoupled option refuses the order).",
        ),
    ),
    gaps=(
        owner_type_gap(),
        missing(
            "Last Shipment Date",
            "datefulfilled",
            "Last Shipment Date (a FlowField) is on no API v2.0 entity and no standard page.",
        ),
        differently("Amount", "totalamountlessfreight", TOTALS_REASON),
        differently("Amount Including VAT", "totalamount", TOTALS_REASON),
        missing("Shipping Agent Code", "shippingmethodcode", NO_SHIPPING_AGENT),
        differently("Document Type", None, "The salesOrders entity set holds orders only."),
        missing(
            "Your Reference",
            "ordernumber",
            f"Your Reference is {NOT_ON_ORDERS}; the sales-order process sets it when it creates the order.",
        ),
        differently(
            CONSTANT,
            "customeridtype",
            "The customer is written as customerid_account@odata.bind, which sets customeridtype (read-only).",
        ),
        missing(
            "Payment Discount %",
            "discountpercentage",
            f"Payment Discount % is {NOT_ON_ORDERS}; the sales-order process sets it from discountpercentage through "
            "BC's Sales Order page (42) when it creates the order (BC's bidirectional variant only maps it back).",
        ),
        missing(
            "Work Description",
            "description",
            f"Work Description is {NOT_ON_ORDERS}; the sales-order process sets it through the Sales Order page (42).",
        ),
    ),
    note=(
        "BC's filter Document Type = Order and Status = Released is API v2.0's status Open (Released or Pending "
        "Prepayment). The order status updates (shipped, invoiced) are the order process's, not field mappings. "
        "Not carried: the Sales order's notes (annotations without attachment, which BC copies to the BC order as "
        "Record Links): API v2.0 serves no record links or notes, and no standard page does."
    ),
)

POSTEDSALESINV_INV = TableMapping(
    name="POSTEDSALESINV-INV",
    bc_entity="salesInvoice",
    bc_entity_set="salesInvoices",
    dataverse_table="invoice",
    dataverse_entity_set="invoices",
    dataverse_id="invoiceid",
    direction=TO,
    bc_default_table="Sales Invoice Header",
    bc_filter="status eq 'Open' or status eq 'Paid' or status eq 'Canceled' or status eq 'Corrective'",
    dependencies=("ITEM-PRODUCT", "RESOURCE-PRODUCT", "OPPORTUNITY"),
    sync_only_coupled=True,
    schedule=INVOICE_SCHEDULE,
    kind=MappingKind.PROCESS,
    process=(
        "posted invoices are created by the invoice process (INVOICE_SYNC_SCHEDULE or "
        "POST /api/posted-sales-invoices/{bcId}/create-in-dataverse), with their lines, order link and payment status."
    ),
    fields=(
        FieldMapping(
            "number",
            "invoicenumber",
            TO,
            bc_default_field="No.",
            note="Accepted only on create: the engine leaves it out of updates.",
        ),
        owner("salesperson"),
        currency(direction=TO),
        FieldMapping("dueDate", "duedate", TO, transform="blankToNull", bc_default_field="Due Date"),
        *addresses(TO),
        FieldMapping("discountAmount", "discountamount", TO, bc_default_field="Invoice Discount Amount"),
        PAYMENT_TERMS_FIELD,
        FieldMapping(
            "customerNumber",
            "customerid",
            TO,
            lookup=CUSTOMER_LOOKUP,
            note="BC sets the customer in code: the account coupled to the sell-to customer.",
        ),
    ),
    gaps=(
        owner_type_gap(),
        missing("Shipment Date", "datedelivered", "Shipment Date is not exposed by API v2.0 salesInvoices."),
        differently("Amount", "totalamountlessfreight", INVOICE_TOTALS_REASON),
        differently("Amount Including VAT", "totalamount", INVOICE_TOTALS_REASON),
        missing("Shipping Agent Code", "shippingmethodcode", NO_SHIPPING_AGENT),
        missing(
            "Work Description",
            "description",
            "Work Description is not exposed by API v2.0 salesInvoices (BC falls back to the shipment method's "
            "description, which the invoice process can do).",
        ),
    ),
    note=(
        "Draft statuses (blank, Draft, In Review) are left out by the filter. The invoice process adds what BC does "
        "in code: the order link by Your Reference, the price list, the lines (with BC's Line No., tax, amounts and "
        "the line's own unit), the totals, and the payment status (written from Active only: a Paid invoice is set "
        "back to Active first, as BC does)."
    ),
)

MAPPINGS = (SALESORDER_ORDER, POSTEDSALESINV_INV)
