"""Synchronize Now on several selected records: BC's rule for a selection, then each kept record synchronized as one.

BC's rule (CRMIntegrationManagement.Codeunit.al, UpdateMultipleNow -> UpdateRecords): with more than one record
selected, a record that is not coupled is skipped, and so is one whose *target* changed since the last
synchronization (WasRecordModifiedAfterLastSynch: to Sales, the Sales record's modified-on is later than the
coupling's "Last Synch. CRM Modified On"; from Sales, the BC record's later than "Last Synch. Modified On"; the
comparison is `IntegrationRecSynchInvoke.WasModifiedAfterLastSynch` -> CRM Integration Record
`IsModifiedAfterLastSynchronizedRecord` / `...CRMRecord`). Whatever the count, a record whose coupling is marked
skipped is skipped (`IsRecordSkipped`: CRM Integration Record "Skipped"); BC then notifies how many it skipped.
Here they are left and reported one by one: `notCoupled`, `targetChanged` (naming the fields) and `skipped`.

One selected record is, as in BC, Synchronize Now of that record (BC asks for the direction and overwrites): only
the skipped rule applies to it. Today's single-record route (`POST /api/synchronize`, `services/synchronize.py`)
does overwrite a changed target (`changes.forced`: every differing field the direction allows is written), which is
BC's behaviour for one record with an explicit direction; the selection rule is what keeps a bulk action from
silently overwriting what someone changed on the other side.

How "changed since the last synchronization" is read here: the app keeps per-field hashes of the values last
synchronized (`domain/changes.py`), which are honest where timestamps are not (our own write moves the target's
modified-on, and the coupling keeps no modified-on for a side it just wrote). So a target is changed when a field
the copy would write differs from its stored hash: overwriting it would lose a change made there. A coupling with
no stored values (never synchronized) falls back to BC's timestamp rule: changed when the target's modified-on is
later than the one recorded, or when none is recorded (BC compares with an empty "Last Synch. Modified On").

The check reads both sides of the selection in bulk (one read per side and page of ids); each kept record is then
synchronized by `synchronize_record`, with its lease, its conditional writes and its report. A target changed
between the check and the write is handled as single-record Synchronize Now handles it (a conditional write:
409 `concurrencyConflict`, reported under `failed`, nothing overwritten).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from shared.domain.changes import decode_hashes, field_hashes, forced
from shared.domain.coupling import Coupling
from shared.domain.errors import SyncError
from shared.domain.mapping import Direction, TableMapping
from shared.domain.records import Side
from shared.engine.context import SyncContext
from shared.engine.lookups import LookupResolver
from shared.engine.sides import BcSide, DataverseSide
from shared.engine.values import ValueMapper
from shared.ports import Row
from shared.services.coupling import require_direction
from shared.services.synchronize import SyncReport, synchronize_record

NOT_COUPLED, TARGET_CHANGED, SKIPPED = "notCoupled", "targetChanged", "skipped"
MAX_IDS = 1000


@dataclass(frozen=True)
class LeftRecord:
    """A selected record not synchronized, and why (`reason`: notCoupled, targetChanged, skipped)."""

    side: Side  # the side of the id the caller gave
    record_id: str
    reason: str
    message: str
    partner: str | None = None  # the other side's id, when coupled


@dataclass(frozen=True)
class FailedRecord:
    side: Side
    record_id: str
    code: str
    message: str
    partner: str | None = None


@dataclass
class SelectionReport:
    mapping: str
    direction: Direction
    synchronized: list[SyncReport] = field(default_factory=list)
    left: list[LeftRecord] = field(default_factory=list)
    failed: list[FailedRecord] = field(default_factory=list)


def synchronize_selected(
    context: SyncContext, mapping_name: str, direction: Direction, side: Side, ids: Sequence[str]
) -> SelectionReport:
    """Synchronize Now on the records `ids` (of `side`) in `direction`, by BC's rule for a selection (module
    docstring). Raises only for the request as a whole (an unknown or not runnable mapping, a direction it does not
    carry); each record's own outcome is in the report."""
    mapping = context.runnable(mapping_name)
    require_direction(mapping, direction, "direction")
    wanted = list(dict.fromkeys(ids))
    found = (
        context.couplings.find_many_by_bc_ids(mapping.name, wanted)
        if side is Side.BC
        else context.couplings.find_many_by_dataverse_ids(mapping.name, wanted)
    )
    report = SelectionReport(mapping.name, direction)
    check = _TargetCheck(context, mapping, direction, list(found.values())) if len(wanted) > 1 else None
    for record_id in wanted:
        coupling = found.get(record_id)
        if coupling is None:
            why = f"{mapping.name} record {record_id} is not coupled: nothing to synchronize."
            report.left.append(LeftRecord(side, record_id, NOT_COUPLED, why))
            continue
        partner = coupling.dataverse_id if side is Side.BC else coupling.bc_id
        if coupling.skipped:
            why = "Its coupling is skipped (a repeated error): restore it on Sync errors first."
            report.left.append(LeftRecord(side, record_id, SKIPPED, why, partner))
            continue
        changed = check.changed(coupling) if check is not None else None
        if changed:
            report.left.append(LeftRecord(side, record_id, TARGET_CHANGED, changed, partner))
            continue
        try:
            report.synchronized.append(synchronize_record(context, mapping.name, direction, bc_id=coupling.bc_id))
        except SyncError as error:
            report.failed.append(FailedRecord(side, record_id, error.code, error.message, partner))
    return report


