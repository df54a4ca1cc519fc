"""HTTP routes for full synchronization: plan and start a run, read its review while it runs, restart failed or
stalled lines.

`POST /api/full-sync` answers 202 at once: the work goes out on the `sync-jobs` queue. The review is read from the
run store, so it can be polled (or shown by the console) at any time; throughput is records per second of a line's
elapsed time. Reading it also settles the run (`full_sync_recovery.Recovery.settle`: a line done but never closed
is closed and handed over), and a running line whose run made no progress for `FULL_SYNC_STALL_MINUTES` is shown as
`stalled`, with its last progress, for `POST .../restart` to re-send its missing chunks.

`?dryRun=true` on both start routes runs the lines as they would run, reading both apps, and writes nothing to
either app, the couplings or the checkpoints: each line's counters and `left` say what it would do (see
`services/full_sync/chunks.py` for what is exact and what is estimated). On `.../start` it runs a dry copy of the
planned run and leaves that one planned, to be started for real after the review.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any

import azure.functions as func

from shared.domain.errors import InvalidInputError
from shared.domain.records import ReviewLine, SyncRun
from shared.triggers.http_support import (
    RouteSpec,
    boolean,
    company_key,
    documented,
    handled,
    json_object,
    json_response,
    mapping_name,
    mapping_schema,
    text,
)
from shared.triggers.match_api import DRY_RUN_QUERY, LEFT_SCHEMA, dry_run
from shared.triggers.serialize import error_entry_json

blueprint = func.Blueprint()  # type: ignore[no-untyped-call]
RECOMMENDATIONS = ["fullSynchronization", "coupleRecords", "noRecords"]
ERRORS_PER_LINE = 20
STALLED = "stalled"  # shown, never stored: running, and the run made no progress for FULL_SYNC_STALL_MINUTES
LINE_STATUSES = ["waiting", "running", STALLED, "finished", "failed"]


def _full_sync(req: func.HttpRequest) -> Any:
    from shared.bootstrap import full_sync_for, run_services

    return full_sync_for(run_services(company_key=company_key(req)))


def _recovery(full_sync: Any) -> Any:
    from shared.services.full_sync.recovery import Recovery

    return Recovery(full_sync)


def _seconds(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def error_counts(errors: list[dict[str, Any]]) -> dict[str, Any]:
    by_code: dict[str, int] = {}
    for entry in errors:
        by_code[str(entry["code"])] = by_code.get(str(entry["code"]), 0) + 1
    return {"total": len(errors), "skipped": sum(1 for e in errors if e["skipped"]), "byCode": by_code}


def line_json(line: ReviewLine, now: str, errors: list[dict[str, Any]], *, stalled: bool = False) -> dict[str, Any]:
    """`status` is the stored one, or `stalled` for a running line whose run made no progress for the setting's
    minutes; `lastProgressOn` is the line's own last progress (its start until a chunk is counted). `errors` are the
    mapping's record errors (those of a coupling line's records too: a lookup not coupled, a create that failed):
    the first `ERRORS_PER_LINE` are shown, `errorCounts` counts them all, by code."""
    counters = line.counters.as_dict()
    elapsed = _seconds(line.started_on, line.finished_on or now) if line.started_on else 0.0
    records = sum(counters[k] for k in ("inserted", "modified", "unchanged", "coupled", "failed", "skipped"))
    return {
        "mapping": line.mapping,
        "recommendation": line.recommendation,
        "status": STALLED if stalled else line.status.value,
        "counters": counters,
        "chunks": {"done": line.chunks_done, "total": line.chunks_total if line.planned else None},
        "startedOn": line.started_on or None,
        "lastProgressOn": (line.progressed_on or line.started_on) or None,
        "finishedOn": line.finished_on or None,
        "recordsPerSecond": round(records / elapsed, 1) if elapsed > 0 else None,
        "error": line.error or None,
        "errors": errors[:ERRORS_PER_LINE],
        "errorCounts": error_counts(errors),
        "left": line.left.as_dict(),
    }


def review_json(
    run: SyncRun,
    lines: list[ReviewLine],
    now: str,
    errors: dict[str, list[Any]],
    stalled: Collection[str] = (),
) -> dict[str, Any]:
    done = sum(1 for line in lines if line.status.value in ("finished", "failed"))
    return {
        "runId": run.run_id,
        "createdOn": run.created_on,
        "status": run.status,
        "dryRun": run.dry_run,
        "progress": {"linesDone": done, "lines": len(lines)},
        "lines": [
            line_json(line, now, errors.get(line.mapping, []), stalled=line.mapping in stalled) for line in lines
        ],
    }


REVIEW_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["runId", "status", "dryRun", "lines"],
    "properties": {
        "runId": {"type": "string"},
        "dryRun": {"type": "boolean", "description": "the counters say what each line would do: nothing written"},
        "status": {"type": "string", "enum": ["planned", "running", "finished", "failed"]},
        "lines": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["mapping", "status", "counters", "left", "errors", "errorCounts"],
                "properties": {
                    "status": {"type": "string", "enum": LINE_STATUSES},
                    "lastProgressOn": {"type": ["string", "null"]},
                    "left": LEFT_SCHEMA,
                    "errors": {"type": "array", "maxItems": ERRORS_PER_LINE, "items": {"type": "object"}},
                    "errorCounts": {
                        "type": "object",
                        "required": ["total", "skipped", "byCode"],
                        "properties": {
                            "total": {"type": "integer"},
                            "skipped": {"type": "integer"},
                            "byCode": {"type": "object", "additionalProperties": {"type": "integer"}},
                        },
                    },
                },
            },
        },
    },
}

documented(
    RouteSpec(
        "start_full_sync",
        "full-sync",
        "POST",
        "Plan a full synchronization (BC's Full Synch. Review) and start it",
        body={
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "mappings": {"type": "array", "items": mapping_schema(), "minItems": 1},
                "recommendations": {
                    "type": "object",
                    "propertyNames": mapping_schema(),
                    "additionalProperties": {"type": "string", "enum": RECOMMENDATIONS},
                },
                "start": {"type": "boolean"},
            },
        },
        query=DRY_RUN_QUERY,
        responses=(202, 400, 409, 422, 503),
        response_schema=REVIEW_SCHEMA,
        rules=("nothingToSynchronize", "notInRun"),
    )
)


@blueprint.route(route="full-sync", methods=["POST"])
@handled
def start_full_sync(req: func.HttpRequest) -> func.HttpResponse:
    body = json_object(req, {"mappings", "recommendations", "start"})
    names = body.get("mappings")
    if "mappings" in body and (not isinstance(names, list) or not names):  # null is not "all": leave it out
        raise InvalidInputError(
            "invalidValue", "'mappings' must be a non-empty list of mapping names.", field="mappings"
        )
    chosen = [mapping_name(name, "mappings") for name in names] if isinstance(names, list) else None
    overrides = body.get("recommendations", {})
    if not isinstance(overrides, dict):
        raise InvalidInputError(
            "invalidValue", "'recommendations' must map mapping names to a recommendation.", field="recommendations"
        )
    start = boolean(body.get("start", True), "start")
    full_sync = _full_sync(req)
    run, _ = full_sync.plan(chosen, {str(k): str(v) for k, v in overrides.items()}, dry_run=dry_run(req))
    if start:
        full_sync.start(run.run_id)
    run, lines = full_sync.runs.get_run(run.run_id)
    review = review_json(run, lines, full_sync.now(), {})
    review["notRunnable"] = full_sync.not_runnable(chosen)
    return json_response(202, review, {"Location": f"/api/full-sync/{run.run_id}"})


documented(
    RouteSpec(
        "get_full_sync",
        "full-sync/{runId}",
        "GET",
        "The review of a full synchronization run: per line status, counters, chunks, throughput, errors",
        responses=(200, 400, 404),
        response_schema=REVIEW_SCHEMA,
    )
)


@blueprint.route(route="full-sync/{runId}", methods=["GET"])
@handled
def get_full_sync(req: func.HttpRequest) -> func.HttpResponse:
    run_id = text(req.route_params.get("runId"), "runId", max_length=100)
    full_sync = _full_sync(req)
    run, lines, stalled = _recovery(full_sync).review(run_id)
    errors = {
        line.mapping: [error_entry_json(e) for e in full_sync.context.errors.list_errors(line.mapping)]
        for line in lines
        if line.counters.failed or line.counters.skipped
    }
    return json_response(200, review_json(run, lines, full_sync.now(), errors, stalled))


def _action_route(function_name: str, action: str, summary: str, query: dict[str, Any] | None = None) -> None:
    documented(
        RouteSpec(
            function_name,
            f"full-sync/{{runId}}/{action}",
            "POST",
            summary,
            query=query or {},
            responses=(202, 400, 404, 409, 422, 503),
            response_schema=REVIEW_SCHEMA,
        )
    )


def _act(req: func.HttpRequest, act: Callable[[Any, str], object]) -> func.HttpResponse:
    run_id = text(req.route_params.get("runId"), "runId", max_length=100)
    full_sync = _full_sync(req)
    act(full_sync, run_id)
    run, lines, stalled = _recovery(full_sync).review(run_id)
    return json_response(202, review_json(run, lines, full_sync.now(), {}, stalled))


def _start_planned(full_sync: Any, run_id: str) -> None:
    run, _ = full_sync.runs.get_run(run_id)
    if run.status != "planned":
        raise InvalidInputError("alreadyStarted", f"Run {run_id} is {run.status}, not planned.", field="runId")
    full_sync.start(run_id)


RECOMMENDATIONS_BODY: dict[str, Any] = {
    "type": "object",
    "propertyNames": mapping_schema(),
    "additionalProperties": {"type": "string", "enum": RECOMMENDATIONS},
    "description": "Mapping -> the recommendation its line takes instead of BC's (the review's overrides); 400 "
    "naming recommendations.<mapping> for a mapping not in the run (notInRun) or another value",
}
documented(
    RouteSpec(
        "run_planned_full_sync",
        "full-sync/{runId}/start",
        "POST",
        "Start a run planned with start=false (after reviewing it), its lines' recommendations changed first by "
        "`recommendations` (as when planning); with dryRun=true, start a dry copy of it instead (the changes made to "
        "the copy; answered with the copy's review) and leave it planned as it was",
        body={"type": "object", "additionalProperties": False, "properties": {"recommendations": RECOMMENDATIONS_BODY}},
        query=DRY_RUN_QUERY,
        responses=(202, 400, 404, 409, 422, 503),
        response_schema=REVIEW_SCHEMA,
        rules=("notInRun", "alreadyStarted"),
    )
)
_action_route(
    "restart_full_sync",
    "restart",
    "Restart the failed and stalled lines of a full synchronization run: each goes on where it stopped, its chunks "
    "not yet counted sent again (400 nothingToRestart when no line is failed or stalled)",
)


def _recommendations(req: func.HttpRequest) -> dict[str, str]:
    """The optional body's `recommendations` (shape only: the run's lines decide the rest, `lines.overridden`)."""
    given = json_object(req, {"recommendations"}).get("recommendations", {})
    if not isinstance(given, dict) or not all(isinstance(value, str) for value in given.values()):
        raise InvalidInputError(
            "invalidValue", "'recommendations' must map mapping names to a recommendation.", field="recommendations"
        )
    return {str(name): value for name, value in given.items()}


@blueprint.route(route="full-sync/{runId}/start", methods=["POST"])
@handled
def run_planned_full_sync(req: func.HttpRequest) -> func.HttpResponse:
    overrides = _recommendations(req)
    run_id = text(req.route_params.get("runId"), "runId", max_length=100)
    full_sync = _full_sync(req)
    if not dry_run(req):
        if overrides:
            full_sync.recommend(run_id, overrides)
        _start_planned(full_sync, run_id)
        run, lines, stalled = _recovery(full_sync).review(run_id)
        return json_response(202, review_json(run, lines, full_sync.now(), {}, stalled))
    copy = full_sync.dry_copy(run_id)
    if overrides:
        full_sync.recommend(copy.run_id, overrides)
    full_sync.start(copy.run_id)
    run, lines = full_sync.runs.get_run(copy.run_id)
    return json_response(
        202, review_json(run, lines, full_sync.now(), {}), {"Location": f"/api/full-sync/{run.run_id}"}
    )


@blueprint.route(route="full-sync/{runId}/restart", methods=["POST"])
@handled
def restart_full_sync(req: func.HttpRequest) -> func.HttpResponse:
    return _act(req, lambda full_sync, run_id: _recovery(full_sync).restart(run_id))
