"""Full synchronization fanned out on the `sync-jobs` queue (ARCHITECTURE section 5; BC's "Full Synch. Review").

How a run goes, and why it is safe to repeat any step:
1. `plan` reads both apps (one `$top=1` per side and mapping), stores one review line per mapping with BC's
   recommendation (the caller may override), in dependency order.
2. `start` (`advancing.py`) starts every line whose dependencies are satisfied: a line becomes `running` and its
   *split* message (chunk 0) is sent; a line recommended `noRecords` finishes at once; a line whose dependency
   failed fails with the reason. One read of the run and one transaction for all of them. Message ids are
   `run/mapping/chunk`, so a repeated start sends nothing new (duplicate detection).
3. The split (`splitting.py`) lists the ids of the line's records in a stable order and, per 50 chunks of
   `chunk_records` ids (`CHUNK_RECORDS_TO_BC` at most for Dataverse's rows), first stores the chunks
   (`RunStore.save_chunks`), then sends their messages, then renews the line's lease; at the end it marks the line
   planned with its total. A split interrupted anywhere goes on where it stopped: it re-sends the stored chunks not
   yet counted and lists only the ids no stored chunk holds.
4. Each chunk is synchronized like a run (`MappingRun.run_records`) or coupled by matching (`match_and_couple`),
   then its counters are added to the line with an ETag-conditional write (`counting.py`); the chunk's bit in
   `done_chunks` makes any other copy of the chunk count nothing. A chunk's message carries what its work needs
   (attempt, phase, mode, the run's dry-run flag), so the run is read once per chunk, by that count. Whoever brings
   `chunks_done` to the planned total (the last chunk, or the split when the chunks were faster) finishes the line;
   `start` then hands its checkpoints over and, in one transaction, starts the lines that waited for it and clears
   the line's `hand_over_pending`.
5. A chunk that fails for a non-record reason raises (Service Bus redelivers it); on its last delivery the line is
   marked failed with the reason before the message goes to the dead-letter queue, and the run goes on. A chunk
   still throttled after the HTTP client's retries is rescheduled after the service's `Retry-After` instead.
6. A message that is lost (a purged queue, a host killed between two writes) leaves its line running with nothing
   to move it: once the run made no progress for `stall_after` the line is `stalled` (`domain.full_sync.is_stalled`).
   `restart` re-sends exactly its chunks not yet counted (or lets its split go on), under the same attempt, so late
   copies of the first messages still count, once; `settle` (run by the review, the timer and `restart`) finishes
   what is done but was never closed or handed over (`services/full_sync/recovery.py`).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from functools import partial

from shared.domain.errors import InvalidInputError, NotFoundError, SyncError
from shared.domain.full_sync import (
    DEFAULT_STALL_AFTER,
    Recommendation,
    SideData,
    chunk_counted,
    couples_first,
    plan,
    work_mode,
)
from shared.domain.jobs import JobKind, JobMessage, chunk_message_id
from shared.domain.mapping import Direction, FullSyncRule, MappingKind, TableMapping
from shared.domain.records import Counters, LeftUncoupled, LineStatus, ReviewLine, SyncRun
from shared.domain.watermarks import format_instant
from shared.engine.context import SyncContext
from shared.engine.mapping_run import MappingRun
from shared.engine.run_cache import run_scope
from shared.mappings import mapping_names
from shared.ports import JobQueue, RunStore
from shared.services.full_sync.advancing import advance
from shared.services.full_sync.chunks import chunk_work
from shared.services.full_sync.counting import Count, counted, named, read_line, save_line
from shared.services.full_sync.lines import failed, overridden
from shared.services.full_sync.messages import split_message
from shared.services.full_sync.splitting import split
from shared.telemetry import job_span

# Records per chunk of BC records (written to Dataverse): one range read per side, one bulk message per 1,000 rows
# (Dataverse's CreateMultiple / UpdateMultiple take 1,000: `DataverseClient.bulk_chunk`), and the chunk's own Table
# reads and writes (its couplings' range, former partners, errors, job line, its count) once per 1,000 records: a
# fifth of what chunks of 200 cost (issue 21). Still seconds of work toward Dataverse, far inside the message lock.
CHUNK_RECORDS = 1000
# Records per chunk of Dataverse rows (written to BC) at most: each becomes one charged BC operation in `$batch`
# requests of 100, and BC processes 5 requests at once per principal, so these chunks stay small.
CHUNK_RECORDS_TO_BC = 200
MAX_DELIVERIES = 10  # the queue's max delivery count (infra/ and the local host use the same)
MAX_RESCHEDULES = 20  # throttled waits a chunk may take before it goes back to plain redelivery
RESCHEDULE_JITTER = 0.2  # chunks throttled together come back spread over 20 % of the wait, not all at once


@dataclass
class FullSync:
    context: SyncContext
    runs: RunStore
    queue: JobQueue
    chunk_records: int = field(default_factory=lambda: CHUNK_RECORDS)  # read at use: settable per deployment
    chunk_records_to_bc: int = field(default_factory=lambda: CHUNK_RECORDS_TO_BC)
    stall_after: timedelta = DEFAULT_STALL_AFTER  # FULL_SYNC_STALL_MINUTES

    def catalog(self) -> dict[str, TableMapping]:
        """The mappings as configured, a mapping the engine cannot run counted as disabled: it takes no part, and
        its dependents do not wait for it (as BC treats a disabled dependency)."""
        catalog = {name: self.context.mapping(name) for name in mapping_names()}
        return {
            name: mapping
            if self.context.not_runnable_because(mapping, whole_runs=True) is None
            else replace(mapping, enabled=False)
            for name, mapping in catalog.items()
        }

    def not_runnable(self, names: Sequence[str] | None = None) -> dict[str, str]:
        """Enabled mappings (of `names`) left out of a run because the engine cannot run them, with the reason."""
        reasons: dict[str, str] = {}
        for name in names or mapping_names():
            mapping = self.context.mapping(name)
            if mapping.enabled and (why := self.context.not_runnable_because(mapping, whole_runs=True)):
                reasons[name] = why
        return reasons

    def now(self) -> str:
        return format_instant(self.context.clock())

    # -- 1. plan ---------------------------------------------------------------------------------------------
    def plan(
        self, names: Sequence[str] | None = None, overrides: Mapping[str, str] | None = None, *, dry_run: bool = False
    ) -> tuple[SyncRun, list[ReviewLine]]:
        catalog = self.catalog()
        for name in names or ():
            if name not in catalog:
                raise InvalidInputError("unknownMapping", f"No mapping named '{name}'.", field="mappings")
        for name in overrides or {}:
            if name not in catalog:
                raise InvalidInputError(
                    "unknownMapping", f"No mapping named '{name}'.", field=f"recommendations.{name}"
                )
        ordered = [catalog[name] for name in catalog if names is None or name in names]
        needed = {n for m in ordered for n in (m.name, *m.dependencies)}
        data = {name: self._side_data(catalog[name]) for name in needed}
        lines = plan(ordered, data, catalog=catalog)
        lines = overridden(lines, overrides or {})
        if not lines:
            raise InvalidInputError(
                "nothingToSynchronize", "None of these mappings takes part in a full synchronization.", field="mappings"
            )
        run = SyncRun(f"fs-{uuid.uuid4()}", self.now(), "planned", tuple(line.mapping for line in lines), None, dry_run)
        return self.runs.create_run(run, lines), lines

    def recommend(self, run_id: str, overrides: Mapping[str, str]) -> list[ReviewLine]:
        """Change the recommendations of a planned run's lines before it starts (the review's overrides, by the
        plan's rules: `lines.overridden`); the changed lines are written in one transaction, each conditional on the
        etag read, so a start meanwhile (the run no longer planned) makes this fail instead of changing a run."""
        run, lines = self.runs.get_run(run_id)
        if run.status != "planned":
            raise InvalidInputError("alreadyStarted", f"Run {run_id} is {run.status}, not planned.", field="runId")
        changed = [new for new, old in zip(overridden(lines, overrides), lines, strict=True) if new != old]
        if changed:
            self.runs.update_lines(run_id, changed, run)
        return changed

    def dry_copy(self, run_id: str) -> SyncRun:
        """A new dry run of a planned run's lines (their recommendations as planned or overridden): the planned run
        stays planned, to be started for real once the dry run's review looks right."""
        run, lines = self.runs.get_run(run_id)
        if run.status != "planned":
            raise InvalidInputError("alreadyStarted", f"Run {run_id} is {run.status}, not planned.", field="runId")
        fresh = [ReviewLine(line.mapping, line.recommendation) for line in lines]
        copy = SyncRun(f"fs-{uuid.uuid4()}", self.now(), "planned", run.mappings, None, True)
        return self.runs.create_run(copy, fresh)

    def _side_data(self, mapping: TableMapping) -> SideData:
        bc = self.context.bc
        bc_has = bc.serves(mapping.bc_entity_set) and bc.has_records(mapping.bc_entity_set, mapping.bc_filter)
        option = mapping.kind is MappingKind.OPTION_SET  # Sales' side is a picklist: no rows to count
        dv_has = not option and self.context.dataverse.has_records(
            mapping.dataverse_entity_set, mapping.dataverse_filter
        )
        coupled = self.context.couplings.has_couplings(mapping.name)
        only_base = False
        if mapping.full_sync is FullSyncRule.BASE_CURRENCY:  # the mapping's table is Sales' currencies
            rates = [
                row.get("exchangerate")
                for page in self.context.dataverse.list_changed_since(
                    mapping.dataverse_entity_set, None, [mapping.dataverse_id, "exchangerate"]
                )
                for row in page.rows
            ]
            only_base = len(rates) == 1 and float(rates[0] or 0) == 1.0
        return SideData(bc_has, dv_has, int(coupled), only_base)

    # -- 2. start, 3. split -----------------------------------------------------------------------------------
    def start(self, run_id: str) -> list[str]:
        """Start what can start now, hand the finished lines over, close the run when every line ended; returns
        the lines started. Safe to call again at any time: every step is idempotent (`advancing.py`)."""
        return advance(self, run_id)

    def split(self, run_id: str, name: str, attempt: int = 0, phase: int = 0) -> int:
        """Store and send the line's chunks (of this phase); returns the line's chunk total (`splitting.py`)."""
        return split(self, run_id, name, attempt, phase)

    # -- 4. chunks -------------------------------------------------------------------------------------------
    def run_chunk(self, run_id: str, name: str, chunk: int, payload: Mapping[str, object]) -> None:
        """Synchronize (or couple) the chunk's records, then count it on its line. The message carries what the work
        needs (`messages.chunk_message`), so the run is read only by the count, which counts nothing for a copy
        counted already or of an older attempt; a message sent before chunks carried it reads the run first."""
        attempt, phase, mode = payload.get("attempt", 0), payload.get("phase", 0), str(payload.get("mode", ""))
        line = ReviewLine(name, mode, attempt=int(str(attempt)), phase=int(str(phase)))  # what the message says
        flag = payload.get("dryRun")
        if isinstance(flag, bool):
            dry_run = flag
        else:
            run, lines = self.runs.get_run(run_id)  # one read for the line and the run's dry-run flag
            line, dry_run = named(lines, run_id, name), run.dry_run
            stale = attempt != line.attempt  # sent before the line was re-run whole
            if stale or line.status is not LineStatus.RUNNING or chunk_counted(line.done_chunks, chunk):
                if line.hand_over_pending:  # counted, but the worker that finished the line died before the rest
                    self.start(run_id)
                return  # another copy was counted, or the line was closed (failed) meanwhile
        raw = payload.get("ids")
        ids = [str(i) for i in raw] if isinstance(raw, list) else []
        job_id = chunk_message_id(run_id, name, chunk)
        mapping = self.context.runnable(name, whole_runs=True)
        side_bc = payload.get("side") == "bc"
        direction = (Direction.TO_DATAVERSE if side_bc else Direction.FROM_DATAVERSE).value
        with (
            job_span("fullSyncChunk", name, job_id=job_id, run_id=run_id, direction=direction) as span,
            run_scope(run_id),  # what every chunk of the run reads alike is read once (engine/run_cache.py)
        ):
            if couples_first(line, mapping) and not side_bc:  # its second phase: the coupled rows are copied
                counters, left = self._coupled_rows(mapping, ids, job_id, dry_run=dry_run)
            else:
                counters, left = chunk_work(
                    self.context, mapping, work_mode(line, mapping), side_bc, ids, job_id, dry_run=dry_run
                )  # what a coupling line creates, and leaves: see `full_sync_chunks`
            span.finish(counters.as_dict())
        self.count(run_id, name, Count(chunk, counters, left, attempt=line.attempt), dry_run=dry_run)

    def _coupled_rows(
        self, mapping: TableMapping, ids: Sequence[str], job_id: str, *, dry_run: bool
    ) -> tuple[Counters, LeftUncoupled]:
        """A chunk of Dataverse rows of a line that `couples_first`: the coupled ones (its first phase coupled BC's
        records by match) are synchronized as a full synchronization does, the others are left and counted: the
        mapping never creates in BC."""
        coupled = sorted(set(self.context.couplings.find_many_by_dataverse_ids(mapping.name, ids)))
        left = LeftUncoupled(dataverse_only=len(set(ids)) - len(coupled))
        if dry_run:  # estimated as a copying chunk is: each coupled row compared (whether it differs is not computed)
            return Counters(unchanged=len(coupled)), left
        if not coupled:
            return Counters(), left
        return MappingRun(self.context, mapping, job_id).run_records([], coupled).counters, left

    def fail_chunk(self, run_id: str, name: str, chunk: int, error: Exception) -> None:
        """The chunk's last delivery failed: its line fails with the reason, the rest of the run goes on (unless
        another copy of the chunk, re-sent by a restart, was counted meanwhile)."""
        reason = f"chunk {chunk}: {error.code if isinstance(error, SyncError) else type(error).__name__}: {error}"
        line = read_line(self.runs, run_id, name)
        if _done_elsewhere(line, chunk):
            return
        save_line(self.runs, run_id, line, partial(failed, reason=reason, now=self.now()))
        self.start(run_id)

    def reschedule(self, message_id: str, payload: Mapping[str, object], retry_after: float) -> bool:
        """A chunk throttled past the HTTP client's own retries comes back after the service's `Retry-After` as a
        scheduled copy (new message id `.../t<n>`, so duplicate detection keeps it), instead of being redelivered
        at once and spending its ten deliveries within seconds. False when it has waited enough times already."""
        waits = int(str(payload.get("waits", 0)))
        if waits >= MAX_RESCHEDULES:
            return False
        base = message_id.rsplit("/t", 1)[0] if "/t" in message_id.rsplit("/", 1)[-1] else message_id
        delay = max(1.0, retry_after) * (1 + random.random() * RESCHEDULE_JITTER)  # noqa: S311 (spreading only)
        again = JobMessage(JobKind.FULL_SYNC_CHUNK, f"{base}/t{waits + 1}", {**payload, "waits": waits + 1})
        self.queue.send([again], delay=timedelta(seconds=delay))
        return True

    def record_dead_letter(self, run_id: str, name: str, chunk: int, attempt: int, reason: str) -> None:
        """A chunk of this line's current attempt was dead-lettered: the line fails with the reason unless it was
        closed already (the last delivery said so itself), re-run whole since (an older attempt's chunk), or
        another copy of the chunk was counted (a restart re-sent it)."""
        try:
            line = read_line(self.runs, run_id, name)
        except (InvalidInputError, NotFoundError):
            return  # a run or line that no longer exists: nothing to record it on
        if line.attempt != attempt or line.status is not LineStatus.RUNNING or _done_elsewhere(line, chunk):
            return
        reason = f"chunk {chunk} dead-lettered: {reason}"
        save_line(self.runs, run_id, line, partial(failed, reason=reason, now=self.now()))
        self.start(run_id)

    # -- counting --------------------------------------------------------------------------------------------
    def count(
        self, run_id: str, name: str, count: Count, *, dry_run: bool | None = None, line: ReviewLine | None = None
    ) -> None:
        """Add `count` to the line (`counting.counted`), conditionally on the line as read (`line`, or read now);
        whoever finishes the line moves the run on (`start`), whoever moves it to its second phase sends that
        phase's split. A chunk counted already whose line still waits for its hand-over moves the run on too (the
        worker that finished the line died before it could)."""
        if line is None or dry_run is None:
            run, lines = self.runs.get_run(run_id)
            line, dry_run = named(lines, run_id, name), run.dry_run
        now, mapping, dry = self.now(), self.context.mapping(name), dry_run
        coupling = work_mode(line, mapping) == Recommendation.COUPLE_RECORDS.value
        second = coupling and mapping.direction.allows(Direction.FROM_DATAVERSE)
        moved: list[bool] = []

        def change(current: ReviewLine) -> ReviewLine | None:
            new = counted(current, count, now, second_phase=second, dry_coupling=dry and coupling)
            moved[:] = [new is not None and new.phase != current.phase]
            return new

        saved = save_line(self.runs, run_id, line, change)
        if saved.stored is not None and saved.stored.status is LineStatus.FINISHED:
            self.start(run_id)  # hands it over, starts the lines that waited for it
        elif saved.stored is not None and any(moved):
            self.queue.send([split_message(saved.stored, run_id, dry_run=dry)])  # whoever moved it on sends it
        elif saved.stored is None and saved.seen.hand_over_pending:
            self.start(run_id)


def _done_elsewhere(line: ReviewLine, chunk: int) -> bool:
    """Another copy of this chunk did its work: it was counted, or (the split) the line's listing is complete."""
    return chunk_counted(line.done_chunks, chunk) if chunk else line.planned