class _TargetCheck:
    """Both sides of the selected couplings read once, and the question: did the target change since the last
    synchronization in a field the copy would overwrite?"""

    def __init__(
        self, context: SyncContext, mapping: TableMapping, direction: Direction, couplings: list[Coupling]
    ) -> None:
        self.mapping, self.to_dv = mapping, direction is Direction.TO_DATAVERSE
        self.direction = direction
        self.mapper = ValueMapper(mapping, LookupResolver(context), context.option_maps)
        self.bc = BcSide(context.bc, mapping, self.mapper)
        self.dv = DataverseSide(context.dataverse, mapping, self.mapper)
        live = [c for c in couplings if not c.skipped]
        self.bc_rows = self.bc.get_many([c.bc_id for c in live]) if live else {}
        self.dv_rows = self.dv.get_many([c.dataverse_id for c in live]) if live else {}
        self.by_key = {f.key: f for f in self.mapper.fields}

    def changed(self, coupling: Coupling) -> str | None:
        """Why the record is left (its target's changed fields), or None to synchronize it. A side that is gone
        is not judged here: the synchronization reports it (`coupledRecordDeleted`)."""
        bc_row, dv_row = self.bc_rows.get(coupling.bc_id), self.dv_rows.get(coupling.dataverse_id)
        if bc_row is None or dv_row is None:
            return None
        bc_values, dv_values = self.mapper.from_bc(bc_row).values, self.mapper.from_dataverse(dv_row).values
        self.mapper.align(bc_values, dv_values)
        decision = forced(self.mapper.rules(), bc_values, dv_values, self.direction)
        keys = decision.to_dataverse if self.to_dv else decision.to_bc
        if not keys:
            return None  # nothing would be written: nothing can be lost
        app = "Sales" if self.to_dv else "Business Central"
        stored = decode_hashes(coupling.values_hash)
        if stored is None:
            if not self._modified_since(coupling, bc_row, dv_row):
                return None
            return (
                f"{app} changed the record since it was last synchronized (it never was, or later than then): "
                "not overwritten. Synchronize it alone to overwrite it."
            )
        current = field_hashes(dv_values if self.to_dv else bc_values)
        changed = [k for k in keys if k in stored and current.get(k) != stored[k]]
        if not changed:
            return None
        names = ", ".join(self._name(k) for k in changed)
        return (
            f"{app} changed {names} since the last synchronization: not overwritten. "
            "Synchronize it alone to overwrite it."
        )

    def _name(self, key: str) -> str:
        f = self.by_key.get(key)
        name = (f.dataverse_field if self.to_dv else f.bc_field) if f is not None else None
        return name or key

    def _modified_since(self, coupling: Coupling, bc_row: Row, dv_row: Row) -> bool:
        """BC's rule: the target's modified-on later than the one recorded at the last synchronization (none
        recorded: changed)."""
        recorded = (coupling.dataverse if self.to_dv else coupling.bc).modified_on
        now = self.dv.modified_on(dv_row) if self.to_dv else self.bc.modified_on(bc_row)
        then_at, now_at = _instant(recorded), _instant(now)
        if then_at is None:
            return True
        return now_at is not None and now_at > then_at


def _instant(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
