"""BC's "Update Account Statistics" for one customer (`POST /api/customers/{bcId}/update-statistics`): the
customer's statistics row now (`processes/statistics.py`), then the payment status of its coupled posted invoices
(BC's UpdateStatusOfPaidInvoices for the customer).

A module of its own because it is an action on one record with its own refusals (404, 409) and the invoices' half,
while `statistics.py` is the job over every coupled customer, page by page.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from shared.domain.errors import ConflictError, NotFoundError, SyncError
from shared.engine.context import SyncContext
from shared.processes.invoices import BC_INVOICES, POSTED, STATUS_SELECT, apply_payment_status
from shared.processes.invoices import MAPPING as INVOICE_MAPPING
from shared.processes.statistics import MAPPING, refresh_statistics

log = logging.getLogger("bc_sales_sync.statistics")


@dataclass
class InvoiceStatusResult:
    """The payment-status half of one customer's update: its coupled posted invoices read and changed."""

    read: int = 0  # posted invoices billed to the customer
    coupled: int = 0  # of those, coupled to a Sales invoice
    status_changed: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "read": self.read,
            "coupled": self.coupled,
            "statusChanged": self.status_changed,
            "failed": self.failed,
            "errors": self.errors,
        }


def update_invoice_status(context: SyncContext, bc_id: str) -> InvoiceStatusResult:
    """BC's UpdateStatusOfPaidInvoices(Customer No.): every coupled posted invoice billed to the customer (its
    customer ledger entry's customer is the Bill-to Customer) gets the payment status of its remaining amount, with
    the invoice timer's own rule and write (`invoices.apply_payment_status`: Billed, Paid/Partial, Paid/Complete,
    Canceled; only a changed status is written). One read per page of the customer's posted invoices. An invoice
    Dataverse refuses is counted and named, and the others go on (BC's job logs and goes on too)."""
    result = InvoiceStatusResult()
    extra = f"{POSTED} and billToCustomerId eq {bc_id.lower()}"
    for page in context.bc.list_changed_since(BC_INVOICES, None, STATUS_SELECT, extra_filter=extra):
        couplings = context.couplings.find_many_by_bc_ids(INVOICE_MAPPING, [str(r["id"]) for r in page.rows])
        for invoice in page.rows:
            result.read += 1
            coupling = couplings.get(str(invoice["id"]))
            if coupling is None:
                continue
            result.coupled += 1
            try:
                result.status_changed += apply_payment_status(context, coupling, invoice)
            except SyncError as error:
                if error.is_transient:
                    raise
                result.failed += 1
                result.errors.append(f"{invoice.get('number')}: {error.message}")
                log.warning("customer statistics: invoice %s: %s", invoice.get("number"), error.message)
    return result


def update_customer_statistics(context: SyncContext, bc_id: str) -> dict[str, Any]:
    """One customer's statistics now (`POST /api/customers/{bcId}/update-statistics`, BC's "Update Account
    Statistics": CreateOrUpdateCRMAccountStatistics, then UpdateStatusOfPaidInvoices for the customer): the row,
    then the payment status of the customer's coupled invoices (`invoices` in the answer). 404 when BC has no such
    customer, 409 when it is not coupled, its coupling is skipped or its account is gone; a row Dataverse refuses
    surfaces as that record error (and no invoice is touched)."""
    coupling = context.couplings.find_by_bc_id(MAPPING, bc_id)
    if coupling is None or coupling.skipped:
        if context.bc.get_entity(context.mapping(MAPPING).bc_entity_set, bc_id, select=["id"]) is None:
            raise NotFoundError(
                "customerNotFound", f"Business Central has no customer with id '{bc_id}'.", field="bcId"
            )
        if coupling is None:
            raise ConflictError("customerNotCoupled", f"Customer {bc_id} is not coupled to an account.", field="bcId")
        raise ConflictError(
            "couplingSkipped", f"Customer {bc_id}'s coupling is skipped: restore it first.", field="bcId"
        )
    outcome = refresh_statistics(context, [bc_id]).customers.get(bc_id.lower())
    if outcome is None:  # coupled, yet BC did not return it: deleted since
        raise NotFoundError("customerNotFound", f"Business Central has no customer with id '{bc_id}'.", field="bcId")
    if outcome.outcome == "missing":
        raise ConflictError(
            "accountNotFound",
            f"The account {outcome.account_id} coupled to customer {bc_id} no longer exists in Dataverse.",
            field="bcId",
        )
    if outcome.error is not None:
        raise outcome.error
    return {**outcome.as_dict(), "invoices": update_invoice_status(context, bc_id).as_dict()}
