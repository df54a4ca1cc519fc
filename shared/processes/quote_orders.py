"""A Sales order made from a quote that has a BC quote becomes the BC order through BC's Sales-Quote to Order.

Why `makeOrder` and not a plain create: BC sets the order's Quote No. there and nowhere else (the field is read-only
on every page and absent from API v2.0), and BC's rule is that such an order carries the Quote No. and its quote is
archived. The quote is archived in `QuoteArchive` first (under its current revision), then `makeOrder` turns it into
the order (BC removes the quote), then the order takes the Sales order's header texts and lines (the Sales order is
what the customer ordered, the quote only what was offered).

Crash safety: the coupling of the new order is written right after `makeOrder`, marked `lines:pending`, and the mark
is cleared once the lines are the Sales order's; a repeat finds the coupling and finishes the lines (a repeat that
finds the quote gone finds its order through BC's Sales Order List by Quote No.).

Conversions at the same moment (a timer and a click): BC converts the quote once (the loser's `makeOrder` answers
404 and it finds the winner's order by Quote No.), the coupling is created once (conditional insert), and the lines
are rebuilt by whoever claims them: the mark becomes `lines:building:<when>` by a conditional update, so the others
leave them alone. A claim older than `BUILD_LEASE` is taken as a crashed worker's and may be claimed again (the
rebuild deletes whatever lines the order holds first, so finishing twice in sequence is harmless).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.domain.coupling import Coupling
from shared.domain.errors import ConcurrencyError, ConflictError, NotFoundError
from shared.domain.records import ArchivedQuote
from shared.engine.context import SyncContext
from shared.ports import QuoteArchive

ORDER_MAPPING, BC_ORDERS, BC_ORDER_LINES = "SALESORDER-ORDER", "salesOrders", "salesOrderLines"
QUOTE_MAPPING, BC_QUOTES, BC_QUOTE_LINES = "SALESQUOTE-QUOTE", "salesQuotes", "salesQuoteLines"
CONVERTED_MARK = "won:converted"  # on the quote's coupling: its order was made from it (never again)
LINES_PENDING = "lines:pending"
LINES_BUILDING = "lines:building:"  # + the claim's time (ISO-8601 UTC)
BUILD_LEASE = timedelta(minutes=5)  # far above a rebuild's few seconds
_ID_IN_LOCATION = re.compile(r"\(([0-9a-fA-F-]{36})\)\s*$")


def quote_coupling(context: SyncContext, order: dict[str, Any]) -> Coupling | None:
    """The BC quote coupling of the order's quote, when the quote was processed into BC."""
    quote_id = order.get("_quoteid_value")
    return context.couplings.find_by_dataverse_id(QUOTE_MAPPING, str(quote_id)) if quote_id else None


def order_from_quote(
    context: SyncContext, archive: QuoteArchive | None, quote: Coupling, order: dict[str, Any], body: dict[str, Any]
) -> str:
    """The BC order's id, made from the coupled BC quote and given the Sales order's texts and lines."""
    order_id = str(order["salesorderid"])
    row = context.dataverse.get_row("quotes", quote.dataverse_id, ["quotenumber", "revisionnumber"]) or {}
    bc_quote = context.bc.get_entity(BC_QUOTES, quote.bc_id, expand=BC_QUOTE_LINES)
    if bc_quote is not None:
        if archive is not None:
            document = {k: v for k, v in bc_quote.items() if not k.startswith("@odata")}
            when = context.clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            archive.archive_quote(
                ArchivedQuote(str(row.get("quotenumber")), int(row.get("revisionnumber") or 0), when, document)
            )
        try:
            location = context.bc.invoke_action(BC_QUOTES, quote.bc_id, "makeOrder") or ""
        except NotFoundError:  # converted by a conversion running at the same moment
            location = ""
        match = _ID_IN_LOCATION.search(location)
        bc_order_id = match.group(1) if match else _order_by_quote_number(context, str(bc_quote["number"]))
    else:
        bc_order_id = _order_by_quote_number(context, _archived_number(archive, row))
    try:
        coupling = context.couplings.create_coupling(
            Coupling(ORDER_MAPPING, bc_order_id, order_id, values_hash=LINES_PENDING)
        )
    except ConflictError:
        coupling = context.couplings.find_by_dataverse_id(ORDER_MAPPING, order_id) or Coupling(
            ORDER_MAPPING, bc_order_id, order_id
        )
    finish_lines(context, coupling, body)
    _mark_converted(context, quote)
    return bc_order_id


