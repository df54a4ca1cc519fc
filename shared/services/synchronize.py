"""Synchronize Now for one coupled record: the caller chooses which side's data overwrites the other.

A direction the mapping does not allow is refused (BC asks for confirmation instead; an API refuses). The report
lists every field that changed with its old and new value, so an admin sees exactly what happened. A successful
Synchronize Now restores a skipped record, as in BC.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from shared.domain.changes import Outcome, forced
from shared.domain.coupling import Coupling
from shared.domain.errors import InvalidInputError, NotFoundError
from shared.domain.mapping import Direction
from shared.services.context import SyncContext
from shared.services.lookups import LookupResolver
from shared.services.outcomes import final_values, save_synchronized
from shared.services.run_candidates import etag_of
from shared.services.sides import BcSide, DataverseSide
from shared.services.values import ValueMapper


@dataclass(frozen=True)
class FieldChange:
    field: str
    bc_field: str | None
    dataverse_field: str | None
    old: Any
    new: Any


@dataclass(frozen=True)
class SyncReport:
    mapping: str
    bc_id: str
    dataverse_id: str
    direction: Direction
    outcome: str  # "modified" or "unchanged"
    changes: tuple[FieldChange, ...] = field(default=())
    job_id: str = ""


def find_coupling(context: SyncContext, mapping: str, bc_id: str | None, dataverse_id: str | None) -> Coupling:
    if bc_id:
        coupling = context.couplings.find_by_bc_id(mapping, bc_id)
    elif dataverse_id:
        coupling = context.couplings.find_by_dataverse_id(mapping, dataverse_id)
    else:
        raise InvalidInputError("idRequired", "Give bcId or dataverseId.", field="bcId")
    if coupling is None:
        raise NotFoundError(
            "notCoupled", f"The record is not coupled in mapping {mapping}.", field="bcId" if bc_id else "dataverseId"
        )
    return coupling


def synchronize_record(
    context: SyncContext,
    mapping_name: str,
    direction: Direction,
    *,
    bc_id: str | None = None,
    dataverse_id: str | None = None,
) -> SyncReport:
    mapping = context.runnable(mapping_name)
    if direction is Direction.BIDIRECTIONAL or not mapping.direction.allows(direction):
        raise InvalidInputError(
            "directionNotAllowed",
            f"Mapping {mapping.name} is {mapping.direction.value}: it cannot synchronize {direction.value}.",
            field="direction",
        )
    coupling = find_coupling(context, mapping.name, bc_id, dataverse_id)
    mapper = ValueMapper(mapping, LookupResolver(context), context.option_maps)
    bc_side, dv_side = BcSide(context.bc, mapping, mapper), DataverseSide(context.dataverse, mapping, mapper)
    bc_row = bc_side.get_many([coupling.bc_id]).get(coupling.bc_id)
    dv_row = dv_side.get_many([coupling.dataverse_id]).get(coupling.dataverse_id)
    if bc_row is None or dv_row is None:
        missing = "Business Central" if bc_row is None else "Dataverse"
        raise NotFoundError("coupledRecordDeleted", f"The coupled record in {missing} no longer exists.")
    source = mapper.from_bc(bc_row) if direction is Direction.TO_DATAVERSE else mapper.from_dataverse(dv_row)
    if source.failures:
        raise next(iter(source.failures.values()))
    bc_values, dv_values = mapper.from_bc(bc_row).values, mapper.from_dataverse(dv_row).values
    mapper.align(bc_values, dv_values)
    decision = forced(mapper.rules(), bc_values, dv_values, direction)
    job_id = f"now-{uuid.uuid4()}"
    by_key = {f.key: f for f in mapper.fields}
    changes: list[FieldChange] = []
    bc_modified, dv_modified = bc_side.modified_on(bc_row), dv_side.modified_on(dv_row)
    bc_version, dv_version = etag_of(bc_row), etag_of(dv_row)
    if decision.outcome is Outcome.WRITE and decision.to_dataverse:
        payload = {
            mapping.dataverse_id: coupling.dataverse_id,
            **mapper.dataverse_payload(bc_row, decision.to_dataverse, creating=False),
        }
        dv_side.upsert_many([payload])
        changes = [
            FieldChange(k, by_key[k].bc_field, by_key[k].dataverse_field, dv_values.get(k), bc_values.get(k))
            for k in decision.to_dataverse
        ]
        dv_modified = dv_version = None
    if decision.outcome is Outcome.WRITE and decision.to_bc:
        payload = mapper.bc_payload(dv_row, decision.to_bc, creating=False)
        outcome = bc_side.update_many([(coupling.bc_id, payload, str(bc_row.get("@odata.etag", "*")))])[0]
        if not outcome.ok:
            raise InvalidInputError("bcRejectedUpdate", f"Business Central refused the update: {outcome.body}")
        changes = [
            FieldChange(k, by_key[k].bc_field, by_key[k].dataverse_field, bc_values.get(k), dv_values.get(k))
            for k in decision.to_bc
        ]
        bc_modified = bc_version = None
    save_synchronized(
        context,
        coupling,
        final_values(decision, bc_values, dv_values),
        bc_modified=bc_modified,
        dv_modified=dv_modified,
        job_id=job_id,
        bc_version=bc_version,
        dv_version=dv_version,
    )
    return SyncReport(
        mapping.name,
        coupling.bc_id,
        coupling.dataverse_id,
        direction,
        "modified" if changes else "unchanged",
        tuple(changes),
        job_id,
    )
