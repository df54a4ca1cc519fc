"""What the match and full-sync routes share: the `dryRun` query parameter, the shapes of what matching reports
(the match route's report, a review line's `left`), and the match body the match route and the match job route both
take (`MATCH_BODY_SCHEMA`, read by `match_options`: `fields` or `criteria`, `createIfNoMatch`, `synchronizeAfter`).
Kept apart so each route module stays about its routes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import azure.functions as func

from shared.domain.errors import InvalidInputError
from shared.domain.jobs import MatchChoice
from shared.triggers.http_support import NOT_BLANK, boolean, json_object, text

MIN_PRIORITY, MAX_PRIORITY = 1, 100  # as `services/match_rules.py` takes them
FIELD_NAME: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 100, "pattern": NOT_BLANK}
CRITERION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["field", "priority"],
    "additionalProperties": False,
    "properties": {
        "field": {**FIELD_NAME, "description": "a field key or BC field name, as `fields` takes them"},
        "priority": {"type": "integer", "minimum": MIN_PRIORITY, "maximum": MAX_PRIORITY, "description": "lower first"},
        "caseSensitive": {"type": "boolean", "description": "compare text with case (default false)"},
    },
}
MATCH_BODY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "fields": {"type": ["array", "null"], "items": FIELD_NAME, "minItems": 1},
        "criteria": {
            "type": ["array", "null"],
            "items": CRITERION_SCHEMA,
            "minItems": 1,
            "description": "the job's own criteria (BC's Match Based Coupling Criteria), instead of the mapping's; "
            "not with `fields`",
        },
        "createIfNoMatch": {"type": "boolean"},
        "synchronizeAfter": {"type": "boolean"},
    },
}
# 400s a schema-valid match body can still get (`services/match_rules.py`)
MATCH_RULES = (
    "unknownMatchField",
    "noMatchFields",
    "notMatchable",
    "duplicateMatchField",
    "fieldsOrCriteria",
    "directionNotAllowed",  # createIfNoMatch on a mapping that cannot carry data toDataverse
)

DRY_RUN_QUERY: dict[str, dict[str, Any]] = {
    "dryRun": {
        "type": "string",
        "enum": ["true", "false"],
        "description": "true: report what would be coupled, created or left, and write nothing",
    }
}
LEFT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "coupleRecords: BC records left uncoupled by reason, and Dataverse rows no BC record matched",
    "required": ["noMatch", "severalMatches", "matchCoupled", "dataverseOnly"],
    "properties": {
        name: {"type": "integer", "minimum": 0}
        for name in ("noMatch", "severalMatches", "matchCoupled", "dataverseOnly")
    },
}


def dry_run(req: func.HttpRequest) -> bool:
    """The `dryRun` query parameter (false when not given)."""
    raw = req.params.get("dryRun")
    if raw is not None and raw not in ("true", "false"):
        raise InvalidInputError("invalidValue", "'dryRun' must be true or false.", field="dryRun")
    return bool(raw == "true")


_PAIRS: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["bcId", "dataverseId", "priority"],
        "properties": {
            "bcId": {"type": "string"},
            "dataverseId": {"type": "string"},
            "priority": {"type": ["integer", "null"], "description": "null: created, nothing matched"},
        },
    },
}
MATCH_REPORT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["mapping", "jobId", "examined", "coupled", "created", "unmatched", "failed", "dryRun"],
    "properties": {
        "mapping": {"type": "string"},
        "jobId": {"type": "string"},
        "examined": {"type": "integer", "minimum": 0},
        "coupled": _PAIRS,
        "created": _PAIRS,
        "unmatched": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["bcId", "reason", "count"],
                "properties": {
                    "bcId": {"type": "string"},
                    "reason": {"type": "string", "enum": ["noMatch", "severalMatches", "matchCoupled"]},
                    "count": {"type": "integer", "minimum": 0},
                },
            },
        },
        "failed": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["bcId", "code", "message"],
                "properties": {"bcId": {"type": "string"}, "code": {"type": "string"}, "message": {"type": "string"}},
            },
        },
        "synchronized": {"type": "array", "items": {"type": "string"}},
        "names": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "description": "BC id -> the record's name, for the records examined that have one",
        },
        "resumedCreated": {"type": "integer", "minimum": 0},
        "resumedCoupled": {"type": "integer", "minimum": 0},
        "dryRun": {"type": "boolean", "description": "true: what would be coupled and created; nothing was written"},
    },
}


@dataclass(frozen=True)
class MatchOptions:
    """A match body as read (`match_options`); None: not given (the mapping's own)."""

    fields: list[str] | None
    criteria: list[MatchChoice] | None
    create_if_no_match: bool | None
    synchronize_after: bool | None


def match_options(req: func.HttpRequest) -> MatchOptions:
    """The match body (`MATCH_BODY_SCHEMA`); 400 naming the field, e.g. `criteria[1].priority`."""
    body = json_object(req, {"fields", "criteria", "createIfNoMatch", "synchronizeAfter"})
    fields = body.get("fields")
    if fields is not None and (not isinstance(fields, list) or not fields):
        raise InvalidInputError("invalidValue", "'fields' must be a non-empty list of field names.", field="fields")
    names = [text(f, "fields", max_length=100) for f in fields] if fields is not None else None
    create = boolean(body["createIfNoMatch"], "createIfNoMatch") if "createIfNoMatch" in body else None
    sync = boolean(body["synchronizeAfter"], "synchronizeAfter") if "synchronizeAfter" in body else None
    return MatchOptions(names, criteria(body.get("criteria")), create, sync)


def criteria(value: Any) -> list[MatchChoice] | None:
    """`criteria` as `CRITERION_SCHEMA` states it (whether its fields exist is the mapping's to say)."""
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        raise InvalidInputError("invalidValue", "'criteria' must be a non-empty list of criteria.", field="criteria")
    choices: list[MatchChoice] = []
    for index, item in enumerate(value):
        where = f"criteria[{index}]"
        if not isinstance(item, dict):
            raise InvalidInputError("invalidValue", f"'{where}' must be an object.", field=where)
        unknown = sorted(set(item) - {"field", "priority", "caseSensitive"})
        if unknown:
            name = f"{where}.{unknown[0][:100]}"
            raise InvalidInputError("unknownField", f"Unknown field '{name}'.", field=name)
        if "field" not in item:
            raise InvalidInputError("fieldRequired", f"'{where}.field' is required.", field=f"{where}.field")
        field_name = text(item["field"], f"{where}.field", max_length=100)
        priority = item.get("priority")
        if isinstance(priority, float) and priority.is_integer():  # 2.0 is JSON Schema's integer 2
            priority = int(priority)
        if not isinstance(priority, int) or isinstance(priority, bool) or not MIN_PRIORITY <= priority <= MAX_PRIORITY:
            raise InvalidInputError(
                "invalidValue",
                f"'{where}.priority' must be a whole number from {MIN_PRIORITY} to {MAX_PRIORITY}.",
                field=f"{where}.priority",
            )
        case = boolean(item["caseSensitive"], f"{where}.caseSensitive") if "caseSensitive" in item else False
        choices.append(MatchChoice(field_name, priority, case))
    return choices
