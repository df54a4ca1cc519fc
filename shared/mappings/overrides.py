"""Administrator overrides of a catalog mapping (stored settings, `PATCH /api/mappings/{name}`), validated.

Why only these attributes: they are the ones BC lets an administrator change on a mapping without redefining it
(enable, direction, conflict and deletion resolution, sync-only-coupled, create-if-no-match, table filters, field
status). Everything else - which fields exist, what they look up - is the catalog's, changed by code review.
Why direction may only narrow: a field that BC or we map one way has a reason (read-only data, calculated columns,
option sets without modified-on); widening it would send data the other side cannot take back.

Keys may be snake_case (as stored) or camelCase (as the HTTP API shows them); field overrides are keyed by
`FieldMapping.key`, each either `true`/`false` (the field's Status) or an object `{enabled?, direction?, constant?}`
({"fields": {"displayName>name": false, "phoneNumber>telephone1": {"direction": "toDataverse"}}}), as BC's
"Integration Field Mapping List" lets an administrator change a field's Status, Direction and Constant Value:
- `direction` may only narrow: a two-way field to one way, and only a way the mapping's own direction carries
  (BC's page lets any direction be chosen; widening is refused here for the reason above, so a field's direction is
  the catalog's or narrower, and going back is dropping the override).
- `constant` only on a field that writes a constant: one with no source field in the direction it carries (BC's
  synch engine writes the Constant Value only when the source field number is 0: `TransferField` in
  IntegrationRecordSynch.Codeunit.al; on a field with a source BC ignores it, so it is refused here rather than
  stored to do nothing). Of the catalog's constant's JSON type, a text at most 100 characters (BC's field is
  Text[100]). Whether BC can evaluate the text into the destination (an option's name, say) is the destination's
  to say at the next write: UNCONFIRMED which values each destination takes, so only the type is checked here.

Why filters are checked here: the run sends `bc_filter`/`dataverse_filter` to the other service as is, so a filter
that service would refuse (bad syntax, a field its table lacks, a value of the wrong type) would fail every run and
every full synchronization of the mapping. `with_overrides` runs both when an override is saved and whenever a stored
one is applied, so a filter stored before this check existed is refused on use too (the mapping cannot run: the API
answers 409 `invalidFilter` naming the key, and it is shown on `GET /api/mappings` until fixed or reset). It is not
ignored instead: a filter narrows what is synchronized, and running without it would copy what it leaves out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, TypeVar

from shared.domain.errors import ErrorKind, SyncError
from shared.domain.mapping import ConflictPolicy, DeletionPolicy, Direction, FieldMapping, TableMapping
from shared.domain.odata_filter import FilterError, check_filter
from shared.mappings.filter_fields import Side, filter_fields

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


class InvalidOverride(SyncError, ValueError):
    """An override the mapping cannot take; `field` names the offending key (the HTTP API returns it).

    A configuration error (fatal kind): when a stored override no longer validates, the mapping cannot run until an
    administrator fixes or resets it, so a queued run of it is dead-lettered with the reason instead of retried.
    `shape` marks a value of the wrong JSON type or form (the HTTP API says `invalidValue`), as opposed to a value
    this mapping's rules refuse."""

    def __init__(self, field: str, message: str, *, shape: bool = False, code: str = "invalidOverride") -> None:
        super().__init__(code, message, kind=ErrorKind.FATAL, field=field)
        self.field: str = field
        self.shape = shape
        self.mapping: str | None = None  # set by `with_overrides`

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class InvalidFilter(InvalidOverride):
    """A `bc_filter`/`dataverse_filter` the other service would refuse; the message gives the 0-based position."""

    def __init__(self, field: str, error: FilterError) -> None:
        super().__init__(field, str(error), code="invalidFilter")
        self.position = error.position


