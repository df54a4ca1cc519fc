"""Value types the stores keep: checkpoints, job counters, sync jobs, full-sync runs, record errors, archives."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Side(StrEnum):
    BC = "bc"
    DATAVERSE = "dv"


@dataclass(frozen=True)
class Checkpoint:
    """Where incremental sync of one mapping resumes on one side.

    `watermark` is a modified-on (ISO-8601 UTC); the next run reads from an overlap before it (closed lower bound)
    and drops `boundary_ids`, the versions (`id|ETag`) the last run read inside that overlap. A checkpoint only
    moves forward, never past the run's start nor past a record that failed transiently, and only after the records
    up to it are durably applied (every rule lives in `domain/watermarks.py`). `etag` is the stored row's (the save
    is conditional on it), keyword-only so that no positional argument lands in it by mistake.
    """

    mapping: str
    side: Side
    watermark: str | None = None
    boundary_ids: tuple[str, ...] = ()
    etag: str | None = field(default=None, kw_only=True)


@dataclass
class Counters:
    inserted: int = 0
    modified: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0
    coupled: int = 0
    uncoupled: int = 0
    deleted: int = 0

    def add(self, other: Counters) -> Counters:
        return Counters(**{name: value + getattr(other, name) for name, value in asdict(self).items()})

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class LeftUncoupled:
    """What a `coupleRecords` line left uncoupled, by reason: its BC records without a unique uncoupled match (and not
    created: the mapping does not create, or the record is ambiguous), and Dataverse's rows no BC record matched,
    which BC's "Couple Records" leaves as they are (they are never created in BC by that line)."""

    no_match: int = 0
    several_matches: int = 0  # several rows match, coupled or not: never coupled nor created
    match_coupled: int = 0  # the one row that matches is coupled to another record
    dataverse_only: int = 0  # Dataverse rows in the filter still uncoupled after the BC records were matched

    def add(self, other: LeftUncoupled) -> LeftUncoupled:
        return LeftUncoupled(**{name: value + getattr(other, name) for name, value in asdict(self).items()})

    def as_dict(self) -> dict[str, int]:
        return {"noMatch": self.no_match, "severalMatches": self.several_matches,
                "matchCoupled": self.match_coupled, "dataverseOnly": self.dataverse_only}  # fmt: skip


class RunTrigger(StrEnum):
    """What started a mapping run (issue 23), on its job entry, so an admin sees which runs notifications started.

    POLL: the incremental timer (`SYNC_SCHEDULE`), the safety net; WAKE: a notification's `mappingRun` (its message
    id starts with `wake/`, `services/wake.py`); QUEUE: any other `mappingRun` message; NOW: an admin's Synchronize
    of the mapping or a retry of its failed records; FULL_SYNC: a chunk of a full synchronization. Jobs logged before
    issue 23, option-mapping runs and matching jobs carry none ("")."""

    POLL = "poll"
    WAKE = "wake"
    QUEUE = "queue"
    NOW = "now"
    FULL_SYNC = "fullSync"


class JobStatus(StrEnum):
    """Where a job log entry (`SyncJob.status`) stands: a queued job's entry goes queued, running, then finished or
    failed (`services/job_entry.py`); a mapping run's is recorded finished. Stored and answered as these strings."""

    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"


@dataclass(frozen=True)
class SyncJob:
    """One run of one mapping (or one chunk of it): the job log line."""

    mapping: str
    job_id: str
    started_on: str
    finished_on: str | None = None
    status: str = JobStatus.RUNNING
    counters: Counters = field(default_factory=Counters)
    message: str = ""
    # requests per budget scope: {scope: {"requests", "windowShare"}} (connectors/budget.py); {} when not budgeted
    budget: Mapping[str, Any] = field(default_factory=dict)
    trigger: str = ""  # a `RunTrigger` value ("" for jobs that do not say)
    # A poll only, with notifications on: changes it applied that a notification should have brought first, per side
    # of the change (`domain/notification_watch.py`); {} when none (or not watched)
    missed_by_notifications: Mapping[str, int] = field(default_factory=dict)

    @property
    def missed(self) -> int:
        return sum(self.missed_by_notifications.values())


class LineStatus(StrEnum):
    WAITING = "waiting"
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"


@dataclass(frozen=True)
class ReviewLine:
    """One line of a full synchronization run (BC's "Full Synch. Review")."""

    mapping: str
    recommendation: str
    status: LineStatus = LineStatus.WAITING
    counters: Counters = field(default_factory=Counters)
    chunks_total: int = 0
    chunks_done: int = 0
    error: str = ""
    etag: str | None = None
    planned: bool = False  # every chunk is sent and `chunks_total` is final
    done_chunks: str = ""  # hex bitmap of the chunks counted, so a redelivered chunk is never counted twice
    started_on: str = ""
    finished_on: str = ""
    attempt: int = 0  # whole re-runs of this line: part of its message ids; older attempts' chunks are stale
    phase: int = 0  # coupleRecords: 0 = match BC's records, 1 = then copy what Dataverse has left uncoupled
    progressed_on: str = ""  # last progress (started, chunks stored and sent, a chunk counted): its lease
    restarts: int = 0  # restarts that re-sent its missing chunks: part of the re-sent message ids (not stale)
    stores_chunks: bool = False  # its split stores each chunk's ids before sending it (lines started before: no)
    hand_over_pending: bool = False  # finished, but its checkpoints or its dependents' start may not be done yet
    left: LeftUncoupled = field(default_factory=LeftUncoupled)  # coupleRecords: what it left uncoupled, and why


@dataclass(frozen=True)
class SyncRun:
    run_id: str
    created_on: str
    status: str = "running"
    mappings: tuple[str, ...] = ()
    etag: str | None = None
    dry_run: bool = False  # reports what each line would do: nothing is written to either app nor coupled


@dataclass(frozen=True)
class RecordErrorEntry:
    """The last error of one record in one mapping, how often it repeated, and whether it is now skipped."""

    mapping: str
    side: Side
    record_id: str
    code: str
    message: str
    count: int = 1
    first_seen: str = ""
    last_seen: str = ""
    skipped: bool = False
    etag: str | None = None


@dataclass(frozen=True)
class ArchivedQuote:
    """The BC quote as it was before a newer Sales revision replaced it."""

    quote_number: str
    revision: int
    archived_on: str
    document: dict[str, Any] = field(default_factory=dict)
