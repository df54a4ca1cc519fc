"""Addressing a row by key: `accounts(<guid>)`, `accounts(accountid=<guid>)`, `accounts(accountnumber='ABC123')`.

Sources: "Use an alternate key to reference a record" (Power Apps developer docs: the URL forms, the error text for a
key that is not defined, and the note that systemuser cannot be addressed by a named primary key because its key is
inherited from principal), "Define alternate keys for a table" (keys are unique), api-facts.md B6. The keys each
table has come from `alternateKeys` in dataverse_overlay.json (with the reason there).

Stricter or chosen where the docs do not settle it (UNCONFIRMED):
- key values compare case-insensitively, like every string comparison of the SQL collation (`$filter` does too);
- a row whose key columns are all null is not indexed, so many rows may leave a key empty;
- a duplicate key value is refused with 412 `0x80060892` (DuplicateRecordEntityKey; the code and status seen by
  public clients, the message in the wording those clients quote).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from local.emulators.dataverse.errors import QUERY_ERROR, DataverseError, bad_payload
from local.emulators.dataverse.schema import Schema, Table
from local.emulators.odata.keys import KeyPredicate, KeyValue, parse_key
from local.emulators.odata.types import ODataQueryError
from local.emulators.store import Row, Store

DUPLICATE_KEY = "0x80060892"
_REFERENCE = re.compile(r"^/?(?P<set>[A-Za-z_][A-Za-z0-9_]*)\((?P<key>.*)\)$")
INHERITED_KEY_TABLES = frozenset({"systemuser", "team"})  # key inherited from principal (ownerid): no named key
_LITERALS_FOR = {
    "string": {"string"}, "lookup": {"guid"}, "guid": {"guid"}, "int": {"int"}, "picklist": {"int"},
    "decimal": {"int", "decimal"}, "datetime": {"datetime"}, "date": {"date"},
}  # fmt: skip


@dataclass(frozen=True)
class RowKey:
    """What a key segment named: the row id (when the row exists or the key was the id) and the key's values."""

    row_id: str | None
    values: dict[str, Any] = field(default_factory=dict)


def invalid_key(table: Table) -> DataverseError:
    """The documented error for a key that is neither the primary key nor a defined alternate key."""
    name = table.type_name
    return DataverseError(
        400,
        QUERY_ERROR,
        f"The key in the request URI is not valid for resource '{name}'. Ensure that the names and number of key "
        f"properties match the declared or alternate key properties for the resource '{name}'.",
    )


def _folded(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def _key_values(table: Table, named: Mapping[str, KeyValue]) -> dict[str, Any]:
    """Check the named values against one of the table's alternate keys and their column types."""
    wanted = set(named)
    if not any(set(columns) == wanted for columns in table.alternate_keys.values()):
        raise invalid_key(table)
    values: dict[str, Any] = {}
    for name, literal in named.items():
        attribute = table.by_read_name[name]
        if literal.kind not in _LITERALS_FOR.get(attribute.kind, set()):
            raise invalid_key(table)
        values[name] = literal.value
    return values


def find_by_values(store: Store, table: Table, values: Mapping[str, Any]) -> Row | None:
    wanted = {name: _folded(value) for name, value in values.items()}
    for row in store.rows(table.logical_name):
        if all(_folded(row.get(name)) == value for name, value in wanted.items()):
            return row
    return None


def parse(table: Table, text: str) -> KeyPredicate:
    try:
        return parse_key(text)
    except ODataQueryError as error:
        raise DataverseError(400, QUERY_ERROR, error.message) from None


def resolve(store: Store, table: Table, text: str) -> RowKey:
    """The row a key segment names; `row_id` is None when an alternate key matches no row (upsert creates it)."""
    predicate = parse(table, text)
    if predicate.positional is not None:
        if predicate.positional.kind != "guid":
            raise DataverseError(
                400, QUERY_ERROR, f"Cannot convert the literal '{text}' to the expected type 'Edm.Guid'."
            )
        return RowKey(str(predicate.positional.value))
    named = predicate.named
    if set(named) == {table.primary_id}:
        literal = named[table.primary_id]
        if table.logical_name in INHERITED_KEY_TABLES or literal.kind != "guid":
            raise invalid_key(table)
        return RowKey(str(literal.value))
    values = _key_values(table, named)
    row = find_by_values(store, table, values)
    return RowKey(None if row is None else str(row[table.primary_id]), values)


def check_unique(store: Store, table: Table, row: Mapping[str, Any]) -> None:
    """Refuse a write that would give two rows the same alternate-key values (all-null keys are not indexed)."""
    for key_name, columns in table.alternate_keys.items():
        values = {name: row.get(name) for name in columns}
        if all(value is None for value in values.values()):
            continue
        other = find_by_values(store, table, values)
        if other is not None and other[table.primary_id] != row[table.primary_id]:
            names = ", ".join(columns)
            raise DataverseError(
                412,
                DUPLICATE_KEY,
                f"A record that has the attribute values {names} already exists. The entity key {key_name} requires "
                "that this set of attributes contains unique values. Select unique values and try again.",
            )


def split_reference(value: Any) -> tuple[str, str]:
    """`accounts(accountnumber='X')`, `/accounts(<id>)` or an absolute URL -> (entity set, key text)."""
    text = value.strip() if isinstance(value, str) else ""
    path = urlsplit(text).path if "://" in text else text
    match = _REFERENCE.match(path.split("/api/data/v9.2", 1)[-1])
    if match is None:
        raise bad_payload(f"'{value}' is not an entity URL such as accounts(<id>) or accounts(accountnumber='X').")
    return match.group("set"), match.group("key")


def key_body(schema: Schema, table: Table, values: Mapping[str, Any]) -> dict[str, Any]:
    """Alternate-key values as a write body: columns as they are, lookup keys (`_x_value`) as binds."""
    body: dict[str, Any] = {}
    for name, value in values.items():
        attribute = table.by_read_name[name]
        if attribute.kind != "lookup":
            body[name] = value
            continue
        navigation, (_, target) = next(
            (nav, bound) for nav, bound in table.bind_navigations.items() if bound[0] == attribute.name
        )
        body[f"{navigation}@odata.bind"] = f"/{schema.tables[target].entity_set}({value})"
    return body


def target_of(
    schema: Schema, store: Store, table: Table, reference: Any, body: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """The row id and write body for a write named by `@odata.id` (UpsertMultiple targets): an alternate key that
    matches no row gets a new id and its key values (the body's win); one that matches drops key values from the
    body ("Use Upsert to Create or Update a record")."""
    entity_set, key_text = split_reference(reference)
    if entity_set != table.entity_set:
        raise bad_payload(f"'{reference}' does not name a row of '{table.entity_set}'.")
    key = resolve(store, table, key_text)
    if key.row_id is None:
        return str(uuid.uuid4()), {**key_body(schema, table, key.values), **body}
    if key.values:
        return key.row_id, {name: value for name, value in body.items() if name not in key.values}
    return key.row_id, body
