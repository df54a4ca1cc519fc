"""Timers of the sales document processes (schedules are app settings): Auto Process Sales Quotes and Auto Create
Sales Orders on `SALES_DOCUMENTS_SCHEDULE`, the SALESORDER-ORDER order status on `ORDER_SYNC_SCHEDULE`, posted
invoices with payments and account statistics on `INVOICE_SYNC_SCHEDULE`. Each tick reads the setup once
(`bootstrap.run_services`) and each job checks it first, so switching the automation off in setup stops it at the
next tick without a redeploy. With several companies (issue 22) a tick runs each company's processes in turn, with
its own setup; one company's failure does not keep the next from running (the first failure is raised at the end,
so the host still records the tick as failed).

The per-company calls are shared with the `processRun` queue job a BC notification sends (issue 23):
`PROCESS_RUNS` maps each `domain/jobs.PROCESSES` name to what the timer runs for one company (`run_posted_invoices`,
`run_order_status`), and `watched_processes` tells the notification side which BC entity sets each process reads and
whether the company's setup enables it (the same checks the process makes first)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import azure.functions as func

blueprint = func.Blueprint()  # type: ignore[no-untyped-call]
log = logging.getLogger("bc_sales_sync.document_timers")
TO_DATAVERSE, FROM_DATAVERSE = "toDataverse", "fromDataverse"


def each_company(what: str, work: Callable[[Any], None]) -> None:
    """`work(context)` for every configured company (one invocation's services each: `bootstrap.run_services`), in
    the configured order; a failure is logged and the others still run, then the first failure is raised."""
    from shared.bootstrap import companies, run_services

    failure: Exception | None = None
    for company in companies():
        try:
            work(run_services(company_key=company.key).context)
        except Exception as error:  # the next company still runs; the first failure is raised below
            log.warning("%s of company %s failed: %s", what, company.label or "(default)", error)
            failure = failure or error
    if failure is not None:
        raise failure


def _traced(kind: str, mapping: str, direction: str, work: Callable[[], Any]) -> Any:
    """Run one process as a sync job for telemetry (span, metrics, log line with its counters, never its error
    texts); what it returns goes back to the caller."""
    from shared.telemetry import job_span

    with job_span(kind, mapping, direction=direction) as span:
        result = work()
        span.finish(result if isinstance(result, dict) else result.as_dict())
        return result


def run_posted_invoices(context: Any) -> Any:
    """POSTEDSALESINV-INV for one company: new posted invoices of coupled customers and every coupled invoice's
    payment status (nothing when the mapping is disabled)."""
    from shared.processes.invoices import MAPPING, sync_posted_invoices

    return _traced("postedInvoices", MAPPING, TO_DATAVERSE, lambda: sync_posted_invoices(context))


def run_order_status(context: Any) -> Any:
    """SALESORDER-ORDER's order status for one company (nothing when sales-order integration is off in setup)."""
    from shared.processes.order_status import MAPPING, update_order_status

    return _traced("orderStatus", MAPPING, TO_DATAVERSE, lambda: update_order_status(context, context.setup))


PROCESS_RUNS: dict[str, Callable[[Any], Any]] = {"postedInvoices": run_posted_invoices, "orderStatus": run_order_status}


def watched_processes(context: Any) -> list[Any]:
    """The company's document processes as BC notifications see them (`services/wake.WatchedProcess`): what each
    reads in BC and whether it runs at all. Posted invoices read `salesInvoices` (posted ones, with their remaining
    amount) and run while POSTEDSALESINV-INV is enabled; the order status reads `salesOrders`, `salesShipments` and
    posted `salesInvoices` (the release, ship and invoice posts) and runs while `salesOrderIntegrationEnabled` is on.
    A mapping whose stored overrides no longer validate counts as disabled (its own runs report it)."""
    from shared.domain.errors import SyncError
    from shared.processes.invoices import BC_INVOICES
    from shared.processes.invoices import MAPPING as INVOICES
    from shared.processes.order_status import MAPPING as ORDERS
    from shared.services.wake import WatchedProcess

    try:
        invoices_enabled = bool(context.mapping(INVOICES).enabled)
    except SyncError:
        invoices_enabled = False
    try:
        orders_set = str(context.mapping(ORDERS).bc_entity_set)
    except SyncError:
        orders_set = "salesOrders"
    return [
        WatchedProcess("postedInvoices", frozenset({BC_INVOICES}), invoices_enabled),
        WatchedProcess(
            "orderStatus",
            frozenset({orders_set, "salesShipments", BC_INVOICES}),
            bool(context.setup["salesOrderIntegrationEnabled"]),
        ),
    ]


@blueprint.timer_trigger(schedule="%SALES_DOCUMENTS_SCHEDULE%", arg_name="timer", run_on_startup=False)
def sales_documents(timer: func.TimerRequest) -> None:
    """Auto Process Sales Quotes first (a won quote's order is converted through its quote), then Auto Create Sales
    Orders; each only when enabled in setup."""
    from shared.processes.quote_orders import QUOTE_MAPPING
    from shared.processes.quotes import auto_process
    from shared.processes.sales_orders import MAPPING, auto_create
    from shared.telemetry import flush

    def run(context: Any) -> None:
        setup, archive = context.setup, context.archive
        assert archive is not None  # `for_run` puts the archive in the context
        _traced("quotes", QUOTE_MAPPING, FROM_DATAVERSE, lambda: auto_process(context, setup, archive))
        _traced("salesOrders", MAPPING, FROM_DATAVERSE, lambda: auto_create(context, setup, archive))

    try:
        each_company("sales documents", run)
    finally:
        flush()


@blueprint.timer_trigger(schedule="%ORDER_SYNC_SCHEDULE%", arg_name="timer", run_on_startup=False)
def order_status(timer: func.TimerRequest) -> None:
    """SALESORDER-ORDER: header changes, release/ship/invoice posts and Invoiced orders (setup permitting)."""
    from shared.telemetry import flush

    try:
        each_company("order status", run_order_status)
    finally:
        flush()


@blueprint.timer_trigger(schedule="%INVOICE_SYNC_SCHEDULE%", arg_name="timer", run_on_startup=False)
def posted_invoices(timer: func.TimerRequest) -> None:
    """POSTEDSALESINV-INV: new posted invoices of coupled customers, every coupled invoice's payment status, then the
    customers' account statistics (BC's CRM Statistics Job does the last two together)."""
    from shared.processes.statistics import refresh_statistics
    from shared.telemetry import flush

    def run(context: Any) -> None:
        run_posted_invoices(context)
        _traced("statistics", "CUSTOMER-STATISTICS", TO_DATAVERSE, lambda: refresh_statistics(context))

    try:
        each_company("posted invoices", run)
    finally:
        flush()
