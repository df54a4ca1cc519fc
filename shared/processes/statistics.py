"""Customer statistics (the account half of BC's "CRM Statistics Job"): each coupled customer's financial figures from
BC -> its `nav_accountstatistics` row in Dataverse, linked from the account (`account.nav_accountstatisticsid`).

Why a job of its own: the figures are FlowFields (sums over customer ledger entries), so posting, paying or an
invoice falling due never moves the customer's `lastModifiedDateTime` and the incremental CUSTOMER run never sees it.

What is written (BC field -> attribute): Name -> nav_name, No. -> nav_customerno, and from API v2.0's
`customerFinancialDetails` balance -> nav_balancelcy, totalSalesExcludingTax -> nav_totalsaleslcy, overdueAmount ->
nav_overdueamountslcy with nav_overdueamountsasof = today (BC's WORKDATE, from `context.clock`), creditLimit ->
nav_creditlimitlcy, and transactioncurrencyid = the local currency's `transactioncurrency` (when Sales has one).
From the customer's open documents, with BC's FlowField formulas (`processes/statistics_figures.py` gives each
formula and its source): Outstanding Orders (LCY) -> nav_outstandingorderslcy, Shipped Not Invoiced (LCY) ->
nav_shippednotinvoicedlcy (both from `salesOrders` lines' amount including tax and quantities shipped/invoiced),
Outstanding Invoices (LCY) -> nav_outstandinginvoiceslcy (draft `salesInvoices`).

Gaps, on purpose (see `domain/statistics.py` for each reason): nav_totallcy (BC's total subtracts invoiced
prepayments, return receipts not invoiced and invoice lines made from shipments, none of which API v2.0 exposes),
nav_invoicedprepaymentamountlcy and the three service figures are written as null, never guessed; so is an
open-document figure a foreign-currency document adds to (API v2.0 has no currency factor). BC's trick of first
writing 1 into every money field of a new row (so Sales shows values, not '--') is skipped: the real values go in the
same write. Delete Coupling of a customer (one, or all of CUSTOMER's) deletes its row (the `dropAccountStatistics`
behaviour CUSTOMER declares).

Update Account Statistics for one customer (`processes/customer_statistics_action.py`) refreshes this row, then sets
the payment status of the customer's coupled posted invoices, as BC's action does.

How it stays cheap and idempotent, per BC page (never more than one page in memory):
- BC: one read per server page of `customers` with `$expand=customerFinancialDetails` (figures and name in one
  request); for given ids, one read per 15 ids (`id eq` filters). The open documents: one paged read of
  `salesOrders` (lines expanded) and of draft `salesInvoices` per run, or per 15 named customers.
- Dataverse: the coupled accounts' links and the statistics rows, one read each per 100 ids (`or` filters); then one
  `UpsertMultiple` of the changed rows and one `UpdateMultiple` of the accounts not yet linked, per `bulk_size`.
- The row id is the account's current link when it has one (a row BC's own job created is adopted, not doubled),
  else uuid5("nav_accountstatistics:" + BC id): a crash between the two writes, or a re-run, targets the same row.
- Values are compared in the sync's canonical form, so a run with nothing changed writes nothing. The as-of date is
  a value too: the first run of a day rewrites every row (as BC's job does).
Coupled customers whose coupling is skipped are left alone (BC excludes them); a coupled account gone from
Dataverse is counted `missing` and gets no row.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shared.domain.errors import BulkWriteError, ErrorKind, SyncError
from shared.domain.statistics import (
    CURRENCY,
    CUSTOMER_FIELDS,
    DETAIL_FIELDS,
    DETAILS,
    ENTITY_SET,
    PRIMARY,
    TABLE,
    VALUES,
    holds,
    row_body,
    statistics_id,
    statistics_values,
)
from shared.engine.context import SyncContext
from shared.ports import Row
from shared.processes.statistics_figures import FigureSums, open_document_figures

log = logging.getLogger("bc_sales_sync.statistics")
MAPPING = "CUSTOMER"
LINK = "nav_accountstatisticsid"  # the account's lookup to its statistics row
BC_ID_CHUNK = 15  # ids per BC `$filter` (the connector's figure: URLs near 1 KB)
DATAVERSE_ID_CHUNK = 100  # ids per Dataverse `or` filter (~5 KB URLs)
EXPAND = f"{DETAILS}($select={','.join(DETAIL_FIELDS)})"


@dataclass
class CustomerStatistics:
    """One customer's outcome: `outcome` is created/updated/unchanged/missing/failed; `values` as Dataverse now holds
    them (after this run's write), the currency by id under `transactioncurrencyid`."""

    bc_id: str
    account_id: str
    statistics_id: str
    outcome: str
    values: dict[str, Any] = field(default_factory=dict)
    linked: bool = False  # this run linked the account to the row
    error: SyncError | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "bcId": self.bc_id,
            "accountId": self.account_id,
            "statisticsId": self.statistics_id,
            "outcome": self.outcome,
            "linked": self.linked,
            "values": self.values,
        }


