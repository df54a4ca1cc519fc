"""Item availability (BC's "CRM Item Availability Job"): coupled items' inventory -> their products' quantity on hand.

Why a job of its own: an item's `inventory` is a FlowField (the sum of its item ledger entries), so a change of stock
does not move the item's `lastModifiedDateTime` and the incremental ITEM-PRODUCT run never sees it. This job reads
the inventory of every item the mapping covers and writes the products whose quantity differs.

How it stays cheap, page by page (never more than one BC page in memory): one BC read per server page
(`$select=id,inventory`), one coupling query per page, one Dataverse read per 100 coupled products (an `or` filter
on the primary id: the emulator, like older orgs, refuses `Microsoft.Dynamics.CRM.In`), and one `UpdateMultiple`
per page of changed products (per `context.bulk_size` rows). Values are compared in the sync's canonical form, so an
unchanged quantity is never re-written: a run with nothing changed writes nothing.

Rules kept from BC: negative inventory is written as 0 (Dataverse's quantity on hand is never negative, BC sends 0);
items outside the mapping's BC filter (blocked) and uncoupled items are left alone; a coupled product in Draft still
gets its quantity (the incremental sync treats it the same way). The coupling's stored field hash is not touched:
`inventory -> quantityonhand` is one-way, and one-way fields are decided on equality of the two sides alone.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shared.domain.errors import BulkWriteError, ErrorKind, NotFoundError
from shared.domain.mapping import FieldMapping, TableMapping
from shared.domain.transforms import normalize, transform_named
from shared.engine.context import SyncContext
from shared.ports import Row

log = logging.getLogger("bc_sales_sync.availability")
MAPPING = "ITEM-PRODUCT"
INVENTORY = "inventory"
DATAVERSE_ID_CHUNK = 100  # ids per `or` filter: ~5 KB URLs (the same figure as `sides.DATAVERSE_ID_CHUNK`)
ITEM_FIELDS = ("id", "number", "displayName", INVENTORY, "baseUnitOfMeasureCode")


@dataclass
class AvailabilityResult:
    """Counters of one run; `skipped` says why nothing was read (mapping disabled, inventory not mapped)."""

    read: int = 0  # items read from BC
    coupled: int = 0  # of those, coupled to a product
    updated: int = 0  # products whose quantity on hand was written
    unchanged: int = 0  # products that already held the quantity
    missing: int = 0  # coupled products Dataverse no longer has
    failed: int = 0  # products Dataverse refused to update (named in the log)
    write_requests: int = 0  # Dataverse write requests sent (bulk messages plus any per-record fallback batch)
    skipped: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "read": self.read,
            "coupled": self.coupled,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "missing": self.missing,
            "failed": self.failed,
            "writeRequests": self.write_requests,
            **({"skipped": self.skipped} if self.skipped else {}),
        }


def inventory_field(mapping: TableMapping) -> FieldMapping | None:
    """The enabled field mapping that carries BC's inventory to Dataverse (None when an override disabled it)."""
    return next(
        (f for f in mapping.fields if f.bc_field == INVENTORY and f.dataverse_field and f.enabled and not f.lookup),
        None,
    )


def refresh_availability(context: SyncContext) -> AvailabilityResult:
    """Write the current BC inventory of every coupled item to its product where it differs (see module doc).

    Transient and fatal errors propagate (nothing is half-done that a re-run would not redo: writes are plain
    updates to a known value); products refused for their data are counted in `failed` and the run goes on."""
    mapping = context.mapping(MAPPING)
    field = inventory_field(mapping)
    if not mapping.enabled:
        return AvailabilityResult(skipped=f"{MAPPING} is disabled.")
    if field is None or field.dataverse_field is None:
        return AvailabilityResult(skipped=f"{MAPPING} does not map '{INVENTORY}' to Dataverse.")
    result = AvailabilityResult()
    pages = context.bc.list_changed_since(mapping.bc_entity_set, None, [INVENTORY], extra_filter=mapping.bc_filter)
    for page in pages:
        result.read += len(page.rows)
        _refresh_page(context, mapping, field, page.rows, result)
    return result


