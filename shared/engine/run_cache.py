"""Facts read once per full-synchronization run (and process), not once per chunk.

Why: a full synchronization is fanned out in chunks of a few hundred records, and some reads a chunk needs answer
the same for every chunk of the run: the local currency's Dataverse id, the default price list, the units of every
unit group, which customer each company contact is related to (`contactsInformation`). Read per chunk they cost
several requests a chunk; read once per run they cost a few requests a run (issue 19's budget: a full sync's
requests per record may grow by 10 % at most).

How it stays correct:
- Scope: only code running inside `run_scope(run_id)` (a full-sync chunk, `services/full_sync/coordinator.py`) sees a
  run; elsewhere `current_run()` is None and callers read as before (an incremental run has its own per-run caches).
- Lifetime: an entry is a snapshot taken when a chunk of the run first needed it, kept `LIFETIME` at most (then
  read again by the next chunk that needs it). Within that time it answers what a read at load time would have: a
  chunk that had read it itself a moment earlier would see the same thing (a concurrent change just after a read is
  missed either way). Where a miss may be new (a business relation, a unit group made since), the caller reads
  what the snapshot lacks; the LCY's currency is not the sync's to create, so its absence holds for the run.
- Redelivery: a redelivered chunk (same run) uses the same snapshot, so it does what its predecessor did.
- Concurrency: one lock per entry: two chunks of one run on two threads load it once; a load that raises stores
  nothing (the next caller tries again). Per process: another instance of the Function App loads its own copy.
- Memory: at most `MAX_RUNS` runs are kept (the least recently used go first), and a loader that finds more than it
  wants to hold returns None (callers then read per chunk); entries of a run past their lifetime are dropped.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")
LIFETIME = 300.0  # seconds an entry is reused (a full sync at the bench's 0.3 scale runs about 2 minutes)
MAX_RUNS = 4  # runs whose entries a process keeps (runs rarely overlap)
MAX_ROWS = 50_000  # the most rows a loader keeps for one entry (about 10 MB); above that, read per chunk

_current_run: ContextVar[str | None] = ContextVar("full_sync_run", default=None)


@contextlib.contextmanager
def run_scope(run_id: str) -> Iterator[None]:
    """Run the block as part of full-synchronization run `run_id` (its reads may be shared with its other chunks)."""
    token = _current_run.set(run_id or None)
    try:
        yield
    finally:
        _current_run.reset(token)


def current_run() -> str | None:
    return _current_run.get()


@dataclass
class _Entry:
    lock: threading.Lock = field(default_factory=threading.Lock)
    loaded_at: float | None = None
    value: Any = None


@dataclass
class RunCache:
    lifetime: float = LIFETIME
    max_runs: int = MAX_RUNS
    clock: Callable[[], float] = time.monotonic
    _runs: OrderedDict[str, dict[Hashable, _Entry]] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _entry(self, run_id: str, key: Hashable) -> _Entry:
        with self._lock:
            entries = self._runs.get(run_id)
            if entries is None:
                entries = self._runs[run_id] = {}
                while len(self._runs) > self.max_runs:
                    self._runs.popitem(last=False)
            self._runs.move_to_end(run_id)
            now = self.clock()
            for stale in [
                k for k, e in entries.items() if e.loaded_at is not None and now - e.loaded_at > self.lifetime
            ]:
                if not entries[stale].lock.locked():
                    del entries[stale]
            return entries.setdefault(key, _Entry())

    def _expired(self, entry: _Entry) -> bool:
        return entry.loaded_at is not None and self.clock() - entry.loaded_at > self.lifetime

    def get(self, run_id: str, key: Hashable, load: Callable[[], T]) -> T:
        """The entry `key` of run `run_id`: loaded by `load` when absent or older than the lifetime."""
        entry = self._entry(run_id, key)
        with entry.lock:
            if entry.loaded_at is None or self._expired(entry):
                entry.value, entry.loaded_at = load(), self.clock()
            value: T = entry.value
            return value

    def clear(self) -> None:
        with self._lock:
            self._runs.clear()


RUN_CACHE = RunCache()


def run_fact(key: Hashable, load: Callable[[], T]) -> T:
    """`load()`'s answer, shared by the chunks of the current run (read once per run and process); outside a run,
    `load()` itself."""
    run_id = current_run()
    return load() if run_id is None else RUN_CACHE.get(run_id, key, load)
