"""Posted invoice rules (bc-integration-facts "posted invoices" and "invoice payment status"), pure.

- Payment status from BC's Remaining Amount: nothing left -> Paid / Complete; partly paid -> Paid / Partial;
  nothing paid (or a payment reversed) -> Active / Billed; a cancelled invoice -> Canceled / Canceled (100003, the
  code BC uses, not the deprecated 3).
- Invoice details: a line whose item or resource is coupled is an existing-product detail; any other line with a
  number is a write-in detail described as "<No.> <Description>." (BC's text, with its full stop); comment lines
  carry no number and are left out (a detail needs a quantity and a product or a write-in text). A detail carries
  BC's Line No. (`lineitemnumber`), its tax (`tax` = Amount Including VAT - Amount) and, for a product, the unit of
  the line (the caller resolves it).
- Amounts BC writes after the insert (microsoft/BCApps, src/Layers/W1/BaseApp/Integration/D365Sales/
  CRMIntTableSubscriber.Codeunit.al, UpdateCRMInvoiceDetailsAfterInsertRecord and UpdateCRMInvoiceAfterInsertRecord
  with sales order integration on; bc-integration-facts "posted sales invoices"): per detail volumediscountamount 0,
  manualdiscountamount = Line Discount Amount, tax, baseamount = Amount + Inv. Discount Amount + Line Discount
  Amount, extendedamount = Amount Including VAT + Inv. Discount Amount; on the invoice totalamount = Amount
  Including VAT, totaltax = Amount Including VAT - Amount (Document Totals' posted invoice tax),
  totalamountlessfreight = totalamount - totaltax, totaldiscountamount = Invoice Discount Amount,
  totallineitemdiscountamount = the lines' Line Discount Amount.
- API v2.0 names of those fields (/work/shared/schemas/bc_api_v2.json, pages 30043 and 30012): a line's Amount is
  `netAmount`, Amount Including VAT `netAmountIncludingTax`, Line Discount Amount `discountAmount`, Inv. Discount
  Amount `invoiceDiscountAllocation` (Inv. Discount Amount Excl. VAT: the same for prices excluding VAT, the only
  kind handled; `amountExcludingTax` is the Line Amount *before* the invoice discount, not Amount), Line No.
  `sequence`; the invoice's Amount is `totalAmountExcludingTax`, Amount Including VAT `totalAmountIncludingTax`,
  Invoice Discount Amount `discountAmount`. Dataverse's own calculation over those details gives the same totals
  (sum of baseamount - manualdiscountamount - discountamount + tax = Amount Including VAT).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

ACTIVE, PAID, CANCELED = 0, 2, 3
BILLED, COMPLETE, PARTIAL, CANCELED_STATUS = 4, 100001, 100002, 100003
PRODUCT_LINE_TYPES = ("Item", "Resource")
WRITE_IN_DESCRIPTION_LENGTH = 500  # invoicedetail.productdescription (500 or 4000: UNCONFIRMED; the shorter is safe)


def payment_status(remaining: float, total: float, *, canceled: bool) -> tuple[int, int]:
    """(statecode, statuscode) of the Sales invoice for BC's remaining amount."""
    if canceled:
        return CANCELED, CANCELED_STATUS
    if round(remaining, 2) <= 0:
        return PAID, COMPLETE
    if round(remaining, 2) < round(total, 2):
        return PAID, PARTIAL
    return ACTIVE, BILLED


def write_in_description(line: Mapping[str, Any]) -> str:
    text = f"{line.get('lineObjectNumber') or ''} {line.get('description') or ''}".strip() + "."
    return text[:WRITE_IN_DESCRIPTION_LENGTH]


def detail_body(line: Mapping[str, Any], product_id: str | None, unit_id: str | None) -> dict[str, Any] | None:
    """The invoicedetail attributes of one BC posted invoice line, or None for a line that is not carried."""
    if not line.get("lineObjectNumber") or float(line.get("quantity") or 0) == 0:
        return None
    body: dict[str, Any] = {
        "quantity": float(line["quantity"]),
        "priceperunit": float(line.get("unitPrice") or 0),
        "manualdiscountamount": float(line.get("discountAmount") or 0),
        "tax": _money(_tax(line)),
        "ispriceoverridden": True,  # BC's price wins
        "lineitemnumber": int(line.get("sequence") or 0),
        "sequencenumber": int(line.get("sequence") or 0),
    }
    if product_id and line.get("lineType") in PRODUCT_LINE_TYPES:
        body["isproductoverridden"] = False
        body["productid@odata.bind"] = f"/products({product_id})"
        if unit_id:
            body["uomid@odata.bind"] = f"/uoms({unit_id})"
    else:
        body["isproductoverridden"] = True
        body["productdescription"] = write_in_description(line)
    return body


def _amount(record: Mapping[str, Any], name: str) -> Decimal:
    return Decimal(str(record.get(name) or 0))


def _money(value: Decimal) -> float:
    return float(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _tax(line: Mapping[str, Any]) -> Decimal:
    return _amount(line, "netAmountIncludingTax") - _amount(line, "netAmount")


def detail_amounts(line: Mapping[str, Any]) -> dict[str, float]:
    """What BC writes on an invoice detail right after inserting it (Dataverse takes the amounts only by update)."""
    invoice_discount = _amount(line, "invoiceDiscountAllocation")
    line_discount = _amount(line, "discountAmount")
    return {
        "volumediscountamount": 0.0,
        "manualdiscountamount": _money(line_discount),
        "tax": _money(_tax(line)),
        "baseamount": _money(_amount(line, "netAmount") + invoice_discount + line_discount),
        "extendedamount": _money(_amount(line, "netAmountIncludingTax") + invoice_discount),
    }


def invoice_totals(invoice: Mapping[str, Any], lines: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """What BC writes on the Sales invoice once its details are in (BC's totals, to the cent)."""
    total = _amount(invoice, "totalAmountIncludingTax")
    tax = total - _amount(invoice, "totalAmountExcludingTax")
    return {
        "totalamount": _money(total),
        "totaltax": _money(tax),
        "totalamountlessfreight": _money(total - tax),
        "totaldiscountamount": _money(_amount(invoice, "discountAmount")),
        "totallineitemdiscountamount": _money(sum((_amount(line, "discountAmount") for line in lines), Decimal(0))),
    }
