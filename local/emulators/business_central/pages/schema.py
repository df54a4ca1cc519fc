"""The page web services the BC emulator serves: `schemas/bc_page_services.json` (shared facts, verbatim) plus
`schemas/bc_page_overlay.json`.

Why two name spaces: a page's OData property is its CONTROL name (7016 says `CurrencyCode`, 7015 `Currency_Code`
for the same table field), but both pages show one record. Rows are therefore stored per BC source table with
columns named after the table field (BC's own ExternalizeName of it), and each page maps its properties onto
those columns. Types, lengths, keys, writability and Insert/Modify/DeleteAllowed come from the facts, so the
emulator refuses what the published page would refuse.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from functools import cache
from typing import Any, Literal

from local.emulators.business_central.schema import SCHEMA_DIR, EntitySet, Property
from local.emulators.business_central.values import default_value

Writable = Literal["always", "insert", "never"]

_SPECIAL = frozenset(' ./\\"()-:')
_ENCODED = re.compile(r"_x([0-9A-Fa-f]{4})_")
_LENGTH = re.compile(r"^(Code|Text)\[(\d+)\]$")
_OPTION_MEMBER = re.compile(r'"([^"]*)"|([^,\[\]"]+)')
_SIMPLE_KINDS = {
    "Decimal": "decimal",
    "Integer": "int",
    "Boolean": "bool",
    "Date": "date",
    "DateTime": "datetime",
    "Guid": "guid",
    "Text": "text",
    "DateFormula": "text",
}


def externalize(name: str) -> str:
    """BC's ExternalizeODataObjectName: `%`->Percent, separators -> one `_`, other symbols -> `_xHHHH_`."""
    out: list[str] = []
    for char in name.replace("%", "Percent"):
        if char in _SPECIAL:
            if not out or out[-1] != "_":
                out.append("_")
        elif char.isalnum() or char == "_":
            out.append(char)
        else:
            out.append(f"_x{ord(char):04X}_")
    while out and out[-1] == "_":
        out.pop()
    text = "".join(out)
    return f"_x{ord(text[0]):04X}_{text[1:]}" if text[:1].isdigit() else text


def decode_member(text: str) -> str:
    """`Pending_x0020_Approval` -> `Pending Approval`: input may use the API pages' XML-encoded enum form."""
    return _ENCODED.sub(lambda match: chr(int(match.group(1), 16)), text)


def encode_member(text: str) -> str:
    """The API-page form of an enum member (`Pending Approval` -> `Pending_x0020_Approval`)."""
    return "".join(char if char.isalnum() or char == "_" else f"_x{ord(char):04X}_" for char in text)


@dataclass(frozen=True)
class PageField:
    name: str
    prop: Property
    column: str | None  # the stored column; None for a computed page variable or expression
    writable: Writable
    accepts: bool = False  # BC's page takes a value for it (facts verdict), whether or not the emulator writes it


@dataclass
class PageService:
    name: str
    page_id: int
    table: str  # store table family; "@salesOrders" / "@unitGroups" are views over API tables (orders.py)
    fields: dict[str, PageField]
    keys: tuple[str, ...]
    editable: bool
    insert_allowed: bool
    modify_allowed: bool
    delete_allowed: bool
    view: dict[str, Any]  # SourceTableView constants: filter on read, set on insert
    entity: EntitySet  # carries the type name `values.coerce` words its errors with

    @property
    def virtual(self) -> bool:
        return self.table.startswith("@")

    @property
    def key_columns(self) -> tuple[str, ...]:
        return tuple(self.fields[key].column or key for key in self.keys)

    @property
    def can_insert(self) -> bool:
        return self.editable and self.insert_allowed and not self.virtual

    @property
    def can_modify(self) -> bool:
        return self.editable and self.modify_allowed and not self.virtual

    @property
    def can_delete(self) -> bool:
        return self.editable and self.delete_allowed and not self.virtual


@dataclass
class PageSchema:
    services: dict[str, PageService]
    columns: dict[str, dict[str, Property]]  # table -> column -> type
    overlay: dict[str, Any]

    def defaults(self, table: str) -> dict[str, Any]:
        """A new record as Init() leaves it: AL blanks (no nulls in BC) plus InitValue/OnNewRecord defaults."""
        row = {name: default_value(prop) for name, prop in self.columns[table].items()}
        row.update(self.overlay["defaults"].get(table, {}))
        return row


