"""PATCH on page 42 "Sales Order" (service `SalesOrder`): a page-side write of an API v2.0 sales order.

Why: API v2.0 cannot write Your Reference or the Work Description of an order, so the sync writes them through page
42. The emulator writes the few page-42 fields the sync needs (`salesOrderWrites` in bc_page_overlay.json) onto the
API row (orders.py explains the `@` keys), so the change shows in API v2.0 with a new ETag and
lastModifiedDateTime, as BC's one Sales Header record would. Every other field BC's page would take is refused with
a 400 that says so, never dropped in silence: a sync that starts to depend on another page-42 field fails in local
tests first. POST and DELETE on page 42 are not emulated either (400): create and delete orders through API v2.0.

Checks in BC's order (as write.py): `If-Match` present (400 `BadRequest_InvalidToken`) and current (409
`Request_EntityChanged`); then each property: on the page, primitive, key unchanged (Sales Header's OnRename: "You
cannot rename a Sales Header."), writable on BC (else read-only), emulated, AL type and length (Code upper-cased,
`Application_StringExceededLength`), and the field's status test (Requested Delivery Date runs TestStatusOpen). All
inside one store transaction: a refused write leaves the order as it was.
"""

from __future__ import annotations

from typing import Any

from local.emulators.business_central.errors import NOT_FOUND, BcError, bad_request, dialog
from local.emulators.business_central.pages.body import page_values
from local.emulators.business_central.pages.context import Context
from local.emulators.business_central.pages.orders import ORDERS, order_status
from local.emulators.business_central.pages.schema import PageService, decode_member
from local.emulators.business_central.values import coerce
from local.emulators.store import Row


def not_emulated(service: PageService, operation: str) -> BcError:
    """POST/DELETE on page 42: BC allows them; the emulator serves the order from API v2.0 and does not."""
    return bad_request(
        f"{operation} through the page '{service.name}' (page {service.page_id}) is not emulated: create and delete "
        f"sales orders through API v2.0 (salesOrders)."
    )


def _key_unchanged(service: PageService, name: str, value: Any, order_number: str) -> None:
    prop = service.fields[name].prop
    is_enum_text = prop.kind == "enum" and isinstance(value, str)
    given = decode_member(value) if is_enum_text else coerce(service.entity, prop, value)
    if given != ("Order" if name == "Document_Type" else order_number):
        raise dialog("You cannot rename a Sales Header.")


def _test_status_open(order: Row) -> None:
    """Sales Header's TestStatusOpen(), as BC's TestField words it."""
    if order_status(order) != "Open":
        raise dialog(
            f"Status must be equal to 'Open'  in Sales Header: Document Type=Order, No.={order.get('number')}. "
            f"Current value is '{order_status(order)}'."
        )


def parse_order_body(ctx: Context, service: PageService, order: Row, body: Any) -> dict[str, Any]:
    """Checked API-row values of a page-42 PATCH body (page property names in, API row keys out)."""
    writes: dict[str, str] = ctx.schema.overlay["salesOrderWrites"]
    columns: dict[str, str] = ctx.schema.overlay["salesHeader"]
    values: dict[str, Any] = {}
    for name, value, page_field in page_values(service, body):
        if name in service.keys:
            _key_unchanged(service, name, value, str(order.get("number")))
            continue
        if not page_field.accepts:
            raise bad_request(f"The property '{name}' of '{service.name}' is read-only.")
        if name not in writes:
            raise bad_request(
                f"Writing '{name}' through the page '{service.name}' is not emulated; the emulator writes "
                f"{', '.join(writes)} (change other order fields through API v2.0 salesOrders)."
            )
        stored = coerce(service.entity, page_field.prop, value)
        if writes[name] == "open":
            _test_status_open(order)
        values[columns[str(page_field.column)]] = stored
    return values


def update_order(ctx: Context, service: PageService, shown: Row, body: Any, if_match: str | None) -> Row:
    """PATCH the API order behind `shown` (a page-shaped row found by key); returns the written API row."""
    orders = ctx.writer.entity_set(ORDERS)
    with ctx.writer.store.transaction():  # read, check the ETag and write under one lock: no lost update
        order = ctx.writer.store.get(ctx.table(ORDERS), shown["@systemId"])
        if order is None:
            raise BcError(404, NOT_FOUND, f"The {service.name} record no longer exists.")
        ctx.writer.check_if_match(order, if_match)
        row = {**order, **parse_order_body(ctx, service, order, body)}
        ctx.writer.put(ctx.company_id, orders, row)
        ctx.forget()
    return row
