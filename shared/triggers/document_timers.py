"""Timers of the sales document processes (schedules are app settings): Auto Create Sales Orders (and, as they land,
Auto Process Sales Quotes) on `SALES_DOCUMENTS_SCHEDULE`, and the SALESORDER-ORDER order status on
`ORDER_SYNC_SCHEDULE`. Each job checks the setup first, so switching the
automation off in setup stops it at the next tick without a redeploy."""

from __future__ import annotations

import logging

import azure.functions as func

blueprint = func.Blueprint()  # type: ignore[no-untyped-call]
log = logging.getLogger("bc_sales_sync.document_timers")


@blueprint.timer_trigger(schedule="%SALES_DOCUMENTS_SCHEDULE%", arg_name="timer", run_on_startup=False)
def sales_documents(timer: func.TimerRequest) -> None:
    from shared.bootstrap import current_setup, get_services
    from shared.services.sales_orders import auto_create

    services = get_services()
    setup = current_setup(services)
    log.info("auto create sales orders: %s", auto_create(services.context, setup))


@blueprint.timer_trigger(schedule="%ORDER_SYNC_SCHEDULE%", arg_name="timer", run_on_startup=False)
def order_status(timer: func.TimerRequest) -> None:
    """SALESORDER-ORDER: header changes, release/ship/invoice posts and Invoiced orders (setup permitting)."""
    from shared.bootstrap import current_setup, get_services
    from shared.services.order_status import update_order_status

    services = get_services()
    log.info("order status: %s", update_order_status(services.context, current_setup(services)).as_dict())


@blueprint.timer_trigger(schedule="%INVOICE_SYNC_SCHEDULE%", arg_name="timer", run_on_startup=False)
def posted_invoices(timer: func.TimerRequest) -> None:
    """POSTEDSALESINV-INV: new posted invoices of coupled customers, then every coupled invoice's payment status."""
    from shared.bootstrap import get_services
    from shared.services.invoices import sync_posted_invoices

    log.info("posted invoices: %s", sync_posted_invoices(get_services().context).as_dict())
