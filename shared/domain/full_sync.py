"""Full synchronization planning (BC's "Full Synch. Review"): which mappings take part, what each line should do,
and which lines may start once others finish. Pure: the service reads both apps and stores the run.

Why these rules (see `design/reference/bc-integration-facts.md`, "full synchronization order"). Each mapping declares
its rule (`TableMapping.full_sync`, a `FullSyncRule`), so nothing here knows a mapping by name:
- Document lines (SOLINE-ORDERDETAIL, POSTEDSALESLINE-INV: `NEVER`) never get a line: they travel with their
  documents. SALESORDER-ORDER (`BOTH_WAYS_ONLY`) only takes part when it runs both ways (a BC -> Sales only order sync
  is the SALESORDER-ORDER process, not a table copy). Disabled mappings do not take part.
- The recommendation is computed from both apps' data as BC does (`BY_DATA`): data on one side only ->
  `fullSynchronization` (copy it across), data on both -> `coupleRecords` (match-based coupling instead of creating
  duplicates), none -> `noRecords`. SALESPEOPLE is always a full synchronization (`ALWAYS_FULL`: users are never
  created, only coupled and read); CURRENCY is a full synchronization only when Dataverse holds nothing but its base
  currency (`BASE_CURRENCY`); option mappings couple when BC has codes (`COUPLE`). A line whose dependency is not in
  the run and has nothing coupled is `dependencyNotSatisfied`: running it would only produce lookup errors.
- A line starts when every dependency in the run is finished, or was recommended `noRecords` (nothing to wait
  for). A dependency that failed fails its dependents with the reason instead of leaving them waiting forever;
  restarting the run re-runs exactly those.
- A running line whose run has made no progress for `stall_after` is `stalled` (derived when read, never stored):
  its messages were lost (a purged queue, a host killed between two writes) and nothing will move it again but a
  restart, which re-sends exactly its chunks not yet counted (see `is_stalled` for why the run, not the line).

Why `stall_after` is 15 minutes by default (FULL_SYNC_STALL_MINUTES; the figures are the deployment's, host.json and
infra/app/servicebus.bicep, and tests/unit/test_full_sync_stall.py keeps them equal to the constants below):
- a chunk (1,000 BC records, or 200 Sales rows written to BC) takes seconds, but a slow one may run until the host's
  `functionTimeout` (10 minutes) stops it; its lock is renewed meanwhile (`maxAutoLockRenewalDuration` 5 minutes,
  after which the lock lapses and a second worker takes the message, which also counts by the timeout at the
  latest);
- a worker that dies takes its lock renewal with it: its message comes back after one `lockDuration` (2 minutes);
- a throttled chunk waits for `Retry-After` on the queue (Dataverse's service protection window is 5 minutes),
  shorter than the timeout.
So a run that still moves counts some chunk at least every timeout + one lock (12 minutes); 3 minutes of margin
make 15. A longer setting only delays the warning; a shorter one risks calling a slow run stalled, whose restart is
still harmless (a re-sent chunk is counted once) but does work twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from shared.domain.mapping import Direction, FullSyncRule, TableMapping
from shared.domain.records import LineStatus, ReviewLine
from shared.domain.watermarks import parse_instant

FUNCTION_TIMEOUT = timedelta(minutes=10)  # host.json "functionTimeout" (see the module docstring for the default)
LOCK_DURATION = timedelta(minutes=2)  # infra/app/servicebus.bicep "lockDuration"
STALL_MARGIN = timedelta(minutes=3)
DEFAULT_STALL_AFTER = FUNCTION_TIMEOUT + LOCK_DURATION + STALL_MARGIN
DEFAULT_STALL_MINUTES = int(DEFAULT_STALL_AFTER.total_seconds() // 60)


class Recommendation(StrEnum):
    FULL_SYNCHRONIZATION = "fullSynchronization"
    COUPLE_RECORDS = "coupleRecords"
    NO_RECORDS = "noRecords"
    DEPENDENCY_NOT_SATISFIED = "dependencyNotSatisfied"


@dataclass(frozen=True)
class LineChunk:
    """One chunk of a line as its split stored it before sending its message: a restart re-sends exactly these ids
    under the same chunk number, so whichever copy is delivered first is counted and the others are not."""

    mapping: str
    attempt: int
    phase: int
    number: int
    side: str  # "bc" or "dv": which app's records the ids are
    ids: tuple[str, ...]


@dataclass(frozen=True)
class SideData:
    """What the planner needs to know about one mapping's data, read by the service (a `$top=1` per side)."""

    bc_has_records: bool
    dataverse_has_records: bool
    coupled: int = 0  # couplings the mapping already has (a dependency outside the run may already be done)
    dataverse_only_base_currency: bool = False  # `BASE_CURRENCY`: Dataverse has exactly one currency, rate 1


