"""The sales order pages as views over API v2.0 `salesOrders` rows: SalesOrderList (9305, read-only) and SalesOrder
(42, the Sales Order document page).

Why a view and not a page table: on BC both pages and the API show one Sales Header record, so an order created
through API v2.0 must be visible (and, on page 42, editable) on the pages, and a page write must show in the API
with a new ETag and lastModifiedDateTime. The emulator therefore keeps one row, the API's, and computes the page
shape from it through `salesHeader` in bc_page_overlay.json (table column -> API key). Fields API v2.0 lacks live
on the API row under internal `@` keys the API never returns: `@yourReference` (Your Reference; posting copies it
to the posted invoice's customerPurchaseOrderReference), `@quoteNumber` (Quote No., set by makeOrder) and
`@workDescription` (the Work Description BLOB behind page 42's WorkDescription variable). Writes: order_write.py.
"""

from __future__ import annotations

from typing import Any

from local.emulators.business_central.pages.context import Context
from local.emulators.business_central.pages.schema import PageService
from local.emulators.business_central.values import default_value
from local.emulators.store import Row

ORDERS_VIEW = "@salesOrders"
ORDERS = "salesOrders"


def order_status(order: Row) -> str:
    """BC's Sales Document Status text (the API reports Draft/Open; the admin route releases and reopens)."""
    return "Released" if order.get("@released") else "Open"


def shape_order(ctx: Context, service: PageService, order: Row) -> dict[str, Any]:
    """One API order as `service` (9305 or 42) shows it, plus the internal keys for ETag and paging."""
    mapping: dict[str, str] = ctx.schema.overlay["salesHeader"]
    out: dict[str, Any] = {}
    for name, page_field in service.fields.items():
        source = mapping.get(page_field.column or "")
        out[name] = order.get(source, default_value(page_field.prop)) if source else default_value(page_field.prop)
    out["Document_Type"] = "Order"
    if "Status" in service.fields:
        out["Status"] = order_status(order)
    if "Currency_Code" in service.fields:
        currency = order.get("currencyCode") or ""
        out["Currency_Code"] = "" if currency == ctx.local_currency else currency  # blank means LCY in BC
    out.update({"@systemId": order["id"], "@version": order["@version"]})
    out["@modifiedAt"] = order.get("lastModifiedDateTime", "")
    return out


def order_rows(ctx: Context, service: PageService) -> list[dict[str, Any]]:
    return [shape_order(ctx, service, order) for order in ctx.rows(ORDERS)]
