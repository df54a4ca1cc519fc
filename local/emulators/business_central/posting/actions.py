"""The bound actions of sales documents (api-facts A7), run by `app` inside one store transaction, so a refusal
half-way leaves nothing behind. Each returns the `(entity set, row)` its 204 `Location` header points at.

- `salesOrders/shipAndInvoice`: posts a shipment and an invoice, then deletes the fully invoiced order (BC's Sales-
  Post does). The posted invoice gets a NEW id (the posted header's SystemId) and links back by `orderNumber`/
  `orderId` (api-facts A5 "Id continuity").
- `salesQuotes/makeOrder` and `makeInvoice`: a new order or draft invoice from the quote; the quote is removed. The
  order's Quote No. is the quote's number (shown on pages 9305 and 42).
- `salesInvoices/post` (drafts only): the invoice KEEPS its id (Draft Invoice SystemId) and gets a posted number.
- `salesInvoices/cancel` (posted only): status Canceled and remainingAmount 0, as BC's page reports them.
"""

from __future__ import annotations

from local.emulators.business_central.api import documents
from local.emulators.business_central.api.writer import Writer
from local.emulators.business_central.errors import dialog
from local.emulators.business_central.posting.common import (
    check_something_to_post,
    copy_header,
    copy_lines,
    date_or,
    due_date,
    remove_document,
    today,
    total_including_tax,
)
from local.emulators.business_central.schema import EntitySet
from local.emulators.store import Row

POSTED_SERIES = "postedSalesInvoices"
SHIPMENT_SERIES = "salesShipments"


def ship_and_invoice(writer: Writer, company_id: str, orders: EntitySet, order: Row) -> tuple[str, Row]:
    """Ship and invoice the whole order. Posting Date and Document Date are the order's when the client set them
    (BC's `postingDate` and `orderDate`, both transferred to the posted documents), else WorkDate (today)."""
    lines = documents.line_rows(writer, company_id, orders, order["id"])
    check_something_to_post(lines)
    posting_date = date_or(order.get("postingDate"), today())
    document_date = date_or(order.get("orderDate"), today())
    due = due_date(writer, company_id, order, document_date)
    dates = {"postingDate": posting_date.isoformat(), "dueDate": due.isoformat()}

    shipments = writer.entity_set("salesShipments")
    shipment = copy_header(
        order,
        shipments,
        number=writer.next_number(company_id, SHIPMENT_SERIES),
        orderNumber=order["number"],
        invoiceDate=document_date.isoformat(),
        **dates,
    )
    writer.put(company_id, shipments, shipment)
    copy_lines(writer, company_id, lines, shipments, shipment, shipmentDate=posting_date.isoformat())

    invoices = writer.entity_set("salesInvoices")
    invoice = copy_header(
        order,
        invoices,
        number=writer.next_number(company_id, POSTED_SERIES),
        orderId=order["id"],
        orderNumber=order["number"],
        invoiceDate=document_date.isoformat(),
        remainingAmount=total_including_tax(order),
        **dates,
    )
    invoice["@posted"] = True
    documents.status(invoices, invoice)
    writer.put(company_id, invoices, invoice)
    copy_lines(writer, company_id, lines, invoices, invoice)

    remove_document(writer, company_id, orders, order)
    return invoices.name, invoice


def _from_quote(writer: Writer, company_id: str, quote: Row, target_set: EntitySet, **values: str) -> Row:
    """A new unposted document with the quote's header and lines; the quote is removed, as BC's Sales-Quote to
    Order / to Invoice do."""
    quotes = writer.entity_set("salesQuotes")
    lines = documents.line_rows(writer, company_id, quotes, quote["id"])
    document = copy_header(quote, target_set, number=writer.next_number(company_id, target_set.name), **values)
    copy_lines(writer, company_id, lines, target_set, document)
    documents.recompute_totals(writer, company_id, target_set, document)
    writer.put(company_id, target_set, document)
    remove_document(writer, company_id, quotes, quote)
    return document


def make_order(writer: Writer, company_id: str, quotes: EntitySet, quote: Row) -> tuple[str, Row]:
    """Sales-Quote to Order also sets the order's Quote No. (kept as `@quoteNumber`: API v2.0 has no such property;
    pages 9305 and 42 show it as Quote_No)."""
    orders = writer.entity_set("salesOrders")
    document_date = date_or(quote.get("documentDate"), today())
    values = {"orderDate": document_date.isoformat(), "@quoteNumber": str(quote["number"])}
    return orders.name, _from_quote(writer, company_id, quote, orders, **values)


def make_invoice(writer: Writer, company_id: str, quotes: EntitySet, quote: Row) -> tuple[str, Row]:
    invoices = writer.entity_set("salesInvoices")
    document_date = date_or(quote.get("documentDate"), today())
    return invoices.name, _from_quote(writer, company_id, quote, invoices, invoiceDate=document_date.isoformat())


def post_invoice(writer: Writer, company_id: str, invoices: EntitySet, invoice: Row) -> tuple[str, Row]:
    """Post a draft invoice in place: same id (Sales Invoice Header."Draft Invoice SystemId"), posted number, and
    the open amount of its new customer ledger entry."""
    if invoice.get("@posted"):
        raise dialog("The action can be applied to a draft invoice only.")
    check_something_to_post(documents.line_rows(writer, company_id, invoices, invoice["id"]))
    posted = dict(invoice)
    document_date = date_or(invoice.get("invoiceDate"), today())
    default_due = due_date(writer, company_id, invoice, document_date)
    posted.update(
        number=writer.next_number(company_id, POSTED_SERIES),
        invoiceDate=document_date.isoformat(),
        postingDate=date_or(invoice.get("postingDate"), today()).isoformat(),
        dueDate=date_or(invoice.get("dueDate"), default_due).isoformat(),
        remainingAmount=total_including_tax(invoice),
    )
    posted["@posted"] = True
    documents.status(invoices, posted)
    writer.put(company_id, invoices, posted)
    return invoices.name, posted


def cancel_invoice(writer: Writer, company_id: str, invoices: EntitySet, invoice: Row) -> tuple[str, Row]:
    """Cancel a posted invoice (BC posts a corrective credit memo, which is not emulated). BC refuses a draft, an
    invoice already canceled, and one that is fully or partly paid."""
    if not invoice.get("@posted"):
        raise dialog("The action can be applied to a posted invoice only.")
    if invoice.get("@canceled"):
        raise dialog("You cannot cancel this posted sales invoice because it has already been canceled.")
    if round(float(invoice.get("remainingAmount") or 0), 2) < total_including_tax(invoice):
        raise dialog("You cannot cancel this posted sales invoice because it is fully or partially paid.")
    canceled = dict(invoice)
    canceled["@canceled"] = True
    canceled["remainingAmount"] = 0
    documents.status(invoices, canceled)
    writer.put(company_id, invoices, canceled)
    return invoices.name, canceled
