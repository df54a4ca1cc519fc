"""Admin-side stock changes of the BC emulator: `POST /_admin/inventory {"itemId" | "itemNumber", "inventory",
"companyId"?}` sets an item's `inventory` as posting item ledger entries would (no auth, like the other admin routes).

Why a route and not a PATCH of the item: in BC, an item's Inventory is a FlowField (the sum of its item ledger
entries), not a field of the Item record. Receipts, shipments and adjustments insert ledger entries and leave the
Item row alone, so its `lastModifiedDateTime` and its ETag do not move: the very reason the incremental sync cannot
see stock changes and the item availability job exists. A PATCH through the API would stamp the row like any other
change and hide that behaviour, so this route rewrites the stored value keeping the row's version (hence ETag) and
`lastModifiedDateTime`, and records no change for delta tracking.
"""

from __future__ import annotations

from typing import Any

from local.emulators.business_central.api.writer import Writer
from local.emulators.business_central.errors import bad_request, not_found
from local.emulators.business_central.naming import table_name
from local.emulators.business_central.posting.admin import _company_id
from local.emulators.service import admin_body
from local.emulators.store import Row
from local.emulators.web import Request, Response


def _item(writer: Writer, company_id: str, body: dict[str, Any]) -> Row:
    if "itemId" in body:
        item_id = body["itemId"]
        if not isinstance(item_id, str) or not item_id:
            raise bad_request("'itemId' must be a non-empty string.")
        row = writer.store.get(table_name(company_id, "items"), item_id.lower())
        wanted = item_id
    else:
        number = body.get("itemNumber")
        if not isinstance(number, str) or not number:
            raise bad_request("Give 'itemId' or 'itemNumber'.")
        row = writer.find_by(company_id, "items", "number", number.strip().upper())
        wanted = number
    if row is None:
        raise not_found("item", wanted)
    return row


def set_inventory(writer: Writer, request: Request) -> Response:
    body = admin_body(request)
    quantity = body.get("inventory")
    if not isinstance(quantity, int | float) or isinstance(quantity, bool):
        raise bad_request("'inventory' must be a number (negative stock is allowed, as in BC).")
    with writer.store.transaction():
        company_id = _company_id(writer, body)
        item = _item(writer, company_id, body)
        changed = {**item, "inventory": round(float(quantity), 5)}
        writer.store.put(table_name(company_id, "items"), item["id"], changed, version=item["@version"], track=False)
    return Response.json(
        200,
        {
            "itemId": changed["id"],
            "itemNumber": changed.get("number"),
            "inventory": changed["inventory"],
            "lastModifiedDateTime": changed.get("lastModifiedDateTime"),
        },
    )
