"""Timers: the periodic incremental sync of every enabled mapping (schedule = app setting `SYNC_SCHEDULE`). A thin
adapter: it wires the run's services and hands them to the run loop (`services/scheduled_runs.py`), which holds the
rules. With several companies (issue 22) one tick runs every company's due mappings, the companies taking turns
(`scheduled_runs.run_companies_fairly`), and logs each company's outcomes. The runs are the poll: with
notifications on (`settings.notification_watch`), they count the changes notifications missed (issue 23).
"""

from __future__ import annotations

import logging
from dataclasses import replace

import azure.functions as func

blueprint = func.Blueprint()  # type: ignore[no-untyped-call]
log = logging.getLogger("bc_sales_sync.timers")
SYNC_SCHEDULE = "SYNC_SCHEDULE"


def run_scheduled_mappings(schedule: str) -> dict[str, str]:
    """Run every enabled mapping whose schedule setting is `schedule`; returns mapping -> outcome (of the one
    company, or of every company with the company's label before the mapping: `environment/company: MAPPING`)."""
    by_company = run_scheduled_companies(schedule)
    if len(by_company) == 1:
        return next(iter(by_company.values()))
    return {f"{company}: {name}": outcome for company, found in by_company.items() for name, outcome in found.items()}


def run_scheduled_companies(schedule: str) -> dict[str, dict[str, str]]:
    """Every company's due mappings, fairly (`scheduled_runs.run_companies_fairly`): company label -> mapping ->
    outcome."""
    from shared.bootstrap import companies, full_sync_for, run_services
    from shared.mappings import mapping_names
    from shared.services.scheduled_runs import run_companies_fairly
    from shared.settings import notification_watch

    services = {company.label: run_services(company_key=company.key) for company in companies()}
    full_syncs = {label: full_sync_for(one) for label, one in services.items()}
    watch = notification_watch(next(iter(services.values())).environment) if services else None  # the deployment's
    if watch is not None:  # BC sends webhooks for its documented sets only: the others have nothing to miss
        from shared.connectors.business_central.subscriptions import SUPPORTED_RESOURCES

        watch = replace(watch, bc_resources=frozenset(SUPPORTED_RESOURCES))
    return run_companies_fairly(full_syncs, mapping_names(), schedule, watch)


@blueprint.timer_trigger(schedule="%SYNC_SCHEDULE%", arg_name="timer", run_on_startup=False)
def incremental_sync(timer: func.TimerRequest) -> None:
    from shared.telemetry import flush

    try:
        for company, outcomes in run_scheduled_companies(SYNC_SCHEDULE).items():
            log.info("incremental sync of %s (past due: %s): %s", company or "(default)", timer.past_due, outcomes)
    finally:
        flush()  # the instance may be frozen once the timer returns: export this tick's job metrics now
