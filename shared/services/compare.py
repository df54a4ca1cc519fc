"""Both sides of one coupled record, field by field: what the admin looks at before choosing which side to keep.

Why its own read: a conflict ("changed in both apps") is reported, never resolved silently, and BC's answer is a
dialog showing both values; this is that dialog's data. The values are the mapped, normalised ones the sync
compares (lookups as the other side's ids), so "differs" means exactly what the sync would see as a difference.
"""

from __future__ import annotations

from typing import Any

from shared.domain.errors import NotFoundError
from shared.domain.records import Side
from shared.engine.context import SyncContext
from shared.engine.lookups import LookupResolver
from shared.engine.sides import BcSide, DataverseSide
from shared.engine.values import ValueMapper
from shared.services.synchronize import find_coupling


def compare_record(
    context: SyncContext, mapping_name: str, *, bc_id: str | None = None, dataverse_id: str | None = None
) -> dict[str, Any]:
    mapping = context.runnable(mapping_name)
    coupling = find_coupling(context, mapping.name, bc_id, dataverse_id)
    mapper = ValueMapper(mapping, LookupResolver(context), context.option_maps)
    bc_row = BcSide(context.bc, mapping, mapper).get_many([coupling.bc_id]).get(coupling.bc_id)
    dv_row = (
        DataverseSide(context.dataverse, mapping, mapper).get_many([coupling.dataverse_id]).get(coupling.dataverse_id)
    )
    if bc_row is None or dv_row is None:
        missing = "Business Central" if bc_row is None else "Dataverse"
        raise NotFoundError("coupledRecordDeleted", f"The coupled record in {missing} no longer exists.")
    bc_values, dv_values = mapper.from_bc(bc_row).values, mapper.from_dataverse(dv_row).values
    mapper.align(bc_values, dv_values)
    fields = [
        {
            "key": f.key,
            "bcField": f.bc_field,
            "dataverseField": f.dataverse_field,
            "direction": f.direction.value,
            "bc": bc_values.get(f.key),
            "dataverse": dv_values.get(f.key),
            "differs": bc_values.get(f.key) != dv_values.get(f.key),
        }
        for f in mapper.fields
    ]
    errors = [
        context.errors.find_error(mapping.name, side, record_id)
        for side, record_id in ((Side.BC, coupling.bc_id), (Side.DATAVERSE, coupling.dataverse_id))
    ]
    return {
        "mapping": mapping.name,
        "direction": mapping.direction.value,
        "bcId": coupling.bc_id,
        "dataverseId": coupling.dataverse_id,
        "fields": fields,
        "errors": [{"side": e.side.value, "code": e.code, "message": e.message} for e in errors if e is not None],
    }
