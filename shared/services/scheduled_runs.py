"""The timer's run loop: every enabled mapping whose schedule is this timer's, in dependency order (the catalog's
order), each on its own. It lives here, not in the trigger, so the trigger only wires the run's services and the
loop's rules (which mappings run, which wait for their full-synchronization line) are a use case with its tests.

One failing mapping (or one whose stored overrides no longer validate) is reported and the others still run, and a
transient failure simply waits for the next tick (nothing is lost: checkpoints only move after a successful write).
A mapping whose full-synchronization line is running is left to that line (both would read the same records; the
line hands its checkpoints over when it finishes). The hold ends as soon as the line finishes or is stalled (its run
made no progress for `FULL_SYNC_STALL_MINUTES`), and, as a backstop, once the line has been running for
`FULL_SYNC_LINE_HOURS`. Reading the holds also settles the running runs (`full_sync/recovery.py`): a line whose
last message was lost after its records were all done is closed and handed over here, even when nobody opens its
review.

Several companies (issue 22): one tick runs every company's due mappings, fairly. The companies take turns, one
mapping run each (`run_companies_fairly`): each company keeps its own dependency order, and a company whose runs are
slow or many delays another's next run by one of its runs at most, never by its whole backlog. Each company's
outcomes are its own.

Notifications (issue 23): these runs are the poll, the safety net (their job entries say `poll`). Given the
deployment's `NotificationWatch` (notifications on for a side), each run counts the changes it applied that a
notification should have brought first (`domain/notification_watch.py`); the first poll of a mapping that finds some
after one that found none logs a warning (`notifications missed`, once: the next polls that still find some only
count them on their job entries, which `/api/health` reads), so a subscription that died is said once, not every tick.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from datetime import timedelta

from shared.domain.errors import SyncError
from shared.domain.notification_watch import NotificationWatch
from shared.domain.records import RunTrigger, SyncJob
from shared.engine.context import SyncContext
from shared.engine.mapping_run import run_mapping
from shared.services.full_sync.coordinator import FullSync
from shared.services.full_sync.recovery import Recovery
from shared.telemetry import log_event

log = logging.getLogger("bc_sales_sync.timers")
FULL_SYNC_LINE_HOURS = 6  # backstop only (the lease ends a dead line's hold): 100,000 customers took under an hour


def run_scheduled_mappings(
    full_sync: FullSync, names: Iterable[str], schedule: str, watch: NotificationWatch | None = None
) -> dict[str, str]:
    """Run every enabled mapping of `names` whose schedule setting is `schedule`; returns mapping -> outcome."""
    outcomes: dict[str, str] = {}
    for _ in _runs(full_sync, names, schedule, outcomes, watch):
        pass  # one company: its runs one after the other
    return outcomes


def run_companies_fairly(
    full_syncs: Mapping[str, FullSync], names: Iterable[str], schedule: str, watch: NotificationWatch | None = None
) -> dict[str, dict[str, str]]:
    """`run_scheduled_mappings` of every company (`full_syncs`: company -> its full synchronization, in the order
    they take turns), one mapping run per company in turn; returns company -> mapping -> outcome. A company whose
    holds cannot be read (its storage fails) runs nothing this tick while the others go on; the first such failure
    is raised once every other company is done, as the tick of a single company raises it."""
    order = list(names)
    outcomes: dict[str, dict[str, str]] = {company: {} for company in full_syncs}
    turns = [(company, _runs(full, order, schedule, outcomes[company], watch)) for company, full in full_syncs.items()]
    failure: SyncError | None = None
    while turns:
        going = []
        for company, turn in turns:
            try:
                if next(turn, None) is not None:
                    going.append((company, turn))
            except SyncError as error:
                log.warning("the scheduled mappings of %s did not run: %s", company, error.message)
                failure = failure or error
        turns = going
    if failure is not None:
        raise failure
    return outcomes


def _runs(
    full_sync: FullSync,
    names: Iterable[str],
    schedule: str,
    outcomes: dict[str, str],
    watch: NotificationWatch | None = None,
) -> Iterator[str]:
    """Runs the due mappings of `names` in their order, recording each outcome in `outcomes`, and yields after each
    mapping it ran (or tried to): the turns `run_companies_fairly` hands out."""
    context = full_sync.context
    recent = context.clock() - timedelta(hours=FULL_SYNC_LINE_HOURS)
    in_full_sync = Recovery(full_sync).holding_mappings(recent)
    for name in names:
        try:
            mapping = context.mapping(name)  # raises when its stored overrides no longer validate
            if not mapping.enabled or mapping.schedule != schedule:
                continue
            if name in in_full_sync:
                outcomes[name] = "skipped: its full synchronization line is running"
                continue
            job = run_mapping(context, name, trigger=RunTrigger.POLL, watch=watch)
            outcomes[name] = f"finished: {job.counters.as_dict()}"
            if job.missed:
                outcomes[name] += f" missed by notifications: {dict(job.missed_by_notifications)}"
                _warn_once(context, job)
        except SyncError as error:
            outcomes[name] = f"{error.kind.value} error {error.code}: {error.message}"
            log.warning("mapping %s did not run: %s", name, outcomes[name])
        yield name


def _warn_once(context: SyncContext, job: SyncJob) -> None:
    """Warn when this poll found missed notifications and the poll before it found none (or there was none)."""
    polls = context.jobs.list_jobs(job.mapping, limit=2, trigger=RunTrigger.POLL.value)
    before = next((poll for poll in polls if poll.job_id != job.job_id), None)
    if before is not None and before.missed:
        return
    log_event(
        log,
        "notifications missed: the poll applied changes no notification woke a run for",
        level=logging.WARNING,
        mapping=job.mapping,
        jobId=job.job_id,
        **{f"missed_{side}": count for side, count in job.missed_by_notifications.items()},
    )
