"""Deletes Business Central refuses, checked before the emulator deletes a record.

A customer (Customer table's OnDelete, microsoft/BCApps `src/Layers/W1/BaseApp/Sales/Customer/Customer.Table.al`):
- `CheckIfSalesOrderLinesExist`: a sales line of any document type whose sell-to or bill-to customer is the customer
  refuses the delete. The emulator looks at the document headers (a line carries its header's customers); a
  document with no lines refusing too is UNCONFIRMED, taken as the strict reading.
- `MoveEntries.MoveCustEntries` (`src/Layers/W1/BaseApp/Utilities/MoveEntries.Codeunit.al`): customer ledger
  entries posted in a fiscal year that is not closed, or open ledger entries, refuse the delete. The emulator keeps
  no accounting periods, so every posted invoice or credit memo of the customer counts as a ledger entry of an
  open year (the strict reading). A payment is posted only against a posted invoice (`posting/admin.py`), whose
  own entry refuses the delete already.
BC raises both as errors of the record's trigger: the API answers them as a dialog error (400), as for the other
record rules of this emulator.
"""

from __future__ import annotations

from local.emulators.business_central.errors import dialog
from local.emulators.business_central.naming import table_name
from local.emulators.store import Row, Store

SALES_DOCUMENTS = (
    ("salesQuotes", "quote"),
    ("salesOrders", "order"),
    ("salesInvoices", "invoice"),
    ("salesCreditMemos", "credit memo"),
)


def check_delete(store: Store, company_id: str, entity_set: str, row: Row) -> None:
    if entity_set == "customers":
        _check_customer(store, company_id, row)


def _check_customer(store: Store, company_id: str, customer: Row) -> None:
    customer_id, number = customer["id"], customer.get("number")
    for set_name, kind in SALES_DOCUMENTS:
        for document in store.rows(table_name(company_id, set_name)):
            if customer_id not in (document.get("customerId"), document.get("billToCustomerId")):
                continue
            if document.get("@posted"):
                raise dialog(
                    f"Customer {number} cannot be deleted: it has ledger entries in a fiscal year that is not closed "
                    f"(posted {kind} {document.get('number')})."
                )
            raise dialog(
                f"Customer {number} cannot be deleted: there is an outstanding sales {kind} "
                f"({document.get('number')}) for it."
            )
