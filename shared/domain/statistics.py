"""What a customer's `nav_accountstatistics` row holds (BC's "CRM Account Statistics" 5367), computed from what API
v2.0 gives: the customer (`number`, `displayName`, `creditLimit`) with its `customerFinancialDetails` expanded, and
the three open-document figures (`OPEN_DOCUMENT_FIGURES`: outstanding orders, shipped not invoiced, outstanding
invoices) that `processes/statistics_figures.py` computes from `salesOrders` and draft `salesInvoices` with BC's
formulas.

Why the rest is written as null (`NOT_IN_API`, Sales shows '--'), each for its own reason:
- nav_totallcy: BC writes Customer.GetTotalAmountLCY = balance + outstanding orders + shipped not invoiced +
  outstanding invoices - the outstanding amount of invoice lines made from shipments (Sales Line "Shipment No.") -
  invoiced prepayments - return receipts not invoiced. API v2.0 has no shipment link on invoice lines, no prepayment
  amounts and no return orders, so the total is unknown; a "total" without those terms would be a wrong number.
- nav_invoicedprepaymentamountlcy: Customer.GetInvoicedPrepmtAmountLCY sums the order lines' "Prepmt. Amount Inv.
  (LCY)" and "Prepmt. VAT Amount Inv. (LCY)"; `salesOrderLines` exposes no prepayment field.
- nav_outstandingserviceorderslcy, nav_servshippednotinvoicedlcy, nav_outstandingservinvoiceslcy: service orders
  and invoices are not in API v2.0 (nor does BC's current job write them: its new row keeps the placeholder 1).
Writing null (rather than leaving the attribute out) also clears stale figures in a row BC's own job wrote before we
adopted it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date
from typing import Any

from shared.domain.transforms import normalize

TABLE, ENTITY_SET, PRIMARY = "nav_accountstatistics", "nav_accountstatisticses", "nav_accountstatisticsid"
CURRENCY = "transactioncurrencyid"
DETAILS = "customerFinancialDetails"
DETAIL_FIELDS = ("balance", "totalSalesExcludingTax", "overdueAmount")
CUSTOMER_FIELDS = ("number", "displayName", "creditLimit")
OPEN_DOCUMENT_FIGURES = (  # from salesOrders + lines and draft salesInvoices (processes/statistics_figures.py)
    "nav_outstandingorderslcy", "nav_shippednotinvoicedlcy", "nav_outstandinginvoiceslcy",
)  # fmt: skip
NOT_IN_API = (  # BC fills these; API v2.0 has no source for them (see the module docstring for each)
    "nav_outstandingserviceorderslcy", "nav_servshippednotinvoicedlcy", "nav_outstandingservinvoiceslcy",
    "nav_totallcy", "nav_invoicedprepaymentamountlcy",
)  # fmt: skip
VALUES = (
    "nav_name", "nav_customerno", "nav_balancelcy", "nav_totalsaleslcy", "nav_overdueamountslcy",
    "nav_overdueamountsasof", "nav_creditlimitlcy", *OPEN_DOCUMENT_FIGURES, *NOT_IN_API,
)  # fmt: skip
STATISTICS_NAMESPACE = uuid.UUID("5b0e7c1d-2f4a-4d6b-9c8e-1a2b3c4d5e6f")


def statistics_id(bc_customer_id: str) -> str:
    """The row id of a customer's statistics when its account links none yet: the same on every run, so a re-run
    (or a crash between writing the row and linking it) never makes a second row."""
    return str(uuid.uuid5(STATISTICS_NAMESPACE, f"{TABLE}:{bc_customer_id.lower()}"))


def statistics_values(
    customer: Mapping[str, Any],
    today: date,
    currency_id: str | None,
    open_documents: Mapping[str, float | None] | None = None,
) -> dict[str, Any]:
    """The attribute values BC's job would write (the gaps as None). No financial detail means no ledger entries:
    BC's blank decimals, 0. `today` is BC's WORKDATE (the as-of date of the overdue amount). `open_documents` holds
    the `OPEN_DOCUMENT_FIGURES` (a figure missing from it, or None, is written null)."""
    details = customer.get(DETAILS) or {}
    values: dict[str, Any] = {
        "nav_name": str(customer.get("displayName") or "")[:100],
        "nav_customerno": str(customer.get("number") or "")[:20],
        "nav_balancelcy": details.get("balance") or 0,
        "nav_totalsaleslcy": details.get("totalSalesExcludingTax") or 0,
        "nav_overdueamountslcy": details.get("overdueAmount") or 0,
        "nav_overdueamountsasof": today.isoformat(),
        "nav_creditlimitlcy": customer.get("creditLimit") or 0,
        **{name: (open_documents or {}).get(name) for name in OPEN_DOCUMENT_FIGURES},
        **dict.fromkeys(NOT_IN_API),
    }
    if currency_id:
        values[CURRENCY] = currency_id
    return values


def holds(row: Mapping[str, Any], values: Mapping[str, Any]) -> bool:
    """Whether a statistics row as Dataverse returns it (the currency as `_transactioncurrencyid_value`) already
    holds these values, compared in the sync's canonical form (so 12.5 and "12.50000" are equal)."""
    current = {**row, CURRENCY: row.get(f"_{CURRENCY}_value")}
    return all(normalize(current.get(name)) == normalize(value) for name, value in values.items())


def row_body(row_id: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """An UpsertMultiple target: the values with the currency bound by navigation."""
    body: dict[str, Any] = {PRIMARY: row_id, **values}
    if CURRENCY in body:
        body[f"{CURRENCY}@odata.bind"] = f"/transactioncurrencies({body.pop(CURRENCY)})"
    return body
