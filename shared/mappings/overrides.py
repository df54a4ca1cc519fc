"""Administrator overrides of a catalog mapping (stored settings, `PATCH /api/mappings/{name}`), validated.

Why only these attributes: they are the ones BC lets an administrator change on a mapping without redefining it
(enable, direction, conflict and deletion resolution, sync-only-coupled, create-if-no-match, table filters, field
status). Everything else - which fields exist, what they look up - is the catalog's, changed by code review.
Why direction may only narrow: a field that BC or we map one way has a reason (read-only data, calculated columns,
option sets without modified-on); widening it would send data the other side cannot take back.

Keys may be snake_case (as stored) or camelCase (as the HTTP API shows them); field overrides are keyed by
`FieldMapping.key` ({"fields": {"displayName>name": {"enabled": false}}}).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, TypeVar

from shared.domain.mapping import ConflictPolicy, DeletionPolicy, Direction, FieldMapping, TableMapping

_ALIASES = {
    "conflictPolicy": "conflict_policy",
    "deletionPolicy": "deletion_policy",
    "syncOnlyCoupled": "sync_only_coupled",
    "createIfNoMatch": "create_if_no_match",
    "bcFilter": "bc_filter",
    "dataverseFilter": "dataverse_filter",
}
OVERRIDABLE = (
    "enabled",
    "direction",
    "conflict_policy",
    "deletion_policy",
    "sync_only_coupled",
    "create_if_no_match",
    "bc_filter",
    "dataverse_filter",
    "fields",
)


class InvalidOverride(ValueError):
    """An override the mapping cannot take; `field` names the offending key (the HTTP API returns it)."""

    code = "invalidOverride"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _boolean(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidOverride(key, f"must be true or false, not {value!r}")
    return value


Choice = TypeVar("Choice", Direction, ConflictPolicy, DeletionPolicy)


def _choice(kind: type[Choice], key: str, value: Any) -> Choice:
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise InvalidOverride(key, f"must be one of {allowed}, not {value!r}") from None


def _filter(key: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidOverride(key, "must be an OData $filter string or null")
    return value.strip() or None


def _narrowed(fields: tuple[FieldMapping, ...], direction: Direction) -> tuple[FieldMapping, ...]:
    """Two-way fields take the new direction; fields that only flow the other way are switched off."""
    if direction is Direction.BIDIRECTIONAL:
        return fields
    return tuple(
        replace(f, direction=direction)
        if f.direction is Direction.BIDIRECTIONAL
        else f
        if f.direction is direction
        else replace(f, enabled=False)
        for f in fields
    )


def _field_switches(value: Any, fields: tuple[FieldMapping, ...], direction: Direction) -> tuple[FieldMapping, ...]:
    if not isinstance(value, Mapping):
        raise InvalidOverride("fields", 'must be an object like {"<field key>": {"enabled": false}}')
    by_key = {f.key: f for f in fields}
    switched: dict[str, bool] = {}
    for key, change in value.items():
        where = f"fields.{key}"
        if key not in by_key:
            raise InvalidOverride(where, f"no such field; fields: {', '.join(by_key)}")
        if not isinstance(change, Mapping) or set(change) != {"enabled"}:
            raise InvalidOverride(where, 'only "enabled" can be overridden on a field')
        enabled = _boolean(f"{where}.enabled", change["enabled"])
        if enabled and not direction.allows(by_key[key].direction):
            message = f"carries data {by_key[key].direction.value}, which the mapping's direction {direction} excludes"
            raise InvalidOverride(where, message)
        switched[key] = enabled
    return tuple(replace(f, enabled=switched[f.key]) if f.key in switched else f for f in fields)


_SCALARS: Mapping[str, Callable[[str, Any], Any]] = {
    "enabled": _boolean,
    "direction": lambda key, value: _choice(Direction, key, value),
    "conflict_policy": lambda key, value: _choice(ConflictPolicy, key, value),
    "deletion_policy": lambda key, value: _choice(DeletionPolicy, key, value),
    "sync_only_coupled": _boolean,
    "create_if_no_match": _boolean,
    "bc_filter": _filter,
    "dataverse_filter": _filter,
}


def _parse(overrides: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str], Any]:
    """Normalised scalar changes, the key each came from (for error messages), and the raw `fields` value."""
    changes: dict[str, Any] = {}
    given_as: dict[str, str] = {}
    fields: Any = None
    for given, value in overrides.items():
        name = _ALIASES.get(given, given)
        if name not in OVERRIDABLE:
            raise InvalidOverride(given, f"cannot be overridden; overridable: {', '.join(OVERRIDABLE)}")
        if name in given_as:
            raise InvalidOverride(given, f"given twice (as {given_as[name]!r} too)")
        given_as[name] = given
        if name == "fields":
            fields = value
        else:
            changes[name] = _SCALARS[name](given, value)
    return changes, given_as, fields


def with_overrides(mapping: TableMapping, overrides: Mapping[str, Any]) -> TableMapping:
    """The mapping with an administrator's overrides applied; InvalidOverride (a ValueError) names what is wrong."""
    if not isinstance(overrides, Mapping):
        raise InvalidOverride("overrides", "must be an object")
    changes, given_as, field_changes = _parse(overrides)
    direction: Direction = changes.get("direction", mapping.direction)
    if not mapping.direction.allows(direction):
        raise InvalidOverride(given_as["direction"], f"may only narrow {mapping.direction}, not become {direction}")
    if changes.get("enabled") and not mapping.fields:
        raise InvalidOverride(given_as["enabled"], f"{mapping.name} has no field mappings (see its gaps)")
    policy = changes.get("conflict_policy", mapping.conflict_policy)
    if policy is not ConflictPolicy.NONE and direction is not Direction.BIDIRECTIONAL:
        key = given_as.get("conflict_policy", given_as.get("direction", "conflict_policy"))
        raise InvalidOverride(key, f"update conflicts only exist on bidirectional mappings ({direction})")
    fields = _narrowed(mapping.fields, direction)
    if "fields" in given_as:
        fields = _field_switches(field_changes, fields, direction)
    return replace(mapping, **changes, fields=fields)
