"""Timers of the sales document processes (schedules are app settings): Auto Process Sales Quotes and Auto Create
Sales Orders on `SALES_DOCUMENTS_SCHEDULE`, the SALESORDER-ORDER order status on `ORDER_SYNC_SCHEDULE`, posted
invoices with payments and account statistics on `INVOICE_SYNC_SCHEDULE`. Each job checks the setup first, so
switching the automation off in setup stops it at the next tick without a redeploy."""

from __future__ import annotations

import logging

import azure.functions as func

blueprint = func.Blueprint()  # type: ignore[no-untyped-call]
log = logging.getLogger("bc_sales_sync.document_timers")


@blueprint.timer_trigger(schedule="%SALES_DOCUMENTS_SCHEDULE%", arg_name="timer", run_on_startup=False)
def sales_documents(timer: func.TimerRequest) -> None:
    """Auto Process Sales Quotes first (a won quote's order is converted through its quote), then Auto Create Sales
    Orders; each only when enabled in setup."""
    from shared.bootstrap import current_setup, get_services
    from shared.services.quotes import auto_process
    from shared.services.sales_orders import auto_create

    services = get_services()
    setup = current_setup(services)
    log.info("auto process quotes: %s", auto_process(services.context, setup, services.archive))
    log.info("auto create sales orders: %s", auto_create(services.context, setup, services.archive))


@blueprint.timer_trigger(schedule="%ORDER_SYNC_SCHEDULE%", arg_name="timer", run_on_startup=False)
def order_status(timer: func.TimerRequest) -> None:
    """SALESORDER-ORDER: header changes, release/ship/invoice posts and Invoiced orders (setup permitting)."""
    from shared.bootstrap import current_setup, get_services
    from shared.services.order_status import update_order_status

    services = get_services()
    log.info("order status: %s", update_order_status(services.context, current_setup(services)).as_dict())


@blueprint.timer_trigger(schedule="%INVOICE_SYNC_SCHEDULE%", arg_name="timer", run_on_startup=False)
def posted_invoices(timer: func.TimerRequest) -> None:
    """POSTEDSALESINV-INV: new posted invoices of coupled customers, every coupled invoice's payment status, then the
    customers' account statistics (BC's CRM Statistics Job does the last two together)."""
    from shared.bootstrap import get_services
    from shared.services.invoices import sync_posted_invoices
    from shared.services.statistics import refresh_statistics

    context = get_services().context
    log.info("posted invoices: %s", sync_posted_invoices(context).as_dict())
    log.info("account statistics: %s", refresh_statistics(context))