def takes_part(mapping: TableMapping) -> bool:
    if not mapping.enabled or mapping.full_sync is FullSyncRule.NEVER:
        return False
    return mapping.full_sync is not FullSyncRule.BOTH_WAYS_ONLY or mapping.direction is Direction.BIDIRECTIONAL


def recommend(mapping: TableMapping, data: SideData) -> Recommendation:
    """The line's recommendation by the mapping's `full_sync` rule (see the module docstring)."""
    rule = mapping.full_sync
    if rule is FullSyncRule.ALWAYS_FULL:
        return Recommendation.FULL_SYNCHRONIZATION
    if rule is FullSyncRule.BASE_CURRENCY and data.dataverse_only_base_currency:
        return Recommendation.FULL_SYNCHRONIZATION
    if rule in (FullSyncRule.BASE_CURRENCY, FullSyncRule.COUPLE):
        return Recommendation.COUPLE_RECORDS if data.bc_has_records else Recommendation.NO_RECORDS
    if data.bc_has_records and data.dataverse_has_records:
        return Recommendation.COUPLE_RECORDS
    if data.bc_has_records or data.dataverse_has_records:
        return Recommendation.FULL_SYNCHRONIZATION
    return Recommendation.NO_RECORDS


def plan(
    mappings: Sequence[TableMapping], data: Mapping[str, SideData], *, catalog: Mapping[str, TableMapping]
) -> list[ReviewLine]:
    """One waiting line per mapping taking part, in the given (dependency) order. `data` must cover every mapping
    in the run and every dependency outside it; `catalog` resolves dependencies outside the run."""
    in_run = {m.name for m in mappings if takes_part(m)}
    lines: list[ReviewLine] = []
    for mapping in mappings:
        if mapping.name not in in_run:
            continue
        recommendation = recommend(mapping, data[mapping.name])
        missing = [
            dependency
            for dependency in mapping.dependencies
            if dependency not in in_run
            and catalog[dependency].enabled
            and not data[dependency].coupled
            and (data[dependency].bc_has_records or data[dependency].dataverse_has_records)
        ]
        if missing and recommendation is not Recommendation.NO_RECORDS:
            recommendation = Recommendation.DEPENDENCY_NOT_SATISFIED
        lines.append(ReviewLine(mapping.name, recommendation.value))
    return lines


def couples_first(line: ReviewLine, mapping: TableMapping) -> bool:
    """A `fullSynchronization` line of a mapping whose records are never created in BC (`creates_in_bc` False, e.g.
    SALESPEOPLE: BC refuses a salesperson without the Code a person chooses, and BC's own review asks for the
    salespeople to be coupled before the run). Its work is a coupling line's first phase (BC's records coupled by
    match, nothing created in BC) and then, instead of only counting Dataverse's uncoupled rows, the full
    synchronization of the coupled ones; the uncoupled rows are left and counted (`LeftUncoupled.dataverse_only`)."""
    return (
        line.recommendation == Recommendation.FULL_SYNCHRONIZATION.value
        and not mapping.creates_in_bc
        and mapping.direction.allows(Direction.FROM_DATAVERSE)
    )


def work_mode(line: ReviewLine, mapping: TableMapping) -> str:
    """How the line's records are listed and worked: its recommendation, or `coupleRecords` for a line that
    `couples_first` (two phases: BC's records matched, then Dataverse's rows)."""
    return Recommendation.COUPLE_RECORDS.value if couples_first(line, mapping) else line.recommendation


def dependencies_in_run(mapping: TableMapping, lines: Sequence[ReviewLine]) -> list[str]:
    names = {line.mapping for line in lines}
    return [dependency for dependency in mapping.dependencies if dependency in names]


def _satisfied(line: ReviewLine) -> bool:
    """Finished. BC also counts a line recommended 'No Records Found' as satisfied while it waits; we do not: such
    a line finishes (at once) only after its own dependencies did, so a mapping never starts before a mapping its
    empty parent depends on (ITEM-PRODUCT needs the unit groups even when ITEM UOM has nothing to copy)."""
    return line.status is LineStatus.FINISHED


