"""HTTP routes for mappings (BC's Integration Table Mappings) and jobs (record errors: `http_sync_errors.py`).

Overrides are validated when saved (`PATCH`: 400 naming the key, a filter with its position). One stored before a
rule existed (an unchecked filter, say) is not hidden: `GET` shows the mapping as the catalog defines it with the
stored overrides and an `overrideError`, and every use of the mapping answers 409 `invalidFilter` (or
`invalidOverride`) until an admin fixes it (a `PATCH` that corrects the key) or resets it. It is never silently
ignored: a filter narrows what is synchronized, and running without it would copy records the administrator meant to
leave out.
"""

from __future__ import annotations

from typing import Any

import azure.functions as func

from shared.domain.errors import InvalidInputError, NotFoundError
from shared.triggers.http_support import (
    RouteSpec,
    company_key,
    documented,
    handled,
    json_object,
    json_response,
    mapping_name,
    mapping_schema,
    text,
)
from shared.triggers.mapping_schemas import FIELD_SWITCH, FILTER_SCHEMA, MAPPING_SCHEMA, described_mapping
from shared.triggers.serialize import job_json

blueprint = func.Blueprint()  # type: ignore[no-untyped-call]
OVERRIDE_KEYS = {
    "enabled",
    "direction",
    "conflictPolicy",
    "deletionPolicy",
    "syncOnlyCoupled",
    "createIfNoMatch",
    "bcFilter",
    "dataverseFilter",
    "fields",
}


def _services(req: func.HttpRequest) -> Any:
    """The process's services of the request's company (the settings store, the job log)."""
    from shared.bootstrap import get_services

    return get_services(company_key(req))


def _run(req: func.HttpRequest) -> Any:
    """This request's services, for what runs a mapping: the setup and the catalog read once (`bootstrap.for_run`)."""
    from shared.bootstrap import run_services

    return run_services(company_key=company_key(req))


def _overrides(services: Any) -> dict[str, Any]:
    from shared.services.mapping_overrides import stored_overrides

    return stored_overrides(services.settings_store)[0]


documented(
    RouteSpec(
        "list_mappings",
        "mappings",
        "GET",
        "Every table mapping with its overrides and coverage",
        response_schema={
            "type": "object",
            "required": ["value"],
            "properties": {"value": {"type": "array", "items": MAPPING_SCHEMA}},
        },
    )
)


@blueprint.route(route="mappings", methods=["GET"])
@handled
def list_mappings(req: func.HttpRequest) -> func.HttpResponse:
    from shared.mappings import CATALOG

    overrides = _overrides(_services(req))
    return json_response(200, {"value": [described_mapping(name, overrides.get(name)) for name in CATALOG]})


documented(RouteSpec("get_mapping", "mappings/{name}", "GET", "One table mapping", response_schema=MAPPING_SCHEMA))


@blueprint.route(route="mappings/{name}", methods=["GET"])
@handled
def get_mapping(req: func.HttpRequest) -> func.HttpResponse:
    name = mapping_name(req.route_params.get("name"), "name")
    return json_response(200, described_mapping(name, _overrides(_services(req)).get(name)))


# The documented forms of `fields` (tests/functions/test_field_overrides_http.py sends each, as the document says):
# a switch, the object form narrowing a two-way field, a constant on a field that writes one (PLLINE-PRODPRICE's
# pricing method, BC's constant 1 = Currency Amount).
FIELD_EXAMPLES: list[dict[str, Any]] = [
    {"fields": {"phoneNumber>telephone1": False}},
    {"fields": {"phoneNumber>telephone1": {"enabled": True, "direction": "toDataverse"}}},
    {"fields": {"=>pricingmethodcode": {"constant": 1}}},
]
documented(
    RouteSpec(
        "patch_mapping",
        "mappings/{name}",
        "PATCH",
        "Change a mapping's overrides (enable, narrow direction, policies, filters, field overrides: status, "
        "narrowed direction, constant); the keys given replace the stored ones (`fields` as a whole), null filters "
        "drop a filter",
        body={
            "type": "object",
            "additionalProperties": False,
            "examples": FIELD_EXAMPLES,
            "properties": {
                "enabled": {"type": "boolean"},
                "direction": {"type": "string", "enum": ["toDataverse", "fromDataverse", "bidirectional"]},
                "conflictPolicy": {"type": "string", "enum": ["none", "bcWins", "dataverseWins", "merge"]},
                "deletionPolicy": {"type": "string", "enum": ["none", "removeCoupling", "restore"]},
                "syncOnlyCoupled": {"type": "boolean"},
                "createIfNoMatch": {"type": "boolean"},
                "bcFilter": FILTER_SCHEMA,
                "dataverseFilter": FILTER_SCHEMA,
                "fields": {
                    "type": "object",
                    "description": "Field mapping key (GET shows each field's `key`: `displayName>name`) -> override",
                    "additionalProperties": FIELD_SWITCH,
                },
            },
        },
        responses=(200, 400, 409),
        response_schema=MAPPING_SCHEMA,
        rules=("invalidOverride", "invalidFilter"),
    )
)


