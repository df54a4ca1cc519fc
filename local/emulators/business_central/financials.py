"""customerFinancialDetails, computed like BC's FlowFields from posted invoices (and the payments applied to them).

balance = open amount of every posted, non-canceled invoice; totalSalesExcludingTax = posted sales up to yesterday
(BC filters 0D..WorkDate-1); overdueAmount = open amounts due before today. lastModifiedDateTime is the customer
record's, so posting does not move it (api-facts A5, an inference from source kept as the safe reading).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from local.emulators.business_central.naming import table_name
from local.emulators.store import Row

if TYPE_CHECKING:
    from local.emulators.business_central.writer import Writer


def financial_detail_rows(writer: Writer, company_id: str, only: str | None = None) -> list[Row]:
    today = datetime.now(UTC).date().isoformat()
    invoices = [
        r
        for r in writer.store.rows(table_name(company_id, "salesInvoices"))
        if r.get("@posted") and not r.get("@canceled")
    ]
    rows: list[Row] = []
    for customer in writer.store.rows(table_name(company_id, "customers")):
        if only is not None and customer["id"] != only:
            continue
        own = [r for r in invoices if r.get("customerId") == customer["id"]]
        balance = round(sum(float(r.get("remainingAmount") or 0) for r in own), 2)
        sales = round(
            sum(float(r.get("totalAmountExcludingTax") or 0) for r in own if str(r.get("postingDate")) < today), 2
        )
        overdue = round(
            sum(
                float(r.get("remainingAmount") or 0)
                for r in own
                if str(r.get("dueDate")) < today and r.get("dueDate") != "0001-01-01"
            ),
            2,
        )
        rows.append(
            {
                "id": customer["id"],
                "number": customer["number"],
                "balance": balance,
                "totalSalesExcludingTax": sales,
                "overdueAmount": overdue,
                "lastModifiedDateTime": customer.get("lastModifiedDateTime"),
                "@version": customer["@version"],
            }
        )
    return rows
