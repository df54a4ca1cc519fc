"""`GET /api/health`: can the app work right now? Each dependency is really asked, once, in parallel.

Checks: `storage` (one Table Storage query), `queue` (the Service Bus sender's link), `deadLetters` (the queue's
dead-letter count, where the queue can tell), `tokens` (a token for Business Central and for Dataverse, through the
same providers the connectors use), `jobs` (per enabled incremental mapping: the last successful job and its age),
`fullSync` (the stalled lines of running full-synchronization runs, each named by run and mapping), and with
notifications on (issue 23) `notifications`: per incremental mapping whose last poll applied changes a notification
should have brought first (`missedByNotifications` on that poll's job entry), the count per side; it clears once a
later poll finds none missed.

What fails the health (503): a dependency that cannot be reached or refuses the app's identity, and a mapping whose
last successful job is older than `stale_after` (its timer stopped, or every run fails). What only warns: dead
letters, and a dead-letter count that cannot be read (the dead-letter trigger records and completes dead letters, so
a count above 0 is a moment or the dead-letter alert's business; the count needs a management read the sync itself
does not need), stalled full-sync lines (the app itself is fine; an admin restarts the run: the line re-sends its
missing chunks), and missed notifications (each as `notifications.<mapping>`: the poll applied those changes, later
than notifications would have; it is also the sign that relaxing `SYNC_SCHEDULE` is unsafe until they are
repaired). A mapping that never ran yet (a fresh install) is neither. A failure is reported by its code only, never
by its text: the route is anonymous, and texts can carry URLs or record data.

Several companies (issue 22): storage, queue, dead letters and tokens are the deployment's (one storage account, one
queue, one app identity for every company), so they are asked once (`SHARED_CHECKS`); jobs and full-sync lines are
each company's own (its job log, its runs), so they are asked per company (`COMPANY_CHECKS`). `check_health` runs the
checks it is given (`include`); one company's whole report is `ALL_CHECKS`, today's. `notifications` is a company's
own (its job log) and is only asked when a side's notifications are on (`HealthProbes.notified`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from shared.domain.full_sync import DEFAULT_STALL_AFTER
from shared.domain.records import JobStatus, RunTrigger
from shared.domain.watermarks import parse_instant
from shared.engine.context import SyncContext
from shared.mappings import mapping_names
from shared.ports import JobLog, JobQueue, StorageProbe
from shared.telemetry import error_code, log_event

LOG = logging.getLogger("bc_sales_sync.health")
INCREMENTAL_SCHEDULE = "SYNC_SCHEDULE"
CHECK_TIMEOUT_SECONDS = 20.0  # a check still running by then is reported as `timeout` (it may finish unseen)

Check = dict[str, Any]
WARN_ONLY = ("deadLetters", "fullSync", "notifications")
SHARED_CHECKS = ("storage", "queue", "deadLetters", "tokens")  # the deployment's: asked once for every company
COMPANY_CHECKS = ("jobs", "fullSync", "notifications")  # a company's own: asked per company
ALL_CHECKS = (*SHARED_CHECKS, *COMPANY_CHECKS)
StalledLines = Callable[[], Sequence[Mapping[str, str]]]


@dataclass(frozen=True)
class HealthProbes:
    """What the health route asks; `tokens` maps an app (`businessCentral`, `dataverse`) to "obtain a token", or to
    None when its client sends none (an in-memory fake)."""

    storage: StorageProbe | None
    queue: JobQueue
    tokens: Mapping[str, Callable[[], object] | None]
    jobs: JobLog
    mappings: Sequence[str]
    clock: Callable[[], datetime]
    stale_after: timedelta = timedelta(hours=1)
    stalled_lines: StalledLines | None = None  # `Recovery.stalled_report`: {runId, mapping, lastProgressOn} each
    stall_after: timedelta = DEFAULT_STALL_AFTER  # FULL_SYNC_STALL_MINUTES, shown with the check
    notified: Sequence[str] = ()  # the sides whose notifications are on (`Side` values); none: no `notifications`


@dataclass(frozen=True)
class HealthReport:
    healthy: bool
    failing: list[str]  # checks that make the app unhealthy
    warnings: list[str]  # informational checks that need a look (dead letters)
    checks: dict[str, Check]


def incremental_mappings(context: SyncContext) -> list[str]:
    """The mappings the incremental timer runs and logs jobs for: enabled, on its schedule, runnable by the engine."""
    names = []
    for name in mapping_names():
        mapping = context.mapping(name)
        if (
            mapping.enabled
            and mapping.schedule == INCREMENTAL_SCHEDULE
            and not context.not_runnable_because(mapping, whole_runs=True)
        ):
            names.append(name)
    return names


def check_health(probes: HealthProbes, include: Collection[str] = ALL_CHECKS) -> HealthReport:
    """The checks named in `include` (of `ALL_CHECKS`), in parallel; the report has exactly those."""
    every: dict[str, Callable[[], Check]] = {
        "storage": lambda: _storage(probes.storage),
        "queue": lambda: _ok(probes.queue.ping),
        "deadLetters": lambda: _dead_letters(probes.queue),
        "jobs": lambda: _jobs(probes),
        **({"fullSync": partial(_full_sync, probes.stalled_lines, probes.stall_after)} if probes.stalled_lines else {}),
        **({"notifications": partial(_notifications, probes)} if probes.notified else {}),
    }
    checks = {name: check for name, check in every.items() if name in include}
    if "tokens" in include:
        checks.update({f"tokens.{app}": partial(_token, get) for app, get in probes.tokens.items()})
    results: dict[str, Check] = {}
    if checks:
        pool = ThreadPoolExecutor(max_workers=len(checks), thread_name_prefix="health")
        futures = {name: pool.submit(check) for name, check in checks.items()}
        for name, future in futures.items():
            try:
                results[name] = future.result(timeout=CHECK_TIMEOUT_SECONDS)
            except FutureTimeout:
                results[name] = {"ok": False, "error": "timeout"}
        pool.shutdown(wait=False, cancel_futures=True)  # a hung check must not hold the answer (no `with`: it waits)
    tokens = {name.removeprefix("tokens."): results.pop(name) for name in list(results) if name.startswith("tokens.")}
    if "tokens" in include:
        results["tokens"] = {"ok": all(t["ok"] for t in tokens.values()), "apps": tokens}
    failing = sorted(
        [name for name, check in results.items() if not check["ok"] and name not in ("tokens", *WARN_ONLY)]
        + [f"tokens.{app}" for app, check in tokens.items() if not check["ok"]]
    )
    dead = results.get("deadLetters", {"ok": True})
    warnings = ["deadLetters"] if not dead["ok"] or (dead.get("count") or 0) > 0 else []
    warnings += ["fullSync"] if not results.get("fullSync", {"ok": True})["ok"] else []
    warnings += _notification_warnings(results.get("notifications"))
    for name in failing:
        log_event(LOG, "health check failed", level=logging.WARNING, check=name, code=_code_of(name, results, tokens))
    return HealthReport(not failing, failing, warnings, results)


def _code_of(name: str, results: dict[str, Check], tokens: dict[str, Check]) -> str:
    check = tokens[name.removeprefix("tokens.")] if name.startswith("tokens.") else results[name]
    return str(check.get("error") or "stale")


def _ok(call: Callable[[], object]) -> Check:
    try:
        call()
    except Exception as error:  # reported by code: the route never shows an exception's text
        return {"ok": False, "error": error_code(error)}
    return {"ok": True}


def _storage(storage: StorageProbe | None) -> Check:
    return {"ok": False, "error": "notConfigured"} if storage is None else _ok(storage.ping)


def _token(get: Callable[[], object] | None) -> Check:
    return {"ok": True, "note": "no token provider: the client sends none"} if get is None else _ok(get)


def _dead_letters(queue: JobQueue) -> Check:
    try:
        counts = queue.message_counts()
    except Exception as error:
        return {"ok": False, "error": error_code(error)}
    if counts is None:
        return {"ok": True, "count": None, "note": "not readable on the development emulator"}
    return {"ok": True, "count": counts.dead_lettered, "active": counts.active, "scheduled": counts.scheduled}


def _full_sync(stalled_lines: StalledLines, stall_after: timedelta) -> Check:
    try:
        stalled = [dict(entry) for entry in stalled_lines()]
    except Exception as error:
        return {"ok": False, "error": error_code(error)}
    check: Check = {"ok": not stalled, "stallAfterMinutes": int(stall_after.total_seconds() // 60)}
    return {**check, "stalled": stalled} if stalled else check


def _jobs(probes: HealthProbes) -> Check:
    now = probes.clock()
    mappings: dict[str, Check] = {}
    try:
        for name in probes.mappings:
            last = next((job for job in probes.jobs.list_jobs(name, limit=5) if job.status == JobStatus.FINISHED), None)
            finished = last.finished_on if last is not None else None
            if last is None or finished is None:
                mappings[name] = {"lastSuccess": None, "stale": False}
                continue
            age = (now - parse_instant(finished)).total_seconds()
            mappings[name] = {
                "lastSuccess": finished,
                "jobId": last.job_id,
                "ageSeconds": int(age),
                "stale": age > probes.stale_after.total_seconds(),
            }
    except Exception as error:
        return {"ok": False, "error": error_code(error)}
    stale = sorted(name for name, entry in mappings.items() if entry["stale"])
    check: Check = {"ok": not stale, "staleAfterMinutes": int(probes.stale_after.total_seconds() // 60)}
    if stale:
        check["stale"] = stale
    return {**check, "mappings": mappings}


def _notifications(probes: HealthProbes) -> Check:
    """Each incremental mapping's last poll (one query: the job log's `poll` entries, newest first): the changes it
    applied that notifications missed, per side. Mappings without any are left out."""
    missed: dict[str, Check] = {}
    try:
        for name in probes.mappings:
            last = next(iter(probes.jobs.list_jobs(name, limit=1, trigger=RunTrigger.POLL.value)), None)
            if last is not None and last.missed:
                missed[name] = {
                    "missed": last.missed,
                    "bySide": dict(last.missed_by_notifications),
                    "jobId": last.job_id,
                    "pollFinishedOn": last.finished_on,
                }
    except Exception as error:
        return {"ok": False, "error": error_code(error)}
    check: Check = {"ok": not missed, "sides": list(probes.notified)}
    if missed:
        check["mappings"] = missed
        check["note"] = (
            "the poll applied changes no notification woke a run for (subscription expired or deleted, webhook "
            "step removed, endpoint down): keep SYNC_SCHEDULE frequent until a poll finds none missed"
        )
    return check


def _notification_warnings(check: Check | None) -> list[str]:
    """`notifications.<mapping>` per mapping with missed notifications; `notifications` when it could not be read."""
    if check is None or check["ok"]:
        return []
    return [f"notifications.{name}" for name in sorted(check.get("mappings", {}))] or ["notifications"]
