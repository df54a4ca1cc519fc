"""`GET /api/health`: anonymous, so an availability test or an admin can probe the app without a key.

It reports for real (`shared/services/health.py`): storage reachable, queue reachable, a token for each app, the last
successful job per mapping and its age, the dead-letter count, stalled full-sync lines; 200 `{"status": "healthy",
"checks": ...}` (with `warnings` naming dead letters or `fullSync`), or 503 naming the failing checks (the body
also carries `error`, the API's error shape). Failures show codes only, never exception texts. Because it is
anonymous and every call reads storage and the queue, an answer is reused for `CACHE_SECONDS` per instance: a
flood of probes costs at most one round of checks every few seconds.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import azure.functions as func

from shared.triggers.http_support import RouteSpec, documented, handled, json_response

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
HEALTH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["status", "checks"],
    "properties": {
        "status": {"enum": ["healthy", "unhealthy"]},
        "failing": {"type": "array", "items": {"type": "string"}},
        "warnings": {"type": "array", "items": {"type": "string"}},
        "checks": {"type": "object", "additionalProperties": CHECK_SCHEMA},
        "app": {"type": "string"},
        "version": {"type": "string"},
    },
}
documented(
    RouteSpec(
        "health",
        "health",
        "GET",
        "Health of the app and its dependencies (503 names the failing checks)",
        auth="anonymous",
        responses=(200, 503),
        response_schema=HEALTH_SCHEMA,
        company=False,  # the deployment's: the primary company's services (issue 22: per company, later)
    )
)

_cache_lock = threading.Lock()
_cache: tuple[object, float, int, dict[str, Any]] | None = None  # (services, monotonic time, status, body)


@blueprint.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@handled
def health(req: func.HttpRequest) -> func.HttpResponse:
    """Run the checks (or reuse an answer younger than `CACHE_SECONDS` for the same services)."""
    global _cache  # noqa: PLW0603 - the per-instance answer cache
    from shared.bootstrap import get_services
    from shared.domain.errors import SyncError

    try:
        services = get_services()
    except SyncError as error:  # settings missing or invalid: the names are in the log, the code is here
        body = _body(False, ["settings"], {"settings": {"ok": False, "error": error.code}})
        return json_response(503, body)
    with _cache_lock:
        cached = _cache
        if cached is not None and cached[0] is services and time.monotonic() - cached[1] < CACHE_SECONDS:
            return json_response(cached[2], cached[3])
        status, body = _check(services)
        _cache = (services, time.monotonic(), status, body)
    return json_response(status, body)


def _check(services: Any) -> tuple[int, dict[str, Any]]:
    from datetime import timedelta

    from shared.bootstrap import for_run, full_sync_for, token_getters
    from shared.services.full_sync.recovery import Recovery
    from shared.services.health import HealthProbes, check_health, incremental_mappings
    from shared.telemetry import record_queue

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
    )
    report = check_health(probes)
    dead = report.checks["deadLetters"]
    queue_name = services.settings.sync_jobs_queue if services.settings is not None else "sync-jobs"
    record_queue(queue_name, dead.get("active"), dead.get("count"))
    body = _body(report.healthy, report.failing, report.checks)
    if report.warnings:
        body["warnings"] = report.warnings
    return (200 if report.healthy else 503), body


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
