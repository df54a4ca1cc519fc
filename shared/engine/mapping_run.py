"""One run of one table mapping (ARCHITECTURE section 5), from one candidate source (`domain/candidate_sources.py`):
the records changed since the checkpoints (the incremental run), the failed records (a retry) or these records (a
full-synchronization chunk). Every source goes through the same steps, each in a module of its own:

1. Candidates (`candidate_reads.py`): read from the source; the failed, not-skipped records are retried first.
2. Pairs (`run_pairs.py`): the candidates' couplings, identity pairs coupled again; an incremental run passes over
   pairs still at their synchronized versions (`candidates.settled`), a chunk over pairs its run already did.
3. Decide per coupled pair with the per-field hashes (`pair_decisions.py`); uncoupled candidates are created on the
   other side and coupled (`creation.py`) unless the mapping syncs only coupled records (a chunk always creates).
4. Write in bulk (`pair_writes.py`), run the mapping's state rules (`transfer_rules.py`), then record couplings and
   errors: collected in the run's unit of work and flushed in transactions of 100 (`unit_of_work.py`; claims of new
   records go before their creates).
5. Move the checkpoints last, after the flush, by the cursors' rules (`domain/watermarks.py`): never past a record
   that failed transiently (it must be read again). Only the incremental run moves them.

Issue 23: the job entry says what started the run (`RunTrigger`: the timer's poll, a notification's wake, an admin,
a full synchronization); every record written records its latency from its modified-on (`RunState.wrote`:
`sync.lag.seconds`), and a poll given a `NotificationWatch` counts the changes it applied that a notification
should have brought first (`missedByNotifications`, `domain/notification_watch.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from shared.domain.candidate_sources import CHANGED_SINCE, CandidateSource, ChangedSince, TheseRecords
from shared.domain.coupling import Coupling
from shared.domain.jobs import run_prefix
from shared.domain.mapping import TableMapping
from shared.domain.notification_watch import NotificationWatch
from shared.domain.records import JobStatus, RunTrigger, Side, SyncJob
from shared.domain.watermarks import format_instant
from shared.engine.behaviours import hooks as behaviours
from shared.engine.candidate_reads import read_candidates
from shared.engine.candidates import settled
from shared.engine.context import SyncContext
from shared.engine.option_runs import is_option_mapping, run_option_mapping
from shared.engine.pair_decisions import decide_pair
from shared.engine.pair_writes import write_pending
from shared.engine.run_pairs import adopt_identity_pairs, not_done_by_run
from shared.engine.run_state import RunState, new_job_id
from shared.engine.transfer_rules import run_state_rules
from shared.ports import Row
from shared.telemetry import job_span


@dataclass
class MappingRun:
    """One run of `mapping` under `job_id` (a full-sync chunk's id makes its redelivery count once); its state is
    `RunState`, its source the argument of `run`. `trigger`: what started it (built directly, it is a full-sync
    chunk's; `run_mapping` says otherwise); `watch`: a poll's notification watch (None: nothing is counted)."""

    context: SyncContext
    mapping: TableMapping
    job_id: str = field(default_factory=new_job_id)
    trigger: RunTrigger = RunTrigger.FULL_SYNC
    watch: NotificationWatch | None = None

    def __post_init__(self) -> None:
        self.state = RunState(self.context, self.mapping, self.job_id, trigger=self.trigger, watch=self.watch)

    def run(self, source: CandidateSource = CHANGED_SINCE) -> SyncJob:
        """The run over the source's candidates, logged as one job."""
        started = self.context.clock()
        state = self.state
        state.measures_lag = not isinstance(source, TheseRecords)
        bc_rows, dv_rows = read_candidates(state, source, started)
        if isinstance(source, TheseRecords):
            self._synchronize(bc_rows, dv_rows, create=True, chunk_of=run_prefix(self.job_id))
        else:
            every = self.state.mapper.run_dependent  # values read per run (exchange rates): every pair is compared
            self._synchronize(bc_rows, dv_rows, create=not self.mapping.sync_only_coupled, pass_settled=not every)
        if isinstance(source, ChangedSince):
            self._out_of_filter()
        state.work.flush()  # couplings and errors, then the checkpoints
        for cursor in state.cursors.values():
            if (moved := cursor.next()) is not None:
                self.context.checkpoints.save_checkpoint(moved)
        return self._log_job(started)

    def run_records(self, bc_ids: Sequence[str], dv_ids: Sequence[str]) -> SyncJob:
        """One chunk of a full synchronization: `run` over `TheseRecords` (see there)."""
        return self.run(TheseRecords.of(bc_ids, dv_ids))

    def _synchronize(
        self,
        bc_rows: dict[str, Row],
        dv_rows: dict[str, Row],
        *,
        create: bool,
        pass_settled: bool = False,
        chunk_of: str | None = None,
    ) -> None:
        """Compare the coupled candidates (reading the other side of each pair) and write what changed, then create
        the uncoupled ones. An incremental run passes over pairs still at their synchronized versions
        (`candidates.settled`); a full-sync chunk compares every pair, as BC's full synchronization does, except
        those another chunk of the same run (`chunk_of`: the run's job-id prefix) already synchronized: a pair is
        counted once per run. Uncoupled candidates that are each other's deterministic partner are coupled, not
        copied (`identity`)."""
        state = self.state
        bc_rows = behaviours.without_excluded(self.context, self.mapping, bc_rows)
        by_bc = self.context.couplings.find_many_by_bc_ids(self.mapping.name, bc_rows)
        by_dv = self.context.couplings.find_many_by_dataverse_ids(self.mapping.name, dv_rows)
        if create:
            adopted = adopt_identity_pairs(state, bc_rows, dv_rows, by_bc, by_dv)
            by_bc.update(adopted)
            by_dv.update({c.dataverse_id: c for c in adopted.values()})
        couplings: dict[str, Coupling] = {c.bc_id: c for c in [*by_bc.values(), *by_dv.values()]}
        if chunk_of is not None:
            couplings = not_done_by_run(state, couplings, chunk_of)
        if pass_settled:
            quiet = settled(couplings.values(), bc_rows, dv_rows, state.retried)
            state.counters.unchanged += len(quiet)
            quiet_dv = {couplings[bc_id].dataverse_id for bc_id in quiet}
            couplings = {bc_id: c for bc_id, c in couplings.items() if bc_id not in quiet}
            bc_rows = {key: row for key, row in bc_rows.items() if key not in quiet}  # nor their lookups resolved
            dv_rows = {key: row for key, row in dv_rows.items() if key not in quiet_dv}
        missing_bc = [c.bc_id for c in couplings.values() if c.bc_id not in bc_rows]
        missing_dv = [c.dataverse_id for c in couplings.values() if c.dataverse_id not in dv_rows]
        bc_all = {**state.bc.get_many(missing_bc), **bc_rows}
        dv_all = {**state.dv.get_many(missing_dv), **dv_rows}
        state.mapper.prefetch(bc_all.values(), dv_all.values())
        pending = [p for c in couplings.values() if (p := decide_pair(state, c, bc_all, dv_all, bc_rows, dv_rows))]
        write_pending(state, pending)
        partners = (bc_all, dv_all) if chunk_of is not None else None
        run_state_rules(state, couplings, bc_rows, dv_rows, partners)
        if create:
            created = state.creator.create_in_dataverse(
                [row for bc_id, row in bc_rows.items() if bc_id not in by_bc], state.counters, state.fail
            )
            state.wrote(Side.BC, [bc_rows[c.bc_id] for c in created if c.bc_id in bc_rows])
            created = state.creator.create_in_business_central(
                [row for dv_id, row in dv_rows.items() if dv_id not in by_dv], state.counters, state.fail
            )
            state.wrote(Side.DATAVERSE, [dv_rows[c.dataverse_id] for c in created if c.dataverse_id in dv_rows])
        state.work.flush()  # the page's unit of work: after its writes to the apps

    def _out_of_filter(self) -> None:
        """The mapping's out-of-filter state rules on the records changed since each side's checkpoint."""
        since = {side: cursor.since for side, cursor in self.state.cursors.items()}
        for side, record_id, error in behaviours.out_of_filter(self.context, self.mapping, since):
            self.state.fail(side, record_id, error, None)

    def _log_job(self, started: datetime) -> SyncJob:
        job = SyncJob(
            self.mapping.name,
            self.job_id,
            format_instant(started),
            format_instant(self.context.clock()),
            JobStatus.FINISHED,
            self.state.counters,
            trigger=self.trigger.value,
            missed_by_notifications={side.value: count for side, count in self.state.missed.items() if count},
        )
        self.context.jobs.record_job(job)
        return job


def run_mapping(
    context: SyncContext,
    mapping_name: str,
    source: CandidateSource = CHANGED_SINCE,
    *,
    trigger: RunTrigger = RunTrigger.NOW,
    watch: NotificationWatch | None = None,
) -> SyncJob:
    """One run (the incremental one unless `source` says otherwise), traced as one job: its span (HTTP calls as
    children), metrics and log line. An option mapping runs whole, whatever the source (`option_runs.py`).
    `trigger` goes on the job entry (the default: an admin's Synchronize or retry); `watch` only on a poll (see
    `MappingRun`)."""
    if is_option_mapping(context.mapping(mapping_name)):  # BC codes <-> picklist options: a run of its own kind
        return run_option_mapping(context, mapping_name)
    mapping = context.runnable(mapping_name)
    run = MappingRun(context, mapping, trigger=trigger, watch=watch)
    dimensions = {"job_id": run.job_id, "direction": mapping.direction.value, "trigger": trigger.value}
    with job_span("incremental", mapping.name, **dimensions) as span:
        job = run.run(source)
        span.finish(job.counters.as_dict())
    return job