def _mark_converted(context: SyncContext, quote: Coupling) -> None:
    current: Coupling | None = quote
    while current is not None and current.values_hash != CONVERTED_MARK:
        try:
            context.couplings.update_coupling(current.with_changes(values_hash=CONVERTED_MARK))
            return
        except ConcurrencyError:  # another conversion marked it (or changed it) meanwhile: read and look again
            current = context.couplings.find_by_dataverse_id(QUOTE_MAPPING, quote.dataverse_id)


def lines_unfinished(values_hash: str | None) -> bool:
    """Whether the order made from a quote still waits for (or is getting) the Sales order's lines."""
    return values_hash == LINES_PENDING or (values_hash or "").startswith(LINES_BUILDING)


def _claim(context: SyncContext, coupling: Coupling) -> Coupling | None:
    """The coupling marked as ours to rebuild the lines, or None when they are done or another worker holds a
    live claim (conditional on the coupling's etag: of workers racing, one wins)."""
    current: Coupling | None = coupling
    now = context.clock().astimezone(UTC)
    while current is not None and lines_unfinished(current.values_hash):
        held = (current.values_hash or "").removeprefix(LINES_BUILDING)
        if current.values_hash != LINES_PENDING and now - datetime.fromisoformat(held) < BUILD_LEASE:
            return None
        try:
            return context.couplings.update_coupling(
                current.with_changes(values_hash=LINES_BUILDING + now.isoformat(timespec="seconds"))
            )
        except ConcurrencyError:
            current = context.couplings.find_by_dataverse_id(ORDER_MAPPING, coupling.dataverse_id)
    return None


def finish_lines(context: SyncContext, coupling: Coupling, body: dict[str, Any]) -> None:
    """Replace the order's lines (the quote's) by the Sales order's, and its header texts; clears the mark. Only
    the worker that claims the lines does it (`_claim`)."""
    claimed = _claim(context, coupling)
    if claimed is None:
        return
    bc_id = claimed.bc_id
    current = context.bc.get_entity(BC_ORDERS, bc_id, expand=BC_ORDER_LINES)
    if current is None:
        raise NotFoundError("bcOrderMissing", f"The Business Central order {bc_id} made from the quote is gone.")
    for line in current.get(BC_ORDER_LINES) or []:
        context.bc.delete_entity(BC_ORDER_LINES, str(line["id"]))
    header = {k: v for k, v in body.items() if k not in (BC_ORDER_LINES, "customerId", "currencyCode")}
    fresh = context.bc.get_entity(BC_ORDERS, bc_id) or current
    context.bc.update_entity(BC_ORDERS, bc_id, header, str(fresh.get("@odata.etag") or "*"))
    for line in body.get(BC_ORDER_LINES) or []:
        context.bc.create_entity(BC_ORDER_LINES, {**line, "documentId": bc_id})
    context.couplings.update_coupling(claimed.with_changes(values_hash=None))


def _archived_number(archive: QuoteArchive | None, row: dict[str, Any]) -> str:
    revisions = archive.list_revisions(str(row.get("quotenumber"))) if archive is not None else []
    if not revisions:
        raise NotFoundError(
            "bcQuoteMissing", f"The Business Central quote of Sales quote {row.get('quotenumber')} is gone."
        )
    return str(revisions[-1].document.get("number") or "")


def _order_by_quote_number(context: SyncContext, quote_number: str) -> str:
    literal = quote_number.replace("'", "''")
    for page in context.bc.list_changed_since(
        "salesOrderStatuses", None, ["number", "quoteNumber"], extra_filter=f"quoteNumber eq '{literal}'"
    ):
        for row in page.rows:
            found = context.bc.list_changed_since(
                BC_ORDERS, None, ["id", "number"], extra_filter=f"number eq '{row['number']}'"
            )
            for order_page in found:
                for order in order_page.rows:
                    return str(order["id"])
    raise NotFoundError("bcOrderMissing", f"No Business Central order carries the Quote No. {quote_number}.")
