"""HTTP routes for mappings (BC's Integration Table Mappings), jobs and record errors."""

from __future__ import annotations

from typing import Any, Literal

import azure.functions as func

from shared.domain.errors import InvalidInputError, NotFoundError
from shared.triggers.http_support import (
    ID_SCHEMA,
    RouteSpec,
    boolean,
    documented,
    handled,
    json_object,
    json_response,
    mapping_name,
    mapping_schema,
    text,
)
from shared.triggers.serialize import error_entry_json, job_json

blueprint = func.Blueprint()  # type: ignore[no-untyped-call]
MAPPING_PARTITION = "mapping"
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


def _services() -> Any:
    from shared.bootstrap import get_services

    return get_services()


def _overrides(services: Any) -> tuple[dict[str, Any], str | None]:
    values, etag = services.settings_store.get_settings(MAPPING_PARTITION)
    return dict(values), etag


documented(RouteSpec("list_mappings", "mappings", "GET", "Every table mapping with its overrides and coverage"))


@blueprint.route(route="mappings", methods=["GET"])
@handled
def list_mappings(req: func.HttpRequest) -> func.HttpResponse:
    from shared.mappings import describe_all

    overrides, _ = _overrides(_services())
    known = {name: value for name, value in overrides.items() if isinstance(value, dict)}
    return json_response(200, {"value": describe_all(known)})


documented(RouteSpec("get_mapping", "mappings/{name}", "GET", "One table mapping", responses=(200, 400)))


@blueprint.route(route="mappings/{name}", methods=["GET"])
@handled
def get_mapping(req: func.HttpRequest) -> func.HttpResponse:
    from shared.mappings import describe, get_mapping, with_overrides

    name = mapping_name(req.route_params.get("name"), "name")
    own = _overrides(_services())[0].get(name) or {}
    described = describe(with_overrides(get_mapping(name), own))
    described["overrides"] = own
    return json_response(200, described)


documented(
    RouteSpec(
        "patch_mapping",
        "mappings/{name}",
        "PATCH",
        "Change a mapping's overrides (enable, narrow direction, policies)",
        body={
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "enabled": {"type": "boolean"},
                "direction": {"type": "string", "enum": ["toDataverse", "fromDataverse", "bidirectional"]},
                "conflictPolicy": {"type": "string", "enum": ["none", "bcWins", "dataverseWins", "merge"]},
                "deletionPolicy": {"type": "string", "enum": ["none", "removeCoupling", "restore"]},
                "syncOnlyCoupled": {"type": "boolean"},
                "createIfNoMatch": {"type": "boolean"},
                "bcFilter": {"type": ["string", "null"]},
                "dataverseFilter": {"type": ["string", "null"]},
                "fields": {"type": "object", "additionalProperties": {"type": "boolean"}},
            },
        },
        responses=(200, 400, 409),
    )
)


@blueprint.route(route="mappings/{name}", methods=["PATCH"])
@handled
def patch_mapping(req: func.HttpRequest) -> func.HttpResponse:
    from shared.mappings import InvalidOverride, describe, get_mapping, with_overrides

    name = mapping_name(req.route_params.get("name"), "name")
    body = json_object(req, OVERRIDE_KEYS)
    services = _services()
    overrides, etag = _overrides(services)
    merged = {**(overrides.get(name) or {}), **body}
    try:
        mapping = with_overrides(get_mapping(name), merged)
    except InvalidOverride as refused:
        raise InvalidInputError("invalidOverride", refused.message, field=refused.field) from None
    services.settings_store.update_settings(MAPPING_PARTITION, {**overrides, name: merged}, etag)
    described = describe(mapping)
    described["overrides"] = merged
    return json_response(200, described)


documented(RouteSpec("reset_mapping", "mappings/{name}/reset", "POST", "Drop a mapping's overrides (BC's Reset)"))


@blueprint.route(route="mappings/{name}/reset", methods=["POST"])
@handled
def reset_mapping(req: func.HttpRequest) -> func.HttpResponse:
    from shared.mappings import describe, get_mapping

    name = mapping_name(req.route_params.get("name"), "name")
    services = _services()
    overrides, etag = _overrides(services)
    if name in overrides:
        services.settings_store.update_settings(
            MAPPING_PARTITION, {k: v for k, v in overrides.items() if k != name}, etag
        )
    described = describe(get_mapping(name))
    described["overrides"] = {}
    return json_response(200, described)


documented(
    RouteSpec(
        "run_mapping_now",
        "mappings/{name}/synchronize",
        "POST",
        "Synchronize the mapping's modified records now (BC's 'Synchronize Modified Records')",
        responses=(200, 400, 409, 503),
    )
)


@blueprint.route(route="mappings/{name}/synchronize", methods=["POST"])
@handled
def run_mapping_now(req: func.HttpRequest) -> func.HttpResponse:
    from shared.services.incremental import run_mapping

    name = mapping_name(req.route_params.get("name"), "name")
    services = _services()
    if not services.context.mapping(name).enabled:
        raise InvalidInputError("mappingDisabled", f"Mapping {name} is disabled.", field="name")
    return json_response(200, job_json(run_mapping(services.context, name)))


documented(RouteSpec("get_job", "jobs/{jobId}", "GET", "One sync job with its counters", responses=(200, 400, 404)))


@blueprint.route(route="jobs/{jobId}", methods=["GET"])
@handled
def get_job(req: func.HttpRequest) -> func.HttpResponse:
    job_id = text(req.route_params.get("jobId"), "jobId", max_length=120)
    job = _services().context.jobs.find_job(job_id)
    if job is None:
        raise NotFoundError("jobNotFound", f"No job {job_id}.", field="jobId")
    return json_response(200, job_json(job))


documented(
    RouteSpec(
        "list_sync_errors",
        "sync-errors",
        "GET",
        "Coupled-record synchronization errors",
        query={"mapping": mapping_schema()},
    )
)


@blueprint.route(route="sync-errors", methods=["GET"])
@handled
def list_sync_errors(req: func.HttpRequest) -> func.HttpResponse:
    from shared.services.sync_errors import list_sync_errors as list_errors

    raw = req.params.get("mapping")
    name = mapping_name(raw) if raw is not None else None
    entries = list_errors(_services().context, name)
    return json_response(200, {"value": [error_entry_json(e) for e in entries]})


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
                "ids": {"type": "array", "items": ID_SCHEMA},
                "all": {"type": "boolean"},
            },
        },
        responses=(200, 400, 409, 503),
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
    targets: list[str] | Literal["all"] = "all"
    if ids is not None:
        if not isinstance(ids, list) or not ids or len(ids) > 1000:
            raise InvalidInputError("invalidValue", "'ids' must be a list of 1 to 1000 ids.", field="ids")
        targets = [text(value, "ids", max_length=100) for value in ids]  # GUIDs, or page keys (R0010)
    report = retry(_services().context, name, targets)
    return json_response(200, report.as_dict())
