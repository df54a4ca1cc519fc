"""Timer triggers in the local host: each timer fires at its next NCRONTAB occurrence, one run at a time.

Why one run at a time: in Azure a timer function is a singleton (the host takes a lock per function and computes
the next occurrence after the run ends), so the app may assume two runs never overlap; here a lock per timer keeps
that promise also for runs fired on demand through the admin API. `past_due` is set when a run starts more than
`PAST_DUE_TOLERANCE` after its scheduled time (e.g. the machine slept); without the storage-backed schedule monitor
there is no catch-up run at start-up (a documented difference from Azure).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from azure.functions.timer import TimerRequest

from local.host.functions import TimerFunction

LOG = logging.getLogger("local.host")
PAST_DUE_TOLERANCE = timedelta(seconds=1)
MAX_SLEEP_SECONDS = 1.0  # wake at least this often, so a changed wall clock or a stop is noticed
NEVER = datetime(1, 1, 1, tzinfo=UTC)  # .NET DateTime.MinValue, what ScheduleStatus.Last holds before a first run


def utc_now() -> datetime:
    return datetime.now(UTC)


class TimerRunner:
    def __init__(
        self, function: TimerFunction, stopping: threading.Event, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self.function, self.stopping, self.clock = function, stopping, clock
        self.last: datetime | None = None
        self.next_due: datetime | None = None
        self._singleton = threading.Lock()
        self.thread = threading.Thread(target=self._run, name=f"timer-{function.name}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def join(self, deadline: float) -> None:
        self.thread.join(max(0.0, deadline - time.monotonic()))

    def fire(self, reason: str, *, past_due: bool = False, invocation_id: str | None = None) -> bool:
        """Run the function once now (waiting for a run in progress); True when it succeeded. A failure is logged
        by the invoker and does not stop the schedule, as in Azure."""
        with self._singleton:
            now = self.clock()
            upcoming = self.function.schedule.next_after(now)
            request = TimerRequest(
                past_due=past_due,
                schedule_status={
                    "Last": (self.last or NEVER).isoformat(),
                    "Next": upcoming.isoformat(),
                    "LastUpdated": now.isoformat(),
                },
                schedule={"AdjustForDST": True},
            )
            self.last = now
            try:
                self.function.invoker.invoke(request, reason, invocation_id)
            except Exception:
                return False
            return True

    def _run(self) -> None:
        if self.function.run_on_startup:
            self.fire("Timer fired at startup (run_on_startup).")
        self.next_due = self.function.schedule.next_after(self.clock())
        while True:
            wait = (self.next_due - self.clock()).total_seconds()
            if self.stopping.wait(min(max(wait, 0.0), MAX_SLEEP_SECONDS)):
                return
            now = self.clock()
            if now < self.next_due:
                continue
            late = now - self.next_due > PAST_DUE_TOLERANCE
            self.fire(f"Timer fired at {now.isoformat()}", past_due=late)
            # The next occurrence after the run ends: occurrences missed during a long run are skipped, as in Azure.
            self.next_due = self.function.schedule.next_after(self.clock())
