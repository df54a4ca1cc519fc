"""HTTP routes of match-based coupling as BC runs it in the background (issue 24): the criteria a job can take, the
job queued, and its coupling log.

- `GET couplings/{mapping}/match-criteria`: the fields that can match and the mapping's own choice for each (BC's
  "Match Based Coupling Criteria" page opens on the mapping's criteria), with its create-if-no-match and
  synchronize-after defaults.
- `POST couplings/{mapping}/match-jobs`: the match route's body, checked now (a bad criterion is a 400 naming it, a
  mapping that cannot run a 409, before anything is queued); the job entry is recorded "queued", then the
  `matchCoupling` message is sent (`queued_jobs.queue_job`: a send that fails marks the entry failed); 202 `{jobId}`
  with `Location: /api/jobs/{jobId}?mapping=`, where the entry goes "running" (with its counters), then "finished"
  or "failed" (`services/matching.py`, through `services/job_entry.py`).
- `GET couplings/{mapping}/match-jobs/{jobId}/log`: the job's coupling log (`domain/match_log.py`), one page per
  request (`top`, `continuationToken`; `outcome` to see one outcome only), in BC id order; only the rows of the
  route's mapping (a job id under another mapping reads as an empty log). A job that wrote no log (not run yet,
  unknown, a dry run) has an empty one.
"""

from __future__ import annotations

import uuid
from typing import Any

import azure.functions as func

from shared.domain.errors import FatalError
from shared.domain.jobs import JobKind, JobMessage
from shared.domain.match_log import OUTCOMES, REASONS, MatchLogEntry
from shared.triggers import paging
from shared.triggers.http_support import (
    RouteSpec,
    company_key,
    documented,
    handled,
    json_response,
    mapping_name,
    one_of,
    text,
)
from shared.triggers.match_api import MATCH_BODY_SCHEMA, MATCH_RULES, match_options
from shared.triggers.queued_jobs import QUEUED_SCHEMA, queue_job

blueprint = func.Blueprint()  # type: ignore[no-untyped-call]
CRITERIA_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["mapping", "createIfNoMatch", "synchronizeAfter", "canCreate", "fields", "criteria"],
    "properties": {
        "mapping": {"type": "string"},
        "createIfNoMatch": {"type": "boolean"},
        "synchronizeAfter": {"type": "boolean"},
        "canCreate": {"type": "boolean", "description": "the mapping carries data toDataverse: it can create"},
        "fields": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["key", "bcField", "dataverseField", "use", "priority", "caseSensitive"],
                "properties": {
                    "key": {"type": "string"},
                    "bcField": {"type": "string"},
                    "dataverseField": {"type": "string"},
                    "use": {"type": "boolean", "description": "one of the mapping's own match fields"},
                    "priority": {"type": ["integer", "null"]},
                    "caseSensitive": {"type": "boolean"},
                },
            },
        },
        "criteria": {
            "type": "array",
            "description": "the mapping's own criteria, as a job's `criteria` takes them",
            "items": {
                "type": "object",
                "required": ["field", "priority", "caseSensitive"],
                "properties": {
                    "field": {"type": "string"},
                    "priority": {"type": "integer"},
                    "caseSensitive": {"type": "boolean"},
                },
            },
        },
    },
}
LOG_ENTRY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["jobId", "bcId", "outcome"],
    "properties": {
        "jobId": {"type": "string"},
        "mapping": {"type": "string"},
        "bcId": {"type": "string"},
        "number": {"type": ["string", "null"]},
        "name": {"type": ["string", "null"]},
        "outcome": {"type": "string", "enum": list(OUTCOMES)},
        "dataverseId": {"type": ["string", "null"]},
        "reason": {"type": ["string", "null"], "enum": [*REASONS, None]},
        "matches": {"type": "integer", "minimum": 0},
        "priority": {"type": ["integer", "null"]},
        "code": {"type": ["string", "null"]},
        "message": {"type": ["string", "null"]},
        "loggedOn": {"type": ["string", "null"]},
    },
}


def _services(req: func.HttpRequest) -> Any:
    from shared.bootstrap import run_services

    return run_services(company_key=company_key(req))


