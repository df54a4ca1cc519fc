"""The mapping catalog is validated here, against the same schemas the emulators serve and BC's default mappings.

What is checked: names (unique, BC's); every BC property against API v2.0 (or, for page/custom sources, the canonical
names of the entity sources); every Dataverse attribute, lookup navigation and target set against the Dataverse
emulator's schema; transforms, lookups and dependencies (existing, acyclic, in run order); option sets never
bidirectional; filters accepted by the emulators' filter compilers; coverage of BC's defaults complete and exact;
and the validation of administrator overrides.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import pytest

from local.emulators.business_central.api.reads import resolver as bc_resolver
from local.emulators.business_central.pages.custom import custom_sets
from local.emulators.business_central.pages.query import resolver as page_resolver
from local.emulators.business_central.pages.schema import encode_member, load_pages
from local.emulators.business_central.schema import SCHEMA_DIR, Property
from local.emulators.business_central.schema import load_schema as load_bc
from local.emulators.dataverse.reads import resolver as dataverse_resolver
from local.emulators.dataverse.schema import load_schema as load_dataverse
from local.emulators.odata.filter import compile_filter
from local.emulators.odata.types import Resolver
from shared.connectors.business_central.entity_sources import DEFAULT_SOURCES
from shared.domain.mapping import Availability, ConflictPolicy, Direction, FieldMapping, TableMapping
from shared.domain.transforms import known_transform
from shared.engine.behaviours.rows import provided_bc_fields
from shared.mappings import (
    CATALOG,
    CONSTANT,
    OPTION_MAPS,
    InvalidOverride,
    get_mapping,
    mapping_names,
    with_overrides,
)

MAPPINGS = list(CATALOG.values())
IDS = [m.name for m in MAPPINGS]
DEFAULTS = json.loads((SCHEMA_DIR / "bc_default_mappings.json").read_text(encoding="utf-8"))["table_mappings"]

# Canonical sets served by several pages (entity_sources has one entry per page, each with its own entity name):
# the unit groups come from the item page and the resource page. Canonical name -> property of the item page.
PROPOSED_PAGE_SOURCES = {
    "unitGroup": ("unitGroups", "ItemUnitGroupList", {
        "code": "Code", "sourceType": "Source_Type", "sourceId": "Source_Id", "sourceNumber": "Item_No",
    }),
}  # fmt: skip


@dataclass(frozen=True)
class BcSource:
    """What a mapping's BC side offers: the names `bc_field` may use, and (when filterable) their typed properties."""

    names: frozenset[str]
    properties: Mapping[str, Property] | None = None
    resolve: Resolver | None = None  # the emulator's own $filter resolver for this source


@cache
def bc_source(mapping_name: str) -> BcSource | None:
    """The BC side of a mapping, from the entity sources (and the emulator that serves them); None when unknown."""
    mapping = CATALOG[mapping_name]
    sets = load_bc().sets
    for source in DEFAULT_SOURCES:
        if source.entity == mapping.bc_entity and source.kind == "api":
            assert mapping.bc_entity_set == source.name, mapping.name
            api = sets[source.name]
            return BcSource(frozenset(api.properties), api.properties, bc_resolver(api))
        if source.entity == mapping.bc_entity and source.kind == "page":
            assert mapping.bc_entity_set == source.custom_set, mapping.name
            custom = custom_sets()[mapping.bc_entity_set]  # the same canonical names, typed
            canonical = frozenset(name for name, _ in source.fields)
            return BcSource(canonical, custom.props, page_resolver(custom.props, f"Microsoft.NAV.{custom.name}"))
        if source.lines == mapping.bc_entity_set:  # a document's lines: the line entity set of its source
            lines = sets[source.lines]
            return BcSource(frozenset(lines.properties), lines.properties, bc_resolver(lines))
    if mapping.bc_entity in PROPOSED_PAGE_SOURCES:
        entity_set, service, names = PROPOSED_PAGE_SOURCES[mapping.bc_entity]
        assert mapping.bc_entity_set == entity_set
        page = load_pages().services[service]
        assert set(names.values()) <= set(page.fields), f"{service} lacks {set(names.values()) - set(page.fields)}"
        return BcSource(frozenset(names))
    return None


