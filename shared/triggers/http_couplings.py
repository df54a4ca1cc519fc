"""HTTP routes for couplings, create-in-the-other-app, match-based coupling and Synchronize Now."""

from __future__ import annotations

from typing import Any

import azure.functions as func

from shared.domain.errors import InvalidInputError, NotFoundError
from shared.domain.mapping import Direction
from shared.triggers.http_support import (
    GUID_SCHEMA,
    ID_SCHEMA,
    NOT_BLANK,
    RouteSpec,
    company_key,
    documented,
    guid,
    handled,
    json_object,
    json_response,
    mapping_name,
    mapping_schema,
    one_of,
    text,
)
from shared.triggers.match_api import (
    DRY_RUN_QUERY,
    MATCH_BODY_SCHEMA,
    MATCH_REPORT_SCHEMA,
    MATCH_RULES,
    dry_run,
    match_options,
)
from shared.triggers.serialize import SYNC_REPORT_SCHEMA, coupling_json, report_json

blueprint = func.Blueprint()  # type: ignore[no-untyped-call]
DIRECTIONS = ("toDataverse", "fromDataverse")
ID = ID_SCHEMA
FIELD_NAME: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 100, "pattern": NOT_BLANK}
# What a schema-valid request about one record can still break: a BC id of the wrong kind for the mapping, a
# direction the mapping does not carry.
RECORD_RULES = ("invalidId", "directionNotAllowed")


def _context(req: func.HttpRequest) -> Any:
    from shared.bootstrap import run_services

    return run_services(company_key=company_key(req)).context


def record_id(value: Any, name: str) -> str:
    """A BC id: a GUID for API entities, or a page key (`R0010`, `S00001|10000`) for page-sourced ones (which of the
    two depends on the mapping: the rule `invalidId`). A Dataverse id is always a GUID (`GUID_SCHEMA`)."""
    if name == "dataverseId":
        return guid(value, name)
    return text(value, name, max_length=100).lower() if _looks_like_guid(value) else text(value, name, max_length=100)


def _looks_like_guid(value: Any) -> bool:
    from shared.triggers.http_support import GUID

    return isinstance(value, str) and bool(GUID.match(value.strip()))


documented(
    RouteSpec(
        "create_coupling",
        "couplings",
        "POST",
        "Couple a BC record with a Dataverse row (optionally Synchronize Now)",
        body={
            "type": "object",
            "required": ["mapping", "bcId", "dataverseId"],
            "additionalProperties": False,
            "properties": {
                "mapping": mapping_schema(),
                "bcId": ID,
                "dataverseId": GUID_SCHEMA,
                "synchronize": {"type": "string", "enum": list(DIRECTIONS)},
            },
        },
        responses=(201, 400, 404, 409, 422, 503),
        rules=RECORD_RULES,
    )
)


@blueprint.route(route="couplings", methods=["POST"])
@handled
def create_coupling(req: func.HttpRequest) -> func.HttpResponse:
    from shared.services.coupling import couple_records

    body = json_object(req, {"mapping", "bcId", "dataverseId", "synchronize"}, {"mapping", "bcId", "dataverseId"})
    name = mapping_name(body["mapping"])
    direction = Direction(one_of(body["synchronize"], "synchronize", DIRECTIONS)) if "synchronize" in body else None
    result = couple_records(
        _context(req),
        name,
        record_id(body["bcId"], "bcId"),
        record_id(body["dataverseId"], "dataverseId"),
        synchronize=direction,
    )
    payload: dict[str, Any] = {"coupling": coupling_json(result.coupling)}
    if result.sync is not None:
        payload["synchronization"] = report_json(result.sync)
    if result.sync_error is not None:
        payload["synchronizationError"] = {"code": result.sync_error.code, "message": result.sync_error.message}
    return json_response(201, payload)


documented(
    RouteSpec(
        "find_coupling",
        "couplings/{mapping}",
        "GET",
        "Find the coupling of a BC or Dataverse record",
        query={"bcId": ID, "dataverseId": GUID_SCHEMA},
        responses=(200, 400, 404),
        rules=("bcIdOrDataverseId", "invalidId"),
    )
)


@blueprint.route(route="couplings/{mapping}", methods=["GET"])
@handled
def find_coupling(req: func.HttpRequest) -> func.HttpResponse:
    name = mapping_name(req.route_params.get("mapping"))
    bc_id, dataverse_id = req.params.get("bcId"), req.params.get("dataverseId")
    if (bc_id is None) == (dataverse_id is None):
        raise InvalidInputError("bcIdOrDataverseId", "Give exactly one of bcId and dataverseId.", field="bcId")
    context = _context(req)
    if bc_id is not None:
        coupling = context.couplings.find_by_bc_id(name, record_id(bc_id, "bcId"))
    else:
        coupling = context.couplings.find_by_dataverse_id(name, record_id(dataverse_id, "dataverseId"))
    if coupling is None:
        raise NotFoundError("notCoupled", "The record is not coupled.", field="bcId" if bc_id else "dataverseId")
    return json_response(200, coupling_json(coupling))


documented(
    RouteSpec(
        "delete_coupling",
        "couplings/{mapping}/{bcId}",
        "DELETE",
        "Uncouple a record",
        responses=(204, 400, 409),
        rules=("invalidId",),
    )
)


