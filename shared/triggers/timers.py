"""Timers: the periodic incremental sync of every enabled mapping (schedule = app setting `SYNC_SCHEDULE`). A thin
adapter: it wires the run's services and hands them to the run loop (`services/scheduled_runs.py`), which holds the
rules.
"""

from __future__ import annotations

import logging

import azure.functions as func

blueprint = func.Blueprint()  # type: ignore[no-untyped-call]
log = logging.getLogger("bc_sales_sync.timers")
SYNC_SCHEDULE = "SYNC_SCHEDULE"


def run_scheduled_mappings(schedule: str) -> dict[str, str]:
    """Run every enabled mapping whose schedule setting is `schedule`; returns mapping -> outcome."""
    from shared.bootstrap import full_sync_for, run_services
    from shared.mappings import mapping_names
    from shared.services.scheduled_runs import run_scheduled_mappings as run_loop

    return run_loop(full_sync_for(run_services()), mapping_names(), schedule)


@blueprint.timer_trigger(schedule="%SYNC_SCHEDULE%", arg_name="timer", run_on_startup=False)
def incremental_sync(timer: func.TimerRequest) -> None:
    from shared.telemetry import flush

    outcomes = run_scheduled_mappings(SYNC_SCHEDULE)
    log.info("incremental sync (past due: %s): %s", timer.past_due, outcomes)
    flush()  # the instance may be frozen once the timer returns: export this tick's job metrics now
