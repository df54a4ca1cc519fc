"""Couplings whose record is gone on one side: BC's "Find for Deleted" and "Delete Records" (Coupled Data
Synchronization Errors page, CRMSkippedRecords; CRMIntegrationManagement.MarkLocalDeletedAsSkipped and the
CRM Synch. Conflict Buffer's DeleteCoupledRecord in microsoft/BCApps).

Find for Deleted (`find_deleted`): a record deleted in one app is noticed by a run only when the run reads its
coupling (the deletion policy, `engine/deletions.py`); a mapping that never reads the surviving side (one way) keeps
a broken coupling silently. This lists every id of both sides once (`list_ids`, the paged id reads full
synchronization uses) and compares them with the mapping's couplings (one scan of two ids per coupling): no read per
coupling, only one more read of each record the listing missed (a listing is not a snapshot: a record created while
the other side was listed must not look deleted). Each coupling with exactly one record left is recorded as a run
records it under the deletion policy None: an error `coupledRecordDeleted` on the surviving record, whose message
names the app where the record is gone. An entry recorded already (by a run or an earlier find) is left as it is, so
finding twice records each once. A coupling whose two records are both gone is removed, as a run removes it
(nothing is left to delete). Couplings of a creation in progress (`creating`) are left alone: the engine finishes
them, they are not deletions.

Why both sides are listed without the mapping's filters: a record outside the filter is not deleted; BC's own find
reads its table through the mapping's filter and so takes a record that left the filter for a deleted one, and
"Delete Records" would then delete a record that merely left the filter. This reads stricter.

Cost: listing reads every id of both tables, one request per page of ids, and keeps two sets of ids and the
mapping's coupled ids in memory (some tens of MB for 100,000 couplings). A mapping of 100,000 couplings takes
minutes (not measured here), so the route does not run it: it queues a `findDeleted` job
(`services/find_deleted_job.py`) whose job entry shows the progress `find_deleted` reports through `progress`.

Delete Records (`delete_records`): for each chosen record whose coupling has exactly one record left (checked
again now, by reading both), the surviving record is deleted in the app that still has it, then the coupling and the
record's error entry are removed, and the mapping's after-uncouple behaviours run (as Delete Coupling). Without a
confirmation token nothing is deleted: the answer lists what would be, with a `confirmationToken` bound to exactly
that list, the ids asked for, the mapping and the company. The token is a digest, not a secret: it proves the caller
saw this list (the function key is the authority), so a list that changed since, or a made-up token, is refused with
409 `confirmationMismatch` and nothing is deleted. A record whose two sides still exist is refused (reported per
id), as BC enables the action only when one record is deleted; an app that refuses the delete (a BC customer with
ledger entries or documents, say) is reported for that record and the others go on.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from shared.domain.coupling import Coupling
from shared.domain.errors import ConflictError, InvalidInputError, SyncError
from shared.domain.mapping import TableMapping
from shared.domain.record_errors import next_error
from shared.domain.records import RecordErrorEntry, Side
from shared.domain.watermarks import format_instant
from shared.engine.behaviours.hooks import after_uncoupled
from shared.engine.context import SyncContext

DELETED = "coupledRecordDeleted"  # the code a run records under the deletion policy None (engine/deletions.py)
APP_NAMES = {Side.BC: "Business Central", Side.DATAVERSE: "Dataverse"}
NAME_KEYS = ("displayName", "name", "fullname", "description", "title", "number", "code")
FIND_ERRORS_AT_ONCE = 56  # above this many records, one read of the mapping's errors beats 14 keys per query
MAX_IDS = 200


def deleted_message(gone: Side) -> str:
    """The message a run records for the same finding (engine/deletions.py), so the list reads alike."""
    return f"The coupled record in {APP_NAMES[gone]} was deleted."


def _other(side: Side) -> Side:
    return Side.DATAVERSE if side is Side.BC else Side.BC


@dataclass(frozen=True)
class FindDeletedReport:
    mapping: str
    couplings: int = 0  # couplings compared
    bc_deleted: int = 0  # the BC record is gone, the Sales one is left
    dataverse_deleted: int = 0  # the Sales record is gone, the BC one is left
    both_deleted: int = 0  # both gone: the coupling was removed
    in_progress: int = 0  # a creation the engine has not finished: left alone
    recorded: int = 0  # new entries on the Sync errors list
    already_recorded: int = 0  # entries that were there already (a run's, or an earlier find's)

    def as_dict(self) -> dict[str, Any]:
        return {
            "mapping": self.mapping,
            "couplings": self.couplings,
            "bcDeleted": self.bc_deleted,
            "dataverseDeleted": self.dataverse_deleted,
            "bothDeleted": self.both_deleted,
            "inProgress": self.in_progress,
            "recorded": self.recorded,
            "alreadyRecorded": self.already_recorded,
        }


PROGRESS_IDS = 5000  # ids listed between two progress reports
PROGRESS_CHECKS = 100  # broken couplings read again between two progress reports


@dataclass(frozen=True)
class FindProgress:
    """Where a find is (for its job entry): the couplings read, the ids listed on each side so far, then how many of
    the couplings the listing found broken were checked again, and what was found so far."""

    phase: str  # "listing BC", "listing Dataverse", "checking", "recording"
    couplings: int = 0
    bc_ids: int = 0
    dataverse_ids: int = 0
    broken: int = 0  # couplings with a record the listing did not see
    checked: int = 0  # of those, read again
    deleted: int = 0  # couplings with a record gone in one app, so far
    both_deleted: int = 0


Progress = Callable[[FindProgress], None]


def _ids(pages: Iterable[list[str]], report: Callable[[int], None]) -> set[str]:
    ids: set[str] = set()
    reported = 0
    for page in pages:
        ids.update(str(record_id).lower() for record_id in page)
        if len(ids) - reported >= PROGRESS_IDS:
            reported = len(ids)
            report(reported)
    return ids


def _silent(_: FindProgress) -> None:
    return None


def find_deleted(context: SyncContext, mapping_name: str, progress: Progress = _silent) -> FindDeletedReport:
    """BC's "Find for Deleted" for one mapping (see the module docstring). Idempotent. `progress` is called every
    `PROGRESS_IDS` ids listed and every `PROGRESS_CHECKS` broken couplings checked (not per record)."""
    mapping = context.runnable(mapping_name)
    pairs = list(context.couplings.coupled_ids(mapping.name))
    if not pairs:
        return FindDeletedReport(mapping.name)
    at = FindProgress("listing BC", len(pairs))
    progress(at)
    bc_ids = _ids(context.bc.list_ids(mapping.bc_entity_set), lambda n: progress(replace(at, bc_ids=n)))
    at = replace(at, phase="listing Dataverse", bc_ids=len(bc_ids))
    progress(at)
    dv_ids = _ids(
        context.dataverse.list_ids(mapping.dataverse_entity_set), lambda n: progress(replace(at, dataverse_ids=n))
    )
    broken = [(bc, dv) for bc, dv in pairs if not (bc.lower() in bc_ids and dv.lower() in dv_ids)]
    at = replace(at, phase="checking", dataverse_ids=len(dv_ids), broken=len(broken))
    progress(at)
    couplings = context.couplings.find_many_by_bc_ids(mapping.name, [bc for bc, _ in broken]) if broken else {}
    survivors: list[tuple[Side, str]] = []  # (the side whose record is left, its id)
    both = in_progress = 0
    for checked, (bc_id, dv_id) in enumerate(broken, start=1):
        if checked % PROGRESS_CHECKS == 0:
            progress(replace(at, checked=checked, deleted=len(survivors), both_deleted=both))
        coupling = couplings.get(bc_id)
        if coupling is None or coupling.dataverse_id != dv_id:
            continue  # changed since the scan
        if coupling.creating is not None:
            in_progress += 1
            continue
        # A listing is not a snapshot: a record created (or restored) while the other side was listed would look
        # gone. So each missing record is read once more on its own (one read per broken coupling, not per coupling).
        bc_left = bc_id.lower() in bc_ids or _read(context, mapping, Side.BC, bc_id) is not None
        dv_left = dv_id.lower() in dv_ids or _read(context, mapping, Side.DATAVERSE, dv_id) is not None
        if bc_left and dv_left:
            continue
        if not bc_left and not dv_left:
            context.couplings.delete_coupling(mapping.name, bc_id)
            context.errors.clear_errors(mapping.name, [(Side.BC, bc_id), (Side.DATAVERSE, dv_id)])
            both += 1
        else:
            survivors.append((Side.BC, bc_id) if bc_left else (Side.DATAVERSE, dv_id))
    progress(replace(at, phase="recording", checked=len(broken), deleted=len(survivors), both_deleted=both))
    recorded, already = _record(context, mapping, survivors)
    return FindDeletedReport(
        mapping.name,
        couplings=len(pairs),
        bc_deleted=sum(1 for side, _ in survivors if side is Side.DATAVERSE),
        dataverse_deleted=sum(1 for side, _ in survivors if side is Side.BC),
        both_deleted=both,
        in_progress=in_progress,
        recorded=recorded,
        already_recorded=already,
    )


def _entries(context: SyncContext, mapping: str, keys: Sequence[tuple[Side, str]]) -> dict[tuple[Side, str], Any]:
    if len(keys) > FIND_ERRORS_AT_ONCE:
        wanted = set(keys)
        return {
            (e.side, e.record_id): e for e in context.errors.list_errors(mapping) if (e.side, e.record_id) in wanted
        }
    return {(e.side, e.record_id): e for e in context.errors.find_errors(mapping, keys)} if keys else {}


def _record(context: SyncContext, mapping: TableMapping, survivors: Sequence[tuple[Side, str]]) -> tuple[int, int]:
    """Record `coupledRecordDeleted` on each survivor that has no such entry yet; (recorded, already recorded)."""
    existing = _entries(context, mapping.name, survivors)
    now = format_instant(context.clock())
    entries = []
    for side, record_id in survivors:
        previous = existing.get((side, record_id))
        if previous is not None and previous.code == DELETED:
            continue
        entries.append(next_error(previous, mapping.name, side, record_id, DELETED, deleted_message(_other(side)), now))
    for entry, saved in zip(entries, context.errors.save_errors(entries), strict=True):
        if saved is None:  # a run wrote this record's error meanwhile: count on top of it, as a run does
            context.errors.record_error(mapping.name, entry.side, entry.record_id, entry.code, entry.message)
    return len(entries), len(survivors) - len(entries)


# -- Delete Records -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RecordPlan:
    """One id asked for: what Delete Records does with it. `outcome` is `toDelete` (one record is left: `side` and
    `record_id` say which one would be deleted), or why nothing is: `bothExist`, `bothDeleted`, `notCoupled`,
    `noError` (no entry on the list for this id). After a confirmed delete: `deleted`, or `refused` when the app
    refused the delete (`code`, `message`)."""

    id: str
    outcome: str
    side: Side | None = None
    record_id: str | None = None
    bc_id: str | None = None
    name: str | None = None
    code: str | None = None
    message: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "outcome": self.outcome,
            "side": self.side.value if self.side else None,
            "recordId": self.record_id,
            "name": self.name,
            "code": self.code,
            "message": self.message,
        }


@dataclass(frozen=True)
class DeleteReport:
    mapping: str
    confirmed: bool
    confirmation_token: str | None
    records: list[RecordPlan] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for record in self.records:
            counts[record.outcome] = counts.get(record.outcome, 0) + 1
        return {
            "mapping": self.mapping,
            "confirmed": self.confirmed,
            "confirmationToken": self.confirmation_token,
            "counts": counts,
            "records": [r.as_dict() for r in self.records],
        }


def _wanted(ids: Sequence[str]) -> list[str]:
    if not ids or len(ids) > MAX_IDS:
        raise InvalidInputError("invalidValue", f"'ids' must be a list of 1 to {MAX_IDS} ids.", field="ids")
    return list(dict.fromkeys(str(i).lower() for i in ids))


def _read(context: SyncContext, mapping: TableMapping, side: Side, record_id: str) -> dict[str, Any] | None:
    if side is Side.BC:
        return context.bc.get_entity(mapping.bc_entity_set, record_id)
    return context.dataverse.get_row(mapping.dataverse_entity_set, record_id)


def _name(row: dict[str, Any]) -> str | None:
    for key in NAME_KEYS:
        value = row.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return None


def entry_couplings(
    context: SyncContext, mapping: TableMapping, ids: Sequence[str]
) -> list[tuple[str, RecordErrorEntry | None, Coupling | None]]:
    """Per id asked for (each once, lower case; 1 to `MAX_IDS` or InvalidInputError naming `ids`): its entry on the
    list (an id may be either side's) and the coupling of the entry's record, from three reads in all (the list's
    entries, then the couplings of both sides)."""
    wanted = _wanted(ids)
    keys = [(side, record_id) for record_id in wanted for side in (Side.BC, Side.DATAVERSE)]
    by_id: dict[str, RecordErrorEntry] = {}
    for found in context.errors.find_errors(mapping.name, keys):
        by_id.setdefault(found.record_id.lower(), found)
    bc_ids = [e.record_id for e in by_id.values() if e.side is Side.BC]
    dv_ids = [e.record_id for e in by_id.values() if e.side is Side.DATAVERSE]
    by_bc = context.couplings.find_many_by_bc_ids(mapping.name, bc_ids) if bc_ids else {}
    by_dv = context.couplings.find_many_by_dataverse_ids(mapping.name, dv_ids) if dv_ids else {}
    found_couplings: list[tuple[str, RecordErrorEntry | None, Coupling | None]] = []
    for record_id in wanted:
        entry = by_id.get(record_id)
        coupling = None if entry is None else (by_bc if entry.side is Side.BC else by_dv).get(entry.record_id)
        found_couplings.append((record_id, entry, coupling))
    return found_couplings


def plan(context: SyncContext, mapping: TableMapping, ids: Sequence[str]) -> list[RecordPlan]:
    """What Delete Records would do with each id, from the list's entries, the couplings and both apps as they are
    now (two reads per id with an entry and a coupling)."""
    plans: list[RecordPlan] = []
    for record_id, entry, coupling in entry_couplings(context, mapping, ids):
        if entry is None:
            plans.append(RecordPlan(record_id, "noError"))
            continue
        if coupling is None:
            plans.append(RecordPlan(entry.record_id, "notCoupled"))
            continue
        bc_row = _read(context, mapping, Side.BC, coupling.bc_id)
        dv_row = _read(context, mapping, Side.DATAVERSE, coupling.dataverse_id)
        if bc_row is not None and dv_row is not None:
            plans.append(RecordPlan(entry.record_id, "bothExist", None, None, coupling.bc_id))
        elif bc_row is None and dv_row is None:
            plans.append(RecordPlan(entry.record_id, "bothDeleted", None, None, coupling.bc_id))
        elif bc_row is not None:
            plans.append(
                RecordPlan(entry.record_id, "toDelete", Side.BC, coupling.bc_id, coupling.bc_id, _name(bc_row))
            )
        else:
            assert dv_row is not None
            plans.append(
                RecordPlan(
                    entry.record_id, "toDelete", Side.DATAVERSE, coupling.dataverse_id, coupling.bc_id, _name(dv_row)
                )
            )
    return plans


def confirmation_token(company: str, mapping: str, ids: Sequence[str], plans: Sequence[RecordPlan]) -> str:
    """A digest of exactly what would be deleted, for which request and company (see the module docstring)."""
    bound = {
        "company": company,
        "mapping": mapping,
        "ids": sorted(_wanted(ids)),
        "delete": sorted(
            [p.side.value, p.record_id, p.bc_id] for p in plans if p.outcome == "toDelete" and p.side and p.record_id
        ),
    }
    return hashlib.sha256(json.dumps(bound, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def delete_records(
    context: SyncContext, company: str, mapping_name: str, ids: Sequence[str], token: str | None = None
) -> DeleteReport:
    """BC's "Delete Records" (see the module docstring): a preview with its token without `token`; with the token
    of the same list, the deletes. Raises ConflictError `confirmationMismatch` (409) when the token does not match
    what would be deleted now; nothing is deleted then."""
    mapping = context.runnable(mapping_name)
    plans = plan(context, mapping, ids)
    expected = confirmation_token(company, mapping.name, ids, plans)
    deletable = any(p.outcome == "toDelete" for p in plans)
    if token is None:
        return DeleteReport(mapping.name, False, expected if deletable else None, plans)
    if token != expected:
        raise ConflictError(
            "confirmationMismatch",
            "The confirmation token does not match what would be deleted now (the list changed, or the token is not "
            "one this list handed out): nothing was deleted. Ask again without a token to see the list.",
            field="confirmationToken",
        )
    return DeleteReport(mapping.name, True, None, [_delete(context, mapping, p) for p in plans])


def _delete(context: SyncContext, mapping: TableMapping, planned: RecordPlan) -> RecordPlan:
    if planned.outcome != "toDelete" or planned.side is None or planned.record_id is None or planned.bc_id is None:
        return planned
    try:
        if planned.side is Side.BC:
            context.bc.delete_entity(mapping.bc_entity_set, planned.record_id)
        else:
            context.dataverse.delete_row(mapping.dataverse_entity_set, planned.record_id)
    except SyncError as error:  # the app refused this one (or failed): reported, the others go on
        return replace(planned, outcome="refused", code=error.code, message=error.message)
    coupling = context.couplings.find_by_bc_id(mapping.name, planned.bc_id)
    if coupling is not None:
        context.couplings.delete_coupling(mapping.name, coupling.bc_id)
        context.errors.clear_errors(mapping.name, [(Side.BC, coupling.bc_id), (Side.DATAVERSE, coupling.dataverse_id)])
        after_uncoupled(context, mapping, coupling)
    return replace(planned, outcome="deleted")
