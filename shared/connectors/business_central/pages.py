"""Keys and names of page-web-service entities (pure): what `page_surface.py` needs to serve them behind the same
calls as API entities, so the sync never knows which surface it uses.

A page-sourced entity (resources, price lists and lines, item/resource units ...) is addressed by its canonical set
name (the custom route's, e.g. `resources`), read and written in canonical property names, and identified by its
page key: `R0010`, or `S00001|10000` for a composite key. Pages have no `lastModifiedDateTime`, so such an entity is
read in full each run (these tables are small) and changes are found by the sync's value hashes.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from shared.connectors.business_central.entity_sources import EntitySource, EntitySources
from shared.domain.mapping import PAGE_KEY_SEPARATOR

KEY_SEPARATOR = PAGE_KEY_SEPARATOR
_INTEGER_KEY = re.compile(r"(^|_)(Line_No|Entry_No)$")
_IDENTIFIER = re.compile(r"'(?:[^']|'')*'|\b[A-Za-z_][A-Za-z0-9_]*\b")


def page_sources(sources: EntitySources, entity_set: str) -> list[EntitySource]:
    """Every page behind a canonical set: one, or several when pages each show a slice of one table (unit groups:
    the item page and the resource page)."""
    return [s for s in sources if s.kind == "page" and s.custom_set == entity_set]


def page_source(sources: EntitySources, entity_set: str, entity_id: str | None = None) -> EntitySource | None:
    """The page serving `entity_set`; with several, the one whose fixed view values the id's key carries."""
    return page_for(page_sources(sources, entity_set), entity_id)


def page_for(candidates: Sequence[EntitySource], entity_id: str | None = None) -> EntitySource | None:
    """Of the pages behind one set, the one serving `entity_id` (the first one when no view tells them apart)."""
    if entity_id is not None and len(candidates) > 1:
        parts = entity_id.split(KEY_SEPARATOR)
        for source in candidates:
            key = dict(zip(source.key, parts, strict=False))
            if all(key.get(name) == value for name, value in source.view):
                return source
    return candidates[0] if candidates else None


def page_entity_id(source: EntitySource, row: Mapping[str, Any]) -> str:
    """The id the sync couples a page entity by: its key values, in key order."""
    return KEY_SEPARATOR.join(str(row[name]) for name in source.key)


def page_key(source: EntitySource, entity_id: str) -> dict[str, Any]:
    parts = entity_id.split(KEY_SEPARATOR)
    if len(parts) != len(source.key):
        raise ValueError(f"'{entity_id}' is not a key of {source.name} ({', '.join(source.key)})")
    return {name: _key_value(name, part) for name, part in zip(source.key, parts, strict=True)}


def key_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, date):  # datetime is a date too
        return value.isoformat()
    return "'" + str(value).replace("'", "''") + "'"


def key_segment(key: Mapping[str, Any]) -> str:
    """`('R0010')` for a one-field key, `(Price_List_Code='S00001',Line_No=10000)` for a composite one."""
    if not key:
        raise ValueError("a page entity key needs at least one field")
    literals = [(name, key_literal(value)) for name, value in key.items()]
    inner = literals[0][1] if len(literals) == 1 else ",".join(f"{name}={text}" for name, text in literals)
    return "(" + quote(inner, safe="'=,-._~") + ")"


def keys_filters(source: EntitySource, entity_ids: Sequence[str]) -> list[str]:
    """`$filter`s (in the page's names) for several key ids. BC takes `or` only within one property, so one key
    field varies inside a filter and the others are fixed: `Code eq 'A' or Code eq 'B'`; for a composite key the
    field whose variation needs the fewest filters, e.g. `Code eq 'PCS' and (Item_No eq 'A' or Item_No eq 'B')`
    for item units, `Source_Type eq 'Item' and (Source_Id eq <a> or Source_Id eq <b>)` for unit groups."""
    keys = [[(name, key_literal(value)) for name, value in page_key(source, i).items()] for i in entity_ids]
    best: dict[tuple[tuple[str, str], ...], list[str]] = {}
    varying = ""
    for position, name in enumerate(source.key):
        groups: dict[tuple[tuple[str, str], ...], list[str]] = {}
        for literals in keys:
            fixed = tuple(literals[:position] + literals[position + 1 :])
            groups.setdefault(fixed, []).append(literals[position][1])
        if not varying or len(groups) < len(best):
            best, varying = groups, name
    filters = []
    for fixed, values in best.items():
        terms = [f"{name} eq {text}" for name, text in fixed]
        filters.append(" and ".join([*terms, "(" + " or ".join(f"{varying} eq {v}" for v in values) + ")"]))
    return filters


def key_range_filter(source: EntitySource, first: str, last: str) -> str:
    """A `$filter` (canonical names) for the keys from `first` to `last` in the page's key order: equal leading
    fields fixed, the first differing field as the range (`Item_No ge 'A' and Item_No le 'B'` for item units; a
    little wider than the listed run when later key fields differ: the caller keeps only the ids it wants)."""
    low, high = page_key(source, first), page_key(source, last)
    terms: list[str] = []
    for name in source.key:
        canonical = source.canonical_name(name)
        if low[name] == high[name]:
            terms.append(f"{canonical} eq {key_literal(low[name])}")
            continue
        terms += [f"{canonical} ge {key_literal(low[name])}", f"{canonical} le {key_literal(high[name])}"]
        break
    return " and ".join(terms)


def _key_value(name: str, part: str) -> Any:
    """Integers and Guids go into a key segment unquoted (`Line_No=10000`, `Source_Id=<guid>`), text quoted."""
    if _INTEGER_KEY.search(name) and part.isdigit():
        return int(part)
    if name.endswith("_Id"):
        try:
            return uuid.UUID(part)
        except ValueError:
            return part
    return part


def translate_filter(source: EntitySource, text: str | None) -> str | None:
    """A `$filter` written in canonical names, with the page's property names instead (string literals untouched)."""
    if not text:
        return text
    return _IDENTIFIER.sub(lambda m: m.group(0) if m.group(0).startswith("'") else source.source_name(m.group(0)), text)


def to_canonical_row(source: EntitySource, row: Mapping[str, Any]) -> dict[str, Any]:
    canonical = source.to_canonical({k: v for k, v in row.items() if not k.startswith("@")})
    canonical["id"] = page_entity_id(source, row)
    if "@odata.etag" in row:
        canonical["@odata.etag"] = row["@odata.etag"]
    return canonical


def page_select(source: EntitySource, canonical: list[str]) -> list[str]:
    names = [n for n in canonical if n not in ("id", "lastModifiedDateTime")]
    return list(dict.fromkeys([*source.key, *source.select(names)]))
