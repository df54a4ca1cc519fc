"""HTTP routes of the Sync errors list (BC's Coupled Data Synchronization Errors): list a page, retry, Remove
Coupling, and the actions for couplings whose record is gone on one side: Find for Deleted, Delete Records
(`services/deleted_records.py`) and Restore Records. Find for Deleted lists both apps' ids of the mapping, minutes
for a large one: it is a queued job (202, its progress at `GET /api/jobs/{jobId}`, `services/find_deleted_job.py`).
Restore Records (create the gone record again from the one left, and couple them) and Remove Coupling answer per id
(`services/error_coupling_actions.py`).

The list pages server-side as every long list does (`top`, `continuationToken`; issue 24): a page is read from
storage without reading the rest. Delete Records deletes data in Business Central or Sales, so it takes two calls:
the first answers what would be deleted and a `confirmationToken`; only the second, with that token, deletes.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

import azure.functions as func

from shared.domain.errors import InvalidInputError
from shared.triggers import paging
from shared.triggers.http_support import (
    ID_SCHEMA,
    NOT_BLANK,
    RouteSpec,
    boolean,
    company_key,
    documented,
    handled,
    id_list,
    json_object,
    json_response,
    mapping_name,
    mapping_schema,
    text,
)
from shared.triggers.queued_jobs import QUEUED_SCHEMA, queue_job
from shared.triggers.serialize import error_entry_json

blueprint = func.Blueprint()  # type: ignore[no-untyped-call]

TOKEN_SCHEMA: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 2000, "pattern": NOT_BLANK}
MAX_DELETE_IDS = 200
RESTORE_OUTCOMES = ("restored", "refused", "directionNotAllowed", "bothExist", "bothDeleted", "notCoupled", "noError")
REMOVE_OUTCOMES = ("uncoupled", "notCoupled", "noError")


def _run(req: func.HttpRequest) -> Any:
    """This request's services (`bootstrap.for_run`): the setup and the catalog read once."""
    from shared.bootstrap import run_services

    return run_services(company_key=company_key(req))


def _ids(value: Any, limit: int) -> list[str]:
    return id_list(value, "ids", limit)  # GUIDs, or page keys (R0010)


documented(
    RouteSpec(
        "list_sync_errors",
        "sync-errors",
        "GET",
        "Coupled-record synchronization errors, a page at a time (by mapping, side, record id)",
        query={"mapping": mapping_schema(), **paging.PAGING_QUERY},
        response_schema=paging.page_schema({"type": "object"}),
        rules=(paging.TOKEN_RULE,),
    )
)


@blueprint.route(route="sync-errors", methods=["GET"])
@handled
def list_sync_errors(req: func.HttpRequest) -> func.HttpResponse:
    from shared.services.sync_errors import list_sync_errors_page

    raw = req.params.get("mapping")
    name = mapping_name(raw) if raw is not None else None
    top = paging.top(req)
    token = paging.continuation_token(req)
    entries, after = list_sync_errors_page(_run(req).context, name, top, token)
    return json_response(200, paging.page_json([error_entry_json(e) for e in entries], after))


documented(
    RouteSpec(
        "retry_sync_errors",
        "sync-errors/retry",
        "POST",
        "Retry failed records (and restore skipped ones)",
        body={
            "type": "object",
            "required": ["mapping"],
            "additionalProperties": False,
            "properties": {
                "mapping": mapping_schema(),
                "ids": {"type": "array", "items": ID_SCHEMA, "minItems": 1, "maxItems": 1000},
                "all": {"type": "boolean"},
            },
        },
        responses=(200, 400, 409, 422, 503),
        rules=("idsOrAll",),
    )
)


@blueprint.route(route="sync-errors/retry", methods=["POST"])
@handled
def retry_sync_errors(req: func.HttpRequest) -> func.HttpResponse:
    from shared.services.sync_errors import retry

    body = json_object(req, {"mapping", "ids", "all"}, {"mapping"})
    name = mapping_name(body["mapping"])
    every = boolean(body["all"], "all") if "all" in body else False
    ids = body.get("ids")
    if every == (ids is not None):
        raise InvalidInputError("idsOrAll", "Give either 'ids' or 'all': true.", field="ids")
    targets: list[str] | Literal["all"] = "all" if ids is None else _ids(ids, 1000)
    report = retry(_run(req).context, name, targets)
    return json_response(200, report.as_dict())


documented(
    RouteSpec(
        "find_deleted_records",
        "sync-errors/find-deleted",
        "POST",
        "Find for Deleted: queue a job that records the couplings of a mapping whose record is gone in one app as "
        "sync errors; its progress and, when finished, its counts at Location (/api/jobs/{jobId}?mapping=)",
        body={
            "type": "object",
            "required": ["mapping"],
            "additionalProperties": False,
            "properties": {"mapping": mapping_schema()},
        },
        responses=(202, 400, 409, 422, 503),
        response_schema=QUEUED_SCHEMA,
    )
)


