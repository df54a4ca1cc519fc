"""What the match and full-sync routes share: the `dryRun` query parameter, and the shapes of what matching reports
(the match route's report, a review line's `left`). Kept apart so each route module stays about its routes."""

from __future__ import annotations

from typing import Any

import azure.functions as func

from shared.domain.errors import InvalidInputError

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
        "resumedCreated": {"type": "integer", "minimum": 0},
        "resumedCoupled": {"type": "integer", "minimum": 0},
        "dryRun": {"type": "boolean", "description": "true: what would be coupled and created; nothing was written"},
    },
}
