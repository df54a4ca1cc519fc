"""Document totals as Sales' system pricing keeps them: order, quote and invoice headers and their lines.

The writer calls `line_amounts` before a line (salesorderdetail, quotedetail, invoicedetail) is stored,
`header_totals` before a header (salesorder, quote, invoice) is stored, and `refresh_header` after a line was created,
updated or deleted, on every write path (POST, PATCH upsert, deep insert, `$batch`, the bulk messages).

Formulas: microsoft/BCApps, src/Layers/W1/Tests/TestLibraries/CRMBusLogicSimulator.Codeunit.al (what Microsoft's own
integration tests treat as Dataverse's pricing; read, not copied):
- line: baseamount = (priceperunit - volumediscountamount) * quantity; extendedamount = baseamount -
  manualdiscountamount + tax (ValidateSalesOrderDetailOnBeforeModify);
- header (RecalculateSalesOrder): totallineitemdiscountamount = sum of the lines' manualdiscountamount;
  totallineitemamount = sum of baseamount - totallineitemdiscountamount; totaltax = sum of tax; header discount =
  discountamount + round(totallineitemamount * discountpercentage / 100); totaldiscountamount = header discount +
  totallineitemdiscountamount; totalamountlessfreight = totallineitemamount - header discount; totalamount =
  totalamountlessfreight + freightamount + totaltax.
The simulator applies them to sales orders; the emulator applies them to quotes and invoices too, because the
reference docs describe the same calculated columns on all three (Microsoft Learn, Dynamics 365 Sales entity
reference, invoice.md: TotalAmount "calculated as the sum of the products, discount, freight, and taxes",
TotalLineItemDiscountAmount "the Manual Discount amounts specified on all products", TotalTax "the total of the Tax
amounts specified on all products"; the RecalculatePrice action "out of the box price calculation for Opportunity,
Quote, Sales Order or Invoice"). Money is rounded to 2 decimals (the columns' Precision 2; a currency with another
precision is UNCONFIRMED and not modelled).

When: a line's amounts are recalculated when it is created or one of its inputs is written; a header's totals when
it is created, when one of its pricing inputs (discountamount, discountpercentage, freightamount) is written, and
whenever one of its lines is created, changed or deleted. A recalculation that changes the header stamps it (new
versionnumber and modifiedon, modifiedby = the caller) as the pricing engine's update of the record would
(UNCONFIRMED that a real org bumps the header's version for a line change; taken as the stricter reading: a client
must not hold a header's etag across writes of its lines).

Prices locked (`ispricelocked`) changes nothing here: locking keeps a document's unit prices from following later
price-list changes (Microsoft Learn, LockSalesOrderPricing / LockInvoicePricing: "changes to underlying price lists
(price levels) do not affect the prices"); the emulator never reprices lines from price lists, and totals are still
the sum of the lines.

Who may write the calculated columns (overlay `readOnly` / `notValidForCreate`):
- orders and quotes, and their lines: never (read-only in the emulator). The reference marks them "not valid for
  create"; whether a real org keeps an update's value or recalculates over it is UNCONFIRMED, so the strict reading
  refuses them: a client must not rely on writing what Sales calculates.
- invoices and invoice lines: not on create, allowed on update, and an update that writes them wins over the
  calculation for that write. Source: BC's own posted-invoice code sets them by Modify after the insert
  (microsoft/BCApps, src/Layers/W1/BaseApp/Integration/D365Sales/CRMIntTableSubscriber.Codeunit.al: the invoice's
  TotalAmount, TotalTax, TotalAmountLessFreight, TotalDiscountAmount, TotalLineItemDiscountAmount after its lines; each
  invoice line's Tax, BaseAmount, ExtendedAmount after its insert), and the simulator blanks a line's BaseAmount and
  ExtendedAmount on insert (ValidateSalesInvoiceLineOnInsert). Sales' invoice entity reference lists the totals
  among the writable columns. Refusing them on create (rather than ignoring them, as the simulator does for lines)
  is the emulator's stricter reading (UNCONFIRMED).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from local.emulators.store import Row, Store

# header table -> (line table, the line's lookup to its header)
DOCUMENTS: dict[str, tuple[str, str]] = {
    "salesorder": ("salesorderdetail", "salesorderid"),
    "quote": ("quotedetail", "quoteid"),
    "invoice": ("invoicedetail", "invoiceid"),
}
# line table -> (header table, lookup)
LINES: dict[str, tuple[str, str]] = {line: (header, lookup) for header, (line, lookup) in DOCUMENTS.items()}
HEADER_TOTALS = (
    "totallineitemamount",
    "totallineitemdiscountamount",
    "totaltax",
    "totaldiscountamount",
    "totalamountlessfreight",
    "totalamount",
)
HEADER_INPUTS = frozenset({"discountamount", "discountpercentage", "freightamount"})
LINE_AMOUNTS = ("baseamount", "extendedamount")
LINE_INPUTS = frozenset({"priceperunit", "volumediscountamount", "quantity", "manualdiscountamount", "tax"})
CENT = Decimal("0.01")


def _number(value: Any) -> Decimal:
    if value is None or isinstance(value, bool):
        return Decimal(0)
    return Decimal(str(value))


def _money(value: Decimal) -> float:
    return float(value.quantize(CENT, rounding=ROUND_HALF_UP))


def line_amounts(table_name: str, row: Row, written: Iterable[str], *, created: bool) -> None:
    """Set a line's baseamount and extendedamount (before it is stored) when it is new or an input was written;
    amounts the write sets itself (invoice lines, on update) are kept."""
    if table_name not in LINES:
        return
    names = set(written)
    if not created and not names & LINE_INPUTS:
        return
    base = (_number(row.get("priceperunit")) - _number(row.get("volumediscountamount"))) * _number(row.get("quantity"))
    extended = base - _number(row.get("manualdiscountamount")) + _number(row.get("tax"))
    for name, value in zip(LINE_AMOUNTS, (base, extended), strict=True):
        if name not in names:
            row[name] = _money(value)


def _totals(header: Mapping[str, Any], lines: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    base = line_discounts = tax = Decimal(0)
    for line in lines:
        base += _number(line.get("baseamount"))
        line_discounts += _number(line.get("manualdiscountamount"))
        tax += _number(line.get("tax"))
    detail = base - line_discounts
    percent_part = (detail * _number(header.get("discountpercentage")) / 100).quantize(CENT, rounding=ROUND_HALF_UP)
    header_discount = _number(header.get("discountamount")) + percent_part
    less_freight = detail - header_discount
    return {
        "totallineitemamount": _money(detail),
        "totallineitemdiscountamount": _money(line_discounts),
        "totaltax": _money(tax),
        "totaldiscountamount": _money(header_discount + line_discounts),
        "totalamountlessfreight": _money(less_freight),
        "totalamount": _money(less_freight + _number(header.get("freightamount")) + tax),
    }


def lines_of(store: Store, header_table: str, header_id: str) -> list[Row]:
    line_table, lookup = DOCUMENTS[header_table]
    return [line for line in store.rows(line_table) if line.get(f"_{lookup}_value") == header_id]


def header_totals(store: Store, table_name: str, row: Row, written: Iterable[str], *, created: bool) -> None:
    """Set a header's totals (before it is stored) when it is new or a pricing input was written; an update that
    writes totals itself (invoices only: the others refuse them) keeps what it wrote."""
    if table_name not in DOCUMENTS:
        return
    names = set(written)
    if names & set(HEADER_TOTALS) or (not created and not names & HEADER_INPUTS):
        return
    primary = f"{table_name}id"
    lines = [] if created else lines_of(store, table_name, str(row[primary]))
    row.update(_totals(row, lines))


def refresh_header(store: Store, line_table: str, line: Mapping[str, Any]) -> tuple[str, str, Row] | None:
    """After a line changed: the header with its recalculated totals, or None when there is no header or nothing
    changed. The caller stamps and stores it."""
    if line_table not in LINES:
        return None
    header_table, lookup = LINES[line_table]
    header_id = line.get(f"_{lookup}_value")
    header = store.get(header_table, str(header_id)) if header_id else None
    if header is None:
        return None
    totals = _totals(header, lines_of(store, header_table, str(header_id)))
    if all(header.get(name) == value for name, value in totals.items()):
        return None
    return header_table, str(header_id), {**header, **totals}
