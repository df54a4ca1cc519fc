"""HTTP routes the admin console reads: both sides of a coupled record, and the recent jobs of a mapping."""

from __future__ import annotations

import azure.functions as func

from shared.domain.errors import InvalidInputError
from shared.triggers.http_couplings import ID, record_id
from shared.triggers.http_support import (
    GUID_SCHEMA,
    NOT_BLANK,
    RouteSpec,
    company_key,
    documented,
    handled,
    json_response,
    mapping_name,
    mapping_schema,
)
from shared.triggers.serialize import job_json

blueprint = func.Blueprint()  # type: ignore[no-untyped-call]
LIMIT_PATTERN = "^(?:[1-9]|[1-9][0-9]|1[0-9]{2}|200)$"  # 1 to 200

documented(
    RouteSpec(
        "compare_record",
        "records/{mapping}/compare",
        "GET",
        "Both sides of a coupled record, field by field (the conflict view: choose a side with Synchronize Now)",
        query={"bcId": ID, "dataverseId": GUID_SCHEMA},
        responses=(200, 400, 404, 409, 422),
        rules=("bcIdOrDataverseId", "invalidId"),
    )
)


@blueprint.route(route="records/{mapping}/compare", methods=["GET"])
@handled
def compare_record(req: func.HttpRequest) -> func.HttpResponse:
    from shared.bootstrap import run_services
    from shared.services.compare import compare_record as compare

    name = mapping_name(req.route_params.get("mapping"))
    bc_id, dataverse_id = req.params.get("bcId"), req.params.get("dataverseId")
    if (bc_id is None) == (dataverse_id is None):
        raise InvalidInputError("bcIdOrDataverseId", "Give exactly one of bcId and dataverseId.", field="bcId")
    ids = (
        {"bc_id": record_id(bc_id, "bcId")}
        if bc_id is not None
        else {"dataverse_id": record_id(dataverse_id, "dataverseId")}
    )
    return json_response(200, compare(run_services(company_key=company_key(req)).context, name, **ids))


documented(
    RouteSpec(
        "list_jobs",
        "jobs",
        "GET",
        "The recent sync jobs of a mapping, newest first, with counters and times",
        query={"mapping": mapping_schema(), "limit": {"type": "string", "pattern": LIMIT_PATTERN}},
        required_query=("mapping",),
        responses=(200, 400),
    )
)


@blueprint.route(route="jobs", methods=["GET"])
@handled
def list_jobs(req: func.HttpRequest) -> func.HttpResponse:
    from shared.bootstrap import get_services

    name = mapping_name(req.params.get("mapping"))
    raw = req.params.get("limit", "20")
    if not raw.isdigit() or not 1 <= int(raw) <= 200:
        raise InvalidInputError("invalidValue", "'limit' must be a number from 1 to 200.", field="limit")
    jobs = get_services(company_key(req)).context.jobs.list_jobs(name, int(raw))
    return json_response(200, {"mapping": name, "value": [job_json(job) for job in jobs]})


documented(
    RouteSpec(
        "find_by_number",
        "records/{mapping}/by-number",
        "GET",
        "A BC record by its number or code (BC's No.), with its id and its coupling (null when not coupled)",
        query={"number": {"type": "string", "minLength": 1, "maxLength": 20, "pattern": NOT_BLANK}},
        required_query=("number",),
        responses=(200, 400, 404, 409, 422),
        rules=("noNumberLookup", "tooLong"),
    )
)


@blueprint.route(route="records/{mapping}/by-number", methods=["GET"])
@handled
def find_by_number(req: func.HttpRequest) -> func.HttpResponse:
    from shared.bootstrap import run_services
    from shared.processes.bc_numbers import find_by_number as find
    from shared.triggers.serialize import coupling_json

    name = mapping_name(req.route_params.get("mapping"))
    found = find(run_services(company_key=company_key(req)).context, name, req.params.get("number") or "")
    coupling = None if found.coupling is None else coupling_json(found.coupling)
    return json_response(200, {"mapping": name, "number": found.number, "bcId": found.bc_id, "coupling": coupling})
