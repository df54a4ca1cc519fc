"""State rules BC runs in code each time a coupled record is synchronized into its partner, declared as behaviours
(`engine/behaviours/hooks.py`): `blockInactiveCustomer` (CUSTOMER) and `productStateFollowsBlocked` (ITEM-PRODUCT,
RESOURCE-PRODUCT).

When BC runs them. They are subscribers of the transfer of one record's fields into its partner (CRMIntTableSubscriber
OnAfterTransferRecordFields, called by IntegrationRecSynchInvoke's TransferFields), so BC applies them to every
coupled record it synchronizes as a source, on every path that synchronizes it, and on no other record:
- an incremental run and a full synchronization read the records in the mapping's filters, and transfer those
  modified since their last synchronization; with the default filters an inactive account, a retired product and a
  blocked item are not read, which is why BC's own tests remove the filter first
  (CRMIntegrationMgtTest BlockingItemDeactivatesProductIfBlockedFilterIsRemoved, DeactivatingProductBlocksItemIf
  ActiveFilterIsRemoved);
- Synchronize Now of coupled records (CRMIntegrationManagement UpdateRecords / UpdateCRMIntRecords -> EnqueueSyncJob)
  runs a child mapping whose table filter is replaced by the records' ids (SetTableFilter with
  IntegrationRecordSynch.GetTableViewForSystemIds, SetIntegrationTableFilter with their Dataverse ids): the record is
  read whatever the mapping's filter says, and synchronized even when unchanged, so its rules always run.

How this engine runs them (`engine/behaviours/hooks.py`, hook points `on_transferred` and `out_of_filter`):
- `on_transferred`: the coupled records a run, a full-synchronization chunk or a Synchronize Now synchronized as
  sources: a rule whose condition the mapping's filter rules out (`filter_decides`) costs nothing; one the filter
  implies applies to them all; otherwise the records in the condition are read by id (one query per 100);
- `out_of_filter` (incremental runs only, rules with `out_of_filter=True`): the catalog asks for the rules whose
  records the default filters never read, so each such rule also reads its own query (coupled records modified
  since the side's checkpoint in its condition): one read per rule and run. BC does not do this with its default
  filters; it is this engine's choice.

Rules and sources (microsoft/BCApps src/Layers/W1/BaseApp/Integration/D365Sales/CRMIntTableSubscriber.Codeunit.al,
CRMSynchHelper.Codeunit.al; bc-integration-facts "products and prices"):
- UpdateCustomerBlocked (account -> customer): an account whose statuscode is Inactive (2) sets Customer.Blocked =
  All, only when Blocked is blank; reactivating the account does not unblock the customer, as in BC.
- UpdateItemAfterTransferRecordFields / UpdateResourceAfterTransferRecordFields (product -> item/resource): BC sets
  Blocked = (statecode <> Active). Here only a Retired product (statecode 1) blocks: a Draft product is one being
  created (published in the same run) and Under Revision a passing state. Not done: an Active product does not
  unblock its item (BC does: ActivatingProductUnblocksItem).
- UpdateCRMProductAfterTransferRecordFields with CRMSynchHelper.UpdateCRMProductStateCodeIfChanged (item/resource ->
  an existing product): a blocked item retires its product (SetCRMProductStateToRetired: statecode 1, statuscode 2),
  an unblocked one publishes its Retired product again (SetCRMProductStateToActive: statecode 0, statuscode 1; BC's
  UnblockingItemActivatesProduct). Here a Draft or Under Revision product is left as it is (BC would publish it).
  As in BC, the item's state is the one kept when both changed before the same run: BC -> Sales runs first.
Writes are bulk: BC one JSON `$batch` (PATCH with the version read), Dataverse one UpdateMultiple of the state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from shared.domain.coupling import Coupling
from shared.domain.errors import SyncError
from shared.domain.mapping import TableMapping
from shared.domain.odata_lexer import FilterError, Token, tokenize
from shared.domain.records import Side
from shared.engine.context import SyncContext
from shared.engine.outcomes import outcome_error
from shared.ports import Row


@dataclass(frozen=True)
class Changed:
    """One state field a rule wrote: on which side, which record, and its value before and after."""

    side: Side
    record_id: str
    field: str
    old: Any
    new: Any


Failure = tuple[Side, str, SyncError]  # the side and id of the record the rule read, and its record error
Applied = tuple[list[Failure], list[Changed]]
Apply = Callable[[SyncContext, TableMapping, Sequence[tuple[Coupling, Row]]], Applied]
BLANK_BLOCKED = ("", " ", "_x0020_")  # Customer.Blocked " " as API v2.0 writes it (enum `_x0020_`) or plain
RETIRED = (1, 2)  # product statecode Retired, statuscode Retired
ACTIVE = (0, 1)  # product statecode Active, statuscode Active
ID_CHUNK = 100


@dataclass(frozen=True)
class StateRule:
    """What BC does when a coupled record of `side` in `condition` is synchronized into its partner (its record
    errors are returned, transient ones raised: the run then fails and reads them again).

    `condition` is a conjunction of `field eq literal` (OData), read on `side` with `select`; `out_of_filter`: the
    default filter never reads such records, so incremental runs also read them by the rule's own query."""

    side: Side
    condition: str
    select: tuple[str, ...]
    apply: Apply
    out_of_filter: bool = True


