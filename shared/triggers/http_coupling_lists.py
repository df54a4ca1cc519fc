"""HTTP routes for the couplings of a mapping as a list (issue 24): one page of them, Synchronize Now on selected
records, and uncoupling the selected ones or all of them (a queued job, with its progress on its job entry).

Why paged: a mapping may hold 100,000 couplings; the console shows `top` of them at a time and asks for the next
page with the opaque `continuationToken` the previous page returned (`CouplingStore.list_page`). Why a job for
"uncouple all": BC schedules it too (`services/uncouple_all.py`), and 100,000 couplings outlast an HTTP request.
"""

from __future__ import annotations

import uuid
from typing import Any

import azure.functions as func

from shared.domain.errors import InvalidInputError
from shared.domain.mapping import Direction
from shared.domain.records import Side
from shared.triggers import paging
from shared.triggers.http_couplings import DIRECTIONS, ID, record_id
from shared.triggers.http_support import (
    GUID_SCHEMA,
    RouteSpec,
    company_key,
    documented,
    guid,
    handled,
    id_list,
    json_object,
    json_response,
    mapping_name,
    mapping_schema,
    one_of,
)
from shared.triggers.queued_jobs import QUEUED_SCHEMA, queue_job
from shared.triggers.serialize import SYNC_REPORT_SCHEMA, coupling_json, report_json

blueprint = func.Blueprint()  # type: ignore[no-untyped-call]
MAX_IDS = 1000
UNCOUPLE_ALL = "uncoupleAll"


def _services(req: func.HttpRequest) -> Any:
    from shared.bootstrap import run_services

    return run_services(company_key=company_key(req))


def ids_list(value: Any, name: str) -> list[str]:
    """1..1000 record ids: BC ids (`record_id`) for `bcIds`, GUIDs for `dataverseIds`."""
    return id_list(value, name, MAX_IDS, guid if name == "dataverseIds" else record_id)


COUPLING_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["mapping", "bcId", "dataverseId", "skipped", "synchronized"],
    "properties": {
        "mapping": {"type": "string"},
        "bcId": {"type": "string"},
        "dataverseId": {"type": "string"},
        "skipped": {"type": "boolean"},
        "synchronized": {"type": "boolean"},
    },
}
PAGE_SCHEMA = paging.page_schema(COUPLING_SCHEMA, {"mapping": {"type": "string"}})

documented(
    RouteSpec(
        "list_coupling_page",
        "couplings/{mapping}/list",
        "GET",
        "One page of the mapping's couplings, in BC id order (skipped=true: the skipped ones only; such a page may "
        "hold fewer than top, even none, and still have a next one)",
        query={**paging.PAGING_QUERY, "skipped": {"type": "string", "enum": ["true", "false"]}},
        responses=(200, 400, 409),
        response_schema=PAGE_SCHEMA,
        rules=(paging.TOKEN_RULE,),
    )
)


@blueprint.route(route="couplings/{mapping}/list", methods=["GET"])
@handled
def list_coupling_page(req: func.HttpRequest) -> func.HttpResponse:
    name = mapping_name(req.route_params.get("mapping"))
    top = paging.top(req)
    token = paging.continuation_token(req)
    skipped = req.params.get("skipped")
    if skipped is not None:
        one_of(skipped, "skipped", ("true", "false"))
    context = _services(req).context
    mapping = context.mapping(name)
    page, following = context.couplings.list_page(mapping.name, top, token, skipped_only=skipped == "true")
    return json_response(200, paging.page_json([coupling_json(c) for c in page], following, mapping=mapping.name))


COUNT: dict[str, Any] = {"type": "integer", "minimum": 0}
_IDS = {"type": "array", "minItems": 1, "maxItems": MAX_IDS}
_LEFT = {
    "type": "object",
    "required": ["reason", "message"],
    "properties": {
        "bcId": {"type": "string"},
        "dataverseId": {"type": "string"},
        "reason": {"type": "string", "enum": ["notCoupled", "targetChanged", "skipped"]},
        "message": {"type": "string"},
    },
}
_FAILED = {
    "type": "object",
    "required": ["code", "message"],
    "properties": {
        "bcId": {"type": "string"},
        "dataverseId": {"type": "string"},
        "code": {"type": "string"},
        "message": {"type": "string"},
    },
}
SELECTION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["mapping", "direction", "synchronized", "left", "failed", "counts"],
    "properties": {
        "mapping": {"type": "string"},
        "direction": {"type": "string", "enum": list(DIRECTIONS)},
        "synchronized": {"type": "array", "items": SYNC_REPORT_SCHEMA},
        "left": {"type": "array", "items": _LEFT},
        "failed": {"type": "array", "items": _FAILED},
        "counts": {
            "type": "object",
            "required": ["selected", "synchronized", "left", "failed"],
            "properties": {
                k: {"type": "integer", "minimum": 0} for k in ("selected", "synchronized", "left", "failed")
            },
        },
    },
}

documented(
    RouteSpec(
        "synchronize_selected",
        "synchronize/selected",
        "POST",
        "Synchronize Now on selected records in the chosen direction, by BC's rule for a selection: records not "
        "coupled, whose coupling is skipped, or (with more than one selected) whose target changed since the last "
        "synchronization are left, not overwritten, and reported with the reason",
        body={
            "type": "object",
            "required": ["mapping", "direction"],
            "additionalProperties": False,
            "properties": {
                "mapping": mapping_schema(),
                "direction": {"type": "string", "enum": list(DIRECTIONS)},
                "bcIds": {**_IDS, "items": ID},
                "dataverseIds": {**_IDS, "items": GUID_SCHEMA},
            },
            "oneOf": [{"required": ["bcIds"]}, {"required": ["dataverseIds"]}],  # exactly one of the two
        },
        responses=(200, 400, 409, 503),
        response_schema=SELECTION_SCHEMA,
        rules=("invalidId", "directionNotAllowed"),
    )
)


