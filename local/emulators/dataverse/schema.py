"""The Dataverse emulator's schema: `schemas/dataverse.json` (the shared facts, copied verbatim) plus our overlay.

Why an overlay rather than an edited copy: the shared facts stay diffable against their source, and every addition
(lookup targets, read-only rules, the tables the facts file lacks) is written down in one place with its reason.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"

# CRM attribute type -> the emulator's value kind
_KINDS = {
    "Uniqueidentifier": "guid",
    "String": "string",
    "Memo": "string",
    "Picklist": "picklist",
    "State": "state",
    "Status": "status",
    "Boolean": "bool",
    "Integer": "int",
    "BigInt": "int",
    "Decimal": "decimal",
    "Double": "decimal",
    "Money": "decimal",
    "DateTime": "datetime",
    "DateOnly": "date",
    "Lookup": "lookup",
    "Customer": "lookup",
    "Owner": "lookup",
    "EntityName": "entityname",
}
EDM_OF_KIND = {
    "guid": "guid",
    "string": "string",
    "picklist": "int",
    "state": "int",
    "status": "int",
    "bool": "bool",
    "int": "int",
    "decimal": "decimal",
    "datetime": "datetime",
    "date": "date",
    "lookup": "guid",
    "entityname": "string",
}
# Lookups bound by `<name>_<table>` even when the emulator serves only one of their targets: a step's
# `eventhandler` is a plug-in type or a service endpoint (`eventhandler_serviceendpoint@odata.bind`,
# register-web-hook.md), and the emulator has no plug-in types.
POLYMORPHIC = frozenset({"regardingobjectid", "objectid", "eventhandler"})
DEFAULT_MEMO_LENGTH = 2000
DEFAULT_STRING_LENGTH = 100


@dataclass(frozen=True)
class Attribute:
    name: str
    kind: str
    max_length: int | None = None
    options: frozenset[int] | None = None
    targets: tuple[str, ...] = ()
    read_only: bool = False
    create_only: bool = False
    not_valid_for_create: bool = False
    crm_type: str = ""  # the facts' CRM type (String, Memo, Money, Customer, ...): what metadata reports

    @property
    def read_name(self) -> str:
        """The name a row carries for this attribute: `_x_value` for lookups, as the Web API returns them."""
        return f"_{self.name}_value" if self.kind == "lookup" else self.name


@dataclass
class Table:
    logical_name: str
    entity_set: str
    primary_id: str
    primary_name: str
    attributes: dict[str, Attribute]
    states: dict[int, str] = field(default_factory=dict)
    statuses: dict[int, tuple[str, int]] = field(default_factory=dict)
    change_tracking: bool = False
    required: tuple[str, ...] = ()
    collection_navigations: dict[str, tuple[str, str]] = field(default_factory=dict)
    auto_number: dict[str, str] = field(default_factory=dict)
    parent_lookup: str | None = None
    read_only_unless_state: int | None = None
    read_only_in_states: tuple[int, ...] = ()
    no_update: bool = False
    draft_on_create: bool = False
    defaults: dict[str, Any] = field(default_factory=dict)
    # alternate keys: key schema name -> its attribute (read) names (overlay `alternateKeys`)
    alternate_keys: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # picklist attribute -> {value: label}: what EntityDefinitions serves as the attribute's OptionSet
    option_labels: dict[str, dict[int, str]] = field(default_factory=dict)
    # navigation name used in `x@odata.bind` -> (attribute, target logical name); for an Owner column the first
    # target (systemuser), the others it also takes are in `bind_targets`
    bind_navigations: dict[str, tuple[str, str]] = field(default_factory=dict)
    # navigation name -> every table a bind through it may point at
    bind_targets: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # `_x_value` -> attribute
    by_read_name: dict[str, Attribute] = field(default_factory=dict)

    @property
    def type_name(self) -> str:
        return f"Microsoft.Dynamics.CRM.{self.logical_name}"

    def default_status(self, state: int) -> int:
        """The first status listed for a state is its default (as the facts' state_notes give them)."""
        for status, (_, owner) in self.statuses.items():
            if owner == state:
                return status
        raise KeyError(state)


def _length(text: str) -> int | None:
    match = re.search(r"(?:Text|Code|String|Memo)\[?\(?(\d+)", text)
    return int(match.group(1)) if match else None


def _option_labels(field_def: dict[str, Any]) -> dict[int, str]:
    """The proxy table's option members by value (AL member names such as `PreferredCustomer`, not Dataverse's
    display labels: UNCONFIRMED as labels; the placeholder member -1 is left out)."""
    values = [v.strip() for v in (field_def.get("option_values") or "").split(",")]
    names = [n.strip().strip('"') for n in (field_def.get("options") or "").split(",")]
    pairs = {int(v): n for v, n in zip(values, names, strict=False) if v.lstrip("-").isdigit() and int(v) >= 0}
    return pairs if len(pairs) > 1 else {}


def _options(field_def: dict[str, Any]) -> frozenset[int] | None:
    raw = field_def.get("option_values")
    if not raw:
        return None
    values = frozenset(int(v) for v in raw.split(",") if v.strip() and int(v) >= 0)
    # a proxy table generated against an org without the option set lists only a placeholder: don't guess
    return values if len(values) > 1 else None


def _build_attribute(
    name: str,
    crm_type: str,
    length: int | None,
    options: frozenset[int] | None,
    overlay: dict[str, Any],
    entity: dict[str, Any],
) -> Attribute:
    kind = _KINDS[crm_type]
    targets: tuple[str, ...] = ()
    read_only = name in overlay["readOnlyAttributes"] or name in entity.get("readOnly", []) or kind == "entityname"
    read_only = read_only or name.endswith("_base")
    if kind == "lookup":
        known = overlay["lookupTargets"].get(name)
        if name == "masterid":
            known = [entity["_logical"]]
        targets = tuple(known or ())
        read_only = read_only or not targets
    if kind == "string":
        length = entity.get("maxLengths", {}).get(name, length)
        if length is None:
            length = DEFAULT_MEMO_LENGTH if crm_type == "Memo" else DEFAULT_STRING_LENGTH
    return Attribute(
        name=name,
        kind=kind,
        max_length=length if kind == "string" else None,
        options=options,
        targets=targets,
        read_only=read_only,
        create_only=name in entity.get("createOnly", []),
        not_valid_for_create=name in entity.get("notValidForCreate", []),
        crm_type=crm_type,
    )


def _doc_lengths(entity: dict[str, Any]) -> dict[str, int]:
    """Lengths quoted from the reference docs (key_attributes) win over the proxy tables' (notes in the facts)."""
    lengths: dict[str, int] = {}
    for name, description in entity.get("key_attributes", {}).items():
        match = re.search(r"(?:String|Memo)\((\d+)\)", description)
        if match:
            lengths[name] = int(match.group(1))
    return lengths


def _add_system_attributes(attributes: dict[str, Attribute], overlay: dict[str, Any]) -> None:
    """Every Dataverse table has these, set by the platform: always present and always read-only."""
    for name, spec in overlay["systemAttributes"].items():
        kind = _KINDS[spec["type"]]
        targets = tuple(spec.get("targets", ()))
        attributes[name] = Attribute(name, kind, targets=targets, read_only=True, crm_type=spec["type"])


def _finish(table: Table, overlay_entity: dict[str, Any]) -> Table:
    for name, attribute in table.attributes.items():
        table.by_read_name[attribute.read_name] = attribute
        if attribute.kind != "lookup" or attribute.read_only:
            continue
        if attribute.crm_type == "Owner":
            # one navigation of type principal for every owner table (dataverse_overlay.json `_lookupNotes`)
            table.bind_navigations[name] = (name, attribute.targets[0])
            table.bind_targets[name] = attribute.targets
        elif len(attribute.targets) == 1 and name not in POLYMORPHIC:
            table.bind_navigations[name] = (name, attribute.targets[0])
            table.bind_targets[name] = attribute.targets
        else:
            for target in attribute.targets:
                table.bind_navigations[f"{name}_{target}"] = (name, target)
                table.bind_targets[f"{name}_{target}"] = (target,)
    table.change_tracking = bool(overlay_entity.get("changeTracking"))
    table.required = tuple(overlay_entity.get("required", ()))
    table.collection_navigations = {k: (v[0], v[1]) for k, v in overlay_entity.get("collectionNavigations", {}).items()}
    table.auto_number = dict(overlay_entity.get("autoNumber", {}))
    table.parent_lookup = overlay_entity.get("parent")
    table.read_only_unless_state = overlay_entity.get("readOnlyUnlessState")
    table.read_only_in_states = tuple(overlay_entity.get("readOnlyInStates", ()))
    table.no_update = bool(overlay_entity.get("noUpdate"))
    table.draft_on_create = bool(overlay_entity.get("draftOnCreate"))
    table.defaults = dict(overlay_entity.get("defaults", {}))
    table.alternate_keys = {k["schemaName"]: tuple(k["attributes"]) for k in overlay_entity.get("alternateKeys", ())}
    for name, options in overlay_entity.get("optionSets", {}).items():
        table.option_labels[name] = {int(value): label for value, label in options.items()}
    return table


def _states(entity: dict[str, Any]) -> tuple[dict[int, str], dict[int, tuple[str, int]]]:
    states = {int(k): v for k, v in entity.get("statecode", {}).items()}
    statuses = {int(k): (v[0], int(v[1])) for k, v in entity.get("statuscode", {}).items()}
    return states, statuses


def _from_facts(logical: str, entity: dict[str, Any], overlay: dict[str, Any]) -> Table:
    overlay_entity = {**overlay["entities"].get(logical, {}), "_logical": logical}
    overlay_entity.setdefault("maxLengths", {})
    overlay_entity["maxLengths"] = {**_doc_lengths(entity), **overlay_entity["maxLengths"]}
    attributes: dict[str, Attribute] = {}
    for field_def in entity["bc_crm_proxy_table"]["fields"]:
        name = field_def["attr"]
        attributes[name] = _build_attribute(
            name, field_def["crm_type"], _length(field_def["al_type"]), _options(field_def), overlay, overlay_entity
        )
    _add_system_attributes(attributes, overlay)
    primary = entity["primaryId"]
    attributes[primary] = Attribute(primary, "guid", crm_type="Uniqueidentifier")
    states, statuses = _states(entity)
    table = Table(logical, entity["entitySet"], primary, entity["primaryName"], attributes, states, statuses)
    for field_def in entity["bc_crm_proxy_table"]["fields"]:
        if field_def["crm_type"] == "Picklist" and (labels := _option_labels(field_def)):
            table.option_labels[field_def["attr"]] = labels
    return _finish(table, overlay_entity)


def _defined_options(type_text: str) -> frozenset[int] | None:
    """`Picklist(0,1,2,3)`: a defined picklist that takes only these values; a bare `Picklist` takes any."""
    match = re.fullmatch(r"Picklist\(([-\d,\s]+)\)", type_text.strip())
    return frozenset(int(value) for value in match.group(1).split(",")) if match else None


def _from_definition(logical: str, overlay_entity: dict[str, Any], overlay: dict[str, Any]) -> Table:
    definition = overlay_entity["define"]
    entity = {**overlay_entity, "_logical": logical, "maxLengths": {}}
    attributes: dict[str, Attribute] = {}
    for name, type_text in definition["attributes"].items():
        crm_type = type_text.split("(")[0]
        options = _defined_options(type_text) if crm_type == "Picklist" else None
        attributes[name] = _build_attribute(name, crm_type, _length(type_text), options, overlay, entity)
    _add_system_attributes(attributes, overlay)
    states, statuses = _states(definition)
    table = Table(
        logical,
        definition["entitySet"],
        definition["primaryId"],
        definition["primaryName"],
        attributes,
        states,
        statuses,
    )
    return _finish(table, overlay_entity)


@dataclass
class Schema:
    tables: dict[str, Table]
    by_entity_set: dict[str, Table]

    def table_for_set(self, entity_set: str) -> Table | None:
        return self.by_entity_set.get(entity_set)


@cache
def load_schema() -> Schema:
    """Build the schema once per process (the files are read at first use, never at import)."""
    facts = json.loads((SCHEMA_DIR / "dataverse.json").read_text(encoding="utf-8"))
    overlay = json.loads((SCHEMA_DIR / "dataverse_overlay.json").read_text(encoding="utf-8"))
    tables: dict[str, Table] = {}
    for logical, entity in facts["entities"].items():
        tables[logical] = _from_facts(logical, entity, overlay)
    for logical, overlay_entity in overlay["entities"].items():
        if "define" in overlay_entity:
            tables[logical] = _from_definition(logical, overlay_entity, overlay)
    return Schema(tables, {t.entity_set: t for t in tables.values()})
