"""What a customer's `nav_accountstatistics` row holds (BC's "CRM Account Statistics" 5367), computed from what API
v2.0 gives: the customer (`number`, `displayName`, `creditLimit`) with its `customerFinancialDetails` expanded.

Why the gaps are written as null: API v2.0 exposes no outstanding orders, shipped-not-invoiced, outstanding invoices,
service amounts or invoiced prepayments, and BC's nav_totallcy is the balance plus those. A guessed figure (a
"total" that is only the balance) would show a wrong number in Sales; null shows '--'. Writing null (rather than
leaving the attribute out) also clears stale figures in a row BC's own job wrote before we adopted it.
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
NOT_IN_API = (  # BC fills these; API v2.0 has no source for them
    "nav_outstandingorderslcy", "nav_shippednotinvoicedlcy", "nav_outstandinginvoiceslcy",
    "nav_outstandingserviceorderslcy", "nav_servshippednotinvoicedlcy", "nav_outstandingservinvoiceslcy",
    "nav_totallcy", "nav_invoicedprepaymentamountlcy",
)  # fmt: skip
VALUES = (
    "nav_name", "nav_customerno", "nav_balancelcy", "nav_totalsaleslcy", "nav_overdueamountslcy",
    "nav_overdueamountsasof", "nav_creditlimitlcy", *NOT_IN_API,
)  # fmt: skip
STATISTICS_NAMESPACE = uuid.UUID("5b0e7c1d-2f4a-4d6b-9c8e-1a2b3c4d5e6f")


def statistics_id(bc_customer_id: str) -> str:
    """The row id of a customer's statistics when its account links none yet: the same on every run, so a re-run
    (or a crash between writing the row and linking it) never makes a second row."""
    return str(uuid.uuid5(STATISTICS_NAMESPACE, f"{TABLE}:{bc_customer_id.lower()}"))


def statistics_values(customer: Mapping[str, Any], today: date, currency_id: str | None) -> dict[str, Any]:
    """The attribute values BC's job would write (the gaps as None). No financial detail means no ledger entries:
    BC's blank decimals, 0. `today` is BC's WORKDATE (the as-of date of the overdue amount)."""
    details = customer.get(DETAILS) or {}
    values: dict[str, Any] = {
        "nav_name": str(customer.get("displayName") or "")[:100],
        "nav_customerno": str(customer.get("number") or "")[:20],
        "nav_balancelcy": details.get("balance") or 0,
        "nav_totalsaleslcy": details.get("totalSalesExcludingTax") or 0,
        "nav_overdueamountslcy": details.get("overdueAmount") or 0,
        "nav_overdueamountsasof": today.isoformat(),
        "nav_creditlimitlcy": customer.get("creditLimit") or 0,
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
