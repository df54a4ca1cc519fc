"""BC's matching rules, without I/O (`services/matching.py` runs them): the criteria by priority, what two records
must share to match (the canonical value, case-folded unless the field is case-sensitive), the OData literal of a
value, and where a newly matched pair is synchronized."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import groupby
from typing import Any

from shared.domain.errors import InvalidInputError
from shared.domain.mapping import ConflictPolicy, Direction, FieldMapping, TableMapping
from shared.domain.transforms import normalize

Wanted = tuple[Any, ...]  # per criterion field: the value to find in Dataverse, None when not used


@dataclass(frozen=True)
class Criterion:
    priority: int
    fields: tuple[FieldMapping, ...]


def match_criteria(mapping: TableMapping, fields: Sequence[str] | None = None) -> list[Criterion]:
    """The criteria by priority. InvalidInputError (field `fields`): an unknown field, or none at all."""
    if fields is None:
        by_priority = groupby(mapping.match_fields(), key=lambda f: f.match_priority or 0)
        criteria = [Criterion(priority, tuple(group)) for priority, group in by_priority]
    else:
        enabled = [f for f in mapping.fields if f.enabled]
        picked: list[FieldMapping] = []
        for name in fields:
            found = [f for f in enabled if name in (f.key, f.bc_field)]
            if not found:
                raise InvalidInputError("unknownMatchField", f"{mapping.name} has no field '{name}'.", field="fields")
            picked += [f for f in found if f not in picked]
        criteria = [Criterion(0, tuple(picked))] if picked else []
    if not criteria:
        raise InvalidInputError("noMatchFields", f"{mapping.name} has no match fields: give `fields`.", field="fields")
    for f in (f for c in criteria for f in c.fields):
        if not f.bc_field or not f.dataverse_field:
            raise InvalidInputError("notMatchable", f"Field '{f.key}' is a constant: it cannot match.", field="fields")
    return criteria


def sync_directions(mapping: TableMapping) -> tuple[Direction, ...]:
    """Where a newly matched pair is synchronized. A one-way mapping goes its own way. With bcWins the pair goes
    toDataverse, and with dataverseWins fromDataverse. With none or merge it goes toDataverse first (BC's two-way
    values win, since the coupling was started from the BC records), then fromDataverse for the Dataverse-only
    fields, if any. This follows BC's "None -> both"."""
    if mapping.direction is not Direction.BIDIRECTIONAL:
        return (mapping.direction,)
    if mapping.conflict_policy is ConflictPolicy.BC_WINS:
        return (Direction.TO_DATAVERSE,)
    if mapping.conflict_policy is ConflictPolicy.DATAVERSE_WINS:
        return (Direction.FROM_DATAVERSE,)
    from_only = any(f.direction is Direction.FROM_DATAVERSE for f in mapping.fields if f.enabled)
    return (Direction.TO_DATAVERSE, Direction.FROM_DATAVERSE) if from_only else (Direction.TO_DATAVERSE,)


def odata_literal(value: Any, *, guid: bool = False) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if guid or isinstance(value, int | float | Decimal):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def fields_used(values: Wanted) -> tuple[bool, ...]:
    """Which fields of a criterion a record's values use (an empty BC value is not used)."""
    return tuple(value is not None for value in values)


def match_key(fields: Sequence[FieldMapping], values: Sequence[Any], used: tuple[bool, ...]) -> tuple[Any, ...]:
    """What two records must share to match: per used field the canonical value, case-folded unless the field is
    case-sensitive (a lookup's id is compared without case)."""
    key: list[Any] = [used]
    for f, value, is_used in zip(fields, values, used, strict=True):
        canonical = normalize(value) if is_used else None
        case_blind = f.lookup is not None or not f.case_sensitive_match
        key.append(canonical.casefold() if isinstance(canonical, str) and case_blind else canonical)
    return tuple(key)