@blueprint.route(route="synchronize/selected", methods=["POST"])
@handled
def synchronize_selected(req: func.HttpRequest) -> func.HttpResponse:
    """200 whatever became of each record: `synchronized` (each one's report, as `POST /api/synchronize` gives
    it), `left` (not synchronized by the selection rule, with the reason), `failed` (the synchronization's error)."""
    from shared.services.synchronize_selected import synchronize_selected as run

    body = json_object(req, {"mapping", "direction", "bcIds", "dataverseIds"}, {"mapping", "direction"})
    name = mapping_name(body["mapping"])
    direction = Direction(one_of(body["direction"], "direction", DIRECTIONS))
    if ("bcIds" in body) == ("dataverseIds" in body):
        raise InvalidInputError("bcIdsOrDataverseIds", "Give exactly one of bcIds and dataverseIds.", field="bcIds")
    key = "bcIds" if "bcIds" in body else "dataverseIds"
    side = Side.BC if key == "bcIds" else Side.DATAVERSE
    report = run(_services(req).context, name, direction, side, ids_list(body[key], key))
    own, other = ("bcId", "dataverseId") if side is Side.BC else ("dataverseId", "bcId")

    def ids(record_id_: str, partner: str | None) -> dict[str, str]:
        return {own: record_id_, **({other: partner} if partner else {})}

    left = [{**ids(r.record_id, r.partner), "reason": r.reason, "message": r.message} for r in report.left]
    failed = [{**ids(r.record_id, r.partner), "code": r.code, "message": r.message} for r in report.failed]
    counts = {
        "selected": len(report.synchronized) + len(left) + len(failed),
        "synchronized": len(report.synchronized),
        "left": len(left),
        "failed": len(failed),
    }
    payload = {
        "mapping": report.mapping,
        "direction": direction.value,
        "synchronized": [report_json(r) for r in report.synchronized],
        "left": left,
        "failed": failed,
        "counts": counts,
    }
    return json_response(200, payload)


UNCOUPLED_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "200: the selected BC ids uncoupled now; 202: the uncouple-all job queued (progress: jobs/{jobId})",
    "properties": {
        "mapping": {"type": "string"},
        "value": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["bcId", "outcome"],
                "properties": {
                    "bcId": {"type": "string"},
                    "outcome": {"type": "string", "enum": ["uncoupled", "notCoupled"]},
                    "dataverseId": {"type": ["string", "null"]},
                },
            },
        },
        "counts": {"type": "object"},
        **QUEUED_SCHEMA["properties"],  # the 202 answer (`queued_jobs.queued_answer`)
    },
}

documented(
    RouteSpec(
        "uncouple_couplings",
        "couplings/{mapping}/uncouple",
        "POST",
        "Uncouple the selected BC records now (bcIds), or every coupling of the mapping as a queued job (all: true; "
        "202 with its job id, whose progress GET /api/jobs/{jobId} shows). Neither app's records are changed, "
        "except the company stamp of the Sales rows with several companies",
        body={
            "type": "object",
            "additionalProperties": False,
            "properties": {"bcIds": {**_IDS, "items": ID}, "all": {"type": "boolean", "enum": [True]}},
            "oneOf": [{"required": ["bcIds"]}, {"required": ["all"]}],  # exactly one of the two
        },
        responses=(200, 202, 400, 409, 503),
        response_schema=UNCOUPLED_SCHEMA,
        rules=("bcIdsOrAll",),  # no body at all: the document cannot require a body of one of two shapes
    )
)


@blueprint.route(route="couplings/{mapping}/uncouple", methods=["POST"])
@handled
def uncouple_couplings(req: func.HttpRequest) -> func.HttpResponse:
    from shared.services.uncouple_all import UNCOUPLED, queued_job, uncouple_selected

    name = mapping_name(req.route_params.get("mapping"))
    body = json_object(req, {"bcIds", "all"})
    if ("bcIds" in body) == ("all" in body):
        raise InvalidInputError("bcIdsOrAll", "Give exactly one of bcIds and all.", field="bcIds")
    services = _services(req)
    if "bcIds" in body:
        results = uncouple_selected(services.context, name, ids_list(body["bcIds"], "bcIds"))
        value = [{"bcId": r.bc_id, "outcome": r.outcome, "dataverseId": r.dataverse_id} for r in results]
        uncoupled = sum(1 for r in results if r.outcome == UNCOUPLED)
        counts = {"uncoupled": uncoupled, "notCoupled": len(results) - uncoupled}
        return json_response(200, {"mapping": name, "value": value, "counts": counts})
    if body["all"] is not True:
        raise InvalidInputError("invalidValue", "'all' must be true (or leave it out and give bcIds).", field="all")
    return _queue_uncouple_all(services, name, queued_job)


def _queue_uncouple_all(services: Any, name: str, queued_job: Any) -> func.HttpResponse:
    """The job entry ("queued") and its message (`queued_jobs.queue_job`: a send that fails marks it failed)."""
    from shared.domain.jobs import JobKind, JobMessage
    from shared.domain.records import SyncJob

    job_id = f"{UNCOUPLE_ALL}-{uuid.uuid4().hex}"
    job: SyncJob = queued_job(services.context, name, job_id)
    message = JobMessage(JobKind.UNCOUPLE_ALL, job_id, {"mapping": job.mapping, "queuedOn": job.started_on})
    return queue_job(services, job, message)
