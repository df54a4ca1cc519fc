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
from dataclasses import dataclass, field

from shared.domain.coupling import Coupling
from shared.domain.errors import SyncError
from shared.domain.mapping import TableMapping
from shared.domain.records import Counters, Side
from shared.domain.watermarks import SideCursor
from shared.engine.behaviours import hooks as behaviours
from shared.engine.context import SyncContext
from shared.engine.creation import Creator
from shared.engine.lookups import LookupResolver
from shared.engine.outcomes import record_failure
from shared.engine.sides import BcSide, DataverseSide
from shared.engine.unit_of_work import UnitOfWork
from shared.engine.values import ValueMapper
from shared.ports import Row
from shared.telemetry import log_event

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

    def __post_init__(self) -> None:
        self.mapper = ValueMapper(self.mapping, LookupResolver(self.context), self.context.option_maps)
        self.state_sides = behaviours.state_sides(self.mapping)  # sides with state rules (usually none)
        self.bc = BcSide(self.context.bc, self.mapping, self.mapper)
        self.dv = DataverseSide(self.context.dataverse, self.mapping, self.mapper)
        self.work = UnitOfWork(self.context, self.mapping.name, self.job_id)
        self.creator = Creator(self.context, self.mapping, self.mapper, self.bc, self.dv, self.job_id, work=self.work)

    def modified_on(self, side: Side, row: Row) -> str | None:
        return self.bc.modified_on(row) if side is Side.BC else self.dv.modified_on(row)

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
