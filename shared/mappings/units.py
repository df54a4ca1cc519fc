"""Units: UNIT GROUP + ITEM UOM + RESOURCE UOM (BC's unit-group mode, ours) and UNIT OF MEASURE (legacy, disabled).

Why unit-group mode: it is the only mode that carries an item's *own* units and conversions (box = 12 pieces) to
Sales, and the one current BC versions set up; the legacy mode makes one unit group per BC unit with a single unit,
so a product can only ever be sold in its base unit. BC creates either the three unit-group mappings or the legacy
one, never both; the legacy one is kept disabled for tenants that still use it.

What the engine must know:
- BC keeps one Unit Group per item and per resource, coded `ITEM <No.> UOM GR` / `RESOURCE <No.> UOM GR`; BC writes
  that code as both the uomschedule's name and its base unit name (baseuomname, which Dataverse only accepts on
  create). API v2.0 has no unit groups: they come from the read-only pages ItemUnitGroupList (5400) and
  ResourceUnitGroupList (5403), which `connectors/business_central/entity_sources.py` serves together as the canonical
  set `unitGroups` (canonical names code, sourceType, sourceId, sourceNumber, description; id `Item|<SystemId>`).
- An item/resource unit belongs to the unit group of its item/resource: `uomscheduleid` (required and create-only
  in Dataverse) is the UNIT GROUP coupling of the group whose sourceNumber is the unit's item number *and* whose
  sourceType is Item (Resource for resource units): the lookup carries that scope (`Lookup.bc_scope`). Unit codes
  repeat across items, so every lookup *of a unit* by code is scoped by its item or resource (`Lookup.bc_id_from`:
  the unit's key id `<number>|<code>`): products' `defaultuomid`, price lines' `uomid`. Match-based coupling of a
  unit compares its name *and* its unit group (both match fields, priority 1), as BC finds a unit by name within
  the group of its own item: a PCS of another item's group is never taken.
- Dataverse units need a base unit (`baseuom`); the engine sets it to the group's base unit when it creates one
  (`engine/create_rules.py`; Dataverse makes the base unit itself when the group is created).
"""

from __future__ import annotations

from shared.domain.mapping import FieldMapping, Lookup, TableMapping
from shared.mappings.common import SYNC_SCHEDULE, TO


def unit_group_lookup(kind: str, navigation: str = "uomscheduleid") -> Lookup:
    """The unit group of an item or a resource (`kind`): numbers repeat across items and resources, so the lookup
    is scoped to the source type."""
    return Lookup(
        mapping="UNIT GROUP",
        target_entity_set="uomschedules",
        navigation=navigation,
        bc_key="sourceNumber",
        bc_entity_set="unitGroups",
        bc_scope=f"sourceType eq '{kind}'",
    )


CREATE_ONLY = "Dataverse accepts it only on create: the engine leaves it out of updates."

UNIT_GROUP = TableMapping(
    name="UNIT GROUP",
    bc_entity="unitGroup",
    bc_entity_set="unitGroups",
    dataverse_table="uomschedule",
    dataverse_entity_set="uomschedules",
    dataverse_id="uomscheduleid",
    direction=TO,
    bc_default_table="Unit Group",
    sync_only_coupled=True,
    create_if_no_match=True,
    sync_after_coupling=True,
    schedule=SYNC_SCHEDULE,
    fields=(
        FieldMapping(
            "code",
            "name",
            TO,
            match_priority=1,
            bc_default_field="Source No.",
            note="BC writes the group's code '<ITEM|RESOURCE> <No.> UOM GR' (from Source No.); BC's match criterion.",
        ),
        FieldMapping("code", "baseuomname", TO, bc_default_field="Source No.", note=CREATE_ONLY),
    ),
)


def _unit_mapping(name: str, entity: str, entity_set: str, owner_number: str, bc_table: str) -> TableMapping:
    """ITEM UOM and RESOURCE UOM differ only in their BC source: one factory keeps them from drifting apart."""
    kind = "Item" if entity.startswith("item") else "Resource"
    return TableMapping(
        name=name,
        bc_entity=entity,
        bc_entity_set=entity_set,
        dataverse_table="uom",
        dataverse_entity_set="uoms",
        dataverse_id="uomid",
        direction=TO,
        bc_default_table=bc_table,
        dependencies=("UNIT GROUP",),
        sync_only_coupled=True,
        create_if_no_match=True,
        sync_after_coupling=True,
        schedule=SYNC_SCHEDULE,
        fields=(
            FieldMapping(
                "code",
                "name",
                TO,
                match_priority=1,
                bc_default_field="Code",
                note=f"BC's match criterion, within the unit group of the same {kind.lower()}.",
            ),
            FieldMapping("quantityPerUnitOfMeasure", "quantity", TO, bc_default_field="Qty. per Unit of Measure"),
            FieldMapping(
                owner_number,
                "uomscheduleid",
                TO,
                lookup=unit_group_lookup(kind),
                match_priority=1,
                note=(
                    f"The unit group with this sourceNumber and sourceType {kind}. {CREATE_ONLY} Matched with the "
                    "name: a unit is found by name within its own group only."
                ),
            ),
        ),
        note=f"BC sets the unit's unit group in code; here it is the lookup on {owner_number}.",
    )


ITEM_UOM = _unit_mapping("ITEM UOM", "itemUnitOfMeasure", "itemUnitsOfMeasure", "itemNumber", "Item Unit of Measure")
RESOURCE_UOM = _unit_mapping(
    "RESOURCE UOM", "resourceUnitOfMeasure", "resourceUnitsOfMeasure", "resourceNumber", "Resource Unit of Measure"
)

UNIT_OF_MEASURE = TableMapping(
    name="UNIT OF MEASURE",
    bc_entity="unitOfMeasure",
    bc_entity_set="unitsOfMeasure",
    dataverse_table="uomschedule",
    dataverse_entity_set="uomschedules",
    dataverse_id="uomscheduleid",
    direction=TO,
    bc_default_table="Unit of Measure",
    sync_only_coupled=True,
    enabled=False,
    fields=(
        FieldMapping("code", "baseuomname", TO, bc_default_field="Code", note=CREATE_ONLY),
        FieldMapping(
            "code",
            "name",
            TO,
            match_priority=1,
            note="Dataverse requires a name; BC finds a legacy uomschedule by name.",
        ),
    ),
    note="Legacy UoM mode (BC's 'Unit Group Mapping Enabled' off): one unit group per BC unit of measure.",
)

MAPPINGS = (UNIT_GROUP, ITEM_UOM, RESOURCE_UOM, UNIT_OF_MEASURE)
