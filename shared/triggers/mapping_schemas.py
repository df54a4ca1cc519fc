"""What the mapping routes document and show: the mapping's JSON shape, the filter and field-switch schemas of
`PATCH /api/mappings/{name}`, and a mapping described with its stored overrides (or why they no longer apply).

Kept apart from `http_mappings` so that module holds routes only.
"""

from __future__ import annotations

from typing import Any

from shared.domain.odata_filter import MAX_FILTER_LENGTH


def described_mapping(name: str, own: Any) -> dict[str, Any]:
    """The mapping with its stored overrides; when they no longer validate, the catalog's mapping, the stored
    overrides as they are, and `overrideError` saying which key is wrong and why."""
    from shared.mappings import InvalidOverride, describe, get_mapping, with_overrides

    own = own if isinstance(own, dict) else {}
    try:
        described = describe(with_overrides(get_mapping(name), own), get_mapping(name))
    except InvalidOverride as stored:
        described = describe(get_mapping(name))
        described["overrideError"] = {"code": stored.code, "message": stored.message, "field": stored.field}
    described["overrides"] = own
    return described


MAPPING_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["name", "overrides"],
    "properties": {
        "name": {"type": "string"},
        "overrides": {"type": "object"},
        "overrideError": {
            "type": "object",
            "description": "The stored overrides no longer validate: the mapping cannot run until fixed or reset",
            "required": ["code", "message", "field"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "field": {"type": "string"}},
        },
    },
}

FILTER_SCHEMA: dict[str, Any] = {
    "type": ["string", "null"],
    "maxLength": MAX_FILTER_LENGTH,
    "description": "An OData $filter on the mapping's table on that side (null or blank: none). Checked when saved: "
    "comparisons (eq ne gt ge lt le) of a field with a literal, and/or/not, parentheses, contains/startswith/"
    "endswith(field, 'text'); fields as that table's API names them, values of their type. A refused filter is a 400 "
    "invalidFilter naming the key, with the position (0-based) in the message.",
}
FIELD_DIRECTIONS = ["toDataverse", "fromDataverse", "bidirectional"]
FIELD_SWITCH: dict[str, Any] = {
    "oneOf": [
        {"type": "boolean"},
        {
            "type": "object",
            "minProperties": 1,
            "additionalProperties": False,
            "properties": {
                "enabled": {"type": "boolean"},
                "direction": {
                    "type": "string",
                    "enum": FIELD_DIRECTIONS,
                    "description": "Narrow a two-way field to one way (never widen; only a way the mapping's direction "
                    "carries: GET shows each field's `directions`); 400 invalidOverride naming fields.<key>.direction",
                },
                "constant": {
                    "type": ["string", "number", "boolean"],
                    "maxLength": 100,
                    "description": "The value written, only on a field that writes a constant (no source field: GET "
                    "shows `takesConstant`), of the type of its catalog constant; 400 naming fields.<key>.constant",
                },
            },
        },
    ],
    "description": "One field mapping's override (BC's Integration Field Mapping: Status, Direction, Constant Value): "
    'true/false, or {"enabled"?, "direction"?, "constant"?}. Stored short (true/false) when it only switches',
}
