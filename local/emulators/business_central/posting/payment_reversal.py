"""`POST /_admin/payments/unapply {"paymentId", "companyId"?}`: BC's "Unapply Entries" on a customer payment.

Why: a payment applied to the wrong invoice is unapplied in BC, and the invoice's Remaining Amount grows back; the
sync must then move the Sales invoice from Paid back to Active / Billed. API v2.0 cannot do this, so tests trigger
it here (no auth, like the other admin routes). A payment unapplied twice is refused, as BC refuses to unapply an
entry that is not applied.
"""

from __future__ import annotations

from local.emulators.business_central.api import documents
from local.emulators.business_central.api.writer import Writer
from local.emulators.business_central.errors import dialog, not_found
from local.emulators.business_central.naming import table_name
from local.emulators.business_central.posting.admin import PAYMENT_LEDGER, _company_id, _text
from local.emulators.service import admin_body
from local.emulators.web import Request, Response


def unapply_payment(writer: Writer, request: Request) -> Response:
    body = admin_body(request)
    payment_id = _text(body, "paymentId")
    invoices = writer.entity_set("salesInvoices")
    with writer.store.transaction():
        company_id = _company_id(writer, body)
        ledger = table_name(company_id, PAYMENT_LEDGER)
        entry = writer.store.get(ledger, payment_id)
        if entry is None:
            raise not_found("payment", payment_id)
        if entry.get("unapplied"):
            raise dialog(f"Payment {entry.get('documentNumber')} is not applied to any entry.")
        invoice = writer.store.get(table_name(company_id, "salesInvoices"), str(entry["appliesToInvoiceId"]))
        if invoice is None:
            raise not_found("salesInvoice", str(entry["appliesToInvoiceId"]))
        reopened = dict(invoice)
        reopened["remainingAmount"] = round(float(invoice.get("remainingAmount") or 0) + float(entry["amount"]), 2)
        documents.status(invoices, reopened)
        writer.put(company_id, invoices, reopened)
        version = writer.store.next_version()
        writer.store.put(
            ledger, payment_id, {**entry, "unapplied": True, "@version": version}, version=version, track=False
        )
    return Response.json(
        200, {"paymentId": payment_id, "invoiceId": reopened["id"], "remainingAmount": reopened["remainingAmount"]}
    )