@blueprint.route(route="mappings/{name}", methods=["PATCH"])
@handled
def patch_mapping(req: func.HttpRequest) -> func.HttpResponse:
    from shared.mappings import InvalidOverride, describe, get_mapping
    from shared.services.mapping_overrides import save_overrides

    name = mapping_name(req.route_params.get("name"), "name")
    body = json_object(req, OVERRIDE_KEYS)
    try:
        mapping, merged = save_overrides(_services(req).settings_store, name, body)
    except InvalidOverride as refused:
        code = "invalidValue" if refused.shape else refused.code
        raise InvalidInputError(code, str(refused), field=refused.field) from None  # "bcFilter: ... (at position 7)"
    described = describe(mapping, get_mapping(name))
    described["overrides"] = merged
    return json_response(200, described)


documented(
    RouteSpec(
        "reset_mapping",
        "mappings/{name}/reset",
        "POST",
        "Drop a mapping's overrides (BC's Reset)",
        response_schema=MAPPING_SCHEMA,
    )
)


@blueprint.route(route="mappings/{name}/reset", methods=["POST"])
@handled
def reset_mapping(req: func.HttpRequest) -> func.HttpResponse:
    from shared.mappings import describe
    from shared.services.mapping_overrides import reset_overrides

    name = mapping_name(req.route_params.get("name"), "name")
    described = describe(reset_overrides(_services(req).settings_store, name))
    described["overrides"] = {}
    return json_response(200, described)


documented(
    RouteSpec(
        "run_mapping_now",
        "mappings/{name}/synchronize",
        "POST",
        "Synchronize the mapping's modified records now (BC's 'Synchronize Modified Records')",
        responses=(200, 400, 409, 422, 503),
        rules=("mappingDisabled",),
    )
)


@blueprint.route(route="mappings/{name}/synchronize", methods=["POST"])
@handled
def run_mapping_now(req: func.HttpRequest) -> func.HttpResponse:
    from shared.engine.mapping_run import run_mapping

    name = mapping_name(req.route_params.get("name"), "name")
    services = _run(req)
    if not services.context.mapping(name).enabled:
        raise InvalidInputError("mappingDisabled", f"Mapping {name} is disabled.", field="name")
    return json_response(200, job_json(run_mapping(services.context, name)))


documented(
    RouteSpec(
        "get_job",
        "jobs/{jobId}",
        "GET",
        "One sync job with its counters (`mapping`, the job's own: read from its mapping's jobs only, as a page "
        "polling a job it queued asks; without it the whole job log is searched)",
        query={"mapping": mapping_schema()},
        responses=(200, 400, 404),
    )
)


@blueprint.route(route="jobs/{jobId}", methods=["GET"])
@handled
def get_job(req: func.HttpRequest) -> func.HttpResponse:
    job_id = text(req.route_params.get("jobId"), "jobId", max_length=120)
    raw = req.params.get("mapping")
    job = _services(req).context.jobs.find_job(job_id, mapping_name(raw) if raw is not None else None)
    if job is None:
        raise NotFoundError("jobNotFound", f"No job {job_id}.", field="jobId")
    return json_response(200, job_json(job))
