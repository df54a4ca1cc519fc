"""Bound actions and admin-side business events of the BC emulator (ship and invoice, make order, post, cancel,
payments, release). Each action is `(writer, company_id, entity_set, row) -> (entity set, row) | None`, and the
app answers 204 with a `Location` header at the returned row. The logic lives in the other `posting/` modules;
this module is only the registry, so `app` depends on one small surface.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from local.emulators.business_central.api.writer import Writer
from local.emulators.business_central.posting import actions, admin, exchange_rates, inventory, payment_reversal, ship
from local.emulators.business_central.schema import EntitySet
from local.emulators.store import Row
from local.emulators.web import Request, Response

Action = Callable[[Writer, str, EntitySet, Row], tuple[str, Row] | None]
# `postAndSend` / `cancelAndSend` also e-mail the document in BC; the emulator sends nothing.
ACTIONS: dict[tuple[str, str], Action] = {
    ("salesOrders", "shipAndInvoice"): actions.ship_and_invoice,
    ("salesQuotes", "makeOrder"): actions.make_order,
    ("salesQuotes", "makeInvoice"): actions.make_invoice,
    ("salesInvoices", "post"): actions.post_invoice,
    ("salesInvoices", "postAndSend"): actions.post_invoice,
    ("salesInvoices", "cancel"): actions.cancel_invoice,
    ("salesInvoices", "cancelAndSend"): actions.cancel_invoice,
}
ADMIN_ROUTES: dict[tuple[str, str], Callable[[Writer, Request], Response]] = {
    ("POST", "/_admin/payments"): admin.apply_payment,
    ("POST", "/_admin/payments/unapply"): payment_reversal.unapply_payment,
    ("POST", "/_admin/release"): admin.release_order,
    ("POST", "/_admin/reopen"): admin.reopen_order,
    ("POST", "/_admin/backdate"): admin.backdate_invoice,
    ("POST", "/_admin/ship"): ship.ship_order,
    ("POST", "/_admin/inventory"): inventory.set_inventory,
    ("POST", "/_admin/exchangeRates"): exchange_rates.add_rate,
}


def admin_routes(writer: Writer) -> Mapping[tuple[str, str], Callable[[Request], Response]]:
    """Bind each admin handler to this emulator's writer."""

    def bind(handler: Callable[[Writer, Request], Response]) -> Callable[[Request], Response]:
        return lambda request: handler(writer, request)

    return {route: bind(handler) for route, handler in ADMIN_ROUTES.items()}


def action_for(entity_set: str, name: str) -> Action | None:
    return ACTIONS.get((entity_set, name))
