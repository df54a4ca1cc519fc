"""Bound actions and admin-side business events of the BC emulator (ship and invoice, make order, post, cancel,
payments, release). Each action is `(writer, company_id, entity_set, row) -> (status, body-or-None)`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from local.emulators.business_central.schema import EntitySet
from local.emulators.business_central.writer import Writer
from local.emulators.store import Row
from local.emulators.web import Request, Response

Action = Callable[[Writer, str, EntitySet, Row], tuple[str, Row] | None]
ACTIONS: dict[tuple[str, str], Action] = {}
ADMIN_ROUTES: dict[tuple[str, str], Callable[[Writer, Request], Response]] = {}


def admin_routes(writer: Writer) -> Mapping[tuple[str, str], Callable[[Request], Response]]:
    """Bind each admin handler to this emulator's writer."""

    def bind(handler: Callable[[Writer, Request], Response]) -> Callable[[Request], Response]:
        return lambda request: handler(writer, request)

    return {route: bind(handler) for route, handler in ADMIN_ROUTES.items()}


def action_for(entity_set: str, name: str) -> Action | None:
    return ACTIONS.get((entity_set, name))

