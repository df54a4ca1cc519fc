"""The account statistics figures that come from open sales documents, computed from API v2.0 with BC's formulas.

BC's CRM Statistics Job writes the Customer FlowFields below (CRMStatisticsJob.Codeunit.al,
CreateOrUpdateCRMAccountStatistics; the FlowFields in Customer.Table.al, the line fields in SalesLine.Table.al,
microsoft/BCApps). Each sums Sales Lines whose Bill-to Customer No. is the customer, so the documents are read by
`billToCustomerId`:

- nav_outstandingorderslcy = Outstanding Orders (LCY) (Customer field 113): the sum over the lines of every sales
  order of the line's Outstanding Amount (LCY) = Round(Amount Including VAT * Outstanding Quantity / Quantity), with
  Outstanding Quantity = Quantity - Quantity Shipped (Sales Line InitOutstanding / InitOutstandingAmount). API v2.0:
  `salesOrders` with `salesOrderLines` `netAmountIncludingTax` (Amount Including VAT), `quantity`, `shippedQuantity`.
- nav_shippednotinvoicedlcy = Shipped Not Invoiced (LCY) (field 114): the same lines' Round(Amount Including VAT *
  Qty. Shipped Not Invoiced / Quantity), with Qty. Shipped Not Invoiced = Quantity Shipped - Quantity Invoiced
  (`shippedQuantity`, `invoicedQuantity`).
- nav_outstandinginvoiceslcy = Outstanding Invoices (LCY) (field 116): the lines of every unposted sales invoice;
  an invoice line ships when the invoice posts (Quantity Shipped 0), so its Outstanding Amount is its whole Amount
  Including VAT and the sum is the draft invoice's `totalAmountIncludingTax` (`salesInvoices` with status Draft:
  API v2.0 serves posted and unposted invoices in one set).

A line of Quantity 0 counts 0 (BC's rule). Rounding is BC's Round to the amount precision, 0.01, halves away from
zero (the G/L Setup's Amount Rounding Precision is not in API v2.0: 0.01 is BC's default, UNCONFIRMED for a company
that changed it).

Currency: the LCY figure of a document in a foreign currency is its amount divided by the document's Currency Factor
(Sales Line "Outstanding Amount" OnValidate), and API v2.0 exposes no currency factor; a figure to which such a
document contributes is written null (Sales shows '--') rather than a guess, and the customer's log line says why.

Cost: for named customers, one `salesOrders` read (lines expanded) and one draft `salesInvoices` read per 15
customers; for a run over every customer, one paged read of each set for the whole run, summed per bill-to customer
(three numbers per customer with open documents are kept, never the documents).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from shared.engine.context import SyncContext
from shared.ports import Row

log = logging.getLogger("bc_sales_sync.statistics")
OUTSTANDING_ORDERS, SHIPPED_NOT_INVOICED = "nav_outstandingorderslcy", "nav_shippednotinvoicedlcy"
OUTSTANDING_INVOICES = "nav_outstandinginvoiceslcy"
FIGURES = (OUTSTANDING_ORDERS, SHIPPED_NOT_INVOICED, OUTSTANDING_INVOICES)
ORDERS, INVOICES = "salesOrders", "salesInvoices"
LINE_FIELDS = ("quantity", "shippedQuantity", "invoicedQuantity", "netAmountIncludingTax")
ORDER_EXPAND = f"salesOrderLines($select={','.join(LINE_FIELDS)})"
ORDER_SELECT = ("billToCustomerId", "number", "currencyCode")
INVOICE_SELECT = ("billToCustomerId", "number", "currencyCode", "totalAmountIncludingTax")
DRAFT = "status eq 'Draft'"
BC_ID_CHUNK = 15  # ids per BC `$filter` (as for the customers themselves)
CENT = Decimal("0.01")


def bc_round(value: Decimal) -> Decimal:
    """BC's Round(value, 0.01): nearest cent, halves away from zero."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def line_amounts(line: Row) -> tuple[Decimal, Decimal]:
    """(Outstanding Amount, Shipped Not Invoiced) of one sales order line, as Sales Line InitOutstandingAmount."""
    quantity = Decimal(str(line.get("quantity") or 0))
    if quantity == 0:
        return Decimal(0), Decimal(0)
    amount = Decimal(str(line.get("netAmountIncludingTax") or 0))
    shipped = Decimal(str(line.get("shippedQuantity") or 0))
    invoiced = Decimal(str(line.get("invoicedQuantity") or 0))
    return bc_round(amount * (quantity - shipped) / quantity), bc_round(amount * (shipped - invoiced) / quantity)


