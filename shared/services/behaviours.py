"""Mapping behaviours: per-table rules BC runs in code, declared by name on a mapping (`TableMapping.behaviours`) and
run by the engine at fixed hook points, so the engine holds no mapping-name checks.

Hook points (any mapping may declare any behaviour; other tables reuse them by registering a `Behaviour` here):
- `without_excluded(context, mapping, bc_rows)`: when BC candidates are read (incremental run, full-sync chunk,
  match-based coupling, create in Dataverse), before anything is compared, coupled or created;
- `after_created_in_dataverse(context, mapping, rows)`: right after records are created in Dataverse and read back,
  before the pairs are recorded; returns the Dataverse ids it wrote to (their new ETag is unknown to the caller);
- `after_updated_in_dataverse(context, mapping, ids)`: after coupled records were updated in Dataverse;
- `out_of_filter(context, mapping, since)`: once per incremental run, for rules on coupled records whose state change
  took them out of the mapping's own filter (`behaviours_states.OutOfFilter`): the rule's query (modified since the
  side's checkpoint, in the rule's condition) is read, the coupled records kept and handed to the rule; returns the
  record errors to record. A full-sync chunk reads listed ids in the filter and does not run it.

Registered behaviours:
- `excludeWriteIn` (bc-integration-facts "write in products": the write-in item/resource is never synchronized as a
  product; BC's ITEM-PRODUCT / RESOURCE-PRODUCT post-filter ignores it): the BC record whose number is the setup's
  write-in product number, when the write-in type is this mapping's kind, is never a candidate;
- `publishAndPrice` (`behaviours_products.py`): products created from BC are published and put on the default price
  list;
- `nameParts` (`behaviours_names.py`): a row-level behaviour, run by `ValueMapper` through `behaviours_rows.py` (its
  hook points are there): a person's First Name, Middle Name and Surname as BC keeps them;
- `blockInactiveCustomer`, `productStateFollowsBlocked` (`behaviours_states.py`, hook `out_of_filter`): an account
  deactivated in Sales blocks its customer; a product retired in Sales blocks its item/resource, and a blocked
  item/resource retires its product.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from shared.domain.coupling import Coupling
from shared.domain.mapping import Direction, TableMapping
from shared.domain.records import Side
from shared.ports import Row
from shared.services.behaviours_products import price_products, publish_and_price
from shared.services.behaviours_states import (
    BLOCKED_ITEMS,
    INACTIVE_ACCOUNTS,
    RETIRED_PRODUCTS,
    Failure,
    OutOfFilter,
)
from shared.services.context import SyncContext

Exclude = Callable[[SyncContext, TableMapping, Mapping[str, Row]], set[str]]
AfterCreated = Callable[[SyncContext, TableMapping, Sequence[Row]], set[str]]
AfterUpdated = Callable[[SyncContext, TableMapping, Sequence[str]], None]
WRITE_IN_KINDS = {"items": "Item", "resources": "Resource"}  # BC entity set -> setup's write-in product type


@dataclass(frozen=True)
class Behaviour:
    """What one behaviour does at each hook point (None: nothing there)."""

    exclude: Exclude | None = None  # the BC ids (of the rows given) that are never candidates
    after_created: AfterCreated | None = None
    after_updated: AfterUpdated | None = None
    out_of_filter: tuple[OutOfFilter, ...] = ()


def _write_in(context: SyncContext, mapping: TableMapping, rows: Mapping[str, Row]) -> set[str]:
    if not rows:
        return set()
    setup = context.setup_values()
    number = str(setup.get("writeInProductNumber") or "")
    kind = str(setup.get("writeInProductType") or "Item")
    if not number or WRITE_IN_KINDS.get(mapping.bc_entity_set) != kind:
        return set()
    return {bc_id for bc_id, row in rows.items() if str(row.get("number") or "").casefold() == number.casefold()}


def _priced_after_update(context: SyncContext, mapping: TableMapping, ids: Sequence[str]) -> None:
    price_products(context, mapping, ids)


REGISTRY: dict[str, Behaviour] = {
    "excludeWriteIn": Behaviour(exclude=_write_in),
    "publishAndPrice": Behaviour(after_created=publish_and_price, after_updated=_priced_after_update),
    "nameParts": Behaviour(),  # row rules only: behaviours_rows.ROW_RULES, run by ValueMapper
    "parentCompany": Behaviour(),  # row rules only (behaviours_parent.py)
    "blockInactiveCustomer": Behaviour(out_of_filter=(INACTIVE_ACCOUNTS,)),
    "productStateFollowsBlocked": Behaviour(out_of_filter=(RETIRED_PRODUCTS, BLOCKED_ITEMS)),
}


def declared(mapping: TableMapping) -> list[Behaviour]:
    """The mapping's behaviours; an unknown name is a catalog error, raised at first use (and by the catalog test)."""
    return [REGISTRY[name] for name in mapping.behaviours]


