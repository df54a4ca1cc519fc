"""Admin-side business events of the BC emulator: things that happen in BC through the UI or other processes and
that API v2.0 cannot do, so tests trigger them under `/_admin` (no auth):

- `POST /_admin/payments {"invoiceId", "amount", "companyId"?}`: a customer payment posted and applied to a posted
  invoice. The invoice's remainingAmount drops (it reads the customer ledger entry's Remaining Amount) and its
  status becomes Paid at 0; an overpayment is refused rather than leaving a credit, so tests stay unambiguous.
  The payment is kept in an internal ledger table, not in `customerPayments`: that set holds UNPOSTED journal
  lines (api-facts A5), and a posted payment showing up there would mislead a client.
- `POST /_admin/release` / `POST /_admin/reopen {"orderId" | "orderNumber", "companyId"?}`: Release and Reopen
  of a sales order (v2.0 has no such action, api-facts A5). Released orders read `status` Open (A6) and their
  lines cannot change.
- `POST /_admin/backdate {"invoiceId", "postingDate"?, "dueDate"?, "invoiceDate"?, "companyId"?}`: move an
  invoice's dates into the past, so the "up to yesterday" FlowFields of customerFinancialDetails can be tested.

Errors have BC's shape (`{"error": {"code", "message"}}`): 404 `BadRequest_NotFound` for an unknown company or
document, 400 `Application_DialogException` for a business rule, 400 `BadRequest` for a malformed body.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from local.emulators.business_central.api import documents
from local.emulators.business_central.api.writer import Writer
from local.emulators.business_central.errors import NOT_FOUND, BcError, bad_request, dialog, not_found
from local.emulators.business_central.naming import table_name
from local.emulators.business_central.posting.common import check_something_to_post, today
from local.emulators.service import admin_body
from local.emulators.store import Row
from local.emulators.web import Request, Response

PAYMENT_LEDGER = "@customerPaymentEntries"  # internal table: never an API entity set


def _company_id(writer: Writer, body: dict[str, Any]) -> str:
    """The body's `companyId`, else the first company by name (the demo seed has only one)."""
    given = body.get("companyId")
    if given is not None:
        if not isinstance(given, str) or writer.store.get("companies", given) is None:
            raise BcError(404, NOT_FOUND, f"The company '{given}' does not exist.")
        return given
    companies = sorted(writer.store.rows("companies"), key=lambda c: str(c.get("name")))
    if not companies:
        raise BcError(404, NOT_FOUND, "There is no company: seed one first.")
    return str(companies[0]["id"])


def _text(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise bad_request(f"'{key}' must be a non-empty string.")
    return value


def _invoice(writer: Writer, company_id: str, body: dict[str, Any]) -> Row:
    invoice_id = _text(body, "invoiceId")
    row = writer.store.get(table_name(company_id, "salesInvoices"), invoice_id)
    if row is None:
        raise not_found("salesInvoice", invoice_id)
    return row


def _order(writer: Writer, company_id: str, body: dict[str, Any]) -> Row:
    if "orderId" in body:
        order_id = _text(body, "orderId")
        row = writer.store.get(table_name(company_id, "salesOrders"), order_id)
    else:
        order_id = _text(body, "orderNumber")
        row = writer.find_by(company_id, "salesOrders", "number", order_id.strip().upper())
    if row is None:
        raise not_found("salesOrder", order_id)
    return row


def apply_payment(writer: Writer, request: Request) -> Response:
    body = admin_body(request)
    amount = body.get("amount")
    if not isinstance(amount, int | float) or isinstance(amount, bool) or amount <= 0:
        raise bad_request("'amount' must be a positive number.")
    amount = round(float(amount), 2)
    invoices = writer.entity_set("salesInvoices")
    with writer.store.transaction():
        company_id = _company_id(writer, body)
        invoice = _invoice(writer, company_id, body)
        if not invoice.get("@posted"):
            raise dialog(f"Invoice {invoice.get('number')} is a draft: only a posted invoice can be paid.")
        if invoice.get("@canceled"):
            raise dialog(f"Invoice {invoice.get('number')} is canceled and cannot be paid.")
        remaining = round(float(invoice.get("remainingAmount") or 0), 2)
        if amount > remaining:
            raise dialog(
                f"The payment of {amount:.2f} exceeds the remaining amount {remaining:.2f} of invoice "
                f"{invoice.get('number')}."
            )
        paid = dict(invoice)
        paid["remainingAmount"] = round(remaining - amount, 2)
        documents.status(invoices, paid)
        writer.put(company_id, invoices, paid)
        entry = {
            "id": str(uuid.uuid4()),
            "documentNumber": writer.next_number(company_id, "customerPayments"),
            "customerId": invoice.get("customerId"),
            "customerNumber": invoice.get("customerNumber"),
            "postingDate": today().isoformat(),
            "amount": amount,
            "appliesToInvoiceId": invoice["id"],
            "appliesToInvoiceNumber": invoice.get("number"),
        }
        version = writer.store.next_version()
        writer.store.put(
            table_name(company_id, PAYMENT_LEDGER),
            entry["id"],
            {**entry, "@version": version},
            version=version,
            track=False,
        )
    return Response.json(
        200,
        {
            "paymentId": entry["id"],
            "documentNumber": entry["documentNumber"],
            "invoiceId": paid["id"],
            "invoiceNumber": paid.get("number"),
            "amount": amount,
            "remainingAmount": paid["remainingAmount"],
            "status": paid["status"],
        },
    )


def _set_released(writer: Writer, request: Request, released: bool) -> Response:
    body = admin_body(request)
    orders = writer.entity_set("salesOrders")
    with writer.store.transaction():
        company_id = _company_id(writer, body)
        order = _order(writer, company_id, body)
        if bool(order.get("@released")) != released:  # BC exits quietly when the status is already the target one
            if released:
                check_something_to_post(documents.line_rows(writer, company_id, orders, order["id"]))
            order = dict(order)
            order["@released"] = released
            documents.status(orders, order)
            writer.put(company_id, orders, order)
    return Response.json(
        200,
        {"orderId": order["id"], "orderNumber": order.get("number"), "released": released, "status": order["status"]},
    )


def release_order(writer: Writer, request: Request) -> Response:
    """BC refuses to release an order without a line to post ("There is nothing to release ...")."""
    return _set_released(writer, request, released=True)


def reopen_order(writer: Writer, request: Request) -> Response:
    return _set_released(writer, request, released=False)


def backdate_invoice(writer: Writer, request: Request) -> Response:
    body = admin_body(request)
    changes: dict[str, str] = {}
    for key in ("postingDate", "dueDate", "invoiceDate"):
        if key in body:
            try:
                changes[key] = date.fromisoformat(_text(body, key)).isoformat()
            except ValueError:
                raise bad_request(f"'{key}' must be an ISO date (YYYY-MM-DD).") from None
    if not changes:
        raise bad_request("Give at least one of postingDate, dueDate, invoiceDate.")
    invoices = writer.entity_set("salesInvoices")
    with writer.store.transaction():
        company_id = _company_id(writer, body)
        invoice = dict(_invoice(writer, company_id, body))
        invoice.update(changes)
        writer.put(company_id, invoices, invoice)
    return Response.json(
        200, {"invoiceId": invoice["id"], **{k: invoice[k] for k in ("postingDate", "dueDate", "invoiceDate")}}
    )
