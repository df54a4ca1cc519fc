"""`Surface`: one BC entity set as the sync sees it, whatever serves it.

Why an object per entity set: an entity lives on API v2.0, on the companion extension's custom API route, or on one
or more page web services (`entity_sources.py`), and each of the port's entity calls (read, list, create, update,
...) is done differently on a page. Deciding that once, when the client picks the set's surface, replaces a fork
"if it's a page ... else API" in every method of the client; a new kind of surface is a new subclass, not a branch
in ten methods. The two kinds: `ApiSurface` (`api_surface.py`: API v2.0 and the custom route, which speak the same
OData and differ only in their route) and `PageSurface` (`page_surface.py`).

What every surface keeps the same: ids (a page entity's id is its key, `R0010` or `S00001|10000`), canonical
property names, and `$select` required on listings.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from shared.connectors.business_central.transport import BcTransport
from shared.ports import Page, Row

ID_CHUNK = 15  # ids per `$filter`: URLs stay near 1 KB (BC's URL limit is not documented)


class Surface(ABC):
    """The port's entity calls for one entity set (`entity_set`, its canonical name), over one company's
    transport. `batch_route` is the route a JSON `$batch` of its writes goes to, None when it takes none."""

    batch_route: str | None

    def __init__(self, transport: BcTransport, entity_set: str) -> None:
        self.transport = transport
        self.entity_set = entity_set

    # -- reads -------------------------------------------------------------------------------------------------
    @abstractmethod
    def has_records(self, extra_filter: str | None) -> bool:
        """Whether one entity (matching `extra_filter`) exists: one `$top=1` read per service behind the set."""

    @abstractmethod
    def get(self, entity_id: str, select: Sequence[str] | None, expand: str | None) -> Row | None: ...

    def get_many(self, ids: Sequence[str], select: Sequence[str], extra_filter: str | None) -> dict[str, Row]:
        """One filtered read per `ID_CHUNK` ids (in id order), keyed by id; missing ones are absent."""
        found: dict[str, Row] = {}
        unique = sorted(set(ids))
        for start in range(0, len(unique), ID_CHUNK):
            found.update(self._read_ids(unique[start : start + ID_CHUNK], select, extra_filter))
        return found

    @abstractmethod
    def _read_ids(self, ids: Sequence[str], select: Sequence[str], extra_filter: str | None) -> dict[str, Row]: ...

    @abstractmethod
    def id_range_filter(self, first: str, last: str) -> str | None:
        """A `$filter` (canonical names) for the entities from `first` to `last` in `ids`' order, or None. No I/O."""

    def changed_since(
        self, since: datetime | None, select: Sequence[str], expand: str | None, extra_filter: str | None
    ) -> Iterator[Page]:
        """Rows changed at or after `since` (closed bound: the sync removes the overlap), oldest change first where
        the surface knows changes; raises (on first use) without `select`."""
        if not select:
            raise ValueError("$select is required: read only the mapped fields")
        yield from self._changed_since(since, select, expand, extra_filter)

    @abstractmethod
    def _changed_since(
        self, since: datetime | None, select: Sequence[str], expand: str | None, extra_filter: str | None
    ) -> Iterator[Page]: ...

    @abstractmethod
    def ids(self, extra_filter: str | None) -> Iterator[list[str]]:
        """Every id, page by page, in an order that does not change between calls."""

    # -- writes ------------------------------------------------------------------------------------------------
    @abstractmethod
    def create(self, body: Mapping[str, Any], entity_id: str | None) -> Row: ...

    @abstractmethod
    def update(self, entity_id: str, body: Mapping[str, Any], etag: str, *, merge: bool) -> Row: ...

    @abstractmethod
    def delete(self, entity_id: str, etag: str) -> None: ...

    @abstractmethod
    def invoke(self, entity_id: str, action: str) -> str | None:
        """Run a bound action; the Location of the resulting entity when BC gives one."""
