"""Posted invoice rules (bc-integration-facts "posted invoices" and "invoice payment status"), pure.

- Payment status from BC's Remaining Amount: nothing left -> Paid / Complete; partly paid -> Paid / Partial;
  nothing paid (or a payment reversed) -> Active / Billed; a cancelled invoice -> Canceled / Canceled (100003, the
  code BC uses, not the deprecated 3).
- Invoice details: a line whose item or resource is coupled is an existing-product detail; any other line with a
  number is a write-in detail described as "<No.> <Description>." (BC's text, with its full stop); comment lines
  carry no number and are left out (a detail needs a quantity and a product or a write-in text).
"""

from __future__ import annotations

from collections.abc import Mapping
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
