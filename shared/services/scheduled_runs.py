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
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta

from shared.domain.errors import SyncError
from shared.engine.mapping_run import run_mapping
from shared.services.full_sync.coordinator import FullSync
from shared.services.full_sync.recovery import Recovery

log = logging.getLogger("bc_sales_sync.timers")
FULL_SYNC_LINE_HOURS = 6  # backstop only (the lease ends a dead line's hold): 100,000 customers took under an hour


def run_scheduled_mappings(full_sync: FullSync, names: Iterable[str], schedule: str) -> dict[str, str]:
    """Run every enabled mapping of `names` whose schedule setting is `schedule`; returns mapping -> outcome."""
    context = full_sync.context
    outcomes: dict[str, str] = {}
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
            job = run_mapping(context, name)
            outcomes[name] = f"finished: {job.counters.as_dict()}"
        except SyncError as error:
            outcomes[name] = f"{error.kind.value} error {error.code}: {error.message}"
            log.warning("mapping %s did not run: %s", name, outcomes[name])
    return outcomes
