"""customerFinancialDetails, computed like BC's FlowFields from posted invoices (and the payments applied to them).

balance = open amount of every posted, non-canceled invoice; totalSalesExcludingTax = posted sales up to yesterday
(BC filters 0D..WorkDate-1); overdueAmount = open amounts due before today. lastModifiedDateTime is the customer
record's, so posting does not move it (api-facts A5, an inference from source kept as the safe reading).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime

from local.emulators.business_central.api.records import Records
from local.emulators.business_central.naming import table_name
from local.emulators.store import Row


def _open_invoices_by_customer(records: Records, company_id: str) -> dict[str, list[Row]]:
    """Posted, non-canceled invoices grouped by customer once: a read costs customers + invoices, not their product."""
    grouped: dict[str, list[Row]] = defaultdict(list)
    for invoice in records.store.rows(table_name(company_id, "salesInvoices")):
        if invoice.get("@posted") and not invoice.get("@canceled"):
            grouped[str(invoice.get("customerId"))].append(invoice)
    return grouped


def _amount(rows: list[Row], field: str, keep: Callable[[Row], bool]) -> float:
    return round(sum(float(r.get(field) or 0) for r in rows if keep(r)), 2)


def financial_detail_rows(records: Records, company_id: str, only: str | None = None) -> list[Row]:
    today = datetime.now(UTC).date().isoformat()
    invoices = _open_invoices_by_customer(records, company_id)
    rows: list[Row] = []
    for customer in records.store.rows(table_name(company_id, "customers")):
        if only is not None and customer["id"] != only:
            continue
        own = invoices.get(customer["id"], [])
        rows.append(
            {
                "id": customer["id"],
                "number": customer["number"],
                "balance": _amount(own, "remainingAmount", lambda r: True),
                "totalSalesExcludingTax": _amount(
                    own, "totalAmountExcludingTax", lambda r: str(r.get("postingDate")) < today
                ),
                "overdueAmount": _amount(
                    own, "remainingAmount", lambda r: "0001-01-01" < str(r.get("dueDate")) < today
                ),
                "lastModifiedDateTime": customer.get("lastModifiedDateTime"),
                "@version": customer["@version"],
            }
        )
    return rows


def customers_with_balance(records: Records, company_id: str) -> list[Row]:
    """Customers as the API returns them: `balanceDue` is BC's Balance Due (LCY) FlowField, computed on read."""
    today = datetime.now(UTC).date().isoformat()
    invoices = _open_invoices_by_customer(records, company_id)
    rows = records.store.rows(table_name(company_id, "customers"))
    if not invoices:
        return rows
    return [
        {
            **row,
            "balanceDue": _amount(
                invoices.get(row["id"], []), "remainingAmount", lambda r: "0001-01-01" < str(r.get("dueDate")) < today
            ),
        }
        if row["id"] in invoices
        else row
        for row in rows
    ]