def field_id(mapping: TableMapping, field: FieldMapping) -> str:
    return f"{mapping.name}: {field.key}"


# -- names and registry -----------------------------------------------------------------------------------------


def test_names_are_unique_and_are_bcs_default_names() -> None:
    assert list(mapping_names()) == [m.name for m in MAPPINGS]
    assert len(set(mapping_names())) == len(MAPPINGS)
    assert all(name == mapping.name for name, mapping in CATALOG.items())
    assert set(CATALOG) == {table["name"] for table in DEFAULTS}


@pytest.mark.parametrize("table", DEFAULTS, ids=lambda t: f"{t['name']} {t.get('variant') or ''}".strip())
def test_each_default_table_mapping_has_its_bc_table_and_dataverse_table(table: dict[str, Any]) -> None:
    mapping = CATALOG[table["name"]]
    assert mapping.bc_default_table == table["bc_table"]
    assert mapping.dataverse_table == table["dataverse_entity"]


def test_get_mapping_names_the_known_ones_when_missing() -> None:
    assert get_mapping("CUSTOMER") is CATALOG["CUSTOMER"]
    with pytest.raises(KeyError, match="CUSTOMER"):
        get_mapping("CUSTOMERS")


def test_a_mapping_without_fields_is_disabled_and_an_enabled_one_has_a_known_bc_source() -> None:
    for mapping in MAPPINGS:
        if not mapping.fields:
            assert not mapping.enabled, mapping.name
            assert mapping.gaps, mapping.name
        if mapping.fields:
            assert bc_source(mapping.name) is not None, f"{mapping.name}: unknown BC source {mapping.bc_entity}"


@pytest.mark.parametrize("mapping", MAPPINGS, ids=IDS)
def test_field_keys_are_unique_and_directions_fit_the_mapping(mapping: TableMapping) -> None:
    keys = [f.key for f in mapping.fields]
    assert len(keys) == len(set(keys))
    for field in mapping.fields:
        assert field.bc_field or field.dataverse_field, field_id(mapping, field)
        assert mapping.direction.allows(field.direction), field_id(mapping, field)
        if field.bc_field is None or field.dataverse_field is None:
            assert field.constant is not None, f"{field_id(mapping, field)}: a one-sided field must be a constant"


# -- BC side ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mapping", [m for m in MAPPINGS if m.fields], ids=[m.name for m in MAPPINGS if m.fields])
def test_every_bc_field_exists_on_the_bc_source(mapping: TableMapping) -> None:
    source = bc_source(mapping.name)
    assert source is not None
    provided = provided_bc_fields(mapping)  # e.g. contact name parts: page 5055 or BC's breakdown (nameParts)
    unknown = sorted(f.bc_field for f in mapping.fields if f.bc_field and f.bc_field not in source.names | provided)
    assert unknown == [], f"{mapping.name} ({mapping.bc_entity_set}): {unknown}"


# -- Dataverse side ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mapping", MAPPINGS, ids=IDS)
def test_every_dataverse_field_exists_and_what_is_sent_is_writable(mapping: TableMapping) -> None:
    table = load_dataverse().tables[mapping.dataverse_table]
    assert table.entity_set == mapping.dataverse_entity_set
    assert mapping.dataverse_id in table.attributes
    for field in mapping.fields:
        if field.dataverse_field is None:
            continue
        attribute = table.attributes.get(field.dataverse_field)
        assert attribute is not None, f"{field_id(mapping, field)}: no attribute {field.dataverse_field}"
        if field.direction.allows(Direction.TO_DATAVERSE):
            assert not attribute.read_only, f"{field_id(mapping, field)}: {attribute.name} is read-only"
    for name in mapping.dataverse_on_create:
        assert name in table.attributes and not table.attributes[name].read_only, f"{mapping.name}: {name}"