@blueprint.route(route="couplings/{mapping}/{bcId}", methods=["DELETE"])
@handled
def delete_coupling(req: func.HttpRequest) -> func.HttpResponse:
    from shared.services.coupling import uncouple

    name = mapping_name(req.route_params.get("mapping"))
    uncouple(_context(req), name, record_id(req.route_params.get("bcId"), "bcId"))
    return func.HttpResponse(status_code=204)


documented(
    RouteSpec(
        "match_couplings",
        "couplings/{mapping}/match",
        "POST",
        "Match-based coupling of the mapping's uncoupled records (dryRun=true: what it would couple and create, "
        "nothing written)",
        query=DRY_RUN_QUERY,
        body=MATCH_BODY_SCHEMA,
        responses=(200, 400, 409, 422, 503),
        response_schema=MATCH_REPORT_SCHEMA,
        rules=MATCH_RULES,
    )
)


@blueprint.route(route="couplings/{mapping}/match", methods=["POST"])
@handled
def match_couplings(req: func.HttpRequest) -> func.HttpResponse:
    from shared.services.matching import match_and_couple

    name = mapping_name(req.route_params.get("mapping"))
    options = match_options(req)
    dry = dry_run(req)
    report = match_and_couple(
        _context(req),
        name,
        fields=options.fields,
        criteria=options.criteria,
        create_if_no_match=options.create_if_no_match,
        synchronize_after=options.synchronize_after,
        dry_run=dry,
        keep_log=True,  # the coupling log of this job id too (a dry run writes none)
    )
    return json_response(200, report.as_dict())


for _target, _field in (("dataverse", "bcId"), ("business-central", "dataverseId")):
    documented(
        RouteSpec(
            f"create_in_{_target.replace('-', '_')}",
            f"records/{{mapping}}/create-in-{_target}",
            "POST",
            f"Create the record in {'Dataverse' if _target == 'dataverse' else 'Business Central'} and couple it",
            body={
                "type": "object",
                "required": [_field],
                "additionalProperties": False,
                "properties": {_field: ID if _field == "bcId" else GUID_SCHEMA},
            },
            responses=(201, 400, 404, 409, 422, 503),
            rules=RECORD_RULES,
        )
    )


@blueprint.route(route="records/{mapping}/create-in-dataverse", methods=["POST"])
@handled
def create_in_dataverse(req: func.HttpRequest) -> func.HttpResponse:
    from shared.services.coupling import create_in_dataverse as create

    name = mapping_name(req.route_params.get("mapping"))
    body = json_object(req, {"bcId"}, {"bcId"})
    return json_response(201, coupling_json(create(_context(req), name, record_id(body["bcId"], "bcId"))))


@blueprint.route(route="records/{mapping}/create-in-business-central", methods=["POST"])
@handled
def create_in_business_central(req: func.HttpRequest) -> func.HttpResponse:
    from shared.services.coupling import create_in_business_central as create

    name = mapping_name(req.route_params.get("mapping"))
    body = json_object(req, {"dataverseId"}, {"dataverseId"})
    return json_response(201, coupling_json(create(_context(req), name, record_id(body["dataverseId"], "dataverseId"))))


documented(
    RouteSpec(
        "synchronize_now",
        "synchronize",
        "POST",
        "Synchronize Now one coupled record in the chosen direction (409 concurrencyConflict: the record changed "
        "while it was being synchronized, by another call or another writer; nothing was overwritten, try again)",
        body={
            "type": "object",
            "required": ["mapping", "direction"],
            "additionalProperties": False,
            "properties": {
                "mapping": mapping_schema(),
                "bcId": ID,
                "dataverseId": GUID_SCHEMA,
                "direction": {"type": "string", "enum": list(DIRECTIONS)},
            },
            "oneOf": [{"required": ["bcId"]}, {"required": ["dataverseId"]}],  # exactly one of the two
        },
        responses=(200, 400, 404, 409, 422, 503),
        response_schema=SYNC_REPORT_SCHEMA,
        rules=RECORD_RULES,
    )
)


@blueprint.route(route="synchronize", methods=["POST"])
@handled
def synchronize_now(req: func.HttpRequest) -> func.HttpResponse:
    """200: the report of the call that applied its direction (`outcome` modified, or unchanged when both apps
    already held the same values). 409 `concurrencyConflict`: another Synchronize Now of the same record was running,
    or BC (`Request_EntityChanged`) or Dataverse (412) had the record changed since it was read; nothing of this
    call was left half-applied, and the apps never end up holding each other's old values."""
    from shared.services.synchronize import synchronize_record

    body = json_object(req, {"mapping", "bcId", "dataverseId", "direction"}, {"mapping", "direction"})
    name = mapping_name(body["mapping"])
    direction = Direction(one_of(body["direction"], "direction", DIRECTIONS))
    if ("bcId" in body) == ("dataverseId" in body):
        raise InvalidInputError("bcIdOrDataverseId", "Give exactly one of bcId and dataverseId.", field="bcId")
    bc_id = record_id(body["bcId"], "bcId") if "bcId" in body else None
    dv_id = record_id(body["dataverseId"], "dataverseId") if "dataverseId" in body else None
    report = synchronize_record(_context(req), name, direction, bc_id=bc_id, dataverse_id=dv_id)
    return json_response(200, report_json(report))
