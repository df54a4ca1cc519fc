"""Waking a mapping, not a record storm (issue 23): what a change notification turns into.

A notification from either side (BC's webhook, `triggers/notifications_bc.py`; Dataverse's webhook step,
`triggers/notifications_dataverse.py`) says only that something of a table changed; it is never trusted as data. It
becomes "run mapping M of company C" (`mappingRun` on the sync-jobs queue: the existing incremental run, with its
checkpoint, conflicts and errors), so there is nothing new to trust.

Why a burst makes one or two runs: the message id is `wake/<company>/<mapping>/<window>`, the window being the
`window`-long slice of time the notification arrived in, and the message is scheduled for the end of that window.
Service Bus duplicate detection (the `sync-jobs` queue's history window is 10 minutes, far longer than a wake
window) drops every later send with the same id, so all notifications of one window collapse into one run; a burst
that straddles a window boundary makes two. The run starts after its window has ended, so it reads every change
notified within the window: a notification arriving while a run of the previous window is under way is not lost, it
schedules the next window's run. The poll (the mapping's timer) stays the safety net for a notification that never
came.

Which mappings a table wakes: the table mappings (enabled, kind TABLE) that read it on that side, i.e. whose BC
entity set is the notified resource and which carry data to Sales, or whose Dataverse entity set (or table) is the
notified one and which carry data to BC. Nothing is woken for a table no mapping reads that way.

Which document processes a BC entity set wakes (`processes_reading_bc`): the sales document processes (posted
invoices with their payment status, the order status and timeline) are no table mappings, so no mapping run would
move them; a company's processes are described to this module as `WatchedProcess`es (`triggers/document_timers.py`
`watched_processes`: the BC entity sets each one reads, and whether the company's setup enables it), and a
notification of an entity set one of them reads sends a `processRun` (`process_wake_message`) with the same window
scheme: message id `wake/<company>/<process>/<window>`, scheduled for the window's end. Process names are lower camel
case (`domain/jobs.PROCESSES`) and mapping names upper case, so the two kinds of wake never share an id.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from shared.domain.jobs import PROCESSES, JobKind, JobMessage
from shared.domain.mapping import Direction, MappingKind, TableMapping
from shared.ports import JobQueue

DEFAULT_WINDOW = timedelta(seconds=5)
PRIMARY = "-"  # the primary company's key ("") in a message id
WAKE_PREFIX = "wake/"  # every wake's message id starts so (the queue handler tells a woken run by it)


@dataclass(frozen=True)
class Wake:
    """One mapping (or, for a `processRun`, one document process: `mapping` is then the process's name) woken: the
    message sent and when it runs."""

    mapping: str
    message: JobMessage
    runs_at: datetime


def window_index(at: datetime, window: timedelta) -> int:
    """The number of the `window`-long slice of time (counted from the epoch) `at` falls in."""
    seconds = window.total_seconds()
    if seconds <= 0:
        raise ValueError("the wake window must be positive")
    return math.floor(at.timestamp() / seconds)


def _wake(kind: JobKind, key: str, name: str, company_key: str, at: datetime, window: timedelta) -> Wake:
    """The message of one wake: id `wake/<company>/<name>/<window>`, due at its window's end."""
    index = window_index(at, window)
    runs_at = datetime.fromtimestamp((index + 1) * window.total_seconds(), tz=UTC)
    message_id = f"{WAKE_PREFIX}{company_key or PRIMARY}/{name}/{index}"
    return Wake(name, JobMessage(kind, message_id, {key: name}), runs_at)


def wake_message(company_key: str, mapping: str, at: datetime, window: timedelta = DEFAULT_WINDOW) -> Wake:
    """The run of `mapping` for company `company_key` that a notification received at `at` asks for."""
    return _wake(JobKind.MAPPING_RUN, "mapping", mapping, company_key, at, window)


def process_wake_message(company_key: str, process: str, at: datetime, window: timedelta = DEFAULT_WINDOW) -> Wake:
    """The `processRun` of document process `process` for company `company_key` that a notification received at `at`
    asks for (`ValueError` for a process no `processRun` may name)."""
    if process not in PROCESSES:
        raise ValueError(f"{process!r} is not a document process ({', '.join(PROCESSES)})")
    return _wake(JobKind.PROCESS_RUN, "process", process, company_key, at, window)


def wake(
    queue: JobQueue,
    company_key: str,
    mappings: Iterable[str],
    at: datetime,
    window: timedelta = DEFAULT_WINDOW,
    processes: Iterable[str] = (),
) -> list[Wake]:
    """Send one scheduled `mappingRun` per mapping and one scheduled `processRun` per document process (duplicates
    within the window are dropped by the queue). `queue` is the company's (`bootstrap.CompanyJobQueue` adds the
    company to the payload)."""
    wakes = [wake_message(company_key, name, at, window) for name in dict.fromkeys(mappings)]
    wakes += [process_wake_message(company_key, name, at, window) for name in dict.fromkeys(processes)]
    for item in wakes:  # one send per delay: each wake's delay is its own window's end
        delay = max(item.runs_at - at, timedelta(0))
        queue.send([item.message], delay=delay)
    return wakes


def readers(mappings: Iterable[TableMapping], direction: Direction) -> Sequence[TableMapping]:
    """The enabled table mappings carrying data in `direction`: `TO_DATAVERSE` the ones a BC change wakes,
    `FROM_DATAVERSE` the ones a Dataverse change wakes."""
    return [m for m in mappings if m.kind is MappingKind.TABLE and m.enabled and m.direction.allows(direction)]


def mappings_reading_bc(mappings: Iterable[TableMapping], entity_set: str) -> list[str]:
    """The mappings (as the company has them: overrides applied) a change of BC entity set `entity_set` (a webhook's
    resource) should wake."""
    return [m.name for m in readers(mappings, Direction.TO_DATAVERSE) if m.bc_entity_set == entity_set]


def mappings_reading_dataverse(mappings: Iterable[TableMapping], table: str) -> list[str]:
    """The mappings (overrides applied) a change of Dataverse table `table` (logical name or entity set) should
    wake."""
    return [
        m.name
        for m in readers(mappings, Direction.FROM_DATAVERSE)
        if table in (m.dataverse_table, m.dataverse_entity_set)
    ]


@dataclass(frozen=True)
class WatchedProcess:
    """A sales document process as one company has it: its `processRun` name (`domain/jobs.PROCESSES`), the BC entity
    sets it reads, and whether the company's setup enables it (a disabled process is never woken, and no webhook is
    kept for it)."""

    name: str
    bc_entity_sets: frozenset[str]
    enabled: bool


def processes_reading_bc(processes: Iterable[WatchedProcess], entity_set: str) -> list[str]:
    """The enabled document processes a change of BC entity set `entity_set` (a webhook's resource) should wake."""
    return [p.name for p in processes if p.enabled and entity_set in p.bc_entity_sets]