# -- conditions and filters ------------------------------------------------------------------------------------
def _wraps(tokens: Sequence[Token]) -> bool:
    """Whether the first '(' of `tokens` closes at their last token."""
    depth = 0
    for index, token in enumerate(tokens):
        depth += 1 if token.kind == "(" else -1 if token.kind == ")" else 0
        if depth == 0:
            return index == len(tokens) - 1
    return False


def equalities(text: str) -> dict[str, str]:
    """The `field eq literal` terms every record of the filter satisfies (its top-level conjuncts of that form, and
    theirs inside a parenthesized conjunct), field and literal lower-cased; nothing when a top-level `or` makes the
    conjuncts optional or the text does not parse."""
    try:
        return _equalities([t for t in tokenize(text) if t.kind != "end"])
    except FilterError:
        return {}


def _equalities(tokens: Sequence[Token]) -> dict[str, str]:
    while len(tokens) > 2 and tokens[0].kind == "(" and _wraps(tokens):
        tokens = tokens[1:-1]
    parts: list[list[Token]] = [[]]
    depth = 0
    for token in tokens:
        depth += 1 if token.kind == "(" else -1 if token.kind == ")" else 0
        word = token.text.lower() if token.kind == "name" else ""
        if depth == 0 and word == "or":
            return {}
        if depth == 0 and word == "and":
            parts.append([])
        else:
            parts[-1].append(token)
    if len(parts) == 1:
        part = parts[0]
        if len(part) == 3 and part[0].kind == "name" and part[1].text.lower() == "eq":
            return {part[0].text.lower(): part[2].text.lower()}
        return {}
    found: dict[str, str] = {}
    for part in parts:
        found.update(_equalities(part))
    return found


def filter_decides(condition: str, scope: str | None) -> bool | None:
    """Whether every record read in `scope` (a mapping's filter) is in `condition` (True), none is (False: the
    filter asks another value of one of its fields), or it depends on the record (None)."""
    wanted, known = equalities(condition), equalities(scope or "")
    if any(name in known and known[name] != value for name, value in wanted.items()):
        return False
    return True if all(known.get(name) == value for name, value in wanted.items()) else None


def _literal(text: str) -> Any:
    if text in ("true", "false"):
        return text == "true"
    if text.startswith("'"):
        return text[1:-1].replace("''", "'")
    return int(text) if text.lstrip("-").isdigit() else text


def holds(condition: str, row: Row) -> bool | None:
    """Whether the row read is in `condition`; None when the row lacks one of its fields."""
    for name, text in equalities(condition).items():
        key = next((k for k in row if k.lower() == name), None)
        if key is None:
            return None
        if row[key] != _literal(text):
            return False
    return True


def in_condition(
    context: SyncContext, mapping: TableMapping, rule: StateRule, ids: Iterable[str], scope: str | None = None
) -> dict[str, Row]:
    """The records of `ids` on the rule's side that are in its condition (and in `scope`, a filter, when given), by
    id (one query per 100 ids)."""
    wanted = sorted(set(ids))
    condition = f"({rule.condition}) and ({scope})" if scope else rule.condition
    found: dict[str, Row] = {}
    for start in range(0, len(wanted), ID_CHUNK):
        chunk = wanted[start : start + ID_CHUNK]
        if rule.side is Side.BC:
            found.update(context.bc.get_entities(mapping.bc_entity_set, chunk, ["id", *rule.select], condition))
            continue
        primary = mapping.dataverse_id
        ids_filter = " or ".join(f"{primary} eq {value}" for value in chunk)
        where = f"({ids_filter}) and ({condition})"
        pages = context.dataverse.list_changed_since(mapping.dataverse_entity_set, None, [primary, *rule.select], where)
        found.update({str(row[primary]): row for page in pages for row in page.rows})
    return found


