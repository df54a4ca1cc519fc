"""No stuck runs: what finishes a full-synchronization run whose messages were lost (a purged queue, a host killed
between two writes), kept apart from the line's normal life in `services/full_sync/coordinator.py`.

- `settle` closes what is done but was never closed: a line whose chunks are all counted, a finished line whose
  checkpoints or dependents' start may not have happened, waiting lines nothing else would move. The review, the
  incremental timer and `restart` call it; every step is idempotent.
- `stalled` lines (`domain.full_sync.is_stalled`, derived when read: running, and the run silent for `stall_after`)
  are shown by the review and warned about by `/api/health`, and no longer hold the incremental timer back.
- `restart` lets a failed or stalled line go on where it stopped: same attempt, counters and counted chunks kept,
  exactly its stored chunks not yet counted sent again under new message ids. A late delivery of a first message
  and its re-sent copy carry the same attempt and chunk number: whichever comes first is counted, the other is not
  (nothing is made stale, so no work done by a late first message is thrown away).
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial

from shared.domain.errors import ConcurrencyError, InvalidInputError, SyncError
from shared.domain.full_sync import (
    all_chunks_counted,
    counted_chunks,
    is_stalled,
    last_progress,
    needs_settling,
    stalled_lines,
    uncounted,
)
from shared.domain.records import LineStatus, ReviewLine, SyncRun
from shared.domain.watermarks import format_instant, parse_instant
from shared.services.full_sync.coordinator import FullSync
from shared.services.full_sync.counting import Count, save_line
from shared.services.full_sync.lines import reset, resumed
from shared.services.full_sync.messages import split_message
from shared.services.full_sync.splitting import send_chunks

LOG = logging.getLogger("bc_sales_sync.full_sync")


@dataclass
class Recovery:
    full_sync: FullSync

    def restart(self, run_id: str) -> list[str]:
        """Restart the failed and stalled lines (after `settle` finished what was only waiting to be closed): a
        line that had started goes on where it stopped (`_go_on`); a line that never started (its dependency
        failed), or started before splits were stored, starts again from nothing under a new attempt. Finished
        lines are left alone. Returns the lines started now."""
        full, runs = self.full_sync, self.full_sync.runs
        run, _ = runs.get_run(run_id)
        settled = run.status == "running" and self.settle(run_id)
        run, lines = runs.get_run(run_id)
        stalled = set(stalled_lines(lines, full.context.clock(), full.stall_after))
        chosen = [line for line in lines if line.status is LineStatus.FAILED or line.mapping in stalled]
        if not chosen and not settled:
            raise InvalidInputError("nothingToRestart", f"Run {run_id} has no failed or stalled line.", field="runId")
        for line in chosen:
            if line.started_on and line.stores_chunks:
                self._go_on(run_id, line, dry_run=run.dry_run)
            else:
                save_line(runs, run_id, line, reset)
        if run.status != "running":
            runs.update_run(replace(run, status="running"))
        return full.start(run_id)

    def _go_on(self, run_id: str, line: ReviewLine, *, dry_run: bool) -> None:
        full = self.full_sync
        saved = save_line(full.runs, run_id, line, partial(resumed, now=full.now())).stored
        if saved is None:
            return
        if not saved.planned:  # its split never finished listing (or never ran): it goes on where it stopped
            full.queue.send([split_message(saved, run_id, dry_run=dry_run)])
            return
        stored = full.runs.list_chunks(run_id, saved.mapping, saved.attempt)
        known = {chunk.number for chunk in stored} | counted_chunks(saved.done_chunks)
        lost = [number for number in range(1, saved.chunks_total + 1) if number not in known]
        if lost:  # cannot happen when chunks are stored before they are sent; if it does, re-run the line whole
            LOG.error("run %s line %s: chunks %s were never stored; re-running it whole", run_id, saved.mapping, lost)
            save_line(full.runs, run_id, saved, reset)
            return
        send_chunks(full, run_id, saved, uncounted(saved, stored), dry_run=dry_run)
        if all_chunks_counted(saved):
            full.count(run_id, saved.mapping, Count(), dry_run=dry_run, line=saved)

    def settle(self, run_id: str) -> bool:
        """Finish what lost messages left undone in a running run (`domain.full_sync.needs_settling`). Returns
        whether there was anything to do."""
        full = self.full_sync
        run, lines = full.runs.get_run(run_id)
        if run.status != "running" or not needs_settling(lines):
            return False
        for line in lines:
            if line.status is LineStatus.RUNNING and all_chunks_counted(line):
                full.count(run_id, line.mapping, Count(), dry_run=run.dry_run, line=line)  # closes it, or phase 2
        full.start(run_id)  # hands finished lines over, starts or fails waiting lines, closes the run
        return True

    def review(self, run_id: str) -> tuple[SyncRun, list[ReviewLine], set[str]]:
        """The run, settled first, its lines, and which of them are stalled now."""
        full = self.full_sync
        run, lines = full.runs.get_run(run_id)
        if run.status == "running" and needs_settling(lines):
            with contextlib.suppress(ConcurrencyError):  # a writer kept the line busy: the next read settles it
                self.settle(run_id)
            run, lines = full.runs.get_run(run_id)
        return run, lines, set(stalled_lines(lines, full.context.clock(), full.stall_after))

    def holding_mappings(self, started_after: datetime) -> set[str]:
        """The mappings a full-synchronization line holds back from the incremental runs: running, started after
        `started_after`, and not stalled. Running runs are settled first: this is how the timer closes what a lost
        message left open even when nobody looks at the review."""
        full = self.full_sync
        held: set[str] = set()
        for run_id in full.runs.active_runs():
            try:
                self.settle(run_id)
            except SyncError as error:  # the timer goes on; the next tick tries again
                LOG.warning("full sync run %s could not be settled: %s", run_id, error)
            _, lines = full.runs.get_run(run_id)
            now = full.context.clock()
            held.update(
                line.mapping
                for line in lines
                if line.status is LineStatus.RUNNING
                and line.started_on
                and parse_instant(line.started_on) > started_after
                and not is_stalled(line, lines, now, full.stall_after)
            )
        return held

    def stalled_report(self) -> list[dict[str, str]]:
        """Every stalled line of every running run with the run's last progress, for `/api/health`. Reads only:
        the route is anonymous."""
        full = self.full_sync
        found: list[dict[str, str]] = []
        now = full.context.clock()
        for run_id in full.runs.active_runs():
            _, lines = full.runs.get_run(run_id)
            since = last_progress(lines)
            found += [
                {"runId": run_id, "mapping": name, "lastProgressOn": format_instant(since) if since else ""}
                for name in stalled_lines(lines, now, full.stall_after)
            ]
        return found
