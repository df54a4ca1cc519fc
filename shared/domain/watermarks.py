"""The watermark rules of incremental sync, all in this one module and pure (no I/O), so each is tested on its own
(`tests/unit/test_watermarks.py`): where a side's read of changes starts, which of the records read it may pass
over, and where its checkpoint moves. A run holds one `SideCursor` per side: `start` it from the stored checkpoint,
read the changes from `since`, `observe` every record read, `fail` every record that failed transiently, and save
`next()` last, after everything the run learned is durably written.

- Closed lower bound with an overlap: a read starts `DEFAULT_OVERLAP` before the watermark (`modified-on ge since`),
  because a transaction that commits late can carry an earlier timestamp than one already seen, Dataverse
  timestamps have whole seconds, and the two apps' clocks are not the machine's. Re-reading is harmless: an
  unchanged record hashes equal and costs no write.
- Ties and re-reads: the checkpoint remembers the versions (id and ETag) it read inside the overlap window
  (`boundary_ids`), so the next run drops them before doing anything. An ETag changes on every write, so a record
  written again, even in the same second, is never dropped. Past `MAX_BOUNDARY` versions (a bulk load in one window)
  nothing is remembered: the next run reads them again and passes over the settled pairs (`engine/candidates.py`),
  which costs a read, never a write.
- Forward only: a watermark never moves back.
- Capped at the run's start: a record modified during the run may not have been read, so the watermark must not
  pass the moment reading began (a source whose clock runs ahead comes back through the overlap and the boundary).
- Never past a record that failed transiently (a stale version, a throttled write): it must be read again, so the
  watermark stays before it and it is not remembered as read.
- Saved only when it moved (`next` is None otherwise), and only after the run's writes (the engine's job).
- A finished full synchronization hands its mapping over (`after_full_sync`): each side's watermark moves up to the
  moment the line started, never back, with nothing remembered (the line read every record).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from shared.domain.records import Checkpoint, Side

DEFAULT_OVERLAP = timedelta(seconds=5)
MAX_BOUNDARY = 2000  # versions remembered per side (a checkpoint row holds them through `large_values`)


def parse_instant(text: str) -> datetime:
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_instant(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def read_from(watermark: str | None, overlap: timedelta = DEFAULT_OVERLAP) -> datetime | None:
    """Where the next read starts; None (read everything) when there is no watermark yet."""
    return None if watermark is None else parse_instant(watermark) - overlap


def advance(watermark: str | None, seen: Iterable[str], run_started: datetime) -> str | None:
    """The new watermark: the latest modified-on seen, never before the old one, never after the run's start."""
    latest = max((parse_instant(text) for text in seen), default=None)
    candidates = [moment for moment in (latest, parse_instant(watermark) if watermark else None) if moment is not None]
    if not candidates:
        return watermark
    return format_instant(min(max(candidates), run_started))


def version_key(record_id: str, version: str) -> str:
    """How a checkpoint remembers one record read at one version (its ETag)."""
    return f"{record_id}|{version}"


@dataclass
class _Read:
    key: str  # `version_key`
    modified_on: str | None


@dataclass
class SideCursor:
    """Where one side of one mapping's run reads from, and where its checkpoint moves once the run is done.

    `in_full`: the side is read whole on every run (its mapping's values depend on data read per run, like exchange
    rates, so any record may have changed): nothing read is passed over, and the watermark still moves as usual.
    """

    mapping: str
    side: Side
    checkpoint: Checkpoint | None
    started: datetime
    in_full: bool = False
    _read: dict[str, _Read] = field(init=False, default_factory=dict)  # record id -> what was read
    _failed: dict[str, str] = field(init=False, default_factory=dict)  # record id -> its modified-on ("" unknown)
    _remembered: frozenset[str] = field(init=False, default=frozenset())  # the checkpoint's versions

    def __post_init__(self) -> None:
        self._remembered = frozenset(self.checkpoint.boundary_ids if self.checkpoint else ())

    @classmethod
    def start(
        cls, mapping: str, side: Side, checkpoint: Checkpoint | None, started: datetime, *, in_full: bool = False
    ) -> SideCursor:
        """A cursor at the stored checkpoint (None: the side was never read) for a run that began at `started`."""
        return cls(mapping, side, checkpoint, started, in_full)

    @property
    def watermark(self) -> str | None:
        return self.checkpoint.watermark if self.checkpoint else None

    @property
    def since(self) -> datetime | None:
        """Where changes since the checkpoint start (the overlap before the watermark); None before the first run."""
        return read_from(self.watermark)

    @property
    def reads_from(self) -> datetime | None:
        """What the run's read of this side asks for: changes `since`, or everything (None) when read `in_full`."""
        return None if self.in_full else self.since

    def observe(self, record_id: str, version: str, modified_on: str | None) -> bool:
        """Note one record read (its ETag as `version`, its modified-on); returns whether the run must look at it:
        False for a record the last run already read at exactly this version (unless the side is read in full)."""
        key = version_key(record_id, version)
        self._read[record_id] = _Read(key, modified_on)
        return self.in_full or key not in self._remembered

    def fail(self, record_id: str, modified_on: str | None) -> None:
        """A record failed transiently: the watermark stays before its modified-on and it is not remembered as read,
        so the next run reads it again."""
        self._failed[record_id] = modified_on or ""

    def next(self) -> Checkpoint | None:
        """The checkpoint the next run resumes from, or None when it stays where it is (nothing to save)."""
        old = self.watermark
        cap = min([self.started, *[parse_instant(t) for t in self._failed.values() if t]])
        if old:
            cap = max(cap, parse_instant(old))  # forward only, even past a transient failure before the old mark
        watermark = advance(old, [r.modified_on for r in self._read.values() if r.modified_on], cap)
        if watermark is None:
            return None
        kept = self._boundary(watermark)
        stored = self.checkpoint
        if stored is not None and (watermark, kept) == (stored.watermark, stored.boundary_ids):
            return None
        return Checkpoint(self.mapping, self.side, watermark, kept, etag=stored.etag if stored else None)

    def _boundary(self, watermark: str) -> tuple[str, ...]:
        """The versions the next run will read again because of the overlap window, but for the failed records."""
        since = read_from(watermark)
        if since is None:
            return ()
        keys = sorted(
            read.key
            for record_id, read in self._read.items()
            if record_id not in self._failed and read.modified_on and parse_instant(read.modified_on) >= since
        )
        return tuple(keys) if len(keys) <= MAX_BOUNDARY else ()


def after_full_sync(checkpoint: Checkpoint | None, mapping: str, side: Side, line_started: str) -> Checkpoint | None:
    """Where a side resumes after a full-synchronization line that started at `line_started` (the line read every
    record): there, with nothing remembered, or None when the checkpoint is there or past it already (never back)."""
    at = checkpoint.watermark if checkpoint else None
    if at and parse_instant(at) >= parse_instant(line_started):
        return None
    return Checkpoint(mapping, side, line_started, (), etag=checkpoint.etag if checkpoint else None)
