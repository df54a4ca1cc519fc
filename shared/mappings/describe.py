"""A mapping as JSON-ready data: what `GET /api/mappings` returns and what `docs/mappings.md` is rendered from.

Why one function for both: the API and the documentation must never disagree about a mapping, so both read the same
dictionary. Keys are camelCase (the HTTP API's convention); values are plain JSON (strings, numbers, booleans, lists,
objects), enums by value.

Coverage: a BC default field mapping is *mapped* when a field mapping names it in `bc_default_field` (enabled or
not: BC also ships some of its defaults disabled), otherwise it is a gap (*mapped differently* or *not available*);
field mappings without a BC default are *additional* (things BC does in code, or our own).
"""

from __future__ import annotations

from typing import Any

from shared.domain.mapping import Availability, Direction, FieldMapping, Gap, Lookup, TableMapping
from shared.mappings.overrides import field_directions, takes_constant

COVERAGE_KINDS = (Availability.MAPPED, Availability.MAPPED_DIFFERENTLY, Availability.NOT_AVAILABLE)


def describe_lookup(lookup: Lookup | None) -> dict[str, Any] | None:
    if lookup is None:
        return None
    return {
        "mapping": lookup.mapping,
        "targetEntitySet": lookup.target_entity_set,
        "navigation": lookup.navigation,
        "bcKey": lookup.bc_key,
        "bcEntitySet": lookup.bc_entity_set,
        "bcIdFrom": list(lookup.bc_id_from),
    }


def describe_field(
    field: FieldMapping, catalog: FieldMapping | None = None, mapping_direction: Direction | None = None
) -> dict[str, Any]:
    """The field as it runs; `directions` and `takesConstant` say what an override may make of it, from the catalog's
    field (`catalog`, when `field` has overrides applied) under the mapping's direction as it runs."""
    own = catalog or field
    return {
        "key": field.key,
        "bcField": field.bc_field,
        "dataverseField": field.dataverse_field,
        "direction": field.direction.value,
        "constant": field.constant,
        "transform": field.transform,
        "lookup": describe_lookup(field.lookup),
        "clearOnFailedLookup": field.clear_on_failed_lookup,
        "matchPriority": field.match_priority,
        "caseSensitiveMatch": field.case_sensitive_match,
        "enabled": field.enabled,
        "bcDefaultField": field.bc_default_field,
        "note": field.note,
        "directions": field_directions(own, mapping_direction or field.direction),
        "takesConstant": takes_constant(own),
    }


def describe_gap(gap: Gap) -> dict[str, Any]:
    return {
        "bcDefaultField": gap.bc_default_field,
        "dataverseField": gap.dataverse_field,
        "availability": gap.availability.value,
        "reason": gap.reason,
    }


def how(field: FieldMapping) -> str:
    """A one-line account of how a field travels, e.g. `currencyCode via CURRENCY (bidirectional)`."""
    source = field.bc_field or "constant"
    if field.constant is not None:
        source += f" = {field.constant!r}"
    if field.lookup is not None:
        source += f" via {field.lookup.mapping}"
    if field.transform is not None:
        source += f" through {field.transform}"
    return f"{source} ({field.direction.value})"


def coverage_rows(mapping: TableMapping) -> list[dict[str, Any]]:
    """One row per BC default field mapping: mapped ones first (in field order), then the gaps (in gap order)."""
    rows = [
        {
            "bcDefaultField": f.bc_default_field,
            "dataverseField": f.dataverse_field,
            "coverage": Availability.MAPPED.value,
            "enabled": f.enabled,
            "detail": how(f),
        }
        for f in mapping.fields
        if f.bc_default_field is not None
    ]
    rows += [
        {
            "bcDefaultField": g.bc_default_field,
            "dataverseField": g.dataverse_field,
            "coverage": g.availability.value,
            "enabled": None,
            "detail": g.reason,
        }
        for g in mapping.gaps
    ]
    return rows


def coverage_counts(mapping: TableMapping) -> dict[str, int]:
    rows = coverage_rows(mapping)
    counts = {kind.value: sum(1 for row in rows if row["coverage"] == kind.value) for kind in COVERAGE_KINDS}
    counts["total"] = len(rows)
    counts["additional"] = sum(1 for f in mapping.fields if f.bc_default_field is None)
    return counts


def describe(mapping: TableMapping, catalog: TableMapping | None = None) -> dict[str, Any]:
    """Every attribute of the mapping, its fields and gaps, and its coverage counts against BC's defaults; with the
    `catalog`'s mapping (when `mapping` has overrides applied) each field's choices are the catalog field's."""
    own = {f.key: f for f in (catalog or mapping).fields}
    return {
        "name": mapping.name,
        "enabled": mapping.enabled,
        "bcEntity": mapping.bc_entity,
        "bcEntitySet": mapping.bc_entity_set,
        "bcDefaultTable": mapping.bc_default_table,
        "dataverseTable": mapping.dataverse_table,
        "dataverseEntitySet": mapping.dataverse_entity_set,
        "dataverseId": mapping.dataverse_id,
        "direction": mapping.direction.value,
        "bcFilter": mapping.bc_filter,
        "dataverseFilter": mapping.dataverse_filter,
        "dependencies": list(mapping.dependencies),
        "syncOnlyCoupled": mapping.sync_only_coupled,
        "conflictPolicy": mapping.conflict_policy.value,
        "deletionPolicy": mapping.deletion_policy.value,
        "createIfNoMatch": mapping.create_if_no_match,
        "syncAfterCoupling": mapping.sync_after_coupling,
        "dataverseOnCreate": dict(mapping.dataverse_on_create),
        "bcOnCreate": dict(mapping.bc_on_create),
        "schedule": mapping.schedule,
        "note": mapping.note,
        "fields": [describe_field(f, own.get(f.key), mapping.direction) for f in mapping.fields],
        "gaps": [describe_gap(g) for g in mapping.gaps],
        "coverage": coverage_counts(mapping),
        "coverageRows": coverage_rows(mapping),
    }
