"""Timers of the sales document processes (schedules are app settings): Auto Create Sales Orders (and, as they land,
Auto Process Sales Quotes) on `SALES_DOCUMENTS_SCHEDULE`. Each job checks the setup first, so switching the
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