@pytest.mark.parametrize("mapping", MAPPINGS, ids=IDS)
def test_lookups_use_a_bind_navigation_of_a_mapping_that_couples_that_table(mapping: TableMapping) -> None:
    schema = load_dataverse()
    table = schema.tables[mapping.dataverse_table]
    for field in mapping.fields:
        lookup = field.lookup
        if lookup is None:
            continue
        where = field_id(mapping, field)
        assert field.dataverse_field is not None and table.attributes[field.dataverse_field].kind == "lookup", where
        attribute, target = table.bind_navigations.get(lookup.navigation, (None, None))
        assert attribute == field.dataverse_field, f"{where}: {lookup.navigation} does not bind {field.dataverse_field}"
        assert target is not None and schema.tables[target].entity_set == lookup.target_entity_set, where
        looked_up = CATALOG.get(lookup.mapping)
        assert looked_up is not None, f"{where}: no mapping {lookup.mapping}"
        assert looked_up.dataverse_entity_set == lookup.target_entity_set, where
        assert lookup.bc_key == "id" or lookup.bc_entity_set is not None, f"{where}: a key other than id needs its set"
        if lookup.bc_entity_set is not None and lookup.bc_id_field != "id":  # a hop: a link row names the id
            hop = load_bc().sets[lookup.bc_entity_set].properties
            assert {lookup.bc_key, lookup.bc_id_field} <= set(hop), f"{where}: {lookup.bc_entity_set}"
        elif lookup.bc_entity_set is not None:
            source = bc_source(lookup.mapping)
            assert source is not None and lookup.bc_key in source.names, f"{where}: {lookup.bc_key}"
            if field.enabled:  # the resolver finds the BC id in this set, then the coupling in the looked-up mapping
                assert lookup.bc_entity_set == looked_up.bc_entity_set, where
        if lookup.bc_id_from:  # the record's own fields, then its value, make the looked-up record's key id
            own, target_source = bc_source(mapping.name), bc_source(lookup.mapping)
            assert lookup.bc_key == "id" and own is not None and target_source is not None, where
            fields = [name for name in (*lookup.bc_id_from, field.bc_field) if not (name or "=").startswith("=")]
            assert all(name in own.names or name == "id" for name in fields), where


# -- transforms and option sets ---------------------------------------------------------------------------------


@pytest.mark.parametrize("mapping", MAPPINGS, ids=IDS)
def test_transforms_are_known_and_option_maps_are_built_by_an_option_mapping(mapping: TableMapping) -> None:
    table = load_dataverse().tables[mapping.dataverse_table]
    for field in mapping.fields:
        if field.transform is None:
            continue
        assert known_transform(field.transform), field_id(mapping, field)
        if field.transform.startswith("option:"):
            assert field.transform.removeprefix("option:") in OPTION_MAPS, field_id(mapping, field)
            assert field.dataverse_field is not None
            assert table.attributes[field.dataverse_field].kind == "picklist", field_id(mapping, field)
            assert field.lookup is None


def test_option_set_mappings_are_never_bidirectional() -> None:
    """Option values have no modified-on: a change in Sales cannot be told from a new option, so only BC -> Sales."""
    schema = load_dataverse()
    option_mappings = [m for m in MAPPINGS if m.dataverse_id != schema.tables[m.dataverse_table].primary_id]
    assert {m.name for m in option_mappings} == set(OPTION_MAPS.values())
    for mapping in option_mappings:
        assert schema.tables[mapping.dataverse_table].attributes[mapping.dataverse_id].kind == "picklist"
        assert mapping.direction is not Direction.BIDIRECTIONAL, mapping.name
        assert all(f.direction is not Direction.BIDIRECTIONAL for f in mapping.fields), mapping.name
        assert all(f.dataverse_field == mapping.dataverse_id for f in mapping.fields), mapping.name


# -- dependencies, matching, filters ----------------------------------------------------------------------------


def test_dependencies_exist_are_acyclic_and_come_first() -> None:
    position = {name: index for index, name in enumerate(mapping_names())}
    for mapping in MAPPINGS:
        for dependency in mapping.dependencies:
            assert dependency in CATALOG, f"{mapping.name} -> {dependency}"
            # every dependency listed earlier than its dependant: a topological order, so there is no cycle
            assert position[dependency] < position[mapping.name], f"{mapping.name} -> {dependency}"


