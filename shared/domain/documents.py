"""Sales document rules shared by orders and quotes from Sales: header texts, write-in lines, long descriptions.

Why pure: these are BC's rules (bc-integration-facts "write in products", "long descriptions to comment lines",
"sales order creation from dataverse"), the part of the process users argue about ("where did my text go?"), so they
are tested on their own and every caller (orders, quotes, the Won-quote order) builds lines the same way.

The rules, as BC applies them and as we do:
- External Document No. is Code[35]: the Sales `name`, trimmed and upper-cased, cut to 35 with a warning.
  Your Reference is Text[35]: the Sales order or quote number, cut to 35 (BC cuts silently; we warn too).
- Lines follow `sequencenumber`. A coupled product becomes an Item or Resource line. A write-in line (no product,
  `isproductoverridden`) becomes a line of the configured write-in item or resource; without that setup the whole
  document is refused with the reason (BC: "set the default write-in product").
- A line's text is its `description` memo, else its `productdescription`. BC Sales Line Description is Text[100]:
  - a write-in line's first 100 characters go on the line itself, the rest on extra lines;
  - an item or resource line keeps BC's own description, and the whole Sales text goes on extra lines (unless it
    equals that description);
  - every further line of a multi-line memo starts its own extra lines.
  Extra lines are Comment lines (description only) of at most 100 characters, placed right after their product line.
  Change from BC: API v2.0 lines have no "Attached to Line No.", so a comment belongs to its product line by
  position (the next line numbers), which is also how BC's pages show them.
- Never cut a word when a space is near: a piece ends at the last space within `WORD_BREAK_WINDOW` characters of the
  limit; a word longer than that window is cut at the limit (nothing is ever lost).
- Line discount = quantity x volume discount + manual discount (BC's "Line Discount Amount").
- A product line's unit is the Sales line's `uomid`: its coupled unit (ITEM UOM / RESOURCE UOM), which must be a unit
  of the line's own item or resource (its unit group); an uncoupled unit, or one of another item's group, refuses the
  document naming the line and the unit (BC: UpdateSalesLineUnitOfMeasure, "The unit ... is not coupled to a unit of
  measure"; the other-group case is our strict reading: BC would fail on the Sales Line's table relation). A
  write-in line keeps its item's default unit (BC skips the unit when the line has no product).
- Freight (`freightamount` > 0) becomes one last line of the G/L account set up as the freight account, quantity 1,
  unit price the freight (BC: Sales Line.InsertFreightLine with Sales & Receivables Setup "Freight G/L Acc. No.",
  which must be set: TestField); no freight, no line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shared.domain.errors import RecordError

DESCRIPTION_LENGTH = 100  # BC Sales Line.Description, Text[100]
EXTERNAL_DOCUMENT_NO_LENGTH = 35  # Sales Header."External Document No.", Code[35]
YOUR_REFERENCE_LENGTH = 35  # Sales Header."Your Reference", Text[35]
WORD_BREAK_WINDOW = 30  # how far back from the limit a space still counts as "near"
LINE_NUMBER_STEP = 10000  # BC's AutoSplitKey step for new lines
WRITE_IN_TYPES = ("Item", "Resource")
WRITE_IN_SETS = {"items": "Item", "resources": "Resource"}  # BC entity set -> the write-in product type of its records
# The behaviour a product mapping declares to leave the write-in product out (`engine/behaviours/hooks.py`): the one
# declaring it on the write-in type's entity set is the mapping a coupled write-in product is found in.
WRITE_IN_BEHAVIOUR = "excludeWriteIn"


@dataclass(frozen=True)
class WriteInProduct:
    """Sales & Receivables Setup 'Write-in Product Type' and 'Write-in Product No.' (from our setup)."""

    kind: str  # "Item" | "Resource"
    number: str
    bc_id: str = ""  # the item's SystemId (item lines are written by itemId); empty for a resource


@dataclass(frozen=True)
class ProductTarget:
    """What a coupled Sales product is in BC: an item (by SystemId) or a resource (by number)."""

    kind: str  # "Item" | "Resource"
    bc_id: str
    number: str
    description: str = ""


@dataclass(frozen=True)
class UnitTarget:
    """A coupled Sales unit as BC knows it: the item's or resource's own unit (`owner` is that item's number)."""

    kind: str  # "Item" | "Resource"
    owner: str
    code: str


@dataclass
class HeaderTexts:
    external_document_number: str
    your_reference: str
    warnings: list[str] = field(default_factory=list)


def split_text(text: str, limit: int = DESCRIPTION_LENGTH) -> list[str]:
    """Pieces of at most `limit` characters, cut at a near space when there is one; blank text gives no piece."""
    pieces: list[str] = []
    rest = text.strip()
    while rest:
        if len(rest) <= limit:
            pieces.append(rest)
            break
        cut = rest.rfind(" ", max(1, limit - WORD_BREAK_WINDOW), limit + 1)
        if cut <= 0:
            cut = limit
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    return pieces


def header_texts(name: str | None, number: str | None) -> HeaderTexts:
    """External Document No. from the Sales `name` and Your Reference from the Sales number, at BC's lengths."""
    warnings: list[str] = []
    external = " ".join((name or "").split()).upper()
    if len(external) > EXTERNAL_DOCUMENT_NO_LENGTH:
        warnings.append(
            f"The name '{name}' is longer than External Document No. allows ({EXTERNAL_DOCUMENT_NO_LENGTH}); "
            f"it was cut to '{external[:EXTERNAL_DOCUMENT_NO_LENGTH]}'."
        )
        external = external[:EXTERNAL_DOCUMENT_NO_LENGTH].rstrip()
    reference = (number or "").strip()
    if len(reference) > YOUR_REFERENCE_LENGTH:
        warnings.append(f"The number '{reference}' was cut to {YOUR_REFERENCE_LENGTH} characters for Your Reference.")
        reference = reference[:YOUR_REFERENCE_LENGTH]
    return HeaderTexts(external, reference, warnings)


def line_text(detail: Mapping[str, Any]) -> list[str]:
    """The memo lines of a detail's text: `description`, else `productdescription`; blank lines dropped."""
    text = detail.get("description") or detail.get("productdescription") or ""
    return [line for line in str(text).replace("\r\n", "\n").split("\n") if line.strip()]


def header_discount(details: Sequence[Mapping[str, Any]], amount: Any, percentage: Any) -> float:
    """BC's invoice discount for a Sales header discount: totallineitemamount - totalamountlessfreight, i.e. the
    percentage of the lines' total plus the amount. Computed from the lines, so it does not depend on Dataverse's
    calculated totals being current; 0 when Sales has no header discount."""
    if not float(amount or 0) and not float(percentage or 0):
        return 0.0
    lines = sum(
        float(d.get("quantity") or 0) * float(d.get("priceperunit") or 0) - float(_amounts(d).get("discountAmount", 0))
        for d in details
    )
    return round(lines * float(percentage or 0) / 100 + float(amount or 0), 2)


def _pieces(texts: Sequence[str]) -> list[str]:
    return [piece for text in texts for piece in split_text(text)]


def _amounts(detail: Mapping[str, Any]) -> dict[str, Any]:
    quantity = float(detail.get("quantity") or 0)
    discount = quantity * float(detail.get("volumediscountamount") or 0) + float(
        detail.get("manualdiscountamount") or 0
    )
    amounts: dict[str, Any] = {"quantity": quantity}
    if detail.get("priceperunit") is not None:
        amounts["unitPrice"] = float(detail["priceperunit"])
    if discount:
        amounts["discountAmount"] = round(discount, 2)
    return amounts


def _product_line(kind: str, bc_id: str, number: str) -> dict[str, Any]:
    if kind == "Item" and bc_id:
        return {"lineType": "Item", "itemId": bc_id}
    return {"lineType": kind, "lineObjectNumber": number}


def unit_code(
    position: int, document: str, uom_id: Any, target: ProductTarget, units: Mapping[str, UnitTarget]
) -> str | None:
    """The BC unit of measure code of a product line's Sales unit (None: the line has no unit)."""
    if not uom_id:
        return None
    unit = units.get(str(uom_id))
    if unit is None:
        raise RecordError(
            "unitNotCoupled",
            f"Line {position} of the {document}: its unit {uom_id} is not coupled to a Business Central unit of "
            f"measure of {target.kind.lower()} {target.number} (synchronize ITEM UOM / RESOURCE UOM first).",
            field="uomid",
        )
    if (unit.kind, unit.owner) != (target.kind, target.number):
        raise RecordError(
            "unitNotOfItem",
            f"Line {position} of the {document}: its unit {unit.code} ({uom_id}) is a unit of {unit.kind.lower()} "
            f"{unit.owner}, not of the line's {target.kind.lower()} {target.number}: choose a unit of the product's "
            "own unit group.",
            field="uomid",
        )
    return unit.code


def freight_line(amount: Any, account: str, *, document: str = "order") -> dict[str, Any] | None:
    """The G/L Account line of the document's freight, or None without freight."""
    freight = round(float(amount or 0), 2)
    if freight <= 0:
        return None
    if not account:
        raise RecordError(
            "freightAccountMissing",
            f"The {document} has a freight amount of {freight}, and no freight G/L account is set up: set "
            "freightGLAccountNumber (PATCH /api/setup).",
            field="freightGLAccountNumber",
        )
    return {"lineType": "Account", "lineObjectNumber": account, "quantity": 1, "unitPrice": freight}


def document_lines(
    details: Sequence[Mapping[str, Any]],
    products: Mapping[str, ProductTarget],
    write_in: WriteInProduct | None,
    *,
    document: str = "order",
    units: Mapping[str, UnitTarget] | None = None,
    freight: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """BC line bodies (API v2.0 `salesOrderLines`/`salesQuoteLines` shape, `sequence` numbered in steps of 10000)
    for the Sales details, in `sequencenumber` order, then the `freight` line if any. Raises `RecordError` naming the
    first line BC would refuse."""
    lines: list[dict[str, Any]] = []
    ordered = sorted(details, key=lambda d: (int(d.get("sequencenumber") or 0), str(d.get("lineitemnumber") or "")))
    for position, detail in enumerate(ordered, start=1):
        texts = line_text(detail)
        product_id = detail.get("_productid_value")
        if product_id:
            target = products.get(str(product_id))
            if target is None:
                raise RecordError(
                    "productNotCoupled",
                    f"Line {position} of the {document}: its product {product_id} is not coupled to a Business "
                    "Central item or resource (couple or synchronize the product first).",
                    field="productid",
                )
            main = _product_line(target.kind, target.bc_id, target.number)
            code = unit_code(position, document, detail.get("_uomid_value"), target, units or {})
            if code:
                main["unitOfMeasureCode"] = code
            extra = [] if texts == [target.description] else _pieces(texts)
        else:
            if write_in is None or not write_in.number:
                raise RecordError(
                    "writeInProductMissing",
                    f"Line {position} of the {document} is a write-in product, and no write-in product is set up: "
                    "set writeInProductType and writeInProductNumber (PATCH /api/setup).",
                    field="writeInProductNumber",
                )
            main = _product_line(write_in.kind, write_in.bc_id, write_in.number)
            first = split_text(texts[0]) if texts else []
            if first:
                main["description"] = first[0]
            extra = first[1:] + _pieces(texts[1:])
        lines.append({**main, **_amounts(detail)})
        lines.extend({"lineType": "Comment", "description": piece} for piece in extra)
    if freight:
        lines.append(dict(freight))
    for number, line in enumerate(lines, start=1):
        line["sequence"] = number * LINE_NUMBER_STEP
    return lines