@dataclass
class Figures:
    """One customer's sums; a figure is unknown (None) once a document in a foreign currency adds to it."""

    outstanding_orders: Decimal | None = Decimal(0)
    shipped_not_invoiced: Decimal | None = Decimal(0)
    outstanding_invoices: Decimal | None = Decimal(0)

    def values(self) -> dict[str, float | None]:
        pairs = zip(
            FIGURES, (self.outstanding_orders, self.shipped_not_invoiced, self.outstanding_invoices), strict=True
        )
        return {name: None if value is None else float(bc_round(value)) for name, value in pairs}


def _add(total: Decimal | None, amount: Decimal, local: bool) -> Decimal | None:
    if total is None or amount == 0:
        return total
    return total + amount if local else None


class FigureSums:
    """Sums open documents into `Figures` per bill-to customer (lower-cased BC id)."""

    def __init__(self, local_currency: str) -> None:
        self.local_currency = local_currency.upper()
        self.by_customer: dict[str, Figures] = {}
        self.foreign: dict[str, list[str]] = {}  # customer -> documents in a foreign currency (for the log)

    def _figures(self, document: Row) -> tuple[Figures, bool]:
        customer = str(document.get("billToCustomerId") or "").lower()
        figures = self.by_customer.setdefault(customer, Figures())
        currency = str(document.get("currencyCode") or "").upper()
        local = currency in ("", self.local_currency)
        if not local:
            self.foreign.setdefault(customer, []).append(f"{document.get('number')} ({currency})")
        return figures, local

    def add_order(self, order: Row) -> None:
        figures, local = self._figures(order)
        for line in order.get("salesOrderLines") or []:
            outstanding, shipped = line_amounts(line)
            figures.outstanding_orders = _add(figures.outstanding_orders, outstanding, local)
            figures.shipped_not_invoiced = _add(figures.shipped_not_invoiced, shipped, local)

    def add_draft_invoice(self, invoice: Row) -> None:
        figures, local = self._figures(invoice)
        amount = Decimal(str(invoice.get("totalAmountIncludingTax") or 0))
        figures.outstanding_invoices = _add(figures.outstanding_invoices, amount, local)

    def values(self, bc_id: str) -> dict[str, float | None]:
        """The three figures of a customer (0 when it has no open document)."""
        key = bc_id.lower()
        if key in self.foreign:
            log.info(
                "customer statistics: customer %s has documents in a foreign currency (%s): API v2.0 has no currency "
                "factor to turn them into LCY, so the figures they add to stay empty",
                bc_id,
                ", ".join(self.foreign[key][:5]),
            )
        return self.by_customer.get(key, Figures()).values()


def open_document_figures(context: SyncContext, bc_ids: Sequence[str] | None) -> FigureSums:
    """The open-document figures of the named customers (reads filtered per 15 ids), or of every customer (one
    paged read of each set) when `bc_ids` is None."""
    sums = FigureSums(context.local_currency)
    filters: Iterable[str | None] = [None]
    if bc_ids is not None:
        unique = sorted({i.lower() for i in bc_ids})
        filters = [" or ".join(f"billToCustomerId eq {value}" for value in chunk) for chunk in _chunks(unique)]
    for ids_filter in filters:
        for order in _rows(context, ORDERS, ORDER_SELECT, ORDER_EXPAND, ids_filter):
            sums.add_order(order)
        invoice_filter = DRAFT if ids_filter is None else f"{DRAFT} and ({ids_filter})"
        for invoice in _rows(context, INVOICES, INVOICE_SELECT, None, invoice_filter):
            sums.add_draft_invoice(invoice)
    return sums


def _rows(
    context: SyncContext, entity_set: str, select: Sequence[str], expand: str | None, extra_filter: str | None
) -> Iterator[Row]:
    for page in context.bc.list_changed_since(entity_set, None, list(select), expand, extra_filter):
        yield from page.rows


def _chunks(values: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), BC_ID_CHUNK):
        yield values[start : start + BC_ID_CHUNK]
