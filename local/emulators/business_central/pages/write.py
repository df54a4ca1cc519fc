"""POST, PATCH and DELETE on page web services, with the rules BC's OData stack applies before any trigger runs.

Order of checks, as on BC: the page must allow the operation (Editable, InsertAllowed, ModifyAllowed,
DeleteAllowed; 405), `If-Match` must be present (400 `BadRequest_InvalidToken`) and current (409
`Request_EntityChanged`), then each body property must exist on the page (400), be writable there (400) and fit
its AL type (Code upper-cased and trimmed, `Application_StringExceededLength`). Deep insert does not exist on
page services, so a nested object or array is refused. Everything runs in one store transaction, so a refused
write leaves nothing behind. Page 42 (Sales Order) is a view over the API order: its PATCH is order_write.py's.
"""

from __future__ import annotations

import json
from typing import Any

from local.emulators.business_central.errors import METHOD_NOT_ALLOWED, SAME_KEY, BcError, bad_request
from local.emulators.business_central.pages.body import page_values
from local.emulators.business_central.pages.contacts import CONTACTS_VIEW, update_contact
from local.emulators.business_central.pages.context import Context
from local.emulators.business_central.pages.data import new_row, remove, save, stored
from local.emulators.business_central.pages.order_write import not_emulated, update_order
from local.emulators.business_central.pages.orders import ORDERS_VIEW
from local.emulators.business_central.pages.rules import after, before_delete, before_write
from local.emulators.business_central.pages.schema import PageField, PageService, decode_member
from local.emulators.business_central.values import coerce
from local.emulators.store import Row
from local.emulators.web import Request


def _refused(service: PageService, operation: str) -> BcError:
    if service.table == ORDERS_VIEW and service.editable:  # page 42: BC allows it, the emulator does not emulate it
        return not_emulated(service, operation)
    return BcError(405, METHOD_NOT_ALLOWED, f"{operation} is not allowed on the page '{service.name}'.")


def coerce_field(service: PageService, page_field: PageField, value: Any) -> Any:
    """The stored form of one property value; enums take English text or the `_x0020_` form."""
    prop = page_field.prop
    if prop.kind != "enum":
        return coerce(service.entity, prop, value)
    if not isinstance(value, str):
        raise bad_request(f"Cannot convert the literal '{value}' to the expected type 'Edm.String' ({prop.name}).")
    text = decode_member(value)
    if prop.enum_members and text not in prop.enum_members:
        raise bad_request(
            f"The value '{value}' is not valid for the property '{prop.name}'; valid values: "
            f"{', '.join(repr(m) for m in prop.enum_members)}."
        )
    return text


def parse_body(ctx: Context, service: PageService, body: Any, *, creating: bool) -> dict[str, Any]:
    """Checked column values of a POST/PATCH body (page property names in, stored column names out)."""
    values: dict[str, Any] = {}
    for name, value, page_field in page_values(service, body):
        if page_field.writable == "never" or (page_field.writable == "insert" and not creating):
            raise bad_request(f"The property '{name}' of '{service.name}' is read-only.")
        column = str(page_field.column)
        stored = coerce_field(service, page_field, value)
        if column in values and values[column] != stored:
            raise bad_request(f"Two properties of the body set the field behind '{name}' to different values.")
        values[column] = stored
    twins: dict[str, str] = ctx.schema.overlay["twins"]
    columns = ctx.schema.columns[service.table]
    for first, second in twins.items():
        if first in values and second in values and values[first] != values[second]:
            raise bad_request(f"'{first}' and '{second}' are twins of one field: send only one of them.")
        for given, other in ((first, second), (second, first)):
            if given in values and other in columns:
                values.setdefault(other, values[given])
    return values


def json_body(request: Request) -> Any:
    if not request.body:
        return {}
    try:
        return json.loads(request.body)
    except ValueError:
        raise bad_request("Invalid Request Body: not valid JSON.") from None


def _key_of(service: PageService, row: Row) -> tuple[Any, ...]:
    return tuple(row.get(column) for column in service.key_columns)


def create(ctx: Context, service: PageService, body: Any, *, system_id: str | None = None) -> Row:
    """POST: a new record; `system_id` lets a custom API client (or the seed) choose the SystemId."""
    if not service.can_insert:
        raise _refused(service, "Insert")
    values = parse_body(ctx, service, body, creating=True)
    with ctx.writer.store.transaction():
        row = new_row(ctx, service.table, {**values, **service.view})
        if system_id is not None:
            if ctx.writer.store.get(ctx.table(service.table), system_id) is not None:
                raise bad_request(f"The record with id '{system_id}' already exists.", SAME_KEY)
            row["@systemId"] = system_id
        before_write(ctx, service.table, None, row, set(values))
        key = _key_of(service, row)
        if any(value == "" for value in key):
            raise bad_request(f"The key of '{service.name}' ({', '.join(service.keys)}) must have a value.")
        if any(_key_of(service, other) == key for other in ctx.rows(service.table)):
            shown = ", ".join(f"{name}='{value}'" for name, value in zip(service.keys, key, strict=True))
            raise bad_request(f"The record in table {service.name} already exists. {shown}", SAME_KEY)
        save(ctx, service.table, row)
        after(ctx, service.table, None, row)
    return row


def update(ctx: Context, service: PageService, shown: Row, body: Any, if_match: str | None) -> Row:
    """PATCH the record behind `shown` (a page-shaped row found by key); on page 42 the API order behind it."""
    if service.table == ORDERS_VIEW and service.editable and service.modify_allowed:
        return update_order(ctx, service, shown, body, if_match)
    if service.table == CONTACTS_VIEW:  # page 5055: the API contact behind it
        return update_contact(ctx, service, shown, body, if_match)
    if not service.can_modify:
        raise _refused(service, "Modify")
    with ctx.writer.store.transaction():  # read, check the ETag and write under one lock: no lost update
        existing = stored(ctx, service, shown)
        ctx.writer.check_if_match(existing, if_match)
        values = parse_body(ctx, service, body, creating=False)
        row = {**existing, **values}
        if _key_of(service, row) != _key_of(service, existing):
            raise bad_request(f"Renaming a {service.name} record (changing its key) is not supported by the emulator.")
        before_write(ctx, service.table, existing, row, set(values))
        save(ctx, service.table, row)
        after(ctx, service.table, existing, row)
    return row


def delete(ctx: Context, service: PageService, shown: Row, if_match: str | None) -> None:
    if not service.can_delete:
        raise _refused(service, "Delete")
    with ctx.writer.store.transaction():
        existing = stored(ctx, service, shown)
        ctx.writer.check_if_match(existing, if_match)
        before_delete(ctx, service.table, existing)
        remove(ctx, service.table, existing)
        after(ctx, service.table, existing, None)
