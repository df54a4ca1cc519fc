"""Turn a JSON write body into checked column values, lookup bindings and deep-insert children.

Dataverse refuses, with a 400, a body naming a column the table lacks, a lookup written as `_x_value` instead of
`x@odata.bind`, a value of the wrong type or length; the emulator does the same here, before anything is stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from local.emulators.dataverse import keys
from local.emulators.dataverse.errors import NOT_FOUND, DataverseError, bad_payload, invalid
from local.emulators.dataverse.schema import Schema, Table
from local.emulators.dataverse.values import canonical_guid, coerce
from local.emulators.store import Store

_BIND = re.compile(r"^/?(?P<set>[A-Za-z_][A-Za-z0-9_]*)\((?P<key>.*)\)$")


@dataclass
class Payload:
    values: dict[str, Any] = field(default_factory=dict)  # attribute name -> stored value
    binds: dict[str, tuple[str, str] | None] = field(default_factory=dict)  # attribute -> (target, id) or cleared
    children: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # collection navigation -> bodies

    def names(self) -> set[str]:
        return set(self.values) | set(self.binds)


def parse_bind_target(
    schema: Schema, value: Any, content_ids: dict[str, tuple[str, str]] | None, store: Store | None = None
) -> tuple[str, str]:
    """`/accounts(<id>)`, `accounts(<id>)`, an absolute URL, or `$n` (a change-set Content-ID) -> (table, id).

    With a store, an alternate key works too (`/accounts(accountnumber='ABC123')`: "Use an alternate key to
    reference a record" lists bind URLs among its uses); the row must exist."""
    if not isinstance(value, str):
        raise bad_payload(f"An @odata.bind value must be a string URI, got {value!r}.")
    text = value.strip()
    if text.startswith("$") and content_ids is not None:
        if text[1:] not in content_ids:
            raise bad_payload(f"Content-ID reference '{text}' does not match an earlier request in the change set.")
        return content_ids[text[1:]]
    path = urlsplit(text).path if "://" in text else text
    path = path.split("/api/data/v9.2", 1)[-1]
    match = _BIND.match(path)
    if not match:
        raise bad_payload(f"The @odata.bind value '{value}' is not a valid entity URI.")
    table = schema.table_for_set(match.group("set"))
    if table is None:
        raise bad_payload(f"Resource not found for the segment '{match.group('set')}'.")
    key = match.group("key")
    if "=" in key:
        if store is None:
            raise bad_payload(f"The key '{key}' is not defined as an alternate key on '{table.logical_name}'.")
        found = keys.resolve(store, table, key)
        if found.row_id is None:
            raise DataverseError(404, NOT_FOUND, f"{table.logical_name} With Ids = {key} Does Not Exist")
        return table.logical_name, found.row_id
    return table.logical_name, canonical_guid(key, "@odata.bind key")


def parse_payload(
    schema: Schema,
    table: Table,
    body: Any,
    *,
    creating: bool,
    content_ids: dict[str, tuple[str, str]] | None = None,
    store: Store | None = None,
) -> Payload:
    if not isinstance(body, dict):
        raise bad_payload("The request body must be a JSON object.")
    payload = Payload()
    for key, value in body.items():
        if key == "@odata.type":
            if value.lstrip("#") != table.type_name:
                raise bad_payload(f"The @odata.type '{value}' does not match the entity set '{table.entity_set}'.")
            continue
        if key.endswith("@odata.bind"):
            _bind(schema, table, payload, key[: -len("@odata.bind")], value, (content_ids, store), creating)
            continue
        if "@" in key:
            continue  # instance annotations (formatted values a client echoed back) are ignored, as by Dataverse
        if key in table.collection_navigations:
            if not creating:
                raise bad_payload(f"Deep insert through '{key}' is only possible when creating a record.")
            if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
                raise bad_payload(f"The collection-valued navigation property '{key}' needs an array of objects.")
            payload.children[key] = value
            continue
        attribute = table.attributes.get(key)
        if attribute is None:
            lookup = table.by_read_name.get(key)
            if lookup is not None and lookup.kind == "lookup":
                raise bad_payload(
                    f"CRM do not support direct update of Entity Reference properties, Use Navigation properties "
                    f"instead. (property '{key}')"
                )
            raise bad_payload(
                f"The property '{key}' does not exist on type '{table.type_name}'. Make sure to only use property "
                f"names that are defined by the type."
            )
        if attribute.kind == "lookup":
            raise bad_payload(
                f"An undeclared property '{key}' which only has property annotations in the payload "
                f"but no property value was found; set lookups with '{key}@odata.bind'."
            )
        _check_writable(
            table, attribute.name, creating, attribute.read_only, attribute.create_only, attribute.not_valid_for_create
        )
        payload.values[key] = coerce(table, attribute, value)
    return payload


def _bind(
    schema: Schema,
    table: Table,
    payload: Payload,
    navigation: str,
    value: Any,
    references: tuple[dict[str, tuple[str, str]] | None, Store | None],
    creating: bool,
) -> None:
    bound = table.bind_navigations.get(navigation)
    if bound is None:
        raise bad_payload(
            f"An undeclared property '{navigation}' which only has property annotations in the payload but no "
            f"property value was found in the payload. In OData, only declared navigation properties and declared "
            f"named streams can be represented as properties without values."
        )
    attribute_name, target = bound
    attribute = table.attributes[attribute_name]
    if attribute_name in payload.binds:
        raise bad_payload(f"The lookup '{attribute_name}' is bound twice in one payload.")
    if value is None:
        _check_writable(table, attribute_name, creating, attribute.read_only, attribute.create_only, False)
        payload.binds[attribute_name] = None
        return
    bound_table, row_id = parse_bind_target(schema, value, *references)
    accepted = table.bind_targets.get(navigation, (target,))
    if bound_table not in accepted:
        wanted = " or ".join(accepted)
        raise bad_payload(f"'{navigation}' must point at a {wanted} record, not a {bound_table} record.")
    _check_writable(
        table, attribute_name, creating, attribute.read_only, attribute.create_only, attribute.not_valid_for_create
    )
    payload.binds[attribute_name] = (bound_table, row_id)


def _check_writable(
    table: Table, name: str, creating: bool, read_only: bool, create_only: bool, not_valid_for_create: bool
) -> None:
    if read_only:
        raise invalid(f"The attribute '{name}' of '{table.logical_name}' is read-only and cannot be set.")
    if creating and not_valid_for_create:
        raise invalid(f"The attribute '{name}' of '{table.logical_name}' is not valid for create; set it by update.")
    if not creating and create_only:
        raise invalid(f"The attribute '{name}' of '{table.logical_name}' cannot be changed once the record exists.")
