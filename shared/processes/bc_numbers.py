"""Find a BC record by its number or code (BC's "No." / "Code"), the way BC users know their records.

Couplings are keyed by BC's SystemId (a GUID), which nobody reads off a BC page; an administrator looking for
customer C00010 should not have to look up its SystemId first. One filtered read of the mapping's BC entity set
(`$select` of the key only) turns the number into the id.

The fields and their lengths are BC's own (`Code[20]` for numbers, `Code[10]` for currency, unit, payment-terms and
shipment-method codes; tests/unit/test_bc_numbers.py checks them against the API schema and the page sources). Code
fields hold upper case in BC, so the number is upper-cased before it is compared.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.domain.companies import BLANK
from shared.domain.coupling import Coupling
from shared.domain.errors import InvalidInputError, NotFoundError
from shared.domain.mapping import TableMapping
from shared.engine.context import SyncContext

NUMBER_FIELDS: dict[str, tuple[str, int]] = {  # BC entity set -> (number field, its Code length)
    "customers": ("number", 20),
    "vendors": ("number", 20),
    "contacts": ("number", 20),
    "items": ("number", 20),
    "resources": ("number", 20),
    "salespeoplePurchasers": ("code", 20),
    "currencies": ("code", 10),
    "unitsOfMeasure": ("code", 10),
    "paymentTerms": ("code", 10),
    "shipmentMethods": ("code", 10),
    "customerPriceGroups": ("code", 10),
    "priceLists": ("code", 20),
    "salesOrders": ("number", 20),
    "salesQuotes": ("number", 20),
    "salesInvoices": ("number", 20),
    "opportunities": ("number", 20),
}
FIELD = "number"  # the query parameter: what an error names


@dataclass(frozen=True)
class FoundRecord:
    mapping: str
    number: str
    bc_id: str
    coupling: Coupling | None


def number_field(mapping: TableMapping) -> tuple[str, int]:
    found = NUMBER_FIELDS.get(mapping.bc_entity_set)
    if found is None:
        raise InvalidInputError(
            "noNumberLookup",
            f"{mapping.name} records have no single number or code in BC ({mapping.bc_entity_set}); look them up "
            "by their Business Central id.",
            field=FIELD,
        )
    return found


def find_by_number(context: SyncContext, mapping_name: str, number: str) -> FoundRecord:
    """The BC record with this number in the mapping's entity set, and its coupling if it has one."""
    mapping = context.mapping(mapping_name)
    field, length = number_field(mapping)
    value = number.strip(BLANK).upper()  # the document's blanks only: `number=%C2%85` is a number to look up
    if not value:
        raise InvalidInputError("required", "Give the record's number.", field=FIELD)
    if len(value) > length:
        raise InvalidInputError("tooLong", f"A {field} in BC is at most {length} characters.", field=FIELD)
    literal = value.replace("'", "''")
    pages = context.bc.list_changed_since(mapping.bc_entity_set, None, [field], extra_filter=f"{field} eq '{literal}'")
    rows = [row for page in pages for row in page.rows]
    if not rows:
        raise NotFoundError("bcRecordNotFound", f"Business Central has no {mapping_name} record {value}.", field=FIELD)
    bc_id = str(rows[0]["id"])
    return FoundRecord(mapping_name, value, bc_id, context.couplings.find_by_bc_id(mapping_name, bc_id))
