"""State rules BC runs in code when a coupled record's *state* changes, declared as behaviours (`behaviours.py`):
`blockInactiveCustomer` (CUSTOMER) and `productStateFollowsBlocked` (ITEM-PRODUCT, RESOURCE-PRODUCT).

Why a hook of their own (`OutOfFilter`): the change that matters takes the record out of the mapping's own filter
(an inactive account is not `statecode eq 0`, a retired product is not Active, a blocked item is not `blocked eq
false`), so the run never reads it as a candidate. Each rule names the records it acts on with a query of its own
(modified since the side's checkpoint, in its condition), and the engine keeps the coupled ones: one read per rule and
run, whose answer holds only records that changed state (or were otherwise modified while out of the filter).

Rules and sources (microsoft/BCApps src/Layers/W1/BaseApp/Integration/D365Sales/CRMIntTableSubscriber.Codeunit.al,
CRMSynchHelper.Codeunit.al; bc-integration-facts "products and prices"):
- UpdateCustomerBlocked: an account whose statuscode is Inactive (2) sets Customer.Blocked = All, only when Blocked
  is blank; the other direction (reactivating) is not handled, as in BC.
- UpdateItemAfterTransferRecordFields / UpdateResourceAfterTransferRecordFields: a product not Active blocks its item
  or resource. Here only Retired (statecode 1): a Draft product is one being created (published in the same run) and
  Under Revision is a passing state BC would undo on publishing, which needs the unblocking this engine does not do.
- SetCRMProductStateToRetired: a blocked item or resource retires its product (statecode 1 Retired, statuscode 2
  Retired: ../shared/schemas/dataverse.json, product). With BC's default table filter (Blocked = false) BC itself
  only does this once the filter is removed (its test BlockingItemDeactivatesProductIfBlockedFilterIsRemoved); the
  catalog asks for it with the filter in place, so it is read here out of the filter. Unblocking the item does not
  publish the product again (not done yet).
Writes are bulk: BC one JSON `$batch` (PATCH with the version read), Dataverse one UpdateMultiple of the state.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from shared.domain.coupling import Coupling
from shared.domain.errors import SyncError
from shared.domain.mapping import TableMapping
from shared.domain.records import Side
from shared.ports import Row
from shared.services.context import SyncContext
from shared.services.outcomes import outcome_error

Failure = tuple[Side, str, SyncError]  # the side and id of the record the rule read, and its record error
Apply = Callable[[SyncContext, TableMapping, Sequence[tuple[Coupling, Row]]], list[Failure]]
BLANK_BLOCKED = ("", " ", "_x0020_")  # Customer.Blocked " " as API v2.0 writes it (enum `_x0020_`) or plain
RETIRED = (1, 2)  # product statecode Retired, statuscode Retired


@dataclass(frozen=True)
class OutOfFilter:
    """The coupled records of one side that changed into `condition` (a state outside the mapping's filter) since
    that side's checkpoint, and what the rule does with them (its record errors are returned, transient ones raised:
    the run then fails and reads them again)."""

    side: Side
    condition: str
    select: tuple[str, ...]
    apply: Apply


def _patch_bc(
    context: SyncContext, entity_set: str, read: dict[str, str], body: dict[str, Any], needs: Callable[[Row], bool]
) -> list[Failure]:
    """PATCH `body` onto the BC records (`read`: BC id -> the Dataverse id the rule read) that `needs` it, each at the
    version read; a record error is reported on the Dataverse record whose state asked for it."""
    ids = sorted(read)
    rows = context.bc.get_entities(entity_set, ids, ["id", *body]) if ids else {}
    todo = [row for row in rows.values() if needs(row)]
    requests = [
        {
            "method": "PATCH",
            "url": f"{entity_set}({row['id']})",
            "body": body,
            "etag": str(row.get("@odata.etag") or "*"),
        }
        for row in todo
    ]
    outcomes = context.bc.execute_batch(requests, continue_on_error=True) if requests else []
    failures: list[Failure] = []
    for row, outcome in zip(todo, outcomes, strict=True):
        if not outcome.ok:
            error = outcome_error(outcome)
            if error.is_transient:
                raise error
            failures.append((Side.DATAVERSE, read[str(row["id"])], error))
    return failures


def _not_blocked(row: Row) -> bool:
    return str(row.get("blocked") or "") in BLANK_BLOCKED


def block_customers(context: SyncContext, mapping: TableMapping, rows: Sequence[tuple[Coupling, Row]]) -> list[Failure]:
    """Accounts now Inactive: their customers get Blocked = All when not blocked yet (BC's UpdateCustomerBlocked)."""
    read = {c.bc_id: c.dataverse_id for c, _ in rows}
    return _patch_bc(context, mapping.bc_entity_set, read, {"blocked": "All"}, _not_blocked)


def block_items(context: SyncContext, mapping: TableMapping, rows: Sequence[tuple[Coupling, Row]]) -> list[Failure]:
    """Products now Retired: their items (resources) get Blocked = true when not blocked already."""
    read = {c.bc_id: c.dataverse_id for c, _ in rows}
    return _patch_bc(context, mapping.bc_entity_set, read, {"blocked": True}, lambda row: not row.get("blocked"))


def retire_products(context: SyncContext, mapping: TableMapping, rows: Sequence[tuple[Coupling, Row]]) -> list[Failure]:
    """Items (resources) now blocked: their products are retired, in one UpdateMultiple per bulk size."""
    ids = sorted({c.dataverse_id for c, _ in rows})
    primary = mapping.dataverse_id
    found: list[Row] = []
    for start in range(0, len(ids), 100):
        scope = " or ".join(f"{primary} eq {value}" for value in ids[start : start + 100])
        pages = context.dataverse.list_changed_since(mapping.dataverse_entity_set, None, [primary, "statecode"], scope)
        found += [row for page in pages for row in page.rows]
    updates = [
        {primary: row[primary], "statecode": RETIRED[0], "statuscode": RETIRED[1]}
        for row in found
        if row.get("statecode") != RETIRED[0]
    ]
    for start in range(0, len(updates), max(1, context.bulk_size)):
        chunk = updates[start : start + context.bulk_size]
        context.dataverse.update_multiple(mapping.dataverse_table, mapping.dataverse_entity_set, chunk)
    return []


INACTIVE_ACCOUNTS = OutOfFilter(Side.DATAVERSE, "statuscode eq 2", ("statecode", "statuscode"), block_customers)
RETIRED_PRODUCTS = OutOfFilter(Side.DATAVERSE, "statecode eq 1", ("statecode", "statuscode"), block_items)
BLOCKED_ITEMS = OutOfFilter(Side.BC, "blocked eq true", ("blocked",), retire_products)
