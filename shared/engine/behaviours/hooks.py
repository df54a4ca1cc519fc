"""Mapping behaviours: per-table rules BC runs in code, declared by name on a mapping (`TableMapping.behaviours`) and
run by the engine at fixed hook points, so the engine holds no mapping-name checks.

Hook points (any mapping may declare any behaviour; other tables reuse them by registering a `Behaviour` here):
- `without_excluded(context, mapping, bc_rows)`: when BC candidates are read (incremental run, full-sync chunk,
  match-based coupling, create in Dataverse), before anything is compared, coupled or created;
- `after_created_in_dataverse(context, mapping, rows)`: right after records are created in Dataverse and read back,
  before the pairs are recorded; returns the Dataverse ids it wrote to (their new ETag is unknown to the caller);
- `after_updated_in_dataverse(context, mapping, ids)`: after coupled records were updated in Dataverse;
- `after_uncoupled(context, mapping, coupling)`: after Delete Coupling removed one record's coupling
  (`services/coupling.py: uncouple`); both records stay;
- `on_transferred(context, mapping, side, pairs, scope)`: the state rules (`behaviours_states.StateRule`) of the
  records of `side` just synchronized as sources, as BC's transfer subscribers run them: by an incremental run and a
  full-synchronization chunk (`MappingRun._synchronize`: the coupled candidates that changed since their last
  synchronization and did not fail, read in the mapping's filter, `scope`) and by Synchronize Now (the one record,
  whatever the filter: `scope` None); returns the record errors and the state fields written;
- `out_of_filter(context, mapping, since)`: once per incremental run, for the rules whose records the mapping's
  default filter never reads (`StateRule.out_of_filter`): the rule's query (modified since the side's checkpoint, in
  the rule's condition) is read, the coupled records kept and handed to the rule; returns the record errors to
  record. A full-synchronization chunk does not run it: BC's full synchronization reads in the mapping's filters.

Registered behaviours:
- `excludeWriteIn` (bc-integration-facts "write in products": the write-in item/resource is never synchronized as a
  product; BC's ITEM-PRODUCT / RESOURCE-PRODUCT post-filter ignores it): the BC record whose number is the setup's
  write-in product number, when the write-in type is this mapping's kind, is never a candidate;
- `publishAndPrice` (`engine/behaviours/products.py`): products created from BC are published and put on the default
  price list;
- `nameParts` (`engine/behaviours/names.py`): a row-level behaviour, run by `ValueMapper` through
  `engine/behaviours/rows.py` (its hook points are there): a person's First Name, Middle Name and Surname as BC keeps
  them;
- `blockInactiveCustomer`, `productStateFollowsBlocked` (`engine/behaviours/states.py`, hooks `on_transferred` and
  `out_of_filter`): an account deactivated in Sales blocks its customer; a product retired in Sales blocks its
  item/resource, a blocked item/resource retires its product and an unblocked one publishes its retired product;
- `dropAccountStatistics` (hook `after_uncoupled`): BC deletes an uncoupled customer's account statistics row (its
  figures would no longer be kept up to date): the Sales row's `nav_accountstatisticsid` statistics are deleted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from shared.domain.coupling import Coupling, SyncResult
from shared.domain.documents import WRITE_IN_BEHAVIOUR, WRITE_IN_SETS
from shared.domain.mapping import Direction, TableMapping
from shared.domain.records import Side
from shared.engine.behaviours.products import price_products, publish_and_price
from shared.engine.behaviours.states import (
    BLOCKED_ITEMS,
    INACTIVE_ACCOUNTS,
    RETIRED_PRODUCTS,
    UNBLOCKED_ITEMS,
    Applied,
    Changed,
    Failure,
    StateRule,
    filter_decides,
    holds,
    in_condition,
)
from shared.engine.context import SyncContext
from shared.ports import Row

Exclude = Callable[[SyncContext, TableMapping, Mapping[str, Row]], set[str]]
AfterCreated = Callable[[SyncContext, TableMapping, Sequence[Row]], set[str]]
AfterUpdated = Callable[[SyncContext, TableMapping, Sequence[str]], None]
AfterUncoupled = Callable[[SyncContext, TableMapping, Coupling], None]


@dataclass(frozen=True)
class Behaviour:
    """What one behaviour does at each hook point (None: nothing there)."""

    exclude: Exclude | None = None  # the BC ids (of the rows given) that are never candidates
    after_created: AfterCreated | None = None
    after_updated: AfterUpdated | None = None
    after_uncoupled: AfterUncoupled | None = None
    states: tuple[StateRule, ...] = ()  # run by `on_transferred` and, those out of the filter, `out_of_filter`


def _write_in(context: SyncContext, mapping: TableMapping, rows: Mapping[str, Row]) -> set[str]:
    if not rows:
        return set()
    setup = context.setup.values
    number = str(setup.get("writeInProductNumber") or "")
    kind = str(setup.get("writeInProductType") or "Item")
    if not number or WRITE_IN_SETS.get(mapping.bc_entity_set) != kind:
        return set()
    return {bc_id for bc_id, row in rows.items() if str(row.get("number") or "").casefold() == number.casefold()}


def _priced_after_update(context: SyncContext, mapping: TableMapping, ids: Sequence[str]) -> None:
    price_products(context, mapping, ids)


def _drop_account_statistics(context: SyncContext, mapping: TableMapping, coupling: Coupling) -> None:
    """BC deletes an uncoupled customer's account statistics row: its figures would no longer be kept up to date."""
    account = context.dataverse.get_row(
        mapping.dataverse_entity_set, coupling.dataverse_id, ["_nav_accountstatisticsid_value"]
    )
    statistics_id = (account or {}).get("_nav_accountstatisticsid_value")
    if statistics_id:
        context.dataverse.delete_row("nav_accountstatisticses", str(statistics_id))


