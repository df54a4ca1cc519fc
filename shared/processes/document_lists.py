"""The Sales documents as an admin sees them in BC's lists, one page at a time (`list_pages`), each row with what the
processes did to it and whether its action can be taken now:

- Sales orders (BC's page 5353 "Sales Orders - Microsoft Dynamics 365 Sales"): BC lists Submitted orders not yet sent
  to the back office (`lastbackofficesubmit` empty) and, with several companies, this company's or unstamped ones
  (its OnOpenPage). `pending=true` is that list; by default every order past Active is listed, so an order made a BC
  order stays in view with its BC order number (the SALESORDER-ORDER coupling; Sales' `bcbi_businesscentralordernumber`
  is the number BC wrote back) and a refused one with its sync error entry (kept by `processes/sales_orders`).
  Company scope (issue 22): the company's view of Sales already hides orders stamped for another company
  (`connectors/dataverse/company_scope.py`); an order whose customer is another company's is listed with the
  outcome `anotherCompany` and cannot be created here (`document_parts.AnotherCompanysDocument`).
- Quotes: every revision with its number, state and status, the BC quote it was processed into (SALESQUOTE-QUOTE) and
  whether "Process" has anything left to do (the Auto Process job's own test: an Active quote not coupled yet, a Won
  quote not converted yet).
- Posted sales invoices (BC's posted invoices): each with its Sales invoice (POSTEDSALESINV-INV) and that invoice's
  status in Sales, or "not in Sales"; the payment status BC's remaining amount asks for (`domain/invoices
  .payment_status`) is shown next to it, so a payment Sales has not heard of yet is visible before "Update Account
  Statistics" (or the invoice timer) writes it.

What the three lists share (a page of Dataverse rows; the customers, sync errors and BC numbers of a page; option
labels) is in `document_list_rows.py`. Reads only: the actions stay the routes of `triggers/http_documents.py` and
`triggers/statistics.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shared.domain.invoices import payment_status
from shared.domain.records import RecordErrorEntry, Side
from shared.engine.context import SyncContext
from shared.engine.list_pages import PageRequest, bc_after, both, token_after
from shared.ports import Row
from shared.processes.document_list_rows import (
    bc_numbers,
    customer_body,
    customers_of,
    dataverse_page,
    error_body,
    label,
    record_errors,
    row_by_id,
    rows_by_id,
)
from shared.processes.document_parts import CUSTOMER_MAPPING
from shared.processes.invoices import BC_INVOICES, POSTED
from shared.processes.invoices import MAPPING as INVOICE_MAPPING
from shared.processes.quote_orders import BC_QUOTES, CONVERTED_MARK, QUOTE_MAPPING
from shared.processes.quotes import WON_MARK
from shared.processes.sales_orders import BC_ORDERS
from shared.processes.sales_orders import MAPPING as ORDER_MAPPING

ORDER_LIST, QUOTE_LIST, INVOICE_LIST = "salesOrders", "quotes", "postedSalesInvoices"
ORDER_STATES = {0: "Active", 1: "Submitted", 2: "Canceled", 3: "Fulfilled", 4: "Invoiced"}
ORDER_STATUSES = {1: "New", 2: "Pending", 3: "In Progress", 700970000: "In Progress", 4: "No Money",
                  100001: "Complete", 100002: "Partial", 100003: "Invoiced"}  # fmt: skip
QUOTE_STATES = {0: "Draft", 1: "Active", 2: "Won", 3: "Closed"}
QUOTE_STATUSES = {1: "In Progress", 2: "In Progress", 3: "Open", 4: "Won", 5: "Lost", 6: "Canceled", 7: "Revised"}
INVOICE_STATES = {0: "Active", 1: "Closed", 2: "Paid", 3: "Canceled"}
INVOICE_STATUSES = {1: "New", 2: "Partially Shipped", 3: "Canceled", 4: "Billed", 5: "Booked", 6: "Installed",
                    7: "Paid in Full", 100001: "Complete", 100002: "Partial", 100003: "Canceled"}  # fmt: skip
SUBMITTED = 1
QUOTE_ACTIVE, QUOTE_WON = 1, 2
ORDER_SELECT = ["name", "ordernumber", "statecode", "statuscode", "_customerid_value", "totalamount",
                "lastbackofficesubmit", "bcbi_businesscentralordernumber"]  # fmt: skip
QUOTE_SELECT = ["name", "quotenumber", "revisionnumber", "statecode", "statuscode", "_customerid_value", "totalamount"]
INVOICE_SELECT = ["id", "number", "customerId", "customerNumber", "customerName", "invoiceDate", "currencyCode",
                  "totalAmountIncludingTax", "remainingAmount", "status", "orderNumber"]  # fmt: skip


# -- Sales orders ------------------------------------------------------------------------------------------------
def sales_orders(context: SyncContext, page: PageRequest, *, pending: bool) -> dict[str, Any]:
    """One page of Sales orders past Active (or, `pending`, BC's list: Submitted, not sent to the back office)."""
    scope = "statecode eq 1 and lastbackofficesubmit eq null" if pending else "statecode ne 0"
    rows, token = dataverse_page(context, "salesorders", "salesorderid", ORDER_SELECT, scope, page, ORDER_LIST)
    ids = [str(row["salesorderid"]) for row in rows]
    couplings = context.couplings.find_many_by_dataverse_ids(ORDER_MAPPING, ids)
    errors = record_errors(context, ORDER_MAPPING, Side.DATAVERSE, [i for i in ids if i not in couplings])
    numbers = bc_numbers(
        context,
        BC_ORDERS,
        [
            c.bc_id
            for i, c in couplings.items()
            if not row_by_id(rows, "salesorderid", i).get("bcbi_businesscentralordernumber")
        ],
    )
    customers = customers_of(context, [row.get("_customerid_value") for row in rows])
    value = []
    for row in rows:
        order_id = str(row["salesorderid"])
        coupling = couplings.get(order_id)
        customer = str(row.get("_customerid_value") or "")
        bc_order = None
        if coupling is not None:
            number = row.get("bcbi_businesscentralordernumber") or numbers.get(coupling.bc_id.lower())
            bc_order = {"id": coupling.bc_id, "number": number}
        outcome = _order_outcome(row, coupling is not None, errors.get(order_id), customers.get(customer.lower()))
        value.append({
            "dataverseId": order_id,
            "orderNumber": row.get("ordernumber"),
            "name": row.get("name"),
            "customer": customer_body(customer, customers),
            "totalAmount": row.get("totalamount"),
            "state": label(ORDER_STATES, row.get("statecode")),
            "status": label(ORDER_STATUSES, row.get("statuscode")),
            "lastBackofficeSubmit": row.get("lastbackofficesubmit"),
            "outcome": outcome,
            "canCreate": outcome in ("ready", "refused"),
            "bcOrder": bc_order,
            "error": error_body(errors.get(order_id)),
        })  # fmt: skip
    return {"value": value, "continuationToken": token}


def _order_outcome(row: Row, coupled: bool, error: RecordErrorEntry | None, customer: dict[str, Any] | None) -> str:
    """created (a BC order exists) / anotherCompany / notSubmitted / refused (its sync error) / ready."""
    if coupled:
        return "created"
    if customer is not None and customer.get("anotherCompany"):
        return "anotherCompany"
    if row.get("statecode") != SUBMITTED:
        return "notSubmitted"
    return "refused" if error is not None else "ready"


# -- quotes --------------------------------------------------------------------------------------------------------
def quotes(context: SyncContext, page: PageRequest, *, state: int | None) -> dict[str, Any]:
    """One page of Sales quotes (every revision; `state` narrows to Draft, Active, Won or Closed)."""
    scope = f"statecode eq {state}" if state is not None else None
    rows, token = dataverse_page(context, "quotes", "quoteid", QUOTE_SELECT, scope, page, QUOTE_LIST)
    ids = [str(row["quoteid"]) for row in rows]
    couplings = context.couplings.find_many_by_dataverse_ids(QUOTE_MAPPING, ids)
    errors = record_errors(context, QUOTE_MAPPING, Side.DATAVERSE, [i for i in ids if i not in couplings])
    numbers = bc_numbers(context, BC_QUOTES, [c.bc_id for c in couplings.values()])
    customers = customers_of(context, [row.get("_customerid_value") for row in rows])
    value = []
    for row in rows:
        quote_id = str(row["quoteid"])
        coupling = couplings.get(quote_id)
        customer = str(row.get("_customerid_value") or "")
        outcome = _quote_outcome(row, coupling.values_hash if coupling else None, coupling is not None,
                                 errors.get(quote_id), customers.get(customer.lower()))  # fmt: skip
        value.append({
            "dataverseId": quote_id,
            "quoteNumber": row.get("quotenumber"),
            "revisionNumber": int(row.get("revisionnumber") or 0),
            "name": row.get("name"),
            "customer": customer_body(customer, customers),
            "totalAmount": row.get("totalamount"),
            "state": label(QUOTE_STATES, row.get("statecode")),
            "status": label(QUOTE_STATUSES, row.get("statuscode")),
            "outcome": outcome,
            "canProcess": outcome in ("ready", "refused", "waitingForOrder"),
            "bcQuote": {"id": coupling.bc_id, "number": numbers.get(coupling.bc_id.lower())} if coupling else None,
            "error": error_body(errors.get(quote_id)),
        })  # fmt: skip
    return {"value": value, "continuationToken": token}


def _quote_outcome(
    row: Row, mark: str | None, coupled: bool, error: RecordErrorEntry | None, customer: dict[str, Any] | None
) -> str:
    """processed / waitingForOrder (won, its BC quote kept until a Submitted order exists) / converted (the BC
    order made) / anotherCompany / notActive (Draft or Closed: nothing to process) / refused / ready."""
    state = row.get("statecode")
    if coupled:
        if state == QUOTE_WON:
            return "converted" if mark == CONVERTED_MARK else "waitingForOrder" if mark == WON_MARK else "ready"
        return "processed"
    if customer is not None and customer.get("anotherCompany"):
        return "anotherCompany"
    if state not in (QUOTE_ACTIVE, QUOTE_WON):
        return "notActive"
    return "refused" if error is not None else "ready"


# -- posted sales invoices -------------------------------------------------------------------------------------
def posted_sales_invoices(context: SyncContext, page: PageRequest) -> dict[str, Any]:
    """One page of BC's posted sales invoices (in id order), each with its Sales invoice and status there."""
    ids: list[str] = []
    for chunk in context.bc.list_ids(BC_INVOICES, both(POSTED, bc_after(page.after))):
        ids += chunk
        if len(ids) > page.top:
            break
    more, ids = len(ids) > page.top, ids[: page.top]
    invoices = _bc_rows(context, ids)
    couplings = context.couplings.find_many_by_bc_ids(INVOICE_MAPPING, ids)
    in_sales = rows_by_id(context, "invoices", "invoiceid", [c.dataverse_id for c in couplings.values()],
                          ["name", "invoicenumber", "statecode", "statuscode"])  # fmt: skip
    customers = context.couplings.find_many_by_bc_ids(
        CUSTOMER_MAPPING, {str(r.get("customerId")) for r in invoices.values() if r.get("customerId")}
    )
    errors = record_errors(context, INVOICE_MAPPING, Side.BC, [i for i in ids if i not in couplings])
    value = []
    for bc_id in ids:
        invoice = invoices.get(bc_id)
        if invoice is None:  # deleted between the two reads
            continue
        coupling = couplings.get(bc_id)
        sales = in_sales.get(coupling.dataverse_id.lower()) if coupling else None
        wanted = payment_status(
            float(invoice.get("remainingAmount") or 0),
            float(invoice.get("totalAmountIncludingTax") or 0),
            canceled=invoice.get("status") == "Canceled",
        )
        customer_coupled = str(invoice.get("customerId")) in customers
        value.append({
            "bcId": bc_id,
            "number": invoice.get("number"),
            "customer": {"id": invoice.get("customerId"), "number": invoice.get("customerNumber"),
                         "name": invoice.get("customerName"), "coupled": customer_coupled},
            "invoiceDate": invoice.get("invoiceDate"),
            "currencyCode": invoice.get("currencyCode") or None,
            "totalAmountIncludingTax": invoice.get("totalAmountIncludingTax"),
            "remainingAmount": invoice.get("remainingAmount"),
            "bcStatus": invoice.get("status"),
            "orderNumber": invoice.get("orderNumber") or None,
            "paymentStatus": _invoice_status(*wanted),
            "salesInvoice": _sales_invoice(coupling.dataverse_id, sales) if coupling else None,
            "salesStatus": _invoice_status(sales.get("statecode"), sales.get("statuscode")) if sales
            else "missing in Sales" if coupling else "not in Sales",
            "canCreate": coupling is None and customer_coupled,
            "error": error_body(errors.get(bc_id)),
        })  # fmt: skip
    token = token_after(INVOICE_LIST, {"id": ids[-1].lower()}) if more and ids else None
    return {"value": value, "continuationToken": token}


def _invoice_status(state: Any, status: Any) -> str:
    """As Sales shows an invoice: Billed (Active), Paid Partial / Paid Complete, Canceled."""
    if state == 2:
        return f"Paid {label(INVOICE_STATUSES, status)}"
    return label(INVOICE_STATUSES, status) if state == 0 else label(INVOICE_STATES, state)


def _sales_invoice(dataverse_id: str, row: Row | None) -> dict[str, Any]:
    row = row or {}
    return {
        "dataverseId": dataverse_id,
        "invoiceNumber": row.get("invoicenumber"),
        "name": row.get("name"),
        "state": label(INVOICE_STATES, row.get("statecode")),
        "status": label(INVOICE_STATUSES, row.get("statuscode")),
    }


def _bc_rows(context: SyncContext, ids: Sequence[str]) -> dict[str, Row]:
    """The listed invoices in one read of their id range (`id_range_filter`), or by ids where BC has no range."""
    if not ids:
        return {}
    ranged = context.bc.id_range_filter(BC_INVOICES, ids[0], ids[-1])
    if ranged is None:
        return context.bc.get_entities(BC_INVOICES, ids, INVOICE_SELECT, POSTED)
    wanted = set(ids)
    return {
        str(row["id"]): row
        for listed in context.bc.list_changed_since(BC_INVOICES, None, INVOICE_SELECT, None, both(POSTED, ranged))
        for row in listed.rows
        if str(row["id"]) in wanted
    }