@dataclass
class StatisticsResult:
    """Counters of one run; `customers` holds each outcome only when the caller named the customers."""

    read: int = 0  # customers read from BC
    coupled: int = 0  # of those, coupled (and not skipped)
    created: int = 0  # statistics rows created
    updated: int = 0  # statistics rows whose values changed
    unchanged: int = 0
    linked: int = 0  # accounts given their link to the row
    missing: int = 0  # coupled accounts Dataverse no longer has
    skipped: int = 0  # couplings marked skipped: left alone
    failed: int = 0  # rows or links Dataverse refused (named in the log)
    write_requests: int = 0  # Dataverse write requests (bulk messages, plus any per-record fallback batch)
    customers: dict[str, CustomerStatistics] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "read": self.read,
            "coupled": self.coupled,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "linked": self.linked,
            "missing": self.missing,
            "skipped": self.skipped,
            "failed": self.failed,
            "writeRequests": self.write_requests,
        }


def refresh_statistics(context: SyncContext, bc_customer_ids: Sequence[str] | None = None) -> StatisticsResult:
    """Write the current BC figures of every coupled customer (or only of `bc_customer_ids`) where they differ.

    Transient and fatal errors propagate: every write is an upsert of known values to a fixed id, so a re-run redoes
    what is left. Rows Dataverse refuses for their data are counted in `failed` and the run goes on."""
    mapping = context.mapping(MAPPING)
    result = StatisticsResult()
    currency = _local_currency_id(context)
    keep = bc_customer_ids is not None
    figures = open_document_figures(context, bc_customer_ids)
    for rows in _customer_pages(context, mapping.bc_entity_set, bc_customer_ids):
        result.read += len(rows)
        _refresh_page(context, mapping.dataverse_entity_set, rows, currency, figures, result, keep=keep)
    return result


def _customer_pages(context: SyncContext, entity_set: str, ids: Sequence[str] | None) -> Iterator[list[Row]]:
    """Every customer page by page (uncoupled ones are dropped later), or the named ones 15 per read."""
    if ids is None:
        for page in context.bc.list_changed_since(entity_set, None, list(CUSTOMER_FIELDS), expand=EXPAND):
            yield page.rows
        return
    unique = sorted({i.lower() for i in ids})
    for chunk in _chunks(unique, BC_ID_CHUNK):
        ids_filter = " or ".join(f"id eq {value}" for value in chunk)
        pages = context.bc.list_changed_since(entity_set, None, list(CUSTOMER_FIELDS), EXPAND, ids_filter)
        yield [row for page in pages for row in page.rows]


def _local_currency_id(context: SyncContext) -> str | None:
    """Sales' transactioncurrency for BC's LCY: one read per run (None when Sales has no such currency)."""
    code = context.local_currency.replace("'", "''")
    pages = context.dataverse.list_changed_since(
        "transactioncurrencies", None, ["transactioncurrencyid"], extra_filter=f"isocurrencycode eq '{code}'"
    )
    return next((str(row["transactioncurrencyid"]) for page in pages for row in page.rows), None)