# -- what the rules do -----------------------------------------------------------------------------------------
def _patch_bc(
    context: SyncContext, entity_set: str, read: dict[str, str], body: dict[str, Any], needs: Callable[[Row], bool]
) -> Applied:
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
    changed: list[Changed] = []
    for row, outcome in zip(todo, outcomes, strict=True):
        if not outcome.ok:
            error = outcome_error(outcome)
            if error.is_transient:
                raise error
            failures.append((Side.DATAVERSE, read[str(row["id"])], error))
            continue
        changed += [Changed(Side.BC, str(row["id"]), key, row.get(key), value) for key, value in body.items()]
    return failures, changed


def _not_blocked(row: Row) -> bool:
    return str(row.get("blocked") or "") in BLANK_BLOCKED


def block_customers(context: SyncContext, mapping: TableMapping, rows: Sequence[tuple[Coupling, Row]]) -> Applied:
    """Accounts Inactive: their customers get Blocked = All when not blocked yet (BC's UpdateCustomerBlocked)."""
    read = {c.bc_id: c.dataverse_id for c, _ in rows}
    return _patch_bc(context, mapping.bc_entity_set, read, {"blocked": "All"}, _not_blocked)


def block_items(context: SyncContext, mapping: TableMapping, rows: Sequence[tuple[Coupling, Row]]) -> Applied:
    """Products Retired: their items (resources) get Blocked = true when not blocked already."""
    read = {c.bc_id: c.dataverse_id for c, _ in rows}
    return _patch_bc(context, mapping.bc_entity_set, read, {"blocked": True}, lambda row: not row.get("blocked"))


def _set_products(
    context: SyncContext,
    mapping: TableMapping,
    rows: Sequence[tuple[Coupling, Row]],
    state: tuple[int, int],
    needs: Callable[[Any], bool],
) -> Applied:
    """Set `state` (statecode, statuscode) on the coupled products whose statecode `needs` it, in one UpdateMultiple
    per bulk size."""
    ids = sorted({c.dataverse_id for c, _ in rows})
    primary = mapping.dataverse_id
    found: list[Row] = []
    for start in range(0, len(ids), ID_CHUNK):
        scope = " or ".join(f"{primary} eq {value}" for value in ids[start : start + ID_CHUNK])
        select = [primary, "statecode", "statuscode"]
        pages = context.dataverse.list_changed_since(mapping.dataverse_entity_set, None, select, scope)
        found += [row for page in pages for row in page.rows]
    todo = [row for row in found if needs(row.get("statecode"))]
    updates = [{primary: row[primary], "statecode": state[0], "statuscode": state[1]} for row in todo]
    for start in range(0, len(updates), max(1, context.bulk_size)):
        chunk = updates[start : start + max(1, context.bulk_size)]
        context.dataverse.update_multiple(mapping.dataverse_table, mapping.dataverse_entity_set, chunk)
    changed = [
        Changed(Side.DATAVERSE, str(row[primary]), name, row.get(name), value)
        for row in todo
        for name, value in (("statecode", state[0]), ("statuscode", state[1]))
    ]
    return [], changed


def retire_products(context: SyncContext, mapping: TableMapping, rows: Sequence[tuple[Coupling, Row]]) -> Applied:
    """Items (resources) blocked: their products are retired (SetCRMProductStateToRetired)."""
    return _set_products(context, mapping, rows, RETIRED, lambda statecode: statecode != RETIRED[0])


def publish_products(context: SyncContext, mapping: TableMapping, rows: Sequence[tuple[Coupling, Row]]) -> Applied:
    """Items (resources) not blocked: their Retired products are published again (SetCRMProductStateToActive)."""
    return _set_products(context, mapping, rows, ACTIVE, lambda statecode: statecode == RETIRED[0])


# statuscode Inactive (2) belongs to statecode Inactive (1): the statecode term lets a filter on statecode decide it
INACTIVE_ACCOUNTS = StateRule(
    Side.DATAVERSE, "statecode eq 1 and statuscode eq 2", ("statecode", "statuscode"), block_customers
)
RETIRED_PRODUCTS = StateRule(Side.DATAVERSE, "statecode eq 1", ("statecode", "statuscode"), block_items)
BLOCKED_ITEMS = StateRule(Side.BC, "blocked eq true", ("blocked",), retire_products)
UNBLOCKED_ITEMS = StateRule(Side.BC, "blocked eq false", ("blocked",), publish_products, out_of_filter=False)