documented(
    RouteSpec(
        "match_criteria",
        "couplings/{mapping}/match-criteria",
        "GET",
        "The fields match-based coupling can match on, with the mapping's own criteria and defaults (409: its stored "
        "overrides no longer validate)",
        responses=(200, 400, 409),
        response_schema=CRITERIA_SCHEMA,
    )
)


@blueprint.route(route="couplings/{mapping}/match-criteria", methods=["GET"])
@handled
def match_criteria(req: func.HttpRequest) -> func.HttpResponse:
    from shared.services.match_rules import criteria_json

    name = mapping_name(req.route_params.get("mapping"))
    return json_response(200, criteria_json(_services(req).context.mapping(name)))


documented(
    RouteSpec(
        "start_match_job",
        "couplings/{mapping}/match-jobs",
        "POST",
        "Queue match-based coupling of the mapping's uncoupled records as a job with a coupling log (the match "
        "route's body); its progress at Location (/api/jobs/{jobId}?mapping=), its log at .../match-jobs/{jobId}/log",
        body=MATCH_BODY_SCHEMA,
        responses=(202, 400, 409, 503),
        response_schema={**QUEUED_SCHEMA, "required": [*QUEUED_SCHEMA["required"], "queuedOn"]},
        rules=MATCH_RULES,
    )
)


@blueprint.route(route="couplings/{mapping}/match-jobs", methods=["POST"])
@handled
def start_match_job(req: func.HttpRequest) -> func.HttpResponse:
    from shared.services.job_entry import queued
    from shared.services.matching import check_match_job

    name = mapping_name(req.route_params.get("mapping"))
    options = match_options(req)
    services = _services(req)
    context = services.context
    choices = check_match_job(
        context, name, fields=options.fields, criteria=options.criteria, create_if_no_match=options.create_if_no_match
    )
    job = queued(context, name, f"match-{uuid.uuid4()}", "waiting for a worker")
    payload: dict[str, Any] = {
        "mapping": name,
        "queuedOn": job.started_on,
        "criteria": [{"field": c.field, "priority": c.priority, "caseSensitive": c.case_sensitive} for c in choices],
    }
    if options.create_if_no_match is not None:
        payload["createIfNoMatch"] = options.create_if_no_match
    if options.synchronize_after is not None:
        payload["synchronizeAfter"] = options.synchronize_after
    return queue_job(services, job, JobMessage(JobKind.MATCH_COUPLING, job.job_id, payload), queued_on=True)


documented(
    RouteSpec(
        "match_job_log",
        "couplings/{mapping}/match-jobs/{jobId}/log",
        "GET",
        "A match-based coupling job's coupling log, one page (per record: coupled, created, unmatched with the "
        "reason, failed)",
        query={**paging.PAGING_QUERY, "outcome": {"type": "string", "enum": list(OUTCOMES)}},
        responses=(200, 400),
        response_schema=paging.page_schema(LOG_ENTRY_SCHEMA),
        rules=(paging.TOKEN_RULE,),  # a text no page of this log returned
    )
)


@blueprint.route(route="couplings/{mapping}/match-jobs/{jobId}/log", methods=["GET"])
@handled
def match_job_log(req: func.HttpRequest) -> func.HttpResponse:
    name = mapping_name(req.route_params.get("mapping"))
    job_id = text(req.route_params.get("jobId"), "jobId", max_length=100)
    top = paging.top(req)
    token = paging.continuation_token(req)
    raw_outcome = req.params.get("outcome")
    outcome = one_of(raw_outcome, "outcome", OUTCOMES) if raw_outcome is not None else None
    store = _services(req).context.match_log
    if store is None:
        raise FatalError("matchLogNotKept", "This deployment keeps no coupling log.")
    page = store.page(job_id, top, token, outcome, mapping=name)  # a token not of this job's log: a 400
    return json_response(200, paging.page_json([entry_json(e) for e in page.entries], page.continuation_token))


def entry_json(entry: MatchLogEntry) -> dict[str, Any]:
    return {
        "jobId": entry.job_id,
        "mapping": entry.mapping,
        "bcId": entry.bc_id,
        "number": entry.number or None,
        "name": entry.name or None,
        "outcome": entry.outcome,
        "dataverseId": entry.dataverse_id or None,
        "reason": entry.reason or None,
        "matches": entry.matches,
        "priority": entry.priority,
        "code": entry.code or None,
        "message": entry.message or None,
        "loggedOn": entry.logged_on or None,
    }
