"""The Sync errors list's two coupling actions besides Delete Records (BC's Coupled Data Synchronization Errors page,
CRMSkippedRecords: "Restore Records" -> CRM Synch. Conflict Buffer's RestoreDeletedRecords; and removing the
coupling of the chosen entries).

Restore Records (`restore_records`): for each chosen entry whose coupling has exactly one record left (checked again
now by reading both apps, as `deleted_records.plan` does for Delete Records), the record is created again in the
app where it is gone, from the one that is left, and the two are coupled. BC does the same in two steps: it deletes
the couplings, then creates the records anew (CRMIntegrationManagement.CreateNewRecords). So does this, per record,
through the one uncouple path (`coupling.uncouple_couplings`: the broken coupling and the entries of both records
go) and the create path of "Create in Dataverse" / "Create in Business Central" (`coupling.create_in_dataverse` /
`create_in_business_central`: the engine's `Creator`, its mapping of values, its deterministic id and its claim), as
the deletion policy "restore" does in a run (`engine/deletions.py`). The checks a create makes that do not depend on
the write (the mapping's direction, lookups not coupled yet) are made before the coupling is removed, so a record
refused for them keeps its coupling and its entry. A create the app refuses leaves the record uncoupled, as BC's
does; the refusal is recorded on the record's entry so the list keeps showing it. Nothing is destroyed: no token.

Remove Coupling (`remove_couplings`): the coupling of each chosen entry is removed through
`coupling.uncouple_couplings` (both records stay as they are; the entries of both go; the mapping's after-uncouple
behaviours run), as BC's Delete Coupling.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from shared.domain.coupling import Coupling
from shared.domain.errors import SyncError
from shared.domain.mapping import Direction, TableMapping
from shared.domain.records import Side
from shared.engine.context import SyncContext
from shared.services.coupling import (
    MappingTools,
    create_in_business_central,
    create_in_dataverse,
    dependency_message,
    uncouple_couplings,
)
from shared.services.deleted_records import APP_NAMES, entry_couplings, plan


@dataclass(frozen=True)
class ActionOutcome:
    """One id asked for. `side` is the app the record was (or would have been) created in by Restore Records;
    `new_id` the new record's id when `restored`; `code`/`message` why not, when `refused` or
    `directionNotAllowed`."""

    id: str
    outcome: str
    side: Side | None = None
    new_id: str | None = None
    code: str | None = None
    message: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "outcome": self.outcome,
            "side": self.side.value if self.side else None,
            "newId": self.new_id,
            "code": self.code,
            "message": self.message,
        }


@dataclass(frozen=True)
class ActionReport:
    mapping: str
    records: list[ActionOutcome] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for record in self.records:
            counts[record.outcome] = counts.get(record.outcome, 0) + 1
        return {"mapping": self.mapping, "counts": counts, "records": [r.as_dict() for r in self.records]}


def restore_records(context: SyncContext, mapping_name: str, ids: Sequence[str]) -> ActionReport:
    """BC's "Restore Records" for 1 to 200 entries of one mapping (see the module docstring); each id's outcome."""
    mapping = context.runnable(mapping_name)
    tools = MappingTools(context, mapping)
    outcomes: list[ActionOutcome] = []
    for planned in plan(context, mapping, ids):
        if planned.outcome != "toDelete" or planned.side is None or planned.bc_id is None:
            outcomes.append(ActionOutcome(planned.id, planned.outcome))
            continue
        outcomes.append(_restore(context, mapping, tools, planned.id, planned.side, planned.bc_id))
    return ActionReport(mapping.name, outcomes)


def _restore(
    context: SyncContext, mapping: TableMapping, tools: MappingTools, asked: str, survivor: Side, bc_id: str
) -> ActionOutcome:
    gone = Side.DATAVERSE if survivor is Side.BC else Side.BC
    direction = Direction.TO_DATAVERSE if gone is Side.DATAVERSE else Direction.FROM_DATAVERSE
    if not mapping.direction.allows(direction):
        return ActionOutcome(
            asked,
            "directionNotAllowed",
            gone,
            code="directionNotAllowed",
            message=f"Mapping {mapping.name} is {mapping.direction.value}: it does not write to {APP_NAMES[gone]}.",
        )
    coupling = context.couplings.find_by_bc_id(mapping.name, bc_id)
    if coupling is None:
        return ActionOutcome(asked, "notCoupled")  # removed since the plan read it
    survivor_id = coupling.bc_id if survivor is Side.BC else coupling.dataverse_id
    row = (tools.bc if survivor is Side.BC else tools.dv).get_many([survivor_id]).get(survivor_id)
    if row is None:
        return ActionOutcome(asked, "bothDeleted")  # deleted since the plan read it
    missing = tools.missing_bc_dependencies(row) if survivor is Side.BC else tools.missing_dataverse_dependencies(row)
    if missing:
        return ActionOutcome(asked, "refused", gone, code="dependencyNotCoupled", message=dependency_message(missing))
    return _recreate(context, mapping, coupling, asked, survivor, survivor_id)


def _recreate(
    context: SyncContext, mapping: TableMapping, coupling: Coupling, asked: str, survivor: Side, survivor_id: str
) -> ActionOutcome:
    gone = Side.DATAVERSE if survivor is Side.BC else Side.BC
    uncouple_couplings(context, mapping, [coupling])
    try:
        if survivor is Side.BC:
            made = create_in_dataverse(context, mapping.name, survivor_id)
        else:
            made = create_in_business_central(context, mapping.name, survivor_id)
    except SyncError as error:  # the app refused it (or failed): the record stays uncoupled, its entry says why
        context.errors.record_error(mapping.name, survivor, survivor_id, error.code, error.message)
        return ActionOutcome(asked, "refused", gone, code=error.code, message=error.message)
    return ActionOutcome(asked, "restored", gone, made.dataverse_id if gone is Side.DATAVERSE else made.bc_id)


def remove_couplings(context: SyncContext, mapping_name: str, ids: Sequence[str]) -> ActionReport:
    """Remove the coupling of each of 1 to 200 entries of one mapping, in bulk (see the module docstring): per id
    `uncoupled`, `notCoupled` (its record has no coupling, or another call removed it first) or `noError`."""
    mapping = context.mapping(mapping_name)
    found = entry_couplings(context, mapping, ids)
    couplings = list({c.bc_id: c for _, _, c in found if c is not None}.values())
    removed = dict(zip((c.bc_id for c in couplings), uncouple_couplings(context, mapping, couplings), strict=True))
    outcomes: list[ActionOutcome] = []
    for record_id, entry, coupling in found:
        if entry is None:
            outcomes.append(ActionOutcome(record_id, "noError"))
        elif coupling is None or not removed.get(coupling.bc_id):
            outcomes.append(ActionOutcome(entry.record_id, "notCoupled"))
        else:
            outcomes.append(ActionOutcome(entry.record_id, "uncoupled"))
    return ActionReport(mapping.name, outcomes)
