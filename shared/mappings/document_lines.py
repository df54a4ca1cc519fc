"""Document lines: POSTEDSALESLINE-INV and SOLINE-ORDERDETAIL, disabled (the document processes come later).

Why they are here although disabled: BC's defaults include them, the coverage against those defaults must be
complete, and the later document processes start from these fields instead of rediscovering them. Lines are never
synchronized on their own (BC refuses to, too): a header's process writes its lines right after the header, because
a line needs its coupled header and Dataverse computes the header's totals from them.

Left to the processes (BC does them in code): the product of a line by its type (item or resource) and the write-in
product, the unit (ITEM UOM / RESOURCE UOM of the line's item), tax, description splitting, discounts and freight.
"""

from __future__ import annotations

from shared.domain.mapping import DeletionPolicy, FieldMapping, FullSyncRule, Lookup, MappingKind, TableMapping
from shared.mappings.common import BOTH, CONSTANT, TO, differently

CALCULATED = "A calculated column in Dataverse (read-only in the Web API): computed from quantity, price and discount."
INVOICE_LINE_AMOUNTS = (
    "Written by the invoice process after the detail's create (Dataverse refuses it on create), with BC's after-insert "
    "values, not the plain field: baseamount = Amount + Inv. Discount Amount + Line Discount Amount, extendedamount = "
    "Amount Including VAT + Inv. Discount Amount; tax = Amount Including VAT - Amount and lineitemnumber = Line No. "
    "are set on create (shared/domain/invoices.py)."
)
LINES_NOTE = "Written by the document process right after its header (a later issue); never run on its own."

POSTEDSALESLINE_INV = TableMapping(
    name="POSTEDSALESLINE-INV",
    bc_entity="salesInvoiceLine",
    bc_entity_set="salesInvoiceLines",
    dataverse_table="invoicedetail",
    dataverse_entity_set="invoicedetails",
    dataverse_id="invoicedetailid",
    direction=TO,
    bc_default_table="Sales Invoice Line",
    dependencies=("POSTEDSALESINV-INV",),
    sync_only_coupled=False,
    enabled=False,
    kind=MappingKind.DOCUMENT_LINES,
    full_sync=FullSyncRule.NEVER,  # they travel with their documents
    fields=(
        FieldMapping(
            "documentId",
            "invoiceid",
            TO,
            lookup=Lookup("POSTEDSALESINV-INV", "invoices", "invoiceid"),
            note="The coupled invoice of the line's document; accepted only on create.",
        ),
        FieldMapping("quantity", "quantity", TO, bc_default_field="Quantity"),
        FieldMapping("discountAmount", "manualdiscountamount", TO, bc_default_field="Line Discount Amount"),
        FieldMapping("unitPrice", "priceperunit", TO, bc_default_field="Unit Price"),
        FieldMapping(None, "ispriceoverridden", TO, constant=True, bc_default_field=CONSTANT, note="BC's price wins."),
    ),
    gaps=(
        differently("Amount", "baseamount", INVOICE_LINE_AMOUNTS),
        differently("Amount Including VAT", "extendedamount", INVOICE_LINE_AMOUNTS),
    ),
    note="Written by the invoice process (POSTEDSALESINV-INV) right after its header; never run on its own.",
)

SOLINE_ORDERDETAIL = TableMapping(
    name="SOLINE-ORDERDETAIL",
    bc_entity="salesOrderLine",
    bc_entity_set="salesOrderLines",
    dataverse_table="salesorderdetail",
    dataverse_entity_set="salesorderdetails",
    dataverse_id="salesorderdetailid",
    direction=BOTH,
    bc_default_table="Sales Line",
    bc_filter="lineType eq 'Item' or lineType eq 'Resource'",
    dependencies=("SALESORDER-ORDER",),
    sync_only_coupled=False,
    deletion_policy=DeletionPolicy.REMOVE_COUPLING,
    enabled=False,
    kind=MappingKind.DOCUMENT_LINES,
    full_sync=FullSyncRule.NEVER,  # they travel with their documents
    fields=(
        FieldMapping(
            "documentId",
            "salesorderid",
            TO,
            lookup=Lookup("SALESORDER-ORDER", "salesorders", "salesorderid"),
            note="The coupled order of the line's document; accepted only on create.",
        ),
        FieldMapping(
            None,
            "producttypecode",
            TO,
            constant=1,
            bc_default_field=CONSTANT,
            note="Product (not a bundle); accepted only on create.",
        ),
        FieldMapping(
            "lineObjectNumber",
            "productid",
            BOTH,
            lookup=Lookup("ITEM-PRODUCT", "products", "productid", bc_key="number", bc_entity_set="items"),
            bc_default_field="No.",
            note="Items here; resources and the write-in product are the order process's.",
        ),
        FieldMapping("sequence", "bcbi_businesscentrallinenumber", BOTH, bc_default_field="Line No."),
        FieldMapping("quantity", "quantity", BOTH, bc_default_field="Quantity"),
        FieldMapping("shippedQuantity", "quantityshipped", BOTH, bc_default_field="Quantity Shipped"),
        FieldMapping(None, "ispriceoverridden", TO, constant=True, bc_default_field=CONSTANT, note="BC's price wins."),
        FieldMapping("unitPrice", "priceperunit", BOTH, bc_default_field="Unit Price"),
    ),
    gaps=(
        differently("Document Type", None, "The salesOrderLines entity set holds order lines only."),
        differently(
            "Currency Code",
            "transactioncurrencyid",
            "A line's currency is its order's: Dataverse copies it from the sales order.",
        ),
        differently("Amount", "baseamount", CALCULATED),
        differently("Amount Including VAT", "extendedamount", CALCULATED),
    ),
    note=f"BC's bidirectional order variant only; a vanished counterpart removes the coupling. {LINES_NOTE}",
)

MAPPINGS = (POSTEDSALESLINE_INV, SOLINE_ORDERDETAIL)
