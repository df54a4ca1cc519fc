"""Which mapping "Create in Business Central" takes a Sales row through, when several mappings share its table.

BC answers it from the row (CRMIntegrationManagement, GetIntegrationTableMappingFromCRMRecord): an account of
relationship type Customer belongs to the mapping of BC table Customer, type Vendor to the mapping of table Vendor,
any other type (or none) to the first account mapping. Only that mapping creates it, and, as in BC, whatever its
Dataverse filter says: BC's create job replaces the integration table filter with the ids chosen
(CRMIntegrationManagement.EnqueueSyncJob), so Create in Business Central is the admin's explicit choice of a record.
So an inactive Vendor account is VENDOR's: through VENDOR it becomes a vendor, through CUSTOMER it is refused (before,
the first mapping whose filter held the row was taken, else the first, so it fell to CUSTOMER and became a customer).
A Competitor or untyped account is CUSTOMER's (the first account mapping), as before.

Where BC takes "the first mapping" (FindFirst on the mapping table, ordered by name), we take the first in catalog
order: for the shipped tables the two agree (CUSTOMER before VENDOR). Other shared tables (product: ITEM-PRODUCT and
RESOURCE-PRODUCT) keep the older choice, the first mapping whose filter holds the row, else the first (BC takes the
first product mapping; UNCONFIRMED whether it picks a resource by `producttypecode`).
A mapping alone on its table is not checked, as before.
"""

from __future__ import annotations

from shared.domain.errors import RecordError
from shared.domain.mapping import Direction, TableMapping
from shared.engine.context import SyncContext
from shared.engine.sides import DataverseSide
from shared.engine.values import ValueMapper

ACCOUNT = "account"
TYPE_FIELD = "customertypecode"
# CRM Account CustomerTypeCode -> (its label, the BC entity of the mapping BC takes for it)
_ACCOUNT_TYPES = {3: ("Customer", "customer"), 11: ("Vendor", "vendor")}


def require_chosen_mapping(context: SyncContext, mapping: TableMapping, mapper: ValueMapper, dataverse_id: str) -> None:
    """Raise RecordError `outOfFilter` (field dataverseId, 422) unless BC would create the row through `mapping`. One
    read for an account's type; for another shared table one per filter checked."""
    sharing = [
        context.mapping(name)
        for name, declared in context.catalog.items()
        if declared.dataverse_table == mapping.dataverse_table and declared.kind is mapping.kind
    ]
    sharing = [m for m in sharing if m.enabled and m.direction.allows(Direction.FROM_DATAVERSE)]
    if len(sharing) < 2 or mapping.name not in {m.name for m in sharing}:
        return
    where = f"Dataverse {mapping.dataverse_table} {dataverse_id}"
    if mapping.dataverse_table == ACCOUNT:
        chosen, why = _by_account_type(context, mapping, sharing, dataverse_id)
    else:
        holding = next((m for m in sharing if _holds(context, m, mapper, dataverse_id)), None)
        if holding is not None and holding.name == mapping.name:
            return
        chosen, why = holding or sharing[0], f"is outside {mapping.name}'s filter ({mapping.dataverse_filter})"
    if chosen is None or chosen.name != mapping.name:
        through = f"BC creates it only through {chosen.name}" if chosen else "no mapping of this company takes it"
        raise RecordError("outOfFilter", f"{where} {why}; {through}.", field="dataverseId")


def _by_account_type(
    context: SyncContext, mapping: TableMapping, sharing: list[TableMapping], dataverse_id: str
) -> tuple[TableMapping | None, str]:
    """BC's choice for an account, by its relationship type: None when the type's BC table has no mapping here (BC
    raises "no integration table mapping" then), with the reason to tell the admin."""
    row = context.dataverse.get_row(mapping.dataverse_entity_set, dataverse_id, select=[TYPE_FIELD]) or {}
    code = row.get(TYPE_FIELD)
    label, entity = _ACCOUNT_TYPES.get(code, (None, None)) if isinstance(code, int) else (None, None)
    if entity is None:
        kind = f"of relationship type {code}" if code is not None else "without a relationship type"
        return sharing[0], f"is an account {kind} ({TYPE_FIELD}), which BC gives to the first account mapping"
    of_type = [m for m in sharing if m.bc_entity == entity]
    why = f"is a {label} account ({TYPE_FIELD} {code})"
    return (of_type[0] if of_type else None), why


def _holds(context: SyncContext, mapping: TableMapping, mapper: ValueMapper, dataverse_id: str) -> bool:
    if not mapping.dataverse_filter:
        return True
    side = DataverseSide(context.dataverse, mapping, mapper)
    return dataverse_id in side.get_many([dataverse_id], in_scope_only=True)
