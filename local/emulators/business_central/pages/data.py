"""Rows behind the page web services, and the page-shaped view of them.

Stored rows live in one company-scoped table per BC source table (`table_name(company, "resources")`), keyed by
an internal SystemId (`@systemId`, never a page property: UI pages do not expose SystemId), with `@version` for
the ETag and `@modifiedAt` for the custom API's lastModifiedDateTime. Columns are named after the table field.
The sales order pages (9305, 42), Name Details and the unit-group lists are views computed from the API tables
(orders.py, contacts.py), so a sales order created through API v2.0 (and released through the admin route) shows on
the pages with BC's Status.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from local.emulators.business_central.errors import BcError
from local.emulators.business_central.pages.contacts import CONTACTS_VIEW, contact_rows, shape_contact
from local.emulators.business_central.pages.context import Context
from local.emulators.business_central.pages.orders import ORDERS_VIEW, order_rows, shape_order
from local.emulators.business_central.pages.schema import PageService
from local.emulators.business_central.values import default_value, now_text
from local.emulators.store import Row

INTERNAL = ("@systemId", "@version", "@modifiedAt")
SETUP = "salesReceivablesSetup"


def save(ctx: Context, family: str, row: Row) -> Row:
    """Insert or replace a whole row with a fresh version (rows in the store are never mutated in place)."""
    row.setdefault("@systemId", str(uuid.uuid4()))
    version = ctx.writer.store.next_version()
    row["@version"] = version
    row["@modifiedAt"] = now_text()
    ctx.writer.store.put(ctx.table(family), row["@systemId"], row, version=version)
    ctx.forget()
    return row


def remove(ctx: Context, family: str, row: Row) -> None:
    ctx.writer.store.delete(ctx.table(family), row["@systemId"])
    ctx.forget()


def new_row(ctx: Context, family: str, values: dict[str, Any]) -> Row:
    row = ctx.schema.defaults(family)
    row.update(values)
    return row


def ensure_setup(ctx: Context) -> None:
    """Setup pages insert their single record in OnOpenPage (`if not Get() then Insert()`); so does the emulator."""
    if not ctx.rows(SETUP):
        system_id = str(uuid.uuid5(uuid.UUID(ctx.company_id), SETUP))  # stable: the record is created on first use
        save(ctx, SETUP, new_row(ctx, SETUP, {"Primary_Key": "", "@systemId": system_id}))


# -- page shape --------------------------------------------------------------------------------------------------
def _header_description(ctx: Context, row: Row) -> Any:
    header = ctx.lookup("priceListHeaders", "Code", row.get("Price_List_Code"))
    return header.get("Description", "") if header else ""


def _item_base_unit(ctx: Context, row: Row) -> Any:
    item = ctx.lookup("items", "number", row.get("Item_No"))
    return item.get("baseUnitOfMeasureCode", "") if item else ""


def _resource_base_unit(ctx: Context, row: Row) -> Any:
    resource = ctx.lookup("resources", "No", row.get("Resource_No"))
    return resource.get("Base_Unit_of_Measure", "") if resource else ""


COMPUTED: dict[str, Callable[[Context, Row], Any]] = {
    "PriceListDescription": _header_description,
    "ItemUnitOfMeasure": _item_base_unit,
    "ResUnitOfMeasure": _resource_base_unit,
}


def shape(ctx: Context, service: PageService, row: Row) -> dict[str, Any]:
    """A stored row as the page shows it: every page property, plus the internal keys for ETag and paging (for the
    sales order views the stored row is the API order)."""
    if service.table == ORDERS_VIEW:
        return shape_order(ctx, service, row)
    if service.table == CONTACTS_VIEW:
        return shape_contact(ctx, service, row)
    out: dict[str, Any] = {}
    for name, page_field in service.fields.items():
        if page_field.column is not None:
            out[name] = row.get(page_field.column, default_value(page_field.prop))
        elif name in COMPUTED:
            out[name] = COMPUTED[name](ctx, row)
        else:
            out[name] = default_value(page_field.prop)
    for name in INTERNAL:
        if name in row:
            out[name] = row[name]
    return out


def _unit_groups(ctx: Context, service: PageService) -> list[dict[str, Any]]:
    """Unit Group rows exist per item and per resource (Source Id = its SystemId); Code comes from GetCode()."""
    item_view = service.view.get("Source_Type") == "Item"
    sources = ctx.rows("items") if item_view else ctx.rows("resources")
    rows = []
    for source in sources:
        number = source.get("number") if item_view else source.get("No")
        name = source.get("displayName") if item_view else source.get("Name")
        source_id = source["id"] if item_view else source["@systemId"]
        out = {n: default_value(f.prop) for n, f in service.fields.items()}
        prefix = "ITEM" if item_view else "RESOURCE"
        out.update(
            {"Source_Type": service.view["Source_Type"], "Source_Id": source_id, "Code": f"{prefix} {number} UOM GR"}
        )
        out.update(
            {"Item_No": number, "Item_Description": name}
            if item_view
            else {"Resource_No": number, "Resource_Name": name}
        )
        out.update({"@systemId": source_id, "@version": source["@version"]})
        rows.append({k: v for k, v in out.items() if k in service.fields or k.startswith("@")})
    return rows


def page_rows(ctx: Context, service: PageService) -> list[dict[str, Any]]:
    """Every row the page shows (its SourceTableView applied), in page shape."""
    if service.table == ORDERS_VIEW:
        return order_rows(ctx, service)
    if service.table == CONTACTS_VIEW:
        return contact_rows(ctx, service)
    if service.table == "@unitGroups":
        return _unit_groups(ctx, service)
    if service.table == SETUP:
        ensure_setup(ctx)
    view = service.view.items()
    return [shape(ctx, service, row) for row in ctx.rows(service.table) if all(row.get(c) == v for c, v in view)]


def find(ctx: Context, service: PageService, key: dict[str, Any]) -> dict[str, Any]:
    """The page-shaped row with this key, or BC's 404."""
    for row in page_rows(ctx, service):
        if all(row.get(name) == value for name, value in key.items()):
            return row
    shown = ", ".join(f"{name}='{value}'" for name, value in key.items())
    raise BcError(
        404, "BadRequest_NotFound", f"The {service.name} does not exist. Identification fields and values: {shown}"
    )


def stored(ctx: Context, service: PageService, shaped: dict[str, Any]) -> Row:
    row = ctx.writer.store.get(ctx.table(service.table), shaped["@systemId"])
    if row is None:  # the row vanished between read and write: BC's answer is the same 404
        raise BcError(404, "BadRequest_NotFound", f"The {service.name} record no longer exists.")
    return row
