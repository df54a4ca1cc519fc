"""Ship only (BC's Post > Ship on a sales order), as an admin event: API v2.0 has `shipAndInvoice` but no action
that ships without invoicing, yet a shipped, not yet invoiced order is what BC's "Shipped Not Invoiced (LCY)"
FlowField sums (Customer field 114 over Sales Line field 93), so tests need one.

`POST /_admin/ship {"orderId" | "orderNumber", "quantities"?: {"<sequence>": qty}, "companyId"?}` posts a shipment
of the given quantity per order line (by its `sequence`, BC's Line No.; default: every line's whole outstanding
quantity, BC's default Qty. to Ship). Each shipped line's `shippedQuantity` (Quantity Shipped) grows by its quantity;
`invoicedQuantity` stays, so Qty. Shipped Not Invoiced = shipped - invoiced, as BC's Sales Line InitOutstanding
computes it. A `salesShipments` document with those quantities is posted and the order is released (Sales-Post
releases a document before posting it). The order stays: it is deleted only when fully invoiced.

Refusals (400 `Application_DialogException`): a quantity above the line's outstanding quantity (BC: "You cannot ship
more than ... units."), a quantity below 0, an unknown sequence, nothing to ship.
"""

from __future__ import annotations

from typing import Any

from local.emulators.business_central.api import documents
from local.emulators.business_central.api.writer import Writer
from local.emulators.business_central.errors import bad_request, dialog
from local.emulators.business_central.posting.actions import SHIPMENT_SERIES
from local.emulators.business_central.posting.admin import _company_id, _order
from local.emulators.business_central.posting.common import copy_header, copy_lines, date_or, is_postable, today
from local.emulators.service import admin_body
from local.emulators.store import Row
from local.emulators.web import Request, Response


def _quantities(body: dict[str, Any]) -> dict[int, float] | None:
    given = body.get("quantities")
    if given is None:
        return None
    if not isinstance(given, dict):
        raise bad_request("'quantities' must be an object of line sequence -> quantity.")
    wanted: dict[int, float] = {}
    for key, value in given.items():
        if not str(key).isdigit() or not isinstance(value, int | float) or isinstance(value, bool):
            raise bad_request("'quantities' must map a line sequence (digits) to a number.")
        if value < 0:
            raise dialog(f"Qty. to Ship must not be negative on line {key}.")
        wanted[int(key)] = float(value)
    return wanted


def _outstanding(line: Row) -> float:
    return round(float(line.get("quantity") or 0) - float(line.get("shippedQuantity") or 0), 5)


def ship_order(writer: Writer, request: Request) -> Response:
    body = admin_body(request)
    wanted = _quantities(body)
    orders = writer.entity_set("salesOrders")
    lines_set = writer.entity_set(orders.lines or "")
    with writer.store.transaction():
        company_id = _company_id(writer, body)
        order = dict(_order(writer, company_id, body))
        lines = [line for line in documents.line_rows(writer, company_id, orders, order["id"]) if is_postable(line)]
        by_sequence = {int(line.get("sequence") or 0): line for line in lines}
        unknown = sorted(set(wanted or {}) - set(by_sequence))
        if unknown:
            raise dialog(f"Sales order {order.get('number')} has no line {unknown[0]} to ship.")
        plan: list[tuple[Row, float]] = []
        for sequence, line in sorted(by_sequence.items()):
            quantity = _outstanding(line) if wanted is None else wanted.get(sequence, 0.0)
            if quantity > _outstanding(line):
                raise dialog(f"You cannot ship more than {_outstanding(line):g} units on line {sequence}.")
            if quantity > 0:
                plan.append((line, quantity))
        if not plan:
            raise dialog("There is nothing to post.")
        posting_date = date_or(order.get("postingDate"), today()).isoformat()
        shipments = writer.entity_set("salesShipments")
        shipment = copy_header(
            order,
            shipments,
            number=writer.next_number(company_id, SHIPMENT_SERIES),
            orderNumber=order["number"],
            postingDate=posting_date,
        )
        writer.put(company_id, shipments, shipment)
        shipped_lines = [{**line, "quantity": quantity} for line, quantity in plan]
        copy_lines(writer, company_id, shipped_lines, shipments, shipment, shipmentDate=posting_date)
        for line, quantity in plan:
            updated = dict(line)
            updated["shippedQuantity"] = round(float(line.get("shippedQuantity") or 0) + quantity, 5)
            writer.put(company_id, lines_set, updated)
        order["@released"] = True
        documents.status(orders, order)
        writer.put(company_id, orders, order)
    return Response.json(
        200,
        {
            "orderId": order["id"],
            "orderNumber": order.get("number"),
            "shipmentId": shipment["id"],
            "shipmentNumber": shipment.get("number"),
            "shipped": {str(int(line.get("sequence") or 0)): quantity for line, quantity in plan},
        },
    )