def _refresh_page(
    context: SyncContext,
    accounts_set: str,
    customers: Sequence[Row],
    currency: str | None,
    figures: FigureSums,
    result: StatisticsResult,
    *,
    keep: bool,
) -> None:
    by_id = {str(c["id"]).lower(): c for c in customers if c.get("id")}
    couplings = context.couplings.find_many_by_bc_ids(MAPPING, list(by_id))
    active = {bc_id.lower(): c for bc_id, c in couplings.items() if not c.skipped}
    result.skipped += len(couplings) - len(active)
    result.coupled += len(active)
    if not active:
        return
    accounts = _read(context, accounts_set, "accountid", [c.dataverse_id for c in active.values()], [f"_{LINK}_value"])
    plans: list[CustomerStatistics] = []
    for bc_id, coupling in active.items():
        account = accounts.get(coupling.dataverse_id.lower())
        linked_to = str((account or {}).get(f"_{LINK}_value") or "") or None
        plan = CustomerStatistics(bc_id, coupling.dataverse_id, linked_to or statistics_id(bc_id), "missing")
        if account is not None:  # a coupled account gone from Dataverse gets no (orphan) row
            plan.values = statistics_values(by_id[bc_id], context.clock().date(), currency, figures.values(bc_id))
            plan.linked = linked_to is None  # to do; cleared when the row or the link is refused
            plans.append(plan)
        elif keep:
            result.customers[bc_id] = plan
        result.missing += account is None
    held = _read(context, ENTITY_SET, PRIMARY, [p.statistics_id for p in plans], [*VALUES, f"_{CURRENCY}_value"])
    for plan in plans:
        row = held.get(plan.statistics_id.lower())
        plan.outcome = "unchanged" if row and holds(row, plan.values) else "updated" if row else "created"
    refused = _write(
        context,
        TABLE,
        ENTITY_SET,
        [row_body(p.statistics_id, p.values) for p in plans if p.outcome != "unchanged"],
        result,
    )
    for plan in plans:
        if plan.statistics_id.lower() in refused:
            plan.outcome, plan.linked, plan.error = "failed", False, refused[plan.statistics_id.lower()]
    links = [
        {"accountid": p.account_id, f"{LINK}@odata.bind": f"/{ENTITY_SET}({p.statistics_id})"}
        for p in plans
        if p.linked
    ]
    unlinked = _write(context, "account", accounts_set, links, result)
    for plan in plans:
        if plan.linked and plan.account_id.lower() in unlinked:
            plan.linked, plan.error = False, unlinked[plan.account_id.lower()]
            result.failed += 1
        _count(plan, result)
        if keep:
            result.customers[plan.bc_id] = plan


def _count(plan: CustomerStatistics, result: StatisticsResult) -> None:
    if plan.outcome in ("created", "updated", "unchanged"):
        setattr(result, plan.outcome, getattr(result, plan.outcome) + 1)
    elif plan.outcome == "failed":
        result.failed += 1
    result.linked += plan.linked


def _read(
    context: SyncContext, entity_set: str, primary: str, ids: Sequence[str], select: Sequence[str]
) -> dict[str, Row]:
    """Rows by lower-cased id: one read per `DATAVERSE_ID_CHUNK` ids."""
    found: dict[str, Row] = {}
    for chunk in _chunks(sorted({i.lower() for i in ids}), DATAVERSE_ID_CHUNK):
        ids_filter = " or ".join(f"{primary} eq {value}" for value in chunk)
        for page in context.dataverse.list_changed_since(entity_set, None, [primary, *select], extra_filter=ids_filter):
            found.update({str(row[primary]).lower(): row for row in page.rows})
    return found


def _write(
    context: SyncContext,
    logical_name: str,
    entity_set: str,
    rows: Sequence[Mapping[str, Any]],
    result: StatisticsResult,
) -> dict[str, SyncError]:
    """Upsert (statistics) or update (account links) per `bulk_size` rows; returns the refused rows' errors by id.
    A chunk refused for some records is re-sent by the connector as one per-record `$batch` (one more request)."""
    refused: dict[str, SyncError] = {}
    primary = f"{logical_name}id"
    for chunk in _chunks(rows, max(1, context.bulk_size)):
        result.write_requests += 1
        try:
            if logical_name == TABLE:
                context.dataverse.upsert_multiple(logical_name, entity_set, chunk)
            else:
                context.dataverse.update_multiple(logical_name, entity_set, chunk)
        except BulkWriteError as error:
            result.write_requests += 1
            if not error.failures or error.kind is not ErrorKind.RECORD:
                raise
            log.warning(
                "customer statistics: %s (%s %s)", error.message, entity_set, [f.row_id for f in error.failures]
            )
            refused.update({str(chunk[f.index][primary]).lower(): f.error for f in error.failures})
    return refused


def _chunks(values: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]
