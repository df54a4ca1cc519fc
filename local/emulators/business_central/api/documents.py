"""Sales document rules: line types, amounts and header totals, the customer a document needs, status values.

Lines follow BC's Sales Line: `lineType` Comment|Account|Item|Resource|...; a Comment line carries only a
description (Text[100]); an Item line takes its number, description, price and unit from the item (given by
`itemId` or `lineObjectNumber`); a Resource line needs a resource (published through the Resource Card page
service, since API v2.0 has none). Line amounts, tax and the invoice discount, and the header totals that follow
the lines: `document_tax`.
"""

from __future__ import annotations

from typing import Any

from local.emulators.business_central.api import document_tax, gl_accounts
from local.emulators.business_central.api.records import Records
from local.emulators.business_central.errors import dialog
from local.emulators.business_central.naming import table_name
from local.emulators.business_central.schema import EntitySet
from local.emulators.business_central.values import EMPTY_GUID
from local.emulators.store import Row

HEADERS_WITH_CUSTOMER = frozenset({"salesOrders", "salesQuotes", "salesInvoices", "salesCreditMemos"})
COMMENT_ONLY = ("lineObjectNumber", "itemId", "quantity", "unitPrice", "accountId", "unitOfMeasureCode")


def _item_line(records: Records, company_id: str, row: Row, changed: set[str]) -> None:
    item = None
    if "itemId" in changed and row.get("itemId") not in (None, EMPTY_GUID):
        item = records.store.get(table_name(company_id, "items"), row["itemId"])
    elif row.get("lineObjectNumber"):
        item = records.find_by(company_id, "items", "number", row["lineObjectNumber"])
    if item is None:
        raise dialog(f"The Item does not exist. Identification fields and values: No.='{row.get('lineObjectNumber')}'")
    if item.get("blocked"):
        raise dialog(f"Blocked must be equal to 'No'  in Item: No.={item['number']}. Current value is 'Yes'.")
    row["itemId"], row["lineObjectNumber"] = item["id"], item["number"]
    if "description" not in changed:
        row["description"] = item.get("displayName", "")
    if "unitPrice" not in changed:
        row["unitPrice"] = item.get("unitPrice", 0)
    if "unitOfMeasureCode" in row and "unitOfMeasureCode" not in changed:
        row["unitOfMeasureCode"] = item.get("baseUnitOfMeasureCode", "")


def _resource_line(records: Records, company_id: str, row: Row, changed: set[str]) -> None:
    resource = records.find_by(company_id, "resources", "No", row.get("lineObjectNumber"))
    if resource is None:
        raise dialog(
            f"The Resource does not exist. Identification fields and values: No.='{row.get('lineObjectNumber')}'"
        )
    if resource.get("Blocked"):
        raise dialog(f"Blocked must be equal to 'No'  in Resource: No.={resource['No']}. Current value is 'Yes'.")
    if "description" not in changed:
        row["description"] = resource.get("Name", "")
    if "unitPrice" not in changed:
        row["unitPrice"] = resource.get("Unit_Price", 0)
    if "unitOfMeasureCode" in row and "unitOfMeasureCode" not in changed:
        row["unitOfMeasureCode"] = resource.get("Base_Unit_of_Measure", "")


def apply_line_rules(records: Records, company_id: str, entity_set: EntitySet, row: Row, changed: set[str]) -> None:
    if entity_set.name in HEADERS_WITH_CUSTOMER:
        _header_rules(records, company_id, entity_set, row)
        if "discountAmount" in changed:  # a new invoice discount is shared over the lines again
            recompute_totals(records, company_id, entity_set, row)
        return
    if "lineType" not in entity_set.properties or entity_set.read_only:
        return
    line_type = row.get("lineType")
    if line_type == "Comment":
        given = [name for name in COMMENT_ONLY if name in changed and row.get(name) not in ("", 0, EMPTY_GUID)]
        if given:
            raise dialog(
                f"Type must not be Comment in Sales Line for {', '.join(given)}: a comment line has only a description."
            )
    elif line_type == "Item" and changed & {"itemId", "lineObjectNumber", "lineType"}:
        _item_line(records, company_id, row, changed)
    elif line_type == "Resource" and changed & {"lineObjectNumber", "lineType"}:
        _resource_line(records, company_id, row, changed)
    elif line_type in ("Account", "Fixed_x0020_Asset", "Charge") and not row.get("lineObjectNumber"):
        raise dialog(f"No. must have a value in Sales Line for line type {line_type}.")
    gl_accounts.line_rules(records, company_id, entity_set, row, changed)  # G/L account lines, the item's own units
    document_tax.line_rules(records, company_id, entity_set, row, changed)


def _header_rules(records: Records, company_id: str, entity_set: EntitySet, row: Row) -> None:
    customer_id = row.get("customerId")
    if customer_id in (None, "", EMPTY_GUID):
        raise dialog("Sell-to Customer No. must have a value in Sales Header.")
    customer = records.store.get(table_name(company_id, "customers"), customer_id)
    if customer is not None and customer.get("blocked") == "All":
        raise dialog(
            f"You cannot create this type of document when Customer {customer['number']} is blocked with type All."
        )
    if customer is not None and "billToCustomerId" in row and row.get("billToCustomerId") in (None, EMPTY_GUID):
        row["billToCustomerId"], row["billToCustomerNumber"] = customer["id"], customer["number"]
        row["billToName"] = customer.get("displayName", "")
    if "currencyCode" in row and not row.get("currencyCode"):
        row["currencyCode"] = records.local_currency
    status(entity_set, row)


def status(entity_set: EntitySet, row: Row) -> None:
    """API status from the internal state (api-facts A6)."""
    if entity_set.name == "salesOrders":
        row["status"] = "Open" if row.get("@released") else "Draft"
    elif entity_set.name == "salesQuotes":
        row["status"] = "Draft"
    elif entity_set.name == "salesInvoices":
        if row.get("@canceled"):
            row["status"] = "Canceled"
        elif row.get("@posted"):
            row["status"] = "Paid" if float(row.get("remainingAmount") or 0) <= 0 else "Open"
        else:
            row["status"] = "Draft"


def recompute_totals(records: Records, company_id: str, document_set: EntitySet, document: Row) -> None:
    if document_set.lines is None:
        return
    document_tax.recompute(records, company_id, document_set, document)
    if document_set.name == "salesInvoices" and not document.get("@posted"):
        document["remainingAmount"] = round(float(document.get("totalAmountIncludingTax") or 0), 2)
    status(document_set, document)


def line_rows(records: Records, company_id: str, document_set: EntitySet, document_id: str) -> list[Row]:
    if document_set.lines is None:
        return []
    line_set = records.schema.sets[document_set.lines]
    rows = [
        r
        for r in records.store.rows(table_name(company_id, line_set.name))
        if r.get(line_set.parent_key) == document_id
    ]
    return sorted(rows, key=lambda r: r.get("sequence", 0))


def public(row: Row) -> dict[str, Any]:
    return {k: v for k, v in row.items() if not k.startswith("@")}