def _enum_members(al_type: str, enums: dict[str, list[str]]) -> tuple[str, ...]:
    if al_type.startswith("Option"):
        found = _OPTION_MEMBER.findall(al_type[len("Option") :])
        return tuple(quoted or bare.strip() for quoted, bare in found if quoted or bare.strip())
    match = re.match(r'^[Ee]num "(?P<name>[^"]+)"', al_type)
    members = enums.get(match.group("name"), []) if match else []
    return tuple(member for member in members if not member.startswith("("))


def al_property(name: str, al_type: str, enums: dict[str, list[str]]) -> Property:
    """A typed property from an AL type string of the facts (`Code[20]`, `Enum "Price Status"`, `Option [...]`)."""
    match = _LENGTH.match(al_type)
    if match:
        return Property(name, match.group(1).lower(), int(match.group(2)))
    if al_type.startswith(("Option", "Enum", "enum")):
        return Property(name, "enum", None, False, _enum_members(al_type, enums))
    kind = _SIMPLE_KINDS.get(al_type)
    return Property(name, kind, None) if kind else Property(name, "computed", None, True)


def _writable(spec: dict[str, Any], column: str | None, page_editable: bool) -> Writable:
    verdict = str(spec.get("writable", "no"))
    if not page_editable or column is None:
        return "never"
    if verdict.startswith("key (set on POST only)"):
        return "insert"
    if verdict.startswith(("yes", "conditional")):
        return "always"  # conditional Editable expressions: the price-list status rule is in rules.py
    if verdict.startswith("page variable") and "Rec.Validate" in verdict:
        return "always"  # a mapped page variable whose OnValidate writes the column
    return "never"


def _accepts(spec: dict[str, Any], page_editable: bool) -> bool:
    verdict = str(spec.get("writable", "no"))
    return page_editable and verdict.startswith(("yes", "conditional", "key", "page variable"))


def _load_enums(facts: dict[str, Any], overlay: dict[str, Any]) -> dict[str, list[str]]:
    enums = {
        re.sub(r"\s*\(.*\)$", "", name): members
        for name, members in facts["enums"].items()
        if isinstance(members, list)
    }
    enums.update(overlay["enums"])
    return enums


def _service(
    name: str, spec: dict[str, Any], table: str, overlay: dict[str, Any], enums: dict[str, list[str]]
) -> PageService:
    variables: dict[str, str] = overlay["pageVariables"].get(name, {})
    fields: dict[str, PageField] = {}
    for field_spec in spec["fields"]:
        odata = field_spec["odata"]
        table_field = field_spec.get("table_field")
        column = externalize(table_field) if table_field else variables.get(odata)
        prop = al_property(odata, field_spec["al_type"], enums)
        editable = bool(spec["editable"])
        fields[odata] = PageField(
            odata, prop, column, _writable(field_spec, column, editable), _accepts(field_spec, editable)
        )
    properties = {field.name: field.prop for field in fields.values()}
    return PageService(
        name=name,
        page_id=int(spec["page_id"]),
        table=table,
        fields=fields,
        keys=tuple(key["odata"] for key in spec["keys"]),
        editable=bool(spec["editable"]),
        insert_allowed=bool(spec["insert_allowed"]),
        modify_allowed=bool(spec["modify_allowed"]),
        delete_allowed=bool(spec["delete_allowed"]),
        view=dict(overlay["views"].get(name, {})),
        entity=EntitySet(name=name, entity_name=name, properties=properties),
    )


@cache
def load_pages() -> PageSchema:
    """Read once per process, at first use (never at import)."""
    facts = json.loads((SCHEMA_DIR / "bc_page_services.json").read_text(encoding="utf-8"))
    overlay = json.loads((SCHEMA_DIR / "bc_page_overlay.json").read_text(encoding="utf-8"))
    enums = _load_enums(facts, overlay)
    specs = {**facts["pages"], **overlay.get("extraPages", {})}  # pages the facts lack (5055 Name Details)
    services = {name: _service(name, specs[name], table, overlay, enums) for name, table in overlay["served"].items()}
    columns: dict[str, dict[str, Property]] = {}
    for service in services.values():
        if service.virtual:
            continue
        table_columns = columns.setdefault(service.table, {})
        for field in service.fields.values():
            # a control named like its table field types the column better than a page variable on it does
            if field.column is not None and (field.column not in table_columns or field.name == field.column):
                table_columns[field.column] = replace(field.prop, name=field.column, read_only=False)
    for table, extra in overlay["extraColumns"].items():
        for column, al_type in extra.items():
            columns[table][column] = al_property(column, al_type, enums)
    return PageSchema(services, columns, overlay)
