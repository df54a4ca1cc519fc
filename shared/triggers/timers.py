"""Timers: the periodic incremental sync of every enabled mapping (schedule = app setting `SYNC_SCHEDULE`).

Mappings run in dependency order (the catalog's order), each on its own: one failing mapping is logged and the
others still run, and a transient failure simply waits for the next tick (nothing is lost: checkpoints only move
after a successful write). A mapping whose full-synchronization line is running is left to that line (both would
read the same records; the line hands its checkpoints over when it finishes); a line running for longer than
`FULL_SYNC_LINE_HOURS` is taken as abandoned and no longer holds the mapping back.
"""

from __future__ import annotations

import logging

import azure.functions as func

blueprint = func.Blueprint()  # type: ignore[no-untyped-call]
log = logging.getLogger("bc_sales_sync.timers")
SYNC_SCHEDULE = "SYNC_SCHEDULE"
FULL_SYNC_LINE_HOURS = 6  # the 100,000-customer load took under an hour on two shared cores (docs/performance.md)


def run_scheduled_mappings(schedule: str) -> dict[str, str]:
    """Run every enabled mapping whose schedule setting is `schedule`; returns mapping -> outcome."""
    from datetime import timedelta

    from shared.bootstrap import get_services
    from shared.domain.errors import SyncError
    from shared.domain.watermarks import format_instant
    from shared.mappings import mapping_names
    from shared.services.incremental import run_mapping

    services = get_services()
    outcomes: dict[str, str] = {}
    recent = format_instant(services.context.clock() - timedelta(hours=FULL_SYNC_LINE_HOURS))
    in_full_sync = services.runs.running_mappings(recent)
    for name in mapping_names():
        mapping = services.context.mapping(name)
        if not mapping.enabled or mapping.schedule != schedule:
            continue
        if name in in_full_sync:
            outcomes[name] = "skipped: its full synchronization line is running"
            continue
        try:
            job = run_mapping(services.context, name)
            outcomes[name] = f"finished: {job.counters.as_dict()}"
        except SyncError as error:
            outcomes[name] = f"{error.kind.value} error {error.code}: {error.message}"
            log.warning("mapping %s did not run: %s", name, outcomes[name])
    return outcomes


@blueprint.timer_trigger(schedule="%SYNC_SCHEDULE%", arg_name="timer", run_on_startup=False)
def incremental_sync(timer: func.TimerRequest) -> None:
    from shared.telemetry import flush

    outcomes = run_scheduled_mappings(SYNC_SCHEDULE)
    log.info("incremental sync (past due: %s): %s", timer.past_due, outcomes)
    flush()  # the instance may be frozen once the timer returns: export this tick's job metrics now