def without_excluded(context: SyncContext, mapping: TableMapping, bc_rows: dict[str, Row]) -> dict[str, Row]:
    excluded: set[str] = set()
    for behaviour in declared(mapping):
        if behaviour.exclude is not None:
            excluded |= behaviour.exclude(context, mapping, bc_rows)
    return {bc_id: row for bc_id, row in bc_rows.items() if bc_id not in excluded} if excluded else bc_rows


def after_created_in_dataverse(context: SyncContext, mapping: TableMapping, rows: Sequence[Row]) -> set[str]:
    written: set[str] = set()
    for behaviour in declared(mapping):
        if behaviour.after_created is not None and rows:
            written |= behaviour.after_created(context, mapping, rows)
    return written


def after_updated_in_dataverse(context: SyncContext, mapping: TableMapping, ids: Sequence[str]) -> None:
    for behaviour in declared(mapping):
        if behaviour.after_updated is not None and ids:
            behaviour.after_updated(context, mapping, ids)


def _left(
    context: SyncContext, mapping: TableMapping, rule: OutOfFilter, since: datetime | None
) -> list[tuple[Coupling, Row]]:
    """The coupled records of the rule's side modified since `since` and in the rule's condition (one query)."""
    if rule.side is Side.DATAVERSE:
        primary = mapping.dataverse_id
        pages = context.dataverse.list_changed_since(
            mapping.dataverse_entity_set, since, [primary, *rule.select], extra_filter=rule.condition
        )
        rows = {str(row[primary]): row for page in pages for row in page.rows}
        by_dv = context.couplings.find_many_by_dataverse_ids(mapping.name, list(rows)) if rows else {}
        return [(coupling, rows[dv_id]) for dv_id, coupling in sorted(by_dv.items())]
    bc_pages = context.bc.list_changed_since(
        mapping.bc_entity_set, since, ["id", *rule.select], extra_filter=rule.condition
    )
    bc_rows = {str(row["id"]): row for page in bc_pages for row in page.rows}
    by_bc = context.couplings.find_many_by_bc_ids(mapping.name, list(bc_rows)) if bc_rows else {}
    return [(coupling, bc_rows[bc_id]) for bc_id, coupling in sorted(by_bc.items())]


def out_of_filter(context: SyncContext, mapping: TableMapping, since: dict[Side, datetime | None]) -> list[Failure]:
    """Run the mapping's out-of-filter rules whose side the mapping reads (a Dataverse rule needs a mapping that
    carries data from Dataverse, a BC rule one that carries data to it)."""
    failures: list[Failure] = []
    for behaviour in declared(mapping):
        for rule in behaviour.out_of_filter:
            wanted = Direction.FROM_DATAVERSE if rule.side is Side.DATAVERSE else Direction.TO_DATAVERSE
            if not mapping.direction.allows(wanted):
                continue
            if found := _left(context, mapping, rule, since.get(rule.side)):
                failures += rule.apply(context, mapping, found)
    return failures