def _refresh_page(
    context: SyncContext, mapping: TableMapping, field: FieldMapping, items: Sequence[Row], result: AvailabilityResult
) -> None:
    wanted = {str(item["id"]): _quantity(context, field, item.get(INVENTORY)) for item in items if item.get("id")}
    couplings = context.couplings.find_many_by_bc_ids(MAPPING, list(wanted))
    result.coupled += len(couplings)
    if not couplings:
        return
    target = field.dataverse_field or ""
    current = _products(context, mapping, target, [c.dataverse_id for c in couplings.values()])
    changes: list[dict[str, Any]] = []
    for bc_id, coupling in couplings.items():
        product = current.get(coupling.dataverse_id.lower())
        if product is None:
            result.missing += 1
        elif normalize(product.get(target)) == normalize(wanted[bc_id]):
            result.unchanged += 1
        else:
            changes.append({mapping.dataverse_id: coupling.dataverse_id, target: wanted[bc_id]})
    _write(context, mapping, changes, result)


def _quantity(context: SyncContext, field: FieldMapping, inventory: Any) -> Any:
    """The mapping's transform (`nonNegative` in the catalog), then BC's rule whatever an override says: never < 0.
    A missing inventory is BC's blank decimal, 0."""
    value = transform_named(field.transform, context.option_maps).to_dataverse(0 if inventory is None else inventory)
    return max(value, 0) if isinstance(value, int | float) and not isinstance(value, bool) else value


def _products(context: SyncContext, mapping: TableMapping, target: str, ids: Sequence[str]) -> dict[str, Row]:
    """The coupled products' current value, keyed by lower-cased id: one read per `DATAVERSE_ID_CHUNK` ids. Not
    limited to the mapping's Dataverse filter: a Draft product is still coupled and still gets BC's values."""
    primary = mapping.dataverse_id
    found: dict[str, Row] = {}
    for chunk in _chunks(sorted(set(ids)), DATAVERSE_ID_CHUNK):
        ids_filter = " or ".join(f"{primary} eq {value}" for value in chunk)
        for page in context.dataverse.list_changed_since(
            mapping.dataverse_entity_set, None, [primary, target], extra_filter=ids_filter
        ):
            found.update({str(row[primary]).lower(): row for row in page.rows})
    return found


def _write(
    context: SyncContext, mapping: TableMapping, changes: Sequence[Mapping[str, Any]], result: AvailabilityResult
) -> None:
    """One `UpdateMultiple` per `bulk_size` rows; a chunk refused for some records is re-sent by the connector as one
    per-record `$batch` (one more request), which writes the good ones and names the bad ones."""
    for chunk in _chunks(changes, max(1, context.bulk_size)):
        result.write_requests += 1
        try:
            context.dataverse.update_multiple(mapping.dataverse_table, mapping.dataverse_entity_set, chunk)
        except BulkWriteError as error:
            result.write_requests += 1
            if not error.failures or error.kind is not ErrorKind.RECORD:
                raise
            log.warning("item availability: %s (products %s)", error.message, [f.row_id for f in error.failures])
            result.failed += len(error.failures)
            result.updated += len(chunk) - len(error.failures)
            continue
        result.updated += len(chunk)


def _chunks(values: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def get_item_availability(context: SyncContext, bc_id: str) -> dict[str, Any]:
    """What a salesperson asks before promising a date: the item's live stock from BC (not the product's copy, which
    is as old as the last availability run), and the product it is coupled to, if any."""
    mapping = context.mapping(MAPPING)
    item = context.bc.get_entity(mapping.bc_entity_set, bc_id, select=list(ITEM_FIELDS))
    if item is None:
        raise NotFoundError("itemNotFound", f"Business Central has no item with id '{bc_id}'.", field="bcId")
    coupling = context.couplings.find_by_bc_id(MAPPING, str(item["id"]))
    return {
        "bcId": item["id"],
        "number": item.get("number"),
        "displayName": item.get("displayName"),
        "inventory": item.get(INVENTORY),
        "baseUnitOfMeasureCode": item.get("baseUnitOfMeasureCode"),
        "dataverseId": coupling.dataverse_id if coupling else None,
    }
