"""Shared building blocks of the BC emulator's business events: copying a sales document (header and lines) into
another entity set, the lines that make a document postable, the due date from payment terms, and removing a
document with its lines.

BC builds every posted or converted document by `TransferFields` from its source, so here a target row takes every
property it shares by name with the source; what BC computes anew (id, number, status, timestamps) is never copied.
Rows are written through `Writer.put`, which stamps the version and `lastModifiedDateTime`, and bypasses the API's
field rules on purpose: the source document already passed them, and posted documents are read-only in the API.
"""

from __future__ import annotations

import calendar
import re
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from local.emulators.business_central.api import documents
from local.emulators.business_central.api.writer import Writer
from local.emulators.business_central.errors import dialog
from local.emulators.business_central.naming import table_name
from local.emulators.business_central.schema import EntitySet
from local.emulators.business_central.values import EMPTY_DATE, EMPTY_GUID, default_value
from local.emulators.store import Row

NEVER_COPIED = frozenset({"id", "number", "status", "lastModifiedDateTime", "documentId", "documentNo"})
DEFAULT_DUE_DAYS = 30  # when neither the document nor its customer has payment terms (brief: 30 days is fine)
# Sales Line Type as salesShipmentLines spell it, by the "Invoice Line Agg. Line Type" member of the other lines
# (a one-to-one mapping, api-facts A5).
SHIPMENT_LINE_TYPE = {
    "Comment": "_x0020_",
    "Account": "G_x002F_L_x0020_Account",
    "Item": "Item",
    "Resource": "Resource",
    "Fixed_x0020_Asset": "Fixed_x0020_Asset",
    "Charge": "Charge_x0020__x0028_Item_x0029_",
    "Allocation_x0020_Account": "Allocation_x0020_Account",
}
# "Your Reference": the API order has no such property, so a page-service writer may keep it under either name.
YOUR_REFERENCE_KEYS = ("customerPurchaseOrderReference", "@yourReference")
_ISO_FORMULA = re.compile(r"^P(?:(?P<y>\d+)Y)?(?:(?P<m>\d+)M)?(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?$")
_BC_FORMULA = re.compile(r"^<?(?P<n>\d+)(?P<unit>[DWMY])>?$")


def today() -> date:
    """BC's WorkDate; UTC, the same clock `financials` uses for "up to yesterday"."""
    return datetime.now(UTC).date()


def date_or(value: Any, fallback: date) -> date:
    """A stored Edm.Date, or `fallback` when it is BC's empty date (0001-01-01): an unset date means WorkDate."""
    if not value or value == EMPTY_DATE:
        return fallback
    return date.fromisoformat(str(value))


def is_postable(line: Row) -> bool:
    """BC posts lines that have a type and a quantity; comment lines are carried along but post nothing."""
    return line.get("lineType") != "Comment" and float(line.get("quantity") or 0) != 0


def check_something_to_post(lines: list[Row]) -> None:
    if not any(is_postable(line) for line in lines):
        raise dialog("There is nothing to post.")


def _add_months(start: date, months: int) -> date:
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return start.replace(year=year, month=month, day=min(start.day, calendar.monthrange(year, month)[1]))


def apply_date_formula(formula: str, start: date) -> date | None:
    """A payment terms' Due Date Calculation (`P1M`/`P14D` as the emulator seeds it, or BC's `14D`, `1M`, `CM`);
    None when the formula is not understood, so the caller falls back to the default terms."""
    text = formula.strip().upper()
    if text in ("CM", "<CM>"):
        return start.replace(day=calendar.monthrange(start.year, start.month)[1])
    bc = _BC_FORMULA.match(text)
    if bc:
        text = f"P{bc.group('n')}{bc.group('unit')}"
    iso = _ISO_FORMULA.match(text)
    if iso is None or text == "P":
        return None
    parts = {key: int(value or 0) for key, value in iso.groupdict().items()}
    moved = _add_months(start, 12 * parts["y"] + parts["m"])
    return moved + timedelta(weeks=parts["w"], days=parts["d"])


def due_date(writer: Writer, company_id: str, header: Row, document_date: date) -> date:
    """Document Date + the Due Date Calculation of the document's payment terms (else its customer's), as BC's
    Sales Header does; without usable terms, net 30 days."""
    terms_id = header.get("paymentTermsId")
    if terms_id in (None, "", EMPTY_GUID):
        customer = writer.store.get(table_name(company_id, "customers"), str(header.get("customerId")))
        terms_id = (customer or {}).get("paymentTermsId")
    terms = None
    if terms_id not in (None, "", EMPTY_GUID):
        terms = writer.store.get(table_name(company_id, "paymentTerms"), str(terms_id))
    if terms is not None:
        computed = apply_date_formula(str(terms.get("dueDateCalculation") or ""), document_date)
        if computed is not None:
            return computed
    return document_date + timedelta(days=DEFAULT_DUE_DAYS)


def blank_row(entity_set: EntitySet) -> Row:
    """Every property at BC's empty value (BC has no nulls)."""
    return {name: default_value(prop) for name, prop in entity_set.properties.items()}


def copy_header(source: Row, target_set: EntitySet, **values: Any) -> Row:
    """A new header of `target_set` (new SystemId) with the fields it shares with `source`, then `values`."""
    row = blank_row(target_set)
    for name in target_set.properties:
        if name in source and name not in NEVER_COPIED:
            row[name] = source[name]
    for key in YOUR_REFERENCE_KEYS:
        if source.get(key) and "customerPurchaseOrderReference" in target_set.properties:
            row["customerPurchaseOrderReference"] = source[key]
            break
    row.update(values)
    row["id"] = str(uuid.uuid4())
    return row


def copy_lines(
    writer: Writer, company_id: str, source_lines: list[Row], target_set: EntitySet, target: Row, **values: Any
) -> list[Row]:
    """Copy `source_lines` (in `sequence` order) onto `target`: new line ids, same sequence, shared fields."""
    line_set = writer.entity_set(target_set.lines or "")
    copied: list[Row] = []
    for source in source_lines:
        line = blank_row(line_set)
        for name in line_set.properties:
            if name in source and name not in NEVER_COPIED:
                line[name] = source[name]
        if line_set.name == "salesShipmentLines":
            line["lineType"] = SHIPMENT_LINE_TYPE.get(str(source.get("lineType")), "_x0020_")
        if "documentNo" in line_set.properties:
            line["documentNo"] = target.get("number", "")
        line.update(values)
        line["id"] = str(uuid.uuid4())
        line[line_set.parent_key] = target["id"]
        writer.put(company_id, line_set, line)
        copied.append(line)
    return copied


def remove_document(writer: Writer, company_id: str, document_set: EntitySet, document: Row) -> None:
    """Delete a document and its lines without the API's checks (BC deletes a fully posted order itself, even a
    released one, and deletes a quote it turned into an order or invoice)."""
    for line in documents.line_rows(writer, company_id, document_set, document["id"]):
        writer.store.delete(table_name(company_id, document_set.lines or ""), line["id"])
    writer.store.delete(table_name(company_id, document_set.name), document["id"])


def total_including_tax(row: Row) -> float:
    return round(float(row.get("totalAmountIncludingTax") or 0), 2)
