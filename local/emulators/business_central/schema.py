"""The BC emulator's schema: `schemas/bc_api_v2.json` (shared facts, verbatim), the API v2.0 sets those facts do not
list yet (`schemas/bc_api_v2_additions.json`, each with its source), plus `schemas/bc_overlay.json`.

Each API v2.0 entity set becomes an `EntitySet` of typed properties (AL type and length, read-only flag, enum
members in their OData form), navigation parts and bound actions; the overlay adds number series, documents with
lines, wholly read-only sets and the references a body may give by id or by number.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"
EDM_OF_KIND = {
    "guid": "guid",
    "code": "string",
    "text": "string",
    "decimal": "decimal",
    "int": "int",
    "bool": "bool",
    "date": "date",
    "datetime": "datetime",
    "enum": "enum",
    "computed": "string",
}


@dataclass(frozen=True)
class Property:
    name: str
    kind: str
    max_length: int | None = None
    read_only: bool = False
    enum_members: tuple[str, ...] = ()


@dataclass(frozen=True)
class NumberSeries:
    prefix: str
    start: int
    step: int
    width: int

    def format(self, index: int) -> str:
        return f"{self.prefix}{self.start + index * self.step:0{self.width}d}"


@dataclass
class EntitySet:
    name: str
    entity_name: str
    properties: dict[str, Property]
    navigation: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (entity set, multiplicity)
    actions: frozenset[str] = frozenset()
    read_only: bool = False
    insert_allowed: bool = True
    lines: str | None = None  # the line entity set of a document
    parent: str | None = None  # the document entity set of a line set
    parent_key: str = "documentId"
    number_series: NumberSeries | None = None
    number_writable: bool = False

    @property
    def type_name(self) -> str:
        return f"Microsoft.NAV.{self.entity_name}"


def _property(spec: dict[str, Any], system_read_only: set[str]) -> Property:
    al_type = spec.get("al_type", "")
    match = re.match(r"(Code|Text)\[(\d+)\]", al_type)
    read_only = bool(spec.get("read_only")) or spec["name"] in system_read_only
    if match:
        kind = "code" if match.group(1) == "Code" else "text"
        return Property(spec["name"], kind, int(match.group(2)), read_only)
    if al_type.startswith("Enum"):
        members = tuple(spec.get("enum_values_odata") or spec.get("enum_values") or ())
        return Property(spec["name"], "enum", None, read_only, members)
    simple = {
        "Guid": "guid",
        "Decimal": "decimal",
        "Integer": "int",
        "Boolean": "bool",
        "Date": "date",
        "DateTime": "datetime",
        "Text": "text",
        "DateFormula": "text",
    }
    simple_kind = simple.get(al_type.split(" ")[0])
    if simple_kind is None:  # computed in page code ("?(expression)", "= ...")
        return Property(spec["name"], "computed", None, True)
    return Property(spec["name"], simple_kind, 250 if simple_kind == "text" else None, read_only)


@dataclass
class Schema:
    sets: dict[str, EntitySet]
    overlay: dict[str, Any]
    series: dict[str, NumberSeries] = field(default_factory=dict)

    def get(self, name: str) -> EntitySet | None:
        return self.sets.get(name)

    @property
    def references(self) -> dict[str, dict[str, str]]:
        refs: dict[str, dict[str, str]] = self.overlay["references"]
        return refs


@cache
def load_schema() -> Schema:
    """Read once per process, at first use (never at import)."""
    facts = json.loads((SCHEMA_DIR / "bc_api_v2.json").read_text(encoding="utf-8"))["entitySets"]
    additions = json.loads((SCHEMA_DIR / "bc_api_v2_additions.json").read_text(encoding="utf-8"))["entitySets"]
    facts = {**facts, **{name: spec for name, spec in additions.items() if name not in facts}}
    overlay = json.loads((SCHEMA_DIR / "bc_overlay.json").read_text(encoding="utf-8"))
    system_read_only = set(overlay["systemReadOnly"])
    sets: dict[str, EntitySet] = {}
    for name, spec in facts.items():
        if name in overlay["notServed"] or "fields" not in spec or not spec.get("EntityName"):
            continue
        properties = {f["name"]: _property(f, system_read_only) for f in spec["fields"] if f.get("al_type") != "BLOB"}
        navigation = {
            part["name"]: (part["entitySet"], part["multiplicity"]) for part in spec.get("navigation_parts", [])
        }
        actions = frozenset(a["odata"].removeprefix("Microsoft.NAV.") for a in spec.get("bound_actions", []))
        series = overlay["numberSeries"].get(name)
        sets[name] = EntitySet(
            name=name,
            entity_name=spec["EntityName"],
            properties=properties,
            navigation=navigation,
            actions=actions,
            read_only=name in overlay["readOnlySets"] or spec.get("Editable") == "false",
            insert_allowed=spec.get("InsertAllowed", "true") != "false",
            number_series=NumberSeries(**series) if series else None,
            number_writable=name in overlay["numberWritable"],
        )
    for document, info in overlay["documents"].items():
        if document in sets and info["lines"] in sets:
            sets[document].lines = info["lines"]
            sets[info["lines"]].parent = document
            sets[info["lines"]].parent_key = info.get("parentKey", "documentId")
    series = {name: NumberSeries(**spec) for name, spec in overlay["numberSeries"].items()}
    return Schema(sets, overlay, series)