@blueprint.route(route="sync-errors/find-deleted", methods=["POST"])
@handled
def find_deleted_records(req: func.HttpRequest) -> func.HttpResponse:
    """Queue the `findDeleted` job (`services/find_deleted_job.py`): listing both tables takes minutes for a large
    mapping, longer than a request may last. A mapping a run cannot run is refused (409) before anything is queued."""
    from shared.domain.jobs import JobKind, JobMessage
    from shared.services.find_deleted_job import JOB_PREFIX, queued_job

    body = json_object(req, {"mapping"}, {"mapping"})
    name = mapping_name(body["mapping"])
    services = _run(req)
    job_id = f"{JOB_PREFIX}-{uuid.uuid4().hex}"
    job = queued_job(services.context, name, job_id)
    message = JobMessage(JobKind.FIND_DELETED, job_id, {"mapping": job.mapping, "queuedOn": job.started_on})
    return queue_job(services, job, message)


documented(
    RouteSpec(
        "delete_deleted_records",
        "sync-errors/delete-records",
        "POST",
        "Delete Records: delete the record left in one app of a coupling whose other record is gone; without "
        "confirmationToken only the list of what would be deleted and its token",
        body={
            "type": "object",
            "required": ["mapping", "ids"],
            "additionalProperties": False,
            "properties": {
                "mapping": mapping_schema(),
                "ids": {"type": "array", "items": ID_SCHEMA, "minItems": 1, "maxItems": MAX_DELETE_IDS},
                "confirmationToken": TOKEN_SCHEMA,
            },
        },
        responses=(200, 400, 409, 422, 503),
        response_schema={
            "type": "object",
            "required": ["mapping", "confirmed", "confirmationToken", "counts", "records"],
            "properties": {
                "mapping": {"type": "string"},
                "confirmed": {"type": "boolean"},
                "confirmationToken": {"type": ["string", "null"]},
                "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
                "records": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["id", "outcome", "side", "recordId", "name", "code", "message"],
                        "properties": {
                            "id": {"type": "string"},
                            "outcome": {
                                "type": "string",
                                "enum": [
                                    "toDelete",
                                    "deleted",
                                    "refused",
                                    "bothExist",
                                    "bothDeleted",
                                    "notCoupled",
                                    "noError",
                                ],
                            },
                            "side": {"type": ["string", "null"], "enum": ["bc", "dv", None]},
                        },
                    },
                },
            },
        },
    )
)


@blueprint.route(route="sync-errors/delete-records", methods=["POST"])
@handled
def delete_deleted_records(req: func.HttpRequest) -> func.HttpResponse:
    from shared.services.deleted_records import delete_records

    body = json_object(req, {"mapping", "ids", "confirmationToken"}, {"mapping", "ids"})
    name = mapping_name(body["mapping"])
    ids = _ids(body["ids"], MAX_DELETE_IDS)
    token = body.get("confirmationToken")
    if token is not None:
        token = text(token, "confirmationToken", max_length=2000)
    company = company_key(req)
    report = delete_records(_run(req).context, company, name, ids, token)
    return json_response(200, report.as_dict())


def _action_response_schema(outcomes: tuple[str, ...]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["mapping", "counts", "records"],
        "properties": {
            "mapping": {"type": "string"},
            "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
            "records": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "outcome", "side", "newId", "code", "message"],
                    "properties": {
                        "id": {"type": "string"},
                        "outcome": {"type": "string", "enum": list(outcomes)},
                        "side": {"type": ["string", "null"], "enum": ["bc", "dv", None]},
                        "newId": {"type": ["string", "null"]},
                    },
                },
            },
        },
    }


def _ids_body() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["mapping", "ids"],
        "additionalProperties": False,
        "properties": {
            "mapping": mapping_schema(),
            "ids": {"type": "array", "items": ID_SCHEMA, "minItems": 1, "maxItems": MAX_DELETE_IDS},
        },
    }


documented(
    RouteSpec(
        "restore_deleted_records",
        "sync-errors/restore-records",
        "POST",
        "Restore Records: for a coupling whose record is gone in one app, create it again there from the record "
        "left in the other and couple the two; per id restored (with newId) or why not",
        body=_ids_body(),
        responses=(200, 400, 409, 422, 503),
        response_schema=_action_response_schema(RESTORE_OUTCOMES),
    )
)


@blueprint.route(route="sync-errors/restore-records", methods=["POST"])
@handled
def restore_deleted_records(req: func.HttpRequest) -> func.HttpResponse:
    """Nothing is destroyed (a record is created, a broken coupling replaced): no confirmation token, unlike
    Delete Records."""
    from shared.services.error_coupling_actions import restore_records

    body = json_object(req, {"mapping", "ids"}, {"mapping", "ids"})
    name = mapping_name(body["mapping"])
    ids = _ids(body["ids"], MAX_DELETE_IDS)
    return json_response(200, restore_records(_run(req).context, name, ids).as_dict())


documented(
    RouteSpec(
        "remove_error_couplings",
        "sync-errors/remove-coupling",
        "POST",
        "Remove Coupling: uncouple the records of the chosen entries (both apps' records stay as they are; the "
        "entries of both records go); per id uncoupled or why not",
        body=_ids_body(),
        responses=(200, 400, 422, 503),
        response_schema=_action_response_schema(REMOVE_OUTCOMES),
    )
)


@blueprint.route(route="sync-errors/remove-coupling", methods=["POST"])
@handled
def remove_error_couplings(req: func.HttpRequest) -> func.HttpResponse:
    from shared.services.error_coupling_actions import remove_couplings

    body = json_object(req, {"mapping", "ids"}, {"mapping", "ids"})
    name = mapping_name(body["mapping"])
    ids = _ids(body["ids"], MAX_DELETE_IDS)
    return json_response(200, remove_couplings(_run(req).context, name, ids).as_dict())