def _boolean(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidOverride(key, f"must be true or false, not {_shown(value)}", shape=True)
    return value


def _shown(value: Any) -> str:
    """A caller's value in a message, cut short (a message must not echo 100,000 characters back)."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


Choice = TypeVar("Choice", Direction, ConflictPolicy, DeletionPolicy)


def _choice(kind: type[Choice], key: str, value: Any) -> Choice:
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise InvalidOverride(key, f"must be one of {allowed}, not {_shown(value)}", shape=True) from None


def _filter(key: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidOverride(key, "must be an OData $filter string or null", shape=True)
    return value.strip() or None


def _checked_filter(key: str, text: str, side: Side, entity_set: str) -> None:
    """The filter against the fields of the mapping's table on that side (see the module docstring)."""
    fields = filter_fields(side, entity_set)
    if fields is None:
        raise InvalidOverride(key, f"the fields of {entity_set} are not known, so no filter can be set on it")
    try:
        check_filter(text, fields, entity_set)
    except FilterError as error:
        raise InvalidFilter(key, error) from None


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


FIELD_CHANGES = ("enabled", "direction", "constant")
CONSTANT_MAX_LENGTH = 100  # BC's "Constant Value" is Text[100]


def takes_constant(f: FieldMapping) -> bool:
    """Whether the field writes a constant: it has no source field in any direction it carries (BC's rule, see the
    module docstring)."""
    sources = {Direction.TO_DATAVERSE: f.bc_field, Direction.FROM_DATAVERSE: f.dataverse_field}
    carried = [way for way in sources if f.direction.allows(way)]
    return bool(carried) and all(sources[way] is None for way in carried)


def field_directions(f: FieldMapping, mapping_direction: Direction) -> list[str]:
    """The directions an override may give the catalog's field `f` under the mapping's direction: its own and,
    when it is two-way, each one way the mapping carries (what the console offers)."""
    return [way.value for way in Direction if f.direction.allows(way) and mapping_direction.allows(way)]


def field_switch(key: str, change: Any) -> dict[str, Any]:
    """One field's override as `{enabled?, direction?, constant?}` (shapes checked, not the field's rules), from
    `true`/`false` or the object form."""
    if isinstance(change, bool):
        return {"enabled": change}
    if not isinstance(change, Mapping) or not change or not set(change) <= set(FIELD_CHANGES):
        raise InvalidOverride(key, 'must be true, false or an object of "enabled", "direction", "constant"', shape=True)
    parsed: dict[str, Any] = {}
    if "enabled" in change:
        parsed["enabled"] = _boolean(f"{key}.enabled", change["enabled"])
    if "direction" in change:
        parsed["direction"] = _choice(Direction, f"{key}.direction", change["direction"])
    if "constant" in change:
        value = change["constant"]
        if not isinstance(value, str | int | float | bool) or (
            isinstance(value, str) and len(value) > CONSTANT_MAX_LENGTH
        ):
            message = f"must be text (at most {CONSTANT_MAX_LENGTH} characters), a number or true/false"
            raise InvalidOverride(f"{key}.constant", message, shape=True)
        parsed["constant"] = value
    return parsed


def stored_field(change: Any) -> bool | dict[str, Any]:
    """A valid field override in its stored form: `true`/`false` when it only switches, else the object."""
    parsed = field_switch("fields", change)
    if set(parsed) == {"enabled"}:
        return bool(parsed["enabled"])
    return {name: value.value if isinstance(value, Direction) else value for name, value in parsed.items()}


def _same_type(value: Any, like: Any) -> bool:
    """A constant of the catalog constant's JSON type (a bool is not a number, an int is one)."""
    if like is None:
        return True
    if isinstance(like, bool) or isinstance(value, bool):
        return isinstance(like, bool) and isinstance(value, bool)
    if isinstance(like, int | float):
        return isinstance(value, int | float)
    return isinstance(value, type(like))


def _field_changed(where: str, f: FieldMapping, change: Mapping[str, Any], direction: Direction) -> FieldMapping:
    """The field with one override applied, by the rules of the module docstring."""
    changed = f
    if "direction" in change:
        wanted: Direction = change["direction"]
        if not direction.allows(wanted):
            message = f"the mapping's direction {direction} does not carry {wanted}"
            raise InvalidOverride(f"{where}.direction", message)
        if not f.direction.allows(wanted):
            message = f"may only narrow the field's direction {f.direction}, not widen it to {wanted}"
            raise InvalidOverride(f"{where}.direction", message)
        changed = replace(changed, direction=wanted)
    if "constant" in change:
        if not takes_constant(f):
            message = "only a field without a source field takes a constant (BC uses the Constant Value only then)"
            raise InvalidOverride(f"{where}.constant", message)
        if not _same_type(change["constant"], f.constant):
            message = f"must be of the type of the field's constant {_shown(f.constant)}"
            raise InvalidOverride(f"{where}.constant", message)
        changed = replace(changed, constant=change["constant"])
    if "enabled" in change:
        if change["enabled"] and not direction.allows(changed.direction):
            key = where if set(change) == {"enabled"} else f"{where}.enabled"
            message = f"carries data {f.direction.value}, which the mapping's direction {direction} excludes"
            raise InvalidOverride(key, message)
        changed = replace(changed, enabled=change["enabled"])
    return changed


def _field_switches(value: Any, fields: tuple[FieldMapping, ...], direction: Direction) -> tuple[FieldMapping, ...]:
    if not isinstance(value, Mapping):
        raise InvalidOverride("fields", 'must be an object like {"<field key>": false}', shape=True)
    by_key = {f.key: f for f in fields}
    changed: dict[str, FieldMapping] = {}
    for key, change in value.items():
        where = f"fields.{key}"
        if key not in by_key:
            raise InvalidOverride(where, f"no such field; fields: {', '.join(by_key)}")
        changed[key] = _field_changed(where, by_key[key], field_switch(where, change), direction)
    return tuple(changed.get(f.key, f) for f in fields)


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
            raise InvalidOverride(given, f"cannot be overridden; overridable: {', '.join(OVERRIDABLE)}", shape=True)
        if name in given_as:
            raise InvalidOverride(given, f"given twice (as {given_as[name]!r} too)")
        given_as[name] = given
        if name == "fields":
            fields = value
        else:
            changes[name] = _SCALARS[name](given, value)
    return changes, given_as, fields


def with_overrides(mapping: TableMapping, overrides: Mapping[str, Any]) -> TableMapping:
    """The mapping with an administrator's overrides applied; InvalidOverride (a ValueError) names what is wrong
    (the key in `field`, the mapping in `mapping`)."""
    try:
        return _applied(mapping, overrides)
    except InvalidOverride as refused:
        refused.mapping = mapping.name
        raise


def _applied(mapping: TableMapping, overrides: Mapping[str, Any]) -> TableMapping:
    if not isinstance(overrides, Mapping):
        raise InvalidOverride("overrides", "must be an object", shape=True)
    changes, given_as, field_changes = _parse(overrides)
    sides: tuple[tuple[str, Side, str], ...] = (
        ("bc_filter", "bc", mapping.bc_entity_set),
        ("dataverse_filter", "dataverse", mapping.dataverse_entity_set),
    )
    for name, side, entity_set in sides:
        if changes.get(name):
            _checked_filter(given_as[name], changes[name], side, entity_set)
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
