"""Full synchronization fanned out on the `sync-jobs` queue (ARCHITECTURE section 5; BC's "Full Synch. Review").

How a run goes, and why it is safe to repeat any step:
1. `plan` reads both apps (one `$top=1` per side and mapping), stores one review line per mapping with BC's
   recommendation (the caller may override), in dependency order.
2. `start` starts every line whose dependencies are satisfied: a line becomes `running` and its *split* message
   (chunk 0) is sent; a line recommended `noRecords` finishes at once; a line whose dependency failed fails with the
   reason. Message ids are `run/mapping/chunk`, so a repeated start sends nothing new (duplicate detection).
3. The split lists the ids of the line's records in a stable order and, per 50 chunks of `chunk_records` ids, first
   stores the chunks (`RunStore.save_chunks`), then sends their messages, then renews the line's lease; at the end
   it marks the line planned with its total. A split interrupted anywhere goes on where it stopped: it re-sends the
   stored chunks not yet counted and lists only the ids no stored chunk holds.
4. Each chunk is synchronized like a run (`MappingRun.run_records`) or coupled by matching (`match_and_couple`),
   then its counters are added to the line with an ETag-conditional write; the chunk's bit in `done_chunks` makes
   any other copy of the chunk count nothing. Whoever brings `chunks_done` to the planned total (the last chunk, or
   the split when the chunks were faster) finishes the line; `start` then hands its checkpoints over and starts the
   lines that waited for it, and only then clears the line's `hand_over_pending`.
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

import contextlib
import random
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from functools import partial

from shared.domain.errors import ConcurrencyError, InvalidInputError, NotFoundError, SyncError
from shared.domain.full_sync import (
    DEFAULT_STALL_AFTER,
    LineChunk,
    Recommendation,
    SideData,
    all_chunks_counted,
    chunk_counted,
    count_chunk,
    couples_first,
    next_steps,
    plan,
    uncounted,
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
from shared.services.full_sync.chunks import chunk_work, dry_left
from shared.services.full_sync.lines import (
    failed,
    finished,
    hand_over,
    handed_over,
    overridden,
    progressed,
    running,
)
from shared.services.full_sync.messages import chunk_message, id_chunks, split_message
from shared.telemetry import job_span

CHUNK_RECORDS = 200  # records per chunk: one chunk finishes in seconds, far inside the message lock
SEND_BATCH = 50  # chunks stored in one transaction and sent in one call, then the lease is renewed
MAX_DELIVERIES = 10  # the queue's max delivery count (infra/ and the local host use the same)
MAX_RESCHEDULES = 20  # throttled waits a chunk may take before it goes back to plain redelivery
RESCHEDULE_JITTER = 0.2  # chunks throttled together come back spread over 20 % of the wait, not all at once


@dataclass
class FullSync:
    context: SyncContext
    runs: RunStore
    queue: JobQueue
    chunk_records: int = field(default_factory=lambda: CHUNK_RECORDS)  # read at use: settable per deployment
    stall_after: timedelta = DEFAULT_STALL_AFTER  # FULL_SYNC_STALL_MINUTES

    def _catalog(self) -> dict[str, TableMapping]:
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
        catalog = self._catalog()
        for name in [*(names or ()), *(overrides or {})]:
            if name not in catalog:
                raise InvalidInputError("unknownMapping", f"No mapping named '{name}'.", field="mappings")
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

    # -- 2. start --------------------------------------------------------------------------------------------
    def start(self, run_id: str) -> list[str]:
        """Start what can start now, hand the finished lines over, close the run when every line ended; returns
        the lines started. Safe to call again at any time: every step is idempotent."""
        run, _ = self.runs.get_run(run_id)
        if run.status == "planned":
            with contextlib.suppress(ConcurrencyError):  # another caller started it
                self.runs.update_run(replace(run, status="running"))
        catalog = self._catalog()
        started: list[str] = []
        while True:
            _, lines = self.runs.get_run(run_id)
            ready, failing = next_steps(lines, catalog)
            if not ready and not failing:
                break
            by_name = {line.mapping: line for line in lines}
            for name, reason in failing.items():
                self._save(run_id, by_name[name], partial(failed, reason=reason, now=self.now()))
            for name in ready:
                line = by_name[name]
                if line.recommendation == Recommendation.NO_RECORDS.value:
                    self._save(run_id, line, lambda ln: finished(replace(ln, planned=True), self.now()))
                    continue
                started_line = self._save(run_id, line, lambda ln: running(ln, self.now()))
                if started_line is not None:
                    self.queue.send([split_message(started_line, run_id)])
                    started.append(name)
        self._hand_over(run_id)
        self._close_run_if_done(run_id)
        return started

    def _hand_over(self, run_id: str) -> None:
        """Finished lines hand their checkpoints over; the mark goes only after that and after their dependents
        were started (by `start`, before this), so a worker dying in between leaves it for `settle`."""
        run, lines = self.runs.get_run(run_id)
        for line in lines:
            if line.hand_over_pending:
                if not run.dry_run:  # a dry run changed nothing: the incremental runs must still read it all
                    hand_over(self.context, line)
                self._save(run_id, line, handed_over)

    # -- 3. split --------------------------------------------------------------------------------------------
    def split(self, run_id: str, name: str, attempt: int = 0, phase: int = 0) -> int:
        """Store and send the line's chunks (of this phase); returns the line's chunk total. A split delivered
        again goes on where the last one stopped (see the module's step 3); a stale one sends nothing."""
        line = self._line(run_id, name)
        if line.status is not LineStatus.RUNNING or line.planned or (attempt, phase) != (line.attempt, line.phase):
            return line.chunks_total
        stored = self.runs.list_chunks(run_id, name, line.attempt, phase) if line.stores_chunks else []
        self._send_chunks(run_id, line, uncounted(line, stored))  # stored before an interruption: maybe unsent
        skip = {side: {i for chunk in stored if chunk.side == side for i in chunk.ids} for side in ("bc", "dv")}
        total = max([line.chunks_total, *(chunk.number for chunk in stored)])  # phase 1 numbers after phase 0's
        batch: list[LineChunk] = []
        mapping = self.context.mapping(name)
        mode = work_mode(line, mapping)  # a line that couples first is listed as a coupling line (two phases)
        for side, ids in id_chunks(self.context, mapping, mode, phase, self.chunk_records, skip):
            total += 1
            batch.append(LineChunk(name, line.attempt, phase, total, side, tuple(ids)))
            if len(batch) >= SEND_BATCH:
                self._store_and_send(run_id, line, batch)
                batch = []
        if batch:
            self._store_and_send(run_id, line, batch)
        self._count(run_id, name, None, Counters(), total=total)
        return total

    def _store_and_send(self, run_id: str, line: ReviewLine, chunks: Sequence[LineChunk]) -> None:
        if line.stores_chunks:
            self.runs.save_chunks(run_id, chunks)  # ConflictError: a concurrent split stored them; retried later
        self._send_chunks(run_id, line, chunks)
        self._save(run_id, self._line(run_id, line.mapping), partial(progressed, now=self.now()))

    def _send_chunks(self, run_id: str, line: ReviewLine, chunks: Sequence[LineChunk]) -> None:
        for start in range(0, len(chunks), SEND_BATCH):
            self.queue.send([chunk_message(line, run_id, chunk) for chunk in chunks[start : start + SEND_BATCH]])

    # -- 4. chunks -------------------------------------------------------------------------------------------
    def run_chunk(self, run_id: str, name: str, chunk: int, payload: Mapping[str, object]) -> None:
        run, lines = self.runs.get_run(run_id)  # one read for the line and the run's dry-run flag
        line = _named(lines, run_id, name)
        stale = payload.get("attempt", 0) != line.attempt  # sent before the line was re-run whole
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
        dry_run = run.dry_run
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
        self._count(run_id, name, chunk, counters, left=left)

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
        line = self._line(run_id, name)
        if _done_elsewhere(line, chunk):
            return
        self._save(run_id, line, lambda ln: failed(ln, reason, self.now()))
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
            line = self._line(run_id, name)
        except (InvalidInputError, NotFoundError):
            return  # a run or line that no longer exists: nothing to record it on
        if line.attempt != attempt or line.status is not LineStatus.RUNNING or _done_elsewhere(line, chunk):
            return
        self._save(run_id, line, lambda ln: failed(ln, f"chunk {chunk} dead-lettered: {reason}", self.now()))
        self.start(run_id)

    # -- counting and closing --------------------------------------------------------------------------------
    def _count(
        self,
        run_id: str,
        name: str,
        chunk: int | None,
        counters: Counters,
        total: int | None = None,
        left: LeftUncoupled | None = None,
    ) -> None:
        """Add a chunk's counters and what it left uncoupled (or the split's total) and renew the lease; the save
        that brings the line to all chunks counted finishes it, or moves it on to its second phase and sends that
        phase's split. Called with neither chunk nor total it only closes a line whose chunks are all counted
        (`settle`)."""
        now = self.now()
        moved = False
        run, lines = self.runs.get_run(run_id)

        def change(line: ReviewLine) -> ReviewLine | None:
            nonlocal moved
            moved = False
            if chunk is not None and chunk_counted(line.done_chunks, chunk):
                return None
            if chunk is not None:
                line = replace(
                    line,
                    counters=line.counters.add(counters),
                    left=line.left.add(left or LeftUncoupled()),
                    chunks_done=line.chunks_done + 1,
                    done_chunks=count_chunk(line.done_chunks, chunk),
                    progressed_on=now,
                )
            if total is not None:
                line = replace(line, chunks_total=total, planned=True, progressed_on=now)
            if all_chunks_counted(line) and line.status is LineStatus.RUNNING:
                moved = self._second_phase(line)
                if moved:
                    return replace(line, phase=1, planned=False, progressed_on=now)
                if run.dry_run and work_mode(line, self.context.mapping(name)) == Recommendation.COUPLE_RECORDS.value:
                    line = replace(line, left=dry_left(line.left, line.counters))
                return finished(line, now)
            return line if chunk is not None or total is not None else None

        saved = self._save(run_id, _named(lines, run_id, name), change)
        if saved is not None and saved.status is LineStatus.FINISHED:
            self.start(run_id)  # hands it over, starts the lines that waited for it
        elif saved is not None and moved:
            self.queue.send([split_message(saved, run_id)])  # whoever moved it on (a chunk or the split) sends it

    def _second_phase(self, line: ReviewLine) -> bool:
        mapping = self.context.mapping(line.mapping)
        return (
            line.phase == 0
            and work_mode(line, mapping) == Recommendation.COUPLE_RECORDS.value
            and mapping.direction.allows(Direction.FROM_DATAVERSE)
        )

    def _save(
        self, run_id: str, line: ReviewLine, change: Callable[[ReviewLine], ReviewLine | None]
    ) -> ReviewLine | None:
        """Apply `change` to the line and store it conditionally; on a lost race re-read and apply again.
        Returns the stored line, or None when `change` found nothing to do."""
        for _ in range(50):
            changed = change(line)
            if changed is None:
                return None
            try:
                return self.runs.update_line(run_id, changed)
            except ConcurrencyError:
                line = self._line(run_id, line.mapping)
        raise ConcurrencyError("lineBusy", f"line {line.mapping} of run {run_id} kept changing; try again")

    def _close_run_if_done(self, run_id: str) -> None:
        run, lines = self.runs.get_run(run_id)
        still_open = (LineStatus.WAITING, LineStatus.RUNNING)
        if run.status != "running" or any(ln.status in still_open or ln.hand_over_pending for ln in lines):
            return
        status = "failed" if any(line.status is LineStatus.FAILED for line in lines) else "finished"
        with contextlib.suppress(ConcurrencyError):  # someone else closed it
            self.runs.update_run(replace(run, status=status))

    def _line(self, run_id: str, name: str) -> ReviewLine:
        return _named(self.runs.get_run(run_id)[1], run_id, name)


def _named(lines: Sequence[ReviewLine], run_id: str, name: str) -> ReviewLine:
    for line in lines:
        if line.mapping == name:
            return line
    raise InvalidInputError("unknownLine", f"Run {run_id} has no line for {name}.", field="mapping")


def _done_elsewhere(line: ReviewLine, chunk: int) -> bool:
    """Another copy of this chunk did its work: it was counted, or (the split) the line's listing is complete."""
    return chunk_counted(line.done_chunks, chunk) if chunk else line.planned