REGISTRY: dict[str, Behaviour] = {
    WRITE_IN_BEHAVIOUR: Behaviour(exclude=_write_in),
    "publishAndPrice": Behaviour(after_created=publish_and_price, after_updated=_priced_after_update),
    "nameParts": Behaviour(),  # row rules only: behaviours_rows.ROW_RULES, run by ValueMapper
    "parentCompany": Behaviour(),  # row rules only (behaviours_parent.py)
    "blockInactiveCustomer": Behaviour(states=(INACTIVE_ACCOUNTS,)),
    "productStateFollowsBlocked": Behaviour(states=(RETIRED_PRODUCTS, BLOCKED_ITEMS, UNBLOCKED_ITEMS)),
    "dropAccountStatistics": Behaviour(after_uncoupled=_drop_account_statistics),
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


def after_uncoupled(context: SyncContext, mapping: TableMapping, coupling: Coupling) -> None:
    for behaviour in declared(mapping):
        if behaviour.after_uncoupled is not None:
            behaviour.after_uncoupled(context, mapping, coupling)


def _reads(mapping: TableMapping, side: Side) -> bool:
    """Whether the mapping carries data from `side` (a rule on Dataverse records needs From Dataverse)."""
    return mapping.direction.allows(Direction.FROM_DATAVERSE if side is Side.DATAVERSE else Direction.TO_DATAVERSE)


def state_sides(mapping: TableMapping) -> set[Side]:
    """The sides whose records have state rules this mapping runs (none for most mappings: their runs skip the
    rules' bookkeeping altogether)."""
    return {rule.side for behaviour in declared(mapping) for rule in behaviour.states if _reads(mapping, rule.side)}


def record_id(coupling: Coupling, side: Side) -> str:
    return coupling.bc_id if side is Side.BC else coupling.dataverse_id


def changed_since_synchronized(coupling: Coupling, side: Side, row: Row) -> bool:
    """Whether the side's record is not at the version its pair's last successful synchronization recorded (BC
    transfers a coupled record, and runs its subscribers, when it was modified after its last synchronization:
    IntegrationRecSynchInvoke WasModifiedAfterLastSynch)."""
    state = coupling.bc if side is Side.BC else coupling.dataverse
    return not (state.last_result is SyncResult.SUCCESS and state.version and state.version == row.get("@odata.etag"))


def on_transferred(
    context: SyncContext,
    mapping: TableMapping,
    side: Side,
    pairs: Sequence[tuple[Coupling, Row]],
    scope: str | None,
    *,
    check_scope: bool = False,
) -> Applied:
    """Run the mapping's state rules of `side` on these coupled records synchronized as sources (`pairs`: their
    coupling and the row read). The rows were read in the filter `scope` (None: by id, whatever the filter), or, with
    `check_scope`, not: then only those in `scope` count, read again in it. A rule the filter rules out reads
    nothing; one it implies takes every record read in it; otherwise a record whose row does not tell is read in the
    rule's condition (one query per 100)."""
    failures: list[Failure] = []
    changed: list[Changed] = []
    if not pairs or not _reads(mapping, side):
        return failures, changed
    for behaviour in declared(mapping):
        for rule in behaviour.states:
            if rule.side is not side or (decided := filter_decides(rule.condition, scope)) is False:
                continue
            if check_scope:
                found, unknown = [], list(pairs)
            elif decided:
                found, unknown = list(pairs), []
            else:
                found = [(c, row) for c, row in pairs if holds(rule.condition, row)]
                unknown = [(c, row) for c, row in pairs if holds(rule.condition, row) is None]
            if unknown:
                within = scope if check_scope else None
                read = in_condition(context, mapping, rule, [record_id(c, side) for c, _ in unknown], within)
                found += [(c, read[record_id(c, side)]) for c, _ in unknown if record_id(c, side) in read]
            if found:
                errors, written = rule.apply(context, mapping, found)
                failures += errors
                changed += written
    return failures, changed


def _left(
    context: SyncContext, mapping: TableMapping, rule: StateRule, since: datetime | None
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
        for rule in behaviour.states:
            if not rule.out_of_filter or not _reads(mapping, rule.side):
                continue
            if found := _left(context, mapping, rule, since.get(rule.side)):
                failures += rule.apply(context, mapping, found)[0]
    return failures
