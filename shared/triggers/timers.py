"""Timers: the periodic incremental sync of every enabled mapping (schedule = app setting `SYNC_SCHEDULE`).

Mappings run in dependency order (the catalog's order), each on its own: one failing mapping (or one whose stored
overrides no longer validate) is logged and the others still run, and a transient failure simply waits for the next
tick (nothing is lost: checkpoints only move after a successful write). A mapping whose full-synchronization line is
running is left to that line (both would read the same records; the line hands its checkpoints over when it
finishes). The hold ends as soon as the line finishes or is stalled (its run made no progress for
`FULL_SYNC_STALL_MINUTES`: its messages were lost, and only a restart moves it again), and, as a backstop, once the
line has been running for `FULL_SYNC_LINE_HOURS`. Each tick also settles the running runs
(`full_sync_recovery.Recovery.settle`): a line whose last message was lost after its records were all done is closed
and handed over here, even when nobody opens its review.
"""

from __future__ import annotations

import logging

import azure.functions as func

blueprint = func.Blueprint()  # type: ignore[no-untyped-call]
log = logging.getLogger("bc_sales_sync.timers")
SYNC_SCHEDULE = "SYNC_SCHEDULE"
FULL_SYNC_LINE_HOURS = 6  # backstop only (the lease ends a dead line's hold): 100,000 customers took under an hour


def run_scheduled_mappings(schedule: str) -> dict[str, str]:
    """Run every enabled mapping whose schedule setting is `schedule`; returns mapping -> outcome."""
    from datetime import timedelta

    from shared.bootstrap import run_services
    from shared.domain.errors import SyncError
    from shared.mappings import mapping_names
    from shared.services.full_sync import FullSync
    from shared.services.full_sync_recovery import Recovery
    from shared.services.incremental import run_mapping
    from shared.settings import full_sync_stall_minutes

    services = run_services()
    outcomes: dict[str, str] = {}
    stall_after = timedelta(minutes=full_sync_stall_minutes(services.environment))
    full_sync = FullSync(services.context, services.runs, services.queue, stall_after=stall_after)
    recent = services.context.clock() - timedelta(hours=FULL_SYNC_LINE_HOURS)
    in_full_sync = Recovery(full_sync).holding_mappings(recent)
    for name in mapping_names():
        try:
            mapping = services.context.mapping(name)  # raises when its stored overrides no longer validate
            if not mapping.enabled or mapping.schedule != schedule:
                continue
            if name in in_full_sync:
                outcomes[name] = "skipped: its full synchronization line is running"
                continue
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
