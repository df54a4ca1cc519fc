"""Tax and invoice discount on sales document lines and headers, as BC computes them for prices excluding VAT.

API v2.0 (APIV2 pages 30043/30044 "Sales Invoice/Order Lines" over table "Sales Invoice Line Aggregate";
/work/shared/schemas/bc_api_v2.json) exposes on every sales document line: `taxCode` (Tax Code, writable: the VAT
Prod. Posting Group where sales tax is not used), `taxPercent` (VAT %, read-only), `amountExcludingTax` (Line Amount
Excluding Tax), `totalTaxAmount` (Line Tax Amount), `amountIncludingTax` (Line Amount Including Tax),
`invoiceDiscountAllocation` (Inv. Discount Amount Excl. VAT), `netAmount` (Amount), `netTaxAmount` (Tax Amount),
`netAmountIncludingTax` (Amount Including VAT); on the header `discountAmount` (Invoice Discount Amount, writable),
`totalAmountExcludingTax` (Amount), `totalTaxAmount`, `totalAmountIncludingTax` (Amount Including VAT).

How the aggregate fills the line's "Line ..." fields (microsoft/BCApps, Sales Invoice Aggregator,
UpdateLineAmountsFromSalesLine / UpdateInvoiceDiscountAmount; read, not copied): Line Amount Excluding Tax is the
line amount before the invoice discount, Line Amount Including Tax the same with VAT, Line Tax Amount their
difference, and Inv. Discount Amount Excl. VAT the line's Inv. Discount Amount (prices excluding VAT). So, per line:
- Line Amount = round(quantity * unitPrice - discountAmount, 2) (the emulator's rule before this module);
- Inv. Discount Amount: the header's Invoice Discount Amount shared over the lines in proportion to their Line
  Amount, the rounding carried to the next line so the shares add up to the header amount exactly (BC distributes
  per VAT group with its own rounding: the exact per-line split is UNCONFIRMED; the sum is BC's);
- Amount = Line Amount - Inv. Discount Amount; VAT = Amount * VAT % / 100 rounded with the remainder carried
  over the lines of the same VAT %, in line order, as BC's Sales Line UpdateVATAmounts does for lines of one VAT
  identifier; Amount Including VAT = Amount + VAT.
The header's totals are the sums of Amount, VAT and Amount Including VAT.

VAT % comes from the line's `taxCode`; a line that gets none takes its item's `taxGroupCode` when the item is set
(BC copies the item's posting group to the line). The rates are the emulator's own VAT Posting Setup (`VAT_RATES`:
a real company's setup decides; the codes are seed data, UNCONFIRMED as any particular company's); a code not in it
is refused as BC refuses a group that does not exist. Blank is 0 %, so documents without tax codes keep the
amounts they always had. Not emulated: prices including VAT, sales tax (US tax areas), Allow Invoice Disc. = No.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from local.emulators.business_central.api.records import Records
from local.emulators.business_central.errors import dialog
from local.emulators.business_central.naming import table_name
from local.emulators.business_central.schema import EntitySet
from local.emulators.business_central.values import EMPTY_GUID
from local.emulators.store import Row

VAT_RATES: dict[str, Decimal] = {
    "": Decimal(0),
    "NO VAT": Decimal(0),
    "ZERO": Decimal(0),
    "REDUCED": Decimal(10),
    "STANDARD": Decimal(25),
}
LINE_AMOUNTS = (
    "taxPercent",
    "amountExcludingTax",
    "totalTaxAmount",
    "amountIncludingTax",
    "invoiceDiscountAllocation",
    "netAmount",
    "netTaxAmount",
    "netAmountIncludingTax",
)
HEADER_TOTALS = ("totalAmountExcludingTax", "totalTaxAmount", "totalAmountIncludingTax")
CENT = Decimal("0.01")


def _number(value: Any) -> Decimal:
    if value is None or isinstance(value, bool) or value == "":
        return Decimal(0)
    return Decimal(str(value))


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def rate(code: Any) -> Decimal:
    """The VAT % of a tax code; an unknown code is refused (BC: the VAT Product Posting Group does not exist)."""
    key = str(code or "").upper()
    if key not in VAT_RATES:
        raise dialog(f"The VAT Product Posting Group does not exist. Identification fields and values: Code='{code}'")
    return VAT_RATES[key]


def line_amount(line: Mapping[str, Any]) -> Decimal:
    return _cents(_number(line.get("quantity")) * _number(line.get("unitPrice")) - _number(line.get("discountAmount")))


def amounts(lines: Iterable[Mapping[str, Any]], invoice_discount: Any) -> list[dict[str, float]]:
    """The computed amounts of every line (given in line order) of one document with this Invoice Discount Amount."""
    rows = list(lines)
    bases = [line_amount(line) for line in rows]
    total = sum(bases, Decimal(0))
    discount = _cents(_number(invoice_discount))
    running = Decimal(0)
    given = Decimal(0)
    vat_amount: dict[Decimal, Decimal] = {}
    vat_given: dict[Decimal, Decimal] = {}
    result: list[dict[str, float]] = []
    for line, base in zip(rows, bases, strict=True):
        share = Decimal(0)
        if total and discount:
            running += base
            share = _cents(discount * running / total) - given
            given += share
        percent = rate(line.get("taxCode"))
        amount = base - share
        vat_amount[percent] = vat_amount.get(percent, Decimal(0)) + amount
        vat = _cents(vat_amount[percent] * percent / 100) - vat_given.get(percent, Decimal(0))
        vat_given[percent] = vat_given.get(percent, Decimal(0)) + vat
        including = _cents(base * (1 + percent / 100))
        result.append(
            {
                "taxPercent": float(percent),
                "amountExcludingTax": float(base),
                "totalTaxAmount": float(including - base),
                "amountIncludingTax": float(including),
                "invoiceDiscountAllocation": float(share),
                "netAmount": float(amount),
                "netTaxAmount": float(vat),
                "netAmountIncludingTax": float(amount + vat),
            }
        )
    return result


def _lines(records: Records, company_id: str, line_set: EntitySet, document_id: str) -> list[Row]:
    rows = [
        r
        for r in records.store.rows(table_name(company_id, line_set.name))
        if r.get(line_set.parent_key) == document_id
    ]
    return sorted(rows, key=lambda r: r.get("sequence", 0))


def line_rules(records: Records, company_id: str, line_set: EntitySet, row: Row, changed: set[str]) -> None:
    """Before a line is stored: its tax code (the item's when none is given) and its amounts, computed with its
    document's other lines (the invoice discount share and the VAT rounding depend on them)."""
    if "amountExcludingTax" not in row:
        return
    item_id = str(row.get("itemId") or EMPTY_GUID)
    item_set = changed & {"itemId", "lineObjectNumber", "lineType"}
    if "taxCode" in row and "taxCode" not in changed and item_set and row.get("lineType") == "Item":
        item = records.store.get(table_name(company_id, "items"), item_id) if item_id != EMPTY_GUID else None
        row["taxCode"] = str((item or {}).get("taxGroupCode") or "")
    if "taxCode" in row:
        row["taxCode"] = str(row.get("taxCode") or "").upper()
    document_id = row.get(line_set.parent_key)
    discount: Any = 0
    siblings: list[Row] = []
    if line_set.parent is not None and document_id:
        header = records.store.get(table_name(company_id, line_set.parent), str(document_id))
        discount = (header or {}).get("discountAmount") or 0
        siblings = [r for r in _lines(records, company_id, line_set, str(document_id)) if r["id"] != row.get("id")]
    lines = sorted([*siblings, row], key=lambda r: r.get("sequence", 0))
    computed = amounts(lines, discount)[lines.index(row)]
    row.update({name: value for name, value in computed.items() if name in row})


def recompute(records: Records, company_id: str, document_set: EntitySet, document: Row) -> None:
    """After a line or the invoice discount changed: every line's amounts (stored when they changed) and the header's
    totals (set on `document`, which the caller stores)."""
    if document_set.lines is None:
        return
    line_set = records.schema.sets[document_set.lines]
    lines = _lines(records, company_id, line_set, str(document["id"]))
    totals = dict.fromkeys(HEADER_TOTALS, Decimal(0))
    for line, computed in zip(lines, amounts(lines, document.get("discountAmount")), strict=True):
        changed = {name: value for name, value in computed.items() if name in line and line.get(name) != value}
        if changed:
            records.put(company_id, line_set, {**line, **changed})
        totals["totalAmountExcludingTax"] += Decimal(str(computed["netAmount"]))
        totals["totalTaxAmount"] += Decimal(str(computed["netTaxAmount"]))
        totals["totalAmountIncludingTax"] += Decimal(str(computed["netAmountIncludingTax"]))
    for name, value in totals.items():
        if name in document:
            document[name] = float(_cents(value))