@pytest.mark.parametrize("mapping", MAPPINGS, ids=IDS)
def test_match_criteria_are_usable(mapping: TableMapping) -> None:
    for field in mapping.match_fields():
        assert field.match_priority is not None and field.match_priority >= 1
        assert field.dataverse_field is not None and field.bc_field is not None
        if field.lookup is not None:  # a lookup only narrows (a unit's group): its priority also compares a value
            same = [f for f in mapping.match_fields() if f.match_priority == field.match_priority]
            assert any(f.lookup is None for f in same), f"{mapping.name}: {field.key} alone cannot identify a record"
    if mapping.create_if_no_match:
        assert mapping.match_fields(), f"{mapping.name} creates when nothing matches, so it must match on something"


@pytest.mark.parametrize("mapping", [m for m in MAPPINGS if m.bc_filter], ids=[m.name for m in MAPPINGS if m.bc_filter])
def test_bc_filters_compile_against_the_bc_emulator(mapping: TableMapping) -> None:
    assert mapping.bc_filter is not None
    source = bc_source(mapping.name)
    if source is None:
        assert not mapping.enabled and not mapping.fields  # gap-only: its BC source does not exist
        return
    assert source.properties is not None and source.resolve is not None, f"{mapping.name}: no filterable source"
    compile_filter(mapping.bc_filter, source.resolve, case_insensitive=False)
    # the compiler takes any text for an enum: check the members too (BC compares them exactly)
    for name, value in re.findall(r"(\w+) (?:eq|ne) '([^']*)'", mapping.bc_filter):
        members = source.properties[name].enum_members
        if members:
            assert value in set(members) | {encode_member(m) for m in members}, f"{mapping.name}: {name} {value!r}"


@pytest.mark.parametrize(
    "mapping", [m for m in MAPPINGS if m.dataverse_filter], ids=[m.name for m in MAPPINGS if m.dataverse_filter]
)
def test_dataverse_filters_compile_against_the_dataverse_emulator(mapping: TableMapping) -> None:
    assert mapping.dataverse_filter is not None
    table = load_dataverse().tables[mapping.dataverse_table]
    compile_filter(mapping.dataverse_filter, dataverse_resolver(table), case_insensitive=True)


# -- coverage of BC's defaults ----------------------------------------------------------------------------------


def default_keys(name: str) -> set[tuple[str, str | None]]:
    """(BC field or CONSTANT, Dataverse attribute) of every default field mapping of every variant of `name`."""
    return {
        (row["bc_field"] or CONSTANT, row["dataverse_attribute"])
        for table in DEFAULTS
        if table["name"] == name
        for row in table["fields"]
    }


def covered_keys(mapping: TableMapping) -> list[tuple[str, str | None]]:
    mapped = [(f.bc_default_field, f.dataverse_field) for f in mapping.fields if f.bc_default_field is not None]
    return mapped + [(g.bc_default_field, g.dataverse_field) for g in mapping.gaps]


@pytest.mark.parametrize("mapping", MAPPINGS, ids=IDS)
def test_coverage_of_bcs_default_fields_is_complete_and_exact(mapping: TableMapping) -> None:
    covered = covered_keys(mapping)
    expected = default_keys(mapping.name)
    assert len(covered) == len(set(covered)), f"{mapping.name}: a default is covered twice"
    assert sorted(expected - set(covered), key=str) == [], f"{mapping.name}: BC defaults not covered"
    assert sorted(set(covered) - expected, key=str) == [], f"{mapping.name}: covered but not a BC default"


@pytest.mark.parametrize("mapping", MAPPINGS, ids=IDS)
def test_every_gap_says_why(mapping: TableMapping) -> None:
    for gap in mapping.gaps:
        assert gap.availability in (Availability.NOT_AVAILABLE, Availability.MAPPED_DIFFERENTLY), gap
        assert len(gap.reason) > 20 and gap.reason.endswith("."), gap


def test_every_default_field_mapping_of_bc_is_accounted_for() -> None:
    total = sum(len(default_keys(name)) for name in CATALOG)
    assert total == sum(len(covered_keys(m)) for m in MAPPINGS) == 208


# -- overrides --------------------------------------------------------------------------------------------------

