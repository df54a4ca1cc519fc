"""Deletes of customers the emulator refuses: an account or contact that a sales order, quote or invoice names as
its customer (`customerid`).

UNCONFIRMED, the strict reading: Dataverse decides by each relationship's cascade configuration for Delete
(`CascadeType`: Cascade deletes the referencing rows, RemoveLink clears the lookup, Restrict refuses the delete;
Microsoft Learn, Web API reference "CascadeType EnumType"), and the configuration of `order_customer_accounts`,
`quote_customer_accounts` and `invoice_customer_accounts` (and their contact twins) in a Sales org was not confirmed
here. Refusing is the reading under which the sync never destroys a customer's documents by deleting the customer:
the caller sees the refusal (Delete Records reports it for that record).
"""

from __future__ import annotations

from local.emulators.dataverse.errors import invalid
from local.emulators.dataverse.schema import Table
from local.emulators.store import Row, Store

CUSTOMERS = ("account", "contact")
DOCUMENTS = (
    ("salesorder", "order", "ordernumber"),
    ("quote", "quote", "quotenumber"),
    ("invoice", "invoice", "invoicenumber"),
)


def check_delete(store: Store, table: Table, row: Row) -> None:
    if table.logical_name not in CUSTOMERS:
        return
    customer_id = row[table.primary_id]
    for logical_name, kind, number in DOCUMENTS:
        for document in store.rows(logical_name):
            if document.get("_customerid_value") == customer_id:
                raise invalid(
                    f"The {table.logical_name} '{row.get(table.primary_name) or customer_id}' cannot be deleted: "
                    f"the {kind} '{document.get(number) or document.get('name')}' names it as its customer."
                )
