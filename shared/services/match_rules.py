"""BC's matching rules, without I/O (`services/matching.py` runs them): the criteria by priority, what two records
must share to match (the canonical value, case-folded unless the field is case-sensitive), the OData literal of a
value, and where a newly matched pair is synchronized.

Criteria chosen per job (`Choice`, the API's `criteria`): BC's "Match Based Coupling Criteria" page lets the admin
tick "Match on this Field", "Case-sensitive Matching" and a "Match Priority" per field mapping before the job starts
(MatchBasedCouplingCriteria.Page.al). A choice overrides the mapping's own match fields for that job only: the fields
chosen, each with its priority and case, grouped by priority (lowest first), all fields of one priority matched
together, as the mapping's own criteria are. The fields that can match are the enabled field mappings with a field on
both sides (`matchable_fields`): a constant has no BC value to look for."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from itertools import groupby
from typing import Any

from shared.domain.errors import InvalidInputError
from shared.domain.jobs import MatchChoice
from shared.domain.mapping import ConflictPolicy, Direction, FieldMapping, TableMapping
from shared.domain.transforms import normalize

Wanted = tuple[Any, ...]  # per criterion field: the value to find in Dataverse, None when not used


MIN_PRIORITY, MAX_PRIORITY = 1, 100  # what a job's criteria take as "Match Priority"
Choice = MatchChoice  # one field chosen for a job (the API's `criteria[i]`; the queue message carries it)


@dataclass(frozen=True)
class Criterion:
    priority: int
    fields: tuple[FieldMapping, ...]


def matchable_fields(mapping: TableMapping) -> tuple[FieldMapping, ...]:
    """The fields a job may match on: enabled, with a BC field and a Dataverse field (not a constant)."""
    return tuple(f for f in mapping.fields if f.enabled and f.bc_field and f.dataverse_field)


def chosen_criteria(mapping: TableMapping, choices: Sequence[Choice]) -> list[Criterion]:
    """A job's own criteria (module docstring). InvalidInputError naming `criteria[i].field` (an unknown, constant
    or repeated field) or `criteria[i].priority` (out of range), `criteria` when there is none."""
    if not choices:
        raise InvalidInputError("noMatchFields", "Choose at least one field to match on.", field="criteria")
    matchable, seen = matchable_fields(mapping), set[str]()
    chosen: list[FieldMapping] = []
    for index, choice in enumerate(choices):
        where = f"criteria[{index}]"
        if not MIN_PRIORITY <= choice.priority <= MAX_PRIORITY:
            raise InvalidInputError(
                "invalidValue",
                f"'{where}.priority' must be a whole number from {MIN_PRIORITY} to {MAX_PRIORITY}.",
                field=f"{where}.priority",
            )
        found = [f for f in mapping.fields if f.enabled and choice.field in (f.key, f.bc_field)]
        if not found:
            raise InvalidInputError(
                "unknownMatchField", f"{mapping.name} has no field '{choice.field}'.", field=f"{where}.field"
            )
        if any(f not in matchable for f in found):
            raise InvalidInputError(
                "notMatchable", f"Field '{choice.field}' is a constant: it cannot match.", field=f"{where}.field"
            )
        if any(f.key in seen for f in found):
            raise InvalidInputError(
                "duplicateMatchField", f"Field '{choice.field}' is chosen twice.", field=f"{where}.field"
            )
        seen.update(f.key for f in found)
        chosen += [
            replace(f, match_priority=choice.priority, case_sensitive_match=choice.case_sensitive) for f in found
        ]
    chosen.sort(key=lambda f: f.match_priority or 0)  # stable: fields of one priority keep the order given
    return [
        Criterion(priority, tuple(group)) for priority, group in groupby(chosen, key=lambda f: f.match_priority or 0)
    ]


def match_criteria(
    mapping: TableMapping, fields: Sequence[str] | None = None, choices: Sequence[Choice] | None = None
) -> list[Criterion]:
    """The criteria by priority: the job's `choices` when given, else the mapping's own. InvalidInputError (field
    `fields`): an unknown field, or none at all; `criteria` when both are given (see `chosen_criteria`)."""
    if choices is not None:
        if fields is not None:
            raise InvalidInputError("fieldsOrCriteria", "Give `fields` or `criteria`, not both.", field="criteria")
        return chosen_criteria(mapping, choices)
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


def as_choices(criteria: Sequence[Criterion]) -> tuple[Choice, ...]:
    """The criteria as a job's choices (what its queue message carries): each field by its key, with its priority
    (the one priority `fields` makes counts as the first) and its case."""
    return tuple(
        Choice(f.key, max(criterion.priority, MIN_PRIORITY), f.case_sensitive_match)
        for criterion in criteria
        for f in criterion.fields
    )


def criteria_json(mapping: TableMapping) -> dict[str, Any]:
    """What the console's criteria editor starts from: every matchable field with the mapping's own choice for it
    (`use`: a match field of the mapping; its priority, or null; its case), and the mapping's defaults."""
    return {
        "mapping": mapping.name,
        "createIfNoMatch": mapping.create_if_no_match,
        "synchronizeAfter": mapping.sync_after_coupling,
        "canCreate": mapping.direction.allows(Direction.TO_DATAVERSE),
        "fields": [
            {
                "key": f.key,
                "bcField": f.bc_field,
                "dataverseField": f.dataverse_field,
                "use": f.match_priority is not None,
                "priority": _priority(f) if f.match_priority is not None else None,
                "caseSensitive": f.case_sensitive_match,
            }
            for f in matchable_fields(mapping)
        ],
        "criteria": [
            {"field": f.key, "priority": _priority(f), "caseSensitive": f.case_sensitive_match}
            for f in mapping.match_fields()
        ],
    }


def _priority(f: FieldMapping) -> int:
    """A mapping's match priority as a job takes it (BC's blank priority, 0, is the first)."""
    return min(max(f.match_priority or 0, MIN_PRIORITY), MAX_PRIORITY)


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