CUSTOMER = CATALOG["CUSTOMER"]


def test_narrowing_the_direction_narrows_two_way_fields_and_switches_off_the_other_way() -> None:
    contact = with_overrides(CATALOG["CONTACT"], {"direction": "toDataverse"})
    assert contact.direction is Direction.TO_DATAVERSE
    by_key = {f.key: f for f in contact.fields}
    assert by_key["email>emailaddress1"].direction is Direction.TO_DATAVERSE
    assert by_key["displayName>fullname"].enabled is False
    assert all(f.direction is not Direction.BIDIRECTIONAL for f in contact.fields)
    assert CATALOG["CONTACT"].direction is Direction.BIDIRECTIONAL  # the catalog itself is untouched


@pytest.mark.parametrize(
    ("name", "overrides", "field"),
    [
        ("CURRENCY", {"direction": "bidirectional"}, "direction"),  # only narrowing
        ("CUSTOMER", {"direction": "sideways"}, "direction"),
        ("CUSTOMER", {"enabled": "yes"}, "enabled"),
        ("CUSTOMER", {"name": "X"}, "name"),
        ("CUSTOMER", {"fields": {"nope>nope": {"enabled": True}}}, "fields.nope>nope"),
        ("CUSTOMER", {"fields": {"displayName>name": {"transform": "upper"}}}, "fields.displayName>name"),
        ("CUSTOMER", {"fields": {"displayName>name": {"enabled": 1}}}, "fields.displayName>name.enabled"),
        ("CUSTOMER", {"fields": []}, "fields"),
        ("CUSTOMER", {"bcFilter": 3}, "bcFilter"),
        ("CUSTOMER", {"syncOnlyCoupled": False, "sync_only_coupled": True}, "sync_only_coupled"),
        ("CUSTOMER", {"deletion_policy": "whatever"}, "deletion_policy"),
    ],
)
def test_invalid_overrides_name_the_offending_key(name: str, overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidOverride) as raised:
        with_overrides(CATALOG[name], overrides)
    assert isinstance(raised.value, ValueError)
    assert raised.value.code == "invalidOverride"
    assert raised.value.field == field


def test_overrides_apply_the_allowed_attributes_in_either_spelling() -> None:
    changed = with_overrides(
        CUSTOMER,
        {
            "enabled": False,
            "conflictPolicy": "bcWins",
            "deletion_policy": "removeCoupling",
            "syncOnlyCoupled": False,
            "create_if_no_match": True,
            "bcFilter": "  blocked ne 'All' ",
            "dataverse_filter": "",
            "fields": {"number>accountnumber": {"enabled": True}, "city>address1_city": {"enabled": False}},
        },
    )
    assert not changed.enabled and changed.conflict_policy is ConflictPolicy.BC_WINS
    assert changed.deletion_policy.value == "removeCoupling"
    assert not changed.sync_only_coupled and changed.create_if_no_match
    assert changed.bc_filter == "blocked ne 'All'" and changed.dataverse_filter is None
    by_key = {f.key: f for f in changed.fields}
    assert by_key["number>accountnumber"].enabled and not by_key["city>address1_city"].enabled
    assert with_overrides(CUSTOMER, {}) == CUSTOMER


def test_overrides_refuse_what_the_mapping_cannot_do() -> None:
    with pytest.raises(InvalidOverride, match="no field mappings"):
        with_overrides(CATALOG["SHIPPING AGENT"], {"enabled": True})
    with pytest.raises(InvalidOverride) as raised:
        with_overrides(CATALOG["CURRENCY"], {"conflictPolicy": "bcWins"})
    assert raised.value.field == "conflictPolicy"
    with pytest.raises(InvalidOverride) as raised:
        narrowed = {"direction": "toDataverse", "fields": {"displayName>fullname": {"enabled": True}}}
        with_overrides(CATALOG["CONTACT"], narrowed)
    assert raised.value.field == "fields.displayName>fullname"
    with pytest.raises(InvalidOverride) as raised:
        with_overrides(CUSTOMER, ["enabled"])  # type: ignore[arg-type]
    assert raised.value.field == "overrides"
