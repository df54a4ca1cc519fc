"""The page web services of the in-memory BC fake (`list_page`, `get_page_entity`, `update_page_entity`), with the
sales order pages as views of its API orders.

Why views: on BC, SalesOrderList (page 9305) and Sales Order (page 42) show the very Sales Header record API v2.0
serves as a salesOrder, and the emulator computes them from its API rows; so does the fake. A page-42 write changes
the API order (new ETag, later lastModifiedDateTime), an order made from a quote shows its Quote_No, and the order's
Your Reference reaches the posted invoice. Page 42 keeps the emulator's rules where the contract suite looks: the
four emulated writes (Your_Reference Text[35], External_Document_No Code[35], Requested_Delivery_Date,
WorkDescription), read-only Quote_No and Status, a key that cannot change, any other write refused as not emulated,
and If-Match. The canonical sets behind these pages (`salesOrderHeaders`, `salesOrderStatuses`) are served from the
same views through the entity calls, so a service written in canonical names meets the same data.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from local.emulators.odata.filter import compile_filter
from local.fakes.bc_rows import checked, resolver, shape
from shared.connectors.bc_pages import page_key, page_sources, to_canonical_row
from shared.connectors.entity_sources import EntitySource, EntitySources
from shared.domain.errors import RecordError
from shared.ports import Page, Row

if TYPE_CHECKING:
    from local.fakes.business_central import InMemoryBusinessCentralClient

ORDER_PAGES = frozenset({42, 9305})  # page ids of the views; the service names are whatever the sources say
EMPTY_DATE = "0001-01-01"
# page-42 property -> (API order key, AL kind, maximum length); `@` keys are never returned by the API calls
WRITES: dict[str, tuple[str, str, int | None]] = {
    "Your_Reference": ("@yourReference", "text", 35),
    "External_Document_No": ("externalDocumentNumber", "code", 35),
    "Requested_Delivery_Date": ("requestedDeliveryDate", "date", None),
    "WorkDescription": ("@workDescription", "text", None),
}
READ_ONLY = frozenset({"Quote_No", "Status", "Completely_Shipped"})
KEYS = ("Document_Type", "No")


def order_view(order: Row, page_id: int) -> Row:
    """An API order as page 9305 or 42 shows it (the fields the fake knows; `@orderId` finds the order again)."""
    row: Row = {
        "Document_Type": "Order",
        "No": order.get("number", ""),
        "Sell_to_Customer_No": order.get("customerNumber", ""),
        "External_Document_No": order.get("externalDocumentNumber", ""),
        "Requested_Delivery_Date": order.get("requestedDeliveryDate") or EMPTY_DATE,
        "Your_Reference": order.get("@yourReference", ""),
        "Quote_No": order.get("@quoteNumber", ""),
        "Status": "Open",
        "Completely_Shipped": bool(order.get("fullyShipped")),
        "@odata.etag": order["@odata.etag"],
        "@orderId": order["id"],
    }
    if page_id == 42:
        row["WorkDescription"] = order.get("@workDescription", "")
    return row


def _public(row: Row) -> Row:
    return {k: v for k, v in row.items() if k == "@odata.etag" or not k.startswith("@")}


def _order_value(service: str, name: str, value: Any) -> tuple[str, str]:
    """The API key and stored value of one emulated page-42 write, or the error BC (and the emulator) answer."""
    if name in READ_ONLY:
        raise RecordError("BadRequest", f"The property '{name}' of '{service}' is read-only.")
    if name not in WRITES:
        raise RecordError("BadRequest", f"Writing '{name}' through the page '{service}' is not emulated.")
    key, kind, length = WRITES[name]
    if not isinstance(value, str):
        raise RecordError("BadRequest", f"Cannot convert {value!r} to Edm.String ({name}).")
    text = value.strip().upper() if kind == "code" else value
    if kind == "date":
        try:
            text = date.fromisoformat(text).isoformat()
        except ValueError:
            raise RecordError("BadRequest", f"Cannot convert {value!r} to Edm.Date ({name}).") from None
    if length is not None and len(text) > length:
        raise RecordError(
            "Application_StringExceededLength",
            f"The length of the string is {len(text)}, but it must be less than or equal to {length} characters.",
        )
    return key, text


class FakePageServices:
    """Mixed into `InMemoryBusinessCentralClient`: the port's page calls and the order views behind them."""

    sources: EntitySources
    sets: dict[str, dict[str, Row]]
    pages: dict[str, list[Row]]

    if TYPE_CHECKING:

        def _stamp(self, row: Row, *, api: bool = True) -> None: ...
        def _paged(self, rows: list[Row]) -> Iterator[Page]: ...

    def seed_page_row(self, service: str, row: Mapping[str, Any]) -> Row:
        self.pages.setdefault(service, []).append(stored := dict(row))
        self._stamp(stored, api=False)
        return dict(stored)

    def _order_page(self, service: str) -> int | None:
        source = self.sources.by_service(service)
        return source.page_id if source is not None and source.page_id in ORDER_PAGES else None

    def _page_rows(self, service: str) -> list[Row]:
        page_id = self._order_page(service)
        if page_id is None:
            return list(self.pages.get(service, []))
        return [order_view(order, page_id) for order in self.sets.get("salesOrders", {}).values()]

    def list_page(
        self, service: str, select: Sequence[str] | None = None, extra_filter: str | None = None
    ) -> Iterator[Page]:
        rows = self._page_rows(service)
        source = self.sources.by_service(service)
        if source is not None:
            rows.sort(key=lambda r: tuple(str(r.get(k)) for k in source.key))
        if extra_filter:
            predicate = compile_filter(extra_filter, resolver(rows), case_insensitive=False)
            rows = [r for r in rows if predicate(r)]
        yield from self._paged([shape(r, select) for r in rows])

    def _page_row(self, service: str, key: Mapping[str, Any]) -> Row | None:
        return next((r for r in self._page_rows(service) if all(r.get(k) == v for k, v in key.items())), None)

    def get_page_entity(self, service: str, key: Mapping[str, Any]) -> Row | None:
        return None if (row := self._page_row(service, key)) is None else _public(row)

    def update_page_entity(self, service: str, key: Mapping[str, Any], body: Mapping[str, Any], etag: str) -> Row:
        page_id = self._order_page(service)
        if page_id is not None:
            return self._update_order(service, page_id, key, body, etag)
        row = checked(self._page_row(service, key), etag, f"The {service} {dict(key)}")
        row.update({k: v for k, v in body.items() if not k.startswith("@")})
        self._stamp(row, api=False)
        return dict(row)

    def _update_order(
        self, service: str, page_id: int, key: Mapping[str, Any], body: Mapping[str, Any], etag: str
    ) -> Row:
        if page_id != 42:
            raise RecordError("BadRequest_MethodNotAllowed", f"Modify is not allowed on the page '{service}'.")
        shown = checked(self._page_row(service, key), etag, f"The {service} {dict(key)}")
        changes: dict[str, Any] = {}
        for name, value in body.items():
            if name.startswith("@odata."):
                continue
            if name in KEYS:
                if value != shown[name]:
                    raise RecordError("Application_DialogException", "You cannot rename a Sales Header.")
                continue
            api_key, stored = _order_value(service, name, value)
            changes[api_key] = stored
        order = self.sets["salesOrders"][shown["@orderId"]]
        order.update(changes)
        self._stamp(order)  # one record: the API order gets the new ETag and lastModifiedDateTime
        return _public(order_view(order, page_id))

    # -- the canonical sets behind the order views (used by the entity calls) ------------------------------------
    def _view_source(self, entity_set: str) -> EntitySource | None:
        return next((s for s in page_sources(self.sources, entity_set) if s.page_id in ORDER_PAGES), None)

    def _view_entity(self, source: EntitySource, entity_id: str) -> Row | None:
        found = self.get_page_entity(source.name, page_key(source, entity_id))
        return None if found is None else to_canonical_row(source, found)

    def _view_changes(self, source: EntitySource, select: Sequence[str], extra_filter: str | None) -> Iterator[Page]:
        rows = [to_canonical_row(source, _public(row)) for row in self._page_rows(source.name)]
        rows.sort(key=lambda r: str(r["id"]))  # the page key order (Document_Type, No)
        if extra_filter:
            predicate = compile_filter(extra_filter, resolver(rows), case_insensitive=False)
            rows = [r for r in rows if predicate(r)]
        yield from self._paged([shape(r, list(dict.fromkeys(["id", *select]))) for r in rows])

    def _view_update(self, source: EntitySource, entity_id: str, body: Mapping[str, Any], etag: str) -> Row:
        key = page_key(source, entity_id)
        return to_canonical_row(source, self.update_page_entity(source.name, key, source.to_source(body), etag))


def make_order(fake: InMemoryBusinessCentralClient, quote: Row) -> tuple[str, Row]:
    """makeOrder: a new order with the quote's header and lines and Quote No. = the quote's number; the quote goes."""
    own = ("id", "number", "documentId", "@odata.etag", "lastModifiedDateTime")
    lines = [{k: v for k, v in line.items() if k not in own} for line in fake.children("salesQuoteLines", quote["id"])]
    header = {k: v for k, v in quote.items() if k not in own}
    order = fake.seed_entity("salesOrders", {**header, "salesOrderLines": lines})
    fake.sets["salesOrders"][order["id"]]["@quoteNumber"] = quote.get("number", "")
    fake.delete_entity("salesQuotes", quote["id"])
    return "salesOrders", order
