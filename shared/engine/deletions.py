"""A coupled record that is gone on one side: the mapping's deletion policy decides (BC's Deletion-Conflict
Resolution). `none` reports it on the record and changes nothing; `removeCoupling` forgets the pair;
`restore` re-creates the missing record from the one that still exists (same deterministic id) and couples it."""

from __future__ import annotations

from shared.domain.coupling import Coupling
from shared.domain.errors import RecordError, SyncError
from shared.domain.mapping import DeletionPolicy
from shared.domain.records import Counters, Side
from shared.engine.creation import Creator
from shared.engine.outcomes import record_failure
from shared.ports import Row


def _finish_creation(
    creator: Creator, coupling: Coupling, bc_row: Row | None, dv_row: Row | None, counters: Counters
) -> None:
    """A claim whose record was never created (the worker died between writing the coupling and the create, or the
    create failed transiently): not a deletion. The create is made again under the same claim and id."""

    def fail(side: Side, record_id: str, error: SyncError, row: Row | None) -> None:
        counters.failed += 1
        if record_failure(creator.context, creator.mapping.name, side, record_id, error, creator.work):
            counters.skipped += 1

    if bc_row is not None and dv_row is None:
        creator.create_in_dataverse([bc_row], counters, fail)
    elif dv_row is not None and bc_row is None:
        creator.create_in_business_central([dv_row], counters, fail)


def handle_missing(
    creator: Creator, coupling: Coupling, bc_row: Row | None, dv_row: Row | None, counters: Counters
) -> None:
    context, mapping = creator.context, creator.mapping
    if coupling.creating is not None and (bc_row if coupling.creating is Side.DATAVERSE else dv_row) is not None:
        _finish_creation(creator, coupling, bc_row, dv_row, counters)
        return
    if bc_row is None and dv_row is None:
        context.couplings.delete_coupling(mapping.name, coupling.bc_id)
        counters.uncoupled += 1
        return
    policy = mapping.deletion_policy
    if policy is DeletionPolicy.NONE:
        side, record_id = (Side.BC, coupling.bc_id) if bc_row is not None else (Side.DATAVERSE, coupling.dataverse_id)
        missing = "Dataverse" if dv_row is None else "Business Central"
        counters.failed += 1
        if record_failure(
            context,
            mapping.name,
            side,
            record_id,
            RecordError("coupledRecordDeleted", f"The coupled record in {missing} was deleted."),
            creator.work,
        ):
            counters.skipped += 1
        return
    context.couplings.delete_coupling(mapping.name, coupling.bc_id)
    counters.uncoupled += 1
    if policy is DeletionPolicy.RESTORE:

        def fail(side: Side, record_id: str, error: Exception, row: Row | None) -> None:
            counters.failed += 1
            if isinstance(error, RecordError):
                record_failure(context, mapping.name, side, record_id, error, creator.work)

        if dv_row is None and bc_row is not None:
            creator.create_in_dataverse([bc_row], counters, fail)
        elif dv_row is not None:
            creator.create_in_business_central([dv_row], counters, fail)
