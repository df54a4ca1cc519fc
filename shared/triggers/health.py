"""`GET /api/health`: anonymous, so an availability test or an admin can probe the app without a key.

It reports for real (`shared/services/health.py`): storage reachable, queue reachable, a token for each app, the last
successful job per mapping and its age, the dead-letter count, stalled full-sync lines, and with notifications on
the mappings whose last poll found changes notifications missed (`notifications`, issue 23); 200 `{"status":
"healthy", "checks": ...}` (with `warnings` naming dead letters, `fullSync` or `notifications.<mapping>`), or 503
naming the failing checks (the body also carries `error`, the API's error shape). Failures show codes only, never
exception texts. Because it is anonymous and every call reads storage and the queue, an answer is reused for
`CACHE_SECONDS` per instance and per company asked: a flood of probes costs at most one round of checks every few
seconds.

Companies (issue 22). With one company configured and none named, the answer is today's, unchanged (it names no
company: a single-company deployment shows no more than before). The report on the company `?company=` names (its
key, name or `environment/company`, as every route takes it) is today's shape plus `company` describing it (as
`GET /api/companies` does). With several configured and none named, `checks` holds the deployment's shared checks
(storage, queue, dead letters, tokens: asked once) and `companies` each company's own report (`status`, `checks` with
its `jobs` and `fullSync`, its `failing` and `warnings`); the whole is unhealthy when a shared check or any company
fails, and the top-level `failing` and `warnings` name a company's check as `companies[<parameter>].<check>` (the
`parameter` being what `?company=` takes to narrow to it). The route is anonymous, so the companies' labels are shown
to anyone who can reach it: they are configuration, not secrets, but say so to whoever reviews exposure.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import azure.functions as func

from shared.triggers.http_companies import COMPANY_ENTRY_SCHEMA, company_entry
from shared.triggers.http_support import (
    COMPANY,
    COMPANY_RULES,
    COMPANY_SCHEMA,
    RouteSpec,
    documented,
    handled,
    json_response,
)

VERSION = "0.1.0"
CACHE_SECONDS = 10.0
STALE_SETTING = "HEALTH_STALE_AFTER_MINUTES"  # a mapping without a successful job for longer fails the health
DEFAULT_STALE_MINUTES = 60

blueprint = func.Blueprint()  # type: ignore[no-untyped-call]
CHECK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["ok"],
    "properties": {"ok": {"type": "boolean"}, "error": {"type": "string"}},
}
STATUS_SCHEMA: dict[str, Any] = {"enum": ["healthy", "unhealthy"]}
NAMES_SCHEMA: dict[str, Any] = {"type": "array", "items": {"type": "string"}}
CHECKS_SCHEMA: dict[str, Any] = {"type": "object", "additionalProperties": CHECK_SCHEMA}
COMPANY_REPORT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": [*COMPANY_ENTRY_SCHEMA["required"], "status", "checks"],
    "properties": {
        **COMPANY_ENTRY_SCHEMA["properties"],
        "status": STATUS_SCHEMA,
        "failing": NAMES_SCHEMA,
        "warnings": NAMES_SCHEMA,
        "checks": CHECKS_SCHEMA,
    },
}
HEALTH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["status", "checks"],
    "properties": {
        "status": STATUS_SCHEMA,
        "failing": NAMES_SCHEMA,
        "warnings": NAMES_SCHEMA,
        "checks": CHECKS_SCHEMA,
        "app": {"type": "string"},
        "version": {"type": "string"},
        "company": COMPANY_ENTRY_SCHEMA,  # a report on one company: which
        "companies": {"type": "array", "items": COMPANY_REPORT_SCHEMA},  # several: each one's own checks
    },
}
documented(
    RouteSpec(
        "health",
        "health",
        "GET",
        "Health of the app and its dependencies, per company (503 names the failing checks; `company` narrows the "
        "report to one company)",
        auth="anonymous",
        responses=(200, 503),
        response_schema=HEALTH_SCHEMA,
        query={COMPANY: COMPANY_SCHEMA},
        rules=tuple(rule for rule in COMPANY_RULES if rule != "companyRequired"),  # absent: every company
        company=False,  # optional, and absent means every company (not "the only one, else 400")
    )
)

_cache_lock = threading.Lock()
# (a company named?, the company keys reported) -> (their services, monotonic time, status, body)
_cache: dict[tuple[bool, tuple[str, ...]], tuple[tuple[object, ...], float, int, dict[str, Any]]] = {}


@blueprint.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@handled
def health(req: func.HttpRequest) -> func.HttpResponse:
    """Run the checks (or reuse an answer younger than `CACHE_SECONDS` for the same companies and services)."""
    from shared.bootstrap import companies, get_services
    from shared.domain.companies import resolve
    from shared.domain.errors import SyncError

    try:
        configured = companies()
    except SyncError as error:  # settings missing or invalid: the names are in the log, the code is here
        return _settings_failed(error)
    requested = req.params.get(COMPANY)
    chosen = [resolve(configured, requested)] if requested is not None else list(configured)  # 400 naming company
    try:
        services = tuple(get_services(company.key) for company in chosen)
    except SyncError as error:
        return _settings_failed(error)
    asked = (requested is not None, tuple(company.key for company in chosen))  # the one company named, or all
    with _cache_lock:
        cached = _cache.get(asked)
        if cached is not None and _same(cached[0], services) and time.monotonic() - cached[1] < CACHE_SECONDS:
            return json_response(cached[2], cached[3])
        if len(chosen) == 1:
            status, body = _one(chosen[0] if requested is not None else None, services[0])
        else:
            status, body = _several(list(zip(chosen, services, strict=True)))
        _cache[asked] = (services, time.monotonic(), status, body)  # one entry per configured company, and "all"
    return json_response(status, body)


def _same(before: tuple[object, ...], now: tuple[object, ...]) -> bool:
    """The very services objects (a test or a settings change replaces them; then the answer is not reused)."""
    return len(before) == len(now) and all(a is b for a, b in zip(before, now, strict=True))


def _settings_failed(error: Any) -> func.HttpResponse:
    return json_response(503, _body(False, ["settings"], {"settings": {"ok": False, "error": error.code}}))


def _one(company: Any, services: Any) -> tuple[int, dict[str, Any]]:
    """Today's report, on this company's services, with the company it is about when one was named."""
    report = _check(services)
    body = _body(report.healthy, report.failing, report.checks)
    if report.warnings:
        body["warnings"] = report.warnings
    if company is not None:
        body["company"] = company_entry(company)
    return (200 if report.healthy else 503), body


def _several(chosen: list[tuple[Any, Any]]) -> tuple[int, dict[str, Any]]:
    """The shared checks once (on the first company's services: they share the account, queue and identity), then
    each company's own checks, the companies side by side."""
    from shared.services.health import COMPANY_CHECKS, SHARED_CHECKS

    with ThreadPoolExecutor(max_workers=min(8, len(chosen) + 1), thread_name_prefix="health-company") as pool:
        shared_future = pool.submit(_check, chosen[0][1], SHARED_CHECKS)
        futures = [pool.submit(_check, services, COMPANY_CHECKS) for _, services in chosen]
        shared = shared_future.result()
        reports = [future.result() for future in futures]
    failing, warnings = list(shared.failing), list(shared.warnings)
    entries = []
    for (company, _), report in zip(chosen, reports, strict=True):
        entry = company_entry(company)
        name = f"companies[{entry['parameter']}]"
        failing += [f"{name}.{check}" for check in report.failing]
        warnings += [f"{name}.{check}" for check in report.warnings]
        entry["status"] = "healthy" if report.healthy else "unhealthy"
        if report.failing:
            entry["failing"] = report.failing
        if report.warnings:
            entry["warnings"] = report.warnings
        entry["checks"] = report.checks
        entries.append(entry)
    body = _body(not failing, failing, shared.checks)
    if warnings:
        body["warnings"] = warnings
    body["companies"] = entries
    return (200 if not failing else 503), body


def _check(services: Any, include: tuple[str, ...] | None = None) -> Any:
    """`check_health` on one company's services: every check (`ALL_CHECKS`), or those in `include`."""
    from datetime import timedelta

    from shared.bootstrap import for_run, full_sync_for, token_getters
    from shared.services.full_sync.recovery import Recovery
    from shared.services.health import ALL_CHECKS, HealthProbes, check_health, incremental_mappings
    from shared.settings import notification_watch
    from shared.telemetry import record_queue

    checks = include or ALL_CHECKS
    full_sync = full_sync_for(for_run(services))  # the catalog with its overrides, as the timer sees it
    context = full_sync.context
    probes = HealthProbes(
        storage=services.storage,
        queue=services.queue,
        tokens=token_getters(services),
        jobs=context.jobs,
        mappings=incremental_mappings(context),
        clock=context.clock,
        stale_after=timedelta(minutes=_stale_minutes(services.environment)),
        stalled_lines=Recovery(full_sync).stalled_report,
        stall_after=full_sync.stall_after,
        notified=[side.value for side in watch.sides] if (watch := notification_watch(services.environment)) else [],
    )
    report = check_health(probes, checks)
    if "deadLetters" in report.checks:
        dead = report.checks["deadLetters"]
        queue_name = services.settings.sync_jobs_queue if services.settings is not None else "sync-jobs"
        record_queue(queue_name, dead.get("active"), dead.get("count"))
    return report


def _stale_minutes(environment: Any) -> int:
    raw = str(environment.get(STALE_SETTING, "") or "").strip()
    return int(raw) if raw.isdigit() and int(raw) > 0 else DEFAULT_STALE_MINUTES


def _body(healthy: bool, failing: list[str], checks: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"status": "healthy" if healthy else "unhealthy", "app": "bc-sales-sync", "version": VERSION}
    if not healthy:
        body["failing"] = failing
        body["error"] = {"code": "unhealthy", "message": f"Failing checks: {', '.join(failing)}."}
    body["checks"] = checks
    return body
