"""What one run of one table mapping carries from step to step (an incremental run, a retry, a full-sync chunk):
its parts (the value mapper, both sides, the unit of work, the creator), its counters, what it learned about its
records, and one cursor per side when its source moves the checkpoints.

Why a state of its own: the run's steps (reading candidates, deciding a pair, writing, the state rules) live in
small modules of their own, and each needs the same few things, above all `fail`, the one way a record fails in a
run: counted, logged, held back by its side's cursor when transient, and recorded as a record error otherwise.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from shared.domain.coupling import Coupling
from shared.domain.errors import SyncError
from shared.domain.mapping import TableMapping
from shared.domain.notification_watch import NotificationWatch
from shared.domain.records import Counters, RunTrigger, Side
from shared.domain.watermarks import SideCursor, parse_instant
from shared.engine.behaviours import hooks as behaviours
from shared.engine.context import SyncContext
from shared.engine.creation import Creator
from shared.engine.lookups import LookupResolver
from shared.engine.outcomes import record_failure
from shared.engine.sides import BcSide, DataverseSide
from shared.engine.unit_of_work import UnitOfWork
from shared.engine.values import ValueMapper
from shared.ports import Row
from shared.telemetry import log_event, record_lag
from shared.telemetry_setup import active as telemetry_active

LOG = logging.getLogger("bc_sales_sync.sync")


def new_job_id() -> str:
    return f"run-{uuid.uuid4()}"


@dataclass
class RunState:
    context: SyncContext
    mapping: TableMapping
    job_id: str = field(default_factory=new_job_id)
    counters: Counters = field(default_factory=Counters)
    cursors: dict[Side, SideCursor] = field(default_factory=dict)  # only when the source moves the checkpoints
    retried: set[str] = field(default_factory=set)  # ids of records whose last sync failed (always compared)
    adopted: set[str] = field(default_factory=set)  # BC ids of identity pairs coupled again by this run
    conflicted: set[str] = field(default_factory=set)  # ids whose last sync was a conflict (changedInBothApps)
    failed_now: set[str] = field(default_factory=set)  # ids of the records that failed in this run
    trigger: RunTrigger = RunTrigger.NOW  # what started the run (its job entry says it)
    watch: NotificationWatch | None = None  # a poll with notifications on: count the changes they missed
    measures_lag: bool = True  # off for a full-sync chunk: its records' modified-on says nothing about latency
    missed: dict[Side, int] = field(default_factory=dict)  # changes applied that a notification should have brought

    def __post_init__(self) -> None:
        self.mapper = ValueMapper(self.mapping, LookupResolver(self.context), self.context.option_maps)
        self.state_sides = behaviours.state_sides(self.mapping)  # sides with state rules (usually none)
        self.bc = BcSide(self.context.bc, self.mapping, self.mapper)
        self.dv = DataverseSide(self.context.dataverse, self.mapping, self.mapper)
        self.work = UnitOfWork(self.context, self.mapping.name, self.job_id)
        self.creator = Creator(self.context, self.mapping, self.mapper, self.bc, self.dv, self.job_id, work=self.work)

    def modified_on(self, side: Side, row: Row) -> str | None:
        return self.bc.modified_on(row) if side is Side.BC else self.dv.modified_on(row)

    def wrote(self, source: Side, rows: Iterable[Row]) -> None:
        """These records of `source` were just written to the other side (updated or created): each one's latency
        from its modified-on (`sync.lag.seconds`) and, on a watched poll, whether a notification missed it
        (`domain/notification_watch.py`). A side read for the first time or whole on every run is neither: its
        records' modified-on is not when they changed for this run."""
        cursor = self.cursors.get(source)
        if not self.measures_lag or (cursor is not None and (cursor.watermark is None or cursor.in_full)):
            return
        if self.watch is None and not telemetry_active() is not None:  # nothing would record it: no per-record parsing
            return
        now = self.context.clock()
        direction = "toDataverse" if source is Side.BC else "fromDataverse"
        for row in rows:
            text = self.modified_on(source, row)
            if not text:
                continue
            changed = parse_instant(text)
            record_lag(self.mapping.name, direction, self.trigger.value, (now - changed).total_seconds())
            record_id = str(row.get("id") if source is Side.BC else row.get(self.mapping.dataverse_id))
            if self.watch is None or cursor is None or record_id in self.retried:
                continue
            if self.watch.missed(source, changed, cursor.started, self.mapping.bc_entity_set):
                self.missed[source] = self.missed.get(source, 0) + 1

    def fail(self, side: Side, record_id: str, error: SyncError, row: Row | None) -> None:
        """One record failed: counted and logged; a transient failure of a record read (`row`) holds its side's
        watermark back (it must be read again), any other failure is a record error (skipped the second time)."""
        self.counters.failed += 1
        self.failed_now.add(record_id)
        log_event(LOG, "record failed", side=side.value, recordId=record_id, code=error.code)
        cursor = self.cursors.get(side)
        if error.is_transient and row is not None and cursor is not None:
            cursor.fail(record_id, self.modified_on(side, row))
        if record_failure(self.context, self.mapping.name, side, record_id, error, self.work):
            self.counters.skipped += 1

    def tally(self, coupling: Coupling, outcome: str) -> None:
        """Count a synchronized pair once: a pair whose creation an earlier, interrupted attempt began is counted as
        the insert it is (its coupling was written before the create), not as modified or unchanged."""
        if coupling.creating is not None:
            self.counters.inserted += 1
            self.counters.coupled += 1
        elif outcome == "modified":
            self.counters.modified += 1
        else:
            self.counters.unchanged += 1
