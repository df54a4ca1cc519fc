"""What moves a full-synchronization run on between its chunks (`FullSync.start`): the waiting lines that may
start now (or must fail, or finish at once with nothing to do), the finished lines handed over to the incremental
runs, and the run closed once every line ended. Kept apart from the fan-out in `services/full_sync/coordinator.py`.

One read of the run, the hand-over's checkpoint writes, then one transaction (`RunStore.update_lines`: the run and
its lines share a partition) that starts, fails or finishes the waiting lines, clears the hand-over marks and closes
the run, all conditional on the ETags read: it used to cost a read and a write per line, and four to six reads of
the run per call. A transaction that lost a race (a chunk counted on a line in it meanwhile, or another worker
moving the run) writes nothing and the step is decided again on a fresh read.

Why the order holds (crash anywhere: redo, never loss): a finished line's mark (`hand_over_pending`) is cleared in
the same transaction that starts its dependents, and only after its checkpoints moved; a worker dying before the
transaction leaves the mark, and the next call (any chunk's, `settle`'s from the review or the timer) hands over
again (never back: idempotent) and starts them. A line that finishes here (nothing to do) is stored with its mark
first, so its start time is stored before its checkpoints move to it, and is handed over in a second round. Split
messages go after the transaction that started their lines: a worker dying in between leaves the line running with
no message, which the stall detection finds and `restart` re-sends (`recovery.py`), as before.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from shared.domain.errors import ConcurrencyError
from shared.domain.full_sync import Recommendation, next_steps
from shared.domain.mapping import TableMapping
from shared.domain.records import LineStatus, ReviewLine, SyncRun
from shared.services.full_sync.lines import failed, finished, hand_over, running
from shared.services.full_sync.messages import split_message

if TYPE_CHECKING:
    from shared.services.full_sync.coordinator import FullSync

ATTEMPTS = 50  # steps of one call: lost races, and the second round of lines finished at once
STILL_OPEN = (LineStatus.WAITING, LineStatus.RUNNING)


@dataclass(frozen=True)
class Step:
    """One transaction's worth: the lines changed (in run order), the run when it changed, the lines it starts
    (their splits are sent once it is stored), and whether lines finished in it wait for their hand-over."""

    lines: list[ReviewLine]
    run: SyncRun | None
    started: list[str]
    hand_over_next: bool


def advance(full: FullSync, run_id: str) -> list[str]:
    """Start what can start now, hand the finished lines over, close the run when every line ended; returns the
    lines started. Safe to call again at any time: every step is idempotent."""
    catalog = full.catalog()
    started: list[str] = []
    for _ in range(ATTEMPTS):
        run, lines = full.runs.get_run(run_id)
        step = next_step(full, run, lines, catalog)
        if step is None:
            return started
        try:
            _, saved = full.runs.update_lines(run_id, step.lines, step.run)
        except ConcurrencyError:
            continue  # a line or the run changed since the read: decide again
        by_name = {line.mapping: line for line in saved}
        for name in step.started:
            full.queue.send([split_message(by_name[name], run_id, dry_run=run.dry_run)])
        started += step.started
        if not step.hand_over_next:
            return started
    raise ConcurrencyError("runBusy", f"run {run_id} kept changing while it was moved on; try again")


def next_step(
    full: FullSync, run: SyncRun, lines: Sequence[ReviewLine], catalog: Mapping[str, TableMapping]
) -> Step | None:
    """The next transaction (None: nothing to do). The lines finished before this call are handed over here, before
    the transaction that clears their marks."""
    now = full.now()
    changed: dict[str, ReviewLine] = {}
    started: list[str] = []
    head = replace(run, status="running") if run.status == "planned" else run
    for _ in lines:  # waiting lines, until none moves: a line finished at once may let its dependents start
        current = {line.mapping: changed.get(line.mapping, line) for line in lines}
        ready, failing = next_steps(list(current.values()), catalog)
        if not ready and not failing:
            break
        for name, reason in failing.items():
            changed[name] = failed(current[name], reason, now) or current[name]
        for name in ready:
            if current[name].recommendation == Recommendation.NO_RECORDS.value:
                changed[name] = finished(replace(current[name], planned=True), now)
            else:
                changed[name] = running(current[name], now) or current[name]
                started.append(name)
    for line in (line for line in lines if line.hand_over_pending):  # finished before: its start time is stored
        if not run.dry_run:  # a dry run changed nothing: the incremental runs must still read it all
            hand_over(full.context, line)
        changed[line.mapping] = replace(line, hand_over_pending=False)
    final = [changed.get(line.mapping, line) for line in lines]
    if head.status == "running" and not any(ln.status in STILL_OPEN or ln.hand_over_pending for ln in final):
        head = replace(head, status="failed" if any(ln.status is LineStatus.FAILED for ln in final) else "finished")
    if not changed and head == run:
        return None
    order = [line.mapping for line in lines if line.mapping in changed]
    return Step(
        lines=[changed[name] for name in order],
        run=None if head == run else head,
        started=started,
        hand_over_next=any(changed[name].hand_over_pending for name in order),
    )
