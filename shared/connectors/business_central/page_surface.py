"""`PageSurface`: a canonical entity set served by page web services, and the port's calls by service name.

A page-sourced entity (resources, price lists and lines, item/resource units ...) is read and written in canonical
names and identified by its page key (`pages.py`). Behind one set there may be several pages that each show a slice
of one table (unit groups: the item page and the resource page); the surface picks the page an id belongs to by the
page's fixed view values. Pages carry no `lastModifiedDateTime`, so a page entity is read in full each run (these
tables are small) and the sync finds changes by its value hashes; page services take no JSON `$batch`, so a batch
touching a page set is written one request at a time by the client.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from shared.connectors.business_central import requests as build
from shared.connectors.business_central.api_surface import ApiSurface
from shared.connectors.business_central.entity_sources import EntitySource
from shared.connectors.business_central.odata import and_filters, row_of
from shared.connectors.business_central.pages import (
    key_range_filter,
    keys_filters,
    page_entity_id,
    page_for,
    page_key,
    page_select,
    to_canonical_row,
    translate_filter,
)
from shared.connectors.business_central.surface import Surface
from shared.connectors.business_central.transport import BcTransport
from shared.ports import Page, Row


# -- the port's calls by service name (a published page, in the page's own names) -----------------------------------
def list_page(
    transport: BcTransport, service: str, select: Sequence[str] | None = None, extra_filter: str | None = None
) -> Iterator[Page]:
    request = build.list_page(transport.page_path(service), select, extra_filter, transport.page_size_for())
    yield from transport.pages(request)


def get_page_entity(transport: BcTransport, service: str, key: Mapping[str, Any]) -> Row | None:
    return transport.read_row(build.get_page_entity(transport.page_path(service), key))


def update_page_entity(
    transport: BcTransport, service: str, key: Mapping[str, Any], body: Mapping[str, Any], etag: str
) -> Row:
    return row_of(transport.send(build.update_page_entity(transport.page_path(service), key, body, etag)).json())


class PageSurface(Surface):
    """`pages`: every page behind the set (`pages.page_sources`), at least one."""

    batch_route = None

    def __init__(self, transport: BcTransport, entity_set: str, pages: Sequence[EntitySource]) -> None:
        super().__init__(transport, entity_set)
        self.pages = tuple(pages)
        # No page takes a DELETE or a bound action from the sync; those two calls keep the address they always had,
        # the API v2.0 entity set of the same name.
        self._api = ApiSurface(transport, entity_set)

    def page_for(self, entity_id: str | None = None) -> EntitySource:
        found = page_for(self.pages, entity_id)
        assert found is not None  # a page surface has at least one page
        return found

    def _list(self, source: EntitySource, select: Sequence[str], extra_filter: str | None) -> Iterator[Page]:
        yield from list_page(self.transport, source.name, select, extra_filter)

    # -- reads -------------------------------------------------------------------------------------------------
    def has_records(self, extra_filter: str | None) -> bool:
        for source in self.pages:
            path = self.transport.page_path(source.name)
            request = build.first_row(path, ",".join(source.key), translate_filter(source, extra_filter))
            if (self.transport.read(request) or {}).get("value"):
                return True
        return False

    def get(self, entity_id: str, select: Sequence[str] | None = None, expand: str | None = None) -> Row | None:
        """By the page's key; a page row holds what the page shows (`select` and `expand` are not sent)."""
        source = self.page_for(entity_id)
        found = get_page_entity(self.transport, source.name, page_key(source, entity_id))
        return None if found is None else to_canonical_row(source, found)

    def _read_ids(self, ids: Sequence[str], select: Sequence[str], extra_filter: str | None) -> dict[str, Row]:
        """Each page's ids with the fewest key filters its key allows (`pages.keys_filters`)."""
        found: dict[str, Row] = {}
        for source in self.pages:
            mine = [i for i in ids if self.page_for(i) is source]
            if not mine:
                continue
            scope = translate_filter(source, extra_filter)
            for text in keys_filters(source, mine):
                for page in self._list(source, page_select(source, list(select)), and_filters(text, scope)):
                    for row in page.rows:
                        canonical = to_canonical_row(source, row)
                        found[str(canonical["id"])] = canonical
        return found

    def id_range_filter(self, first: str, last: str) -> str | None:
        """Page entities are listed by their key, so the range is on the key; None when the two ids come from
        different pages behind the set."""
        source = self.page_for(first)
        if source is not self.page_for(last):
            return None
        return key_range_filter(source, first, last)

    def _changed_since(
        self, since: datetime | None, select: Sequence[str], expand: str | None, extra_filter: str | None
    ) -> Iterator[Page]:
        """Every row: pages carry no `lastModifiedDateTime` (`since` and `expand` do not apply)."""
        for source in self.pages:
            for page in self._list(source, page_select(source, list(select)), translate_filter(source, extra_filter)):
                yield Page([to_canonical_row(source, row) for row in page.rows], page.next_link)

    def ids(self, extra_filter: str | None) -> Iterator[list[str]]:
        for source in self.pages:
            for page in self._list(source, list(source.key), translate_filter(source, extra_filter)):
                yield [page_entity_id(source, row) for row in page.rows]

    # -- writes ------------------------------------------------------------------------------------------------
    def create(self, body: Mapping[str, Any], entity_id: str | None = None) -> Row:
        """On the first page behind the set; the id is the key the body carries (`entity_id` does not apply)."""
        source = self.page_for()
        request = build.create_page_entity(self.transport.page_path(source.name), source.to_source(body))
        return to_canonical_row(source, self.transport.send(request).json())

    def update(self, entity_id: str, body: Mapping[str, Any], etag: str, *, merge: bool = False) -> Row:
        """`If-Match` as on the API; no merge retry on a page (`merge` does not apply)."""
        source = self.page_for(entity_id)
        key = page_key(source, entity_id)
        updated = update_page_entity(self.transport, source.name, key, source.to_source(body), etag)
        return to_canonical_row(source, updated)

    def delete(self, entity_id: str, etag: str = "*") -> None:
        self._api.delete(entity_id, etag)

    def invoke(self, entity_id: str, action: str) -> str | None:
        return self._api.invoke(entity_id, action)