def next_steps(lines: Sequence[ReviewLine], catalog: Mapping[str, TableMapping]) -> tuple[list[str], dict[str, str]]:
    """(lines to start now, lines to fail with their reason). A waiting line starts when all its dependencies in
    the run are satisfied; it fails when one of them failed or can never run."""
    by_name = {line.mapping: line for line in lines}
    start: list[str] = []
    fail: dict[str, str] = {}
    for line in lines:
        if line.status is not LineStatus.WAITING:
            continue
        if line.recommendation == Recommendation.DEPENDENCY_NOT_SATISFIED.value:
            fail[line.mapping] = "A mapping it depends on is not part of this run and has nothing coupled."
            continue
        parents = [by_name[name] for name in dependencies_in_run(catalog[line.mapping], lines)]
        broken = [p.mapping for p in parents if p.status is LineStatus.FAILED]
        if broken:
            fail[line.mapping] = f"Not started: {', '.join(broken)} failed; restart the run after fixing it."
        elif all(_satisfied(parent) for parent in parents):
            start.append(line.mapping)
    return start, fail


def waves(mappings: Sequence[TableMapping]) -> list[list[str]]:
    """The mappings in dependency layers (what starts together when nothing waits for data): for the review page
    and the demo. A dependency outside `mappings` counts as done."""
    names = {m.name for m in mappings}
    level: dict[str, int] = {}
    for mapping in mappings:  # the catalog order has every mapping after its dependencies
        parents = [level[d] for d in mapping.dependencies if d in names and d in level]
        level[mapping.name] = 1 + max(parents, default=-1)
    layers: list[list[str]] = [[] for _ in range(max(level.values(), default=-1) + 1)]
    for mapping in mappings:
        layers[level[mapping.name]].append(mapping.name)
    return layers


def chunk_counted(bitmap: str, chunk: int) -> bool:
    value = int(bitmap, 16) if bitmap else 0
    return bool(value >> chunk & 1)


def counted_chunks(bitmap: str) -> set[int]:
    value = int(bitmap, 16) if bitmap else 0
    return {n for n in range(value.bit_length()) if value >> n & 1}


def count_chunk(bitmap: str, chunk: int) -> str:
    """The bitmap with `chunk` set (hex, no prefix): a few hundred characters for thousands of chunks."""
    value = (int(bitmap, 16) if bitmap else 0) | (1 << chunk)
    return format(value, "x")


def last_progress(lines: Sequence[ReviewLine]) -> datetime | None:
    """The newest progress of any line of the run (a line that never recorded one counts from its start)."""
    stamps = [line.progressed_on or line.started_on for line in lines]
    return max((parse_instant(stamp) for stamp in stamps if stamp), default=None)


def is_stalled(line: ReviewLine, lines: Sequence[ReviewLine], now: datetime, stall_after: timedelta) -> bool:
    """Running, and no line of its run (`lines`) progressed for `stall_after`.

    Why the run and not the line alone: every line of a run shares one first-in-first-out queue, so a line started
    together with a large one waits behind its hundreds of chunks without any progress of its own, for as long as
    the large line takes (an hour for 100,000 customers). While any chunk of the run is counted, the queue moves
    and the line's messages come; once the run is silent for `stall_after`, no message of it is being worked on,
    and a running line will not move again by itself."""
    if line.status is not LineStatus.RUNNING:
        return False
    progress = last_progress(lines)
    return progress is None or now - progress >= stall_after


def stalled_lines(lines: Sequence[ReviewLine], now: datetime, stall_after: timedelta) -> list[str]:
    return [line.mapping for line in lines if is_stalled(line, lines, now, stall_after)]


def all_chunks_counted(line: ReviewLine) -> bool:
    """Its split listed everything and every chunk is counted: the line is done, whether or not it was closed."""
    return line.planned and line.chunks_done >= line.chunks_total


def needs_settling(lines: Sequence[ReviewLine]) -> bool:
    """Something a lost message left undone that any reader may finish: a line done but still running, a finished
    line whose hand-over (checkpoints, dependents' start) may not have happened, or waiting lines with nothing
    running that could start them."""
    running = [line for line in lines if line.status is LineStatus.RUNNING]
    return (
        any(line.hand_over_pending for line in lines)
        or any(all_chunks_counted(line) for line in running)
        or (not running and any(line.status is LineStatus.WAITING for line in lines))
    )


def uncounted(line: ReviewLine, chunks: Iterable[LineChunk]) -> list[LineChunk]:
    """The stored chunks of the line's attempt whose number is not counted yet, in chunk order."""
    return sorted(
        (c for c in chunks if c.attempt == line.attempt and not chunk_counted(line.done_chunks, c.number)),
        key=lambda c: c.number,
    )
