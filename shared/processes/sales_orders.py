"""Sales orders from Sales become BC orders (BC's "Create in Business Central" and Auto Create Sales Orders job).

The rules are BC's (bc-integration-facts "sales order creation from dataverse"): only Submitted orders; the customer
from the coupled account (a contact's parent account); the currency from its coupling; `name` -> External Document
No., `ordernumber` -> Your Reference, `requestdeliveryby` -> Requested Delivery Date, `description` -> Work
Description, `discountpercentage` -> Payment Discount % (BC validates it from the same field it uses for the header
discount: CRMSalesOrdertoSalesOrder.CreateSalesOrderHeader; page 42, as API v2.0 has no such field), payment terms
and freight terms through their option mappings (`document_parts.header_options`); lines by `domain/documents.py`,
with each product line's own unit and the freight as a G/L Account line of the freight account set up. Afterwards
the order is coupled (SALESORDER-ORDER) and the Sales order gets `lastbackofficesubmit` and the BC number (it is
switched to Active for that write and back to Submitted).

Created once only, even when two timer runs or a timer and a manual call race:
- the BC order's SystemId is uuid5(mapping, Sales order id), so a second create finds the first order (the client
  returns the existing entity) instead of making another, and the lines go in the same deep insert, so an order
  never exists without its lines;
- the coupling is created with a conditional insert: of two racers one wins, the other reads the winner's coupling;
- every step after the create is idempotent (Your Reference PATCH, the Sales write-back), so a crash anywhere is
  repaired by the next call, which sees the coupling and finishes what is missing.
A refused order (not submitted, uncoupled customer, missing write-in setup, uncoupled product) is refused before
anything is written to BC and its error is kept in the sync errors of SALESORDER-ORDER, keyed by the Sales order.

Several BC companies on one Sales org (issue 22; the company's view of Sales: `connectors/dataverse/company_scope.py`):
an order stamped for another company is not seen (404 orderNotFound), nor is one whose customer is stamped for
another company (`document_parts.AnotherCompanysDocument`): Auto Create skips it, neither created nor failed, with no
sync error here. Before its BC order is made, the order is claimed for this company (`_claim`: stamped, conditional
on the version read), so of two companies racing on one unstamped order one converts it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from shared.domain.coupling import Coupling
from shared.domain.documents import freight_line, header_discount, header_texts
from shared.domain.errors import ConcurrencyError, ConflictError, NotFoundError, RecordError, SyncError
from shared.domain.records import Side
from shared.engine.context import SyncContext
from shared.engine.setup import Setup
from shared.engine.sides import deterministic_id
from shared.ports import QuoteArchive
from shared.processes.document_parts import (
    HEADER_SELECT,
    AnotherCompanysDocument,
    bc_currency_code,
    bc_customer_id,
    bc_lines,
    header_options,
    read_details,
)
from shared.processes.quote_orders import finish_lines, lines_unfinished, order_from_quote, quote_coupling

log = logging.getLogger("bc_sales_sync.sales_orders")
MAPPING = "SALESORDER-ORDER"
ORDERS, DETAILS, BC_ORDERS, BC_ORDER_PAGE = "salesorders", "salesorderdetails", "salesOrders", "salesOrderHeaders"
ACTIVE, SUBMITTED = 0, 1
PAGE_WRITE_ATTEMPTS = 5
ORDER_SELECT = (
    "name", "ordernumber", "statecode", "statuscode", "_customerid_value", "_transactioncurrencyid_value",
    "requestdeliveryby", "description", "_quoteid_value", "lastbackofficesubmit", "bcbi_businesscentralordernumber",
    "discountamount", "discountpercentage", *HEADER_SELECT,
)  # fmt: skip


@dataclass
class OrderResult:
    status: str  # created | alreadyCreated
    dataverse_id: str
    bc_id: str
    bc_number: str
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status, "dataverseId": self.dataverse_id, "bcId": self.bc_id, "bcNumber": self.bc_number,
            "warnings": self.warnings,
        }  # fmt: skip


def read_order(context: SyncContext, order_id: str) -> dict[str, Any]:
    order = context.dataverse.get_row(ORDERS, order_id, list(ORDER_SELECT))
    if order is None:
        raise NotFoundError("orderNotFound", f"Sales has no order {order_id}.", field="dataverseId")
    return order


def create_in_business_central(
    context: SyncContext, setup: Setup, order_id: str, archive: QuoteArchive | None = None
) -> OrderResult:
    """Create (or finish creating) the BC order of a submitted Sales order; the same answer on every repeat. An
    order made from a quote that was processed into BC becomes the BC order through the quote (`quote_orders`)."""
    order = read_order(context, order_id)
    existing = context.couplings.find_by_dataverse_id(MAPPING, order_id)
    if existing is not None:
        if lines_unfinished(existing.values_hash):
            finish_lines(context, existing, _order_body(context, setup, order)[0])
        return _finish(context, order, existing.bc_id, "alreadyCreated", [])
    if order.get("statecode") != SUBMITTED:
        raise ConflictError(
            "orderNotSubmitted",
            f"Only submitted orders become Business Central orders; Sales order {order.get('ordernumber')} is not.",
            field="statecode",
        )
    try:
        body, warnings = _order_body(context, setup, order)
    except AnotherCompanysDocument:
        context.errors.clear_error(MAPPING, Side.DATAVERSE, order_id)  # one kept before its customer was claimed
        raise
    except RecordError as error:
        context.errors.record_error(MAPPING, Side.DATAVERSE, order_id, error.code, error.message)
        raise
    _claim(context, order)
    quote = quote_coupling(context, order)
    if quote is not None:
        bc_id = order_from_quote(context, archive, quote, order, body)
        context.errors.clear_error(MAPPING, Side.DATAVERSE, order_id)
        return _finish(context, order, bc_id, "created", warnings)
    bc_id = deterministic_id(MAPPING, Side.DATAVERSE, order_id)
    context.bc.create_entity(BC_ORDERS, body, entity_id=bc_id)
    try:
        context.couplings.create_coupling(Coupling(MAPPING, bc_id, order_id))
        status = "created"
    except ConflictError:  # a racer coupled it first: the same deterministic order, so the same answer
        status = "alreadyCreated"
    context.errors.clear_error(MAPPING, Side.DATAVERSE, order_id)
    return _finish(context, order, bc_id, status, warnings)


def _claim(context: SyncContext, order: Mapping[str, Any]) -> None:
    """The Sales order stamped for this company before its BC order is made, conditional on the version read
    (`DataverseClientPort.claim_rows`; nothing to do for the whole org's client). Why before: BC sets the company id
    after the creation (facts "sales order creation from dataverse"), so two companies converting one unstamped
    order at the same moment would both create it; the claim lets one through. The loser finds the order taken by
    the other company (`AnotherCompanysDocument`) or, when it only changed meanwhile, a `ConcurrencyError` to try
    again."""
    order_id = str(order["salesorderid"])
    if order_id in context.dataverse.claim_rows(ORDERS, {order_id: order.get("@odata.etag")}):
        return
    if context.dataverse.get_row(ORDERS, order_id, ["salesorderid"]) is None:
        raise AnotherCompanysDocument("order", order_id, "that company took it while this one was converting it")
    raise ConcurrencyError(
        "orderChanging", f"Sales order {order.get('ordernumber')} changed while it was claimed for this company."
    )


def _order_body(context: SyncContext, setup: Setup, order: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    texts = header_texts(order.get("name"), order.get("ordernumber"))
    customer = bc_customer_id(context, order.get("_customerid_value"), "order", str(order["salesorderid"]))
    currency = bc_currency_code(context, order.get("_transactioncurrencyid_value"), "order")
    options = header_options(context, order, "order")
    freight = freight_line(order.get("freightamount"), setup.freight_account, document="order")
    details = read_details(context, DETAILS, "salesorderid", str(order["salesorderid"]))
    lines = bc_lines(context, details, setup.write_in, "order", freight=freight)
    body: dict[str, Any] = {
        "customerId": customer,
        "externalDocumentNumber": texts.external_document_number,
        **options,
        "salesOrderLines": lines,
    }
    if currency:
        body["currencyCode"] = currency
    if order.get("requestdeliveryby"):
        body["requestedDeliveryDate"] = str(order["requestdeliveryby"])[:10]
    discount = header_discount(details, order.get("discountamount"), order.get("discountpercentage"))
    if discount:
        body["discountAmount"] = discount
    return body, texts.warnings


def _finish(context: SyncContext, order: dict[str, Any], bc_id: str, status: str, warnings: list[str]) -> OrderResult:
    """The idempotent steps after the create: Your Reference and Work Description on BC's order page, then the
    Sales order's back-office fields (BC switches it to Active for the write and submits it again)."""
    bc_order = context.bc.get_entity(BC_ORDERS, bc_id, ["id", "number"])
    if bc_order is None:
        raise NotFoundError(
            "bcOrderMissing",
            f"The Sales order {order.get('ordernumber')} is coupled to Business Central order {bc_id}, which no "
            "longer exists (deleted in BC?): uncouple it to create it again.",
        )
    number = str(bc_order["number"])
    _write_page_fields(context, number, order)
    if not order.get("lastbackofficesubmit") or order.get("bcbi_businesscentralordernumber") != number:
        try:
            _write_back(context, order, number)
        except SyncError as error:  # a racer may have written it between our read and our write: check
            again = read_order(context, str(order["salesorderid"]))
            if error.is_transient or again.get("lastbackofficesubmit") is None:
                raise
    if warnings:
        log.warning("Sales order %s: %d header text(s) cut to BC's length", order.get("salesorderid"), len(warnings))
    return OrderResult(status, str(order["salesorderid"]), bc_id, number, warnings)


def _write_page_fields(context: SyncContext, number: str, order: dict[str, Any]) -> None:
    """Your Reference, Work Description and Payment Discount % are on no API v2.0 entity: BC's Sales Order page (42)
    carries them. Skipped (with a warning) where that page is not published, rather than failing an order already
    created."""
    if not context.bc.serves(BC_ORDER_PAGE):
        log.warning("page SalesOrder is not published: Your Reference of BC order %s not set", number)
        return
    texts = header_texts(order.get("name"), order.get("ordernumber"))
    wanted: dict[str, Any] = {
        "yourReference": texts.your_reference,
        "workDescription": str(order.get("description") or ""),
        "paymentDiscountPercent": round(float(order.get("discountpercentage") or 0), 5),
    }
    page_id = f"Order|{number}"
    for _ in range(PAGE_WRITE_ATTEMPTS):  # a racer writing the same values is no conflict: re-read and compare
        current = context.bc.get_entity(BC_ORDER_PAGE, page_id, list(wanted))
        if current is None:
            return
        changed = {k: v for k, v in wanted.items() if not _same(current.get(k), v)}
        if not changed:
            return
        try:
            context.bc.update_entity(BC_ORDER_PAGE, page_id, changed, str(current.get("@odata.etag") or "*"))
            return
        except ConcurrencyError:
            continue
    raise ConcurrencyError("orderChanging", f"BC order {number} kept changing while Your Reference was written.")


def _same(current: Any, wanted: Any) -> bool:
    if isinstance(wanted, float):
        return abs(float(current or 0) - wanted) < 1e-9
    return bool((current or "") == wanted)


def _write_back(context: SyncContext, order: dict[str, Any], number: str) -> None:
    body = {"lastbackofficesubmit": date.today().isoformat(), "bcbi_businesscentralordernumber": number}
    update_submitted(context, order, body)


def update_submitted(context: SyncContext, order: Mapping[str, Any], body: Mapping[str, Any]) -> None:
    """Write to a Sales order that may be Submitted (read-only in Sales): Active for the write, then Submitted again
    with the status it had, as BC does; a failed write still puts the order back."""
    order_id, status = str(order["salesorderid"]), order.get("statuscode")
    submitted = order.get("statecode") == SUBMITTED
    try:
        if submitted:
            context.dataverse.set_state(ORDERS, order_id, ACTIVE, 1)
        context.dataverse.update_row(ORDERS, order_id, body)
    finally:
        if submitted:
            context.dataverse.set_state(ORDERS, order_id, SUBMITTED, int(status or 3))


def auto_create(context: SyncContext, setup: Setup, archive: QuoteArchive | None = None) -> dict[str, int]:
    """Auto Create Sales Orders: every Submitted order not yet sent to the back office (no `lastbackofficesubmit`).
    One refused order does not stop the others; its error stays in the sync errors."""
    counts = {"created": 0, "alreadyCreated": 0, "failed": 0}
    if not (setup["salesOrderIntegrationEnabled"] and setup["autoCreateSalesOrders"]):
        return counts
    pending = [
        str(row["salesorderid"])
        for page in context.dataverse.list_changed_since(
            ORDERS, None, ["salesorderid"], extra_filter="statecode eq 1 and lastbackofficesubmit eq null"
        )
        for row in page.rows
    ]
    for order_id in pending:
        try:
            counts[create_in_business_central(context, setup, order_id, archive).status] += 1
        except AnotherCompanysDocument:  # not this company's: neither created nor failed here
            log.debug("Sales order %s is another company's: skipped", order_id)
        except SyncError as error:
            counts["failed"] += 1
            log.warning("Sales order %s not created in Business Central: %s", order_id, error.code)
    return counts
