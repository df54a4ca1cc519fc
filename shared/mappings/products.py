"""ITEM-PRODUCT and RESOURCE-PRODUCT: BC items and resources <-> Dataverse products (Sales Inventory / Services).

Why these choices:
- Product state: Dataverse creates products as Draft and only Active products can be sold; BC activates every
  product right after inserting it. The behaviour `publishAndPrice` (engine/behaviours/products.py) publishes the
  products the engine created (one UpdateMultiple, statecode 0 / statuscode 1) and puts them on BC's default price
  list ("Business Central Default Price List", created once if missing) with a price list item per unit of the
  product's unit group (amount = unit price x the unit's quantity), kept when the price changes in BC.
- The product type is set on create (`producttypecode` 1 for items, 3 for resources) and is part of the filter,
  so an item and a resource with the same number never meet in one mapping.
- Match on the product number (our choice; BC defines no default criteria for products).
- Prices and quantities go through `nonNegative`: Dataverse refuses negative prices, BC sends 0 (so a negative BC
  price and Sales' 0 compare equal and are not re-sent forever).
- The unit group is the item's own (unit-group mode, see `units.py`): `defaultuomscheduleid` is the UNIT GROUP of
  this item, `defaultuomid` its base unit's ITEM UOM coupling, looked up by code *within this item's units*.

The write-in item/resource (our setup's write-in product) is never synchronized as a product: the behaviour
`excludeWriteIn` leaves it out of every candidate read (incremental, full-sync chunk, match-based coupling, create in
Dataverse).

State (behaviour `productStateFollowsBlocked`, engine/behaviours/states.py): a product Retired in Sales blocks its
item/resource in BC, a blocked item/resource retires its product (statecode 1 / statuscode 2), and an unblocked
item/resource publishes its Retired product again (statecode 0 / statuscode 1), as BC's transfer subscribers do:
on the next incremental run (a retired product and a blocked item are outside the mapping's filters, statecode eq 0
and blocked eq false, so the run also reads them with the rule's own query), at once on Synchronize Now of the
record (whatever the filter), and in a full synchronization for the records it reads (in the filters: with the
default ones, only the unblocked item's rule can apply). Not done yet: a Draft or Under Revision product neither
blocks its item nor is published by an unblocked one (BC acts on any state but Active); re-publishing the product
does not unblock the item; the product's currency is Dataverse's default, the base currency = LCY.
"""

from __future__ import annotations

from shared.domain.mapping import FieldMapping, Lookup, TableMapping
from shared.mappings.common import BOTH, SYNC_SCHEDULE, TO, differently, missing
from shared.mappings.units import unit_group_lookup

VENDOR_REASON = "{what} carry no Vendor No. (BC writes the vendor's number to vendorid as text, not a lookup)."
PRICE_NOTE = "Negative prices are sent as 0 (Dataverse refuses them), as BC does."


def _uom_lookup(mapping: str) -> Lookup:
    """The base unit among this item's (resource's) own units: the unit's key id is `<number>|<code>`."""
    return Lookup(mapping=mapping, target_entity_set="uoms", navigation="defaultuomid", bc_id_from=("number",))


ITEM_UNIT_GROUP = FieldMapping(
    "id",
    "defaultuomscheduleid",
    TO,
    lookup=Lookup(
        mapping="UNIT GROUP",
        target_entity_set="uomschedules",
        navigation="defaultuomscheduleid",
        bc_id_from=("=Item",),
    ),
    note="This item's own unit group: its key id is `Item|<the item's SystemId>` (no read); BC: in code.",
)


def _unit_group(kind: str) -> FieldMapping:
    """A resource's unit group, found by the resource number: pages key resources by number, not SystemId."""
    return FieldMapping(
        "number",
        "defaultuomscheduleid",
        TO,
        lookup=unit_group_lookup(kind.capitalize(), "defaultuomscheduleid"),
        note=f"This {kind}'s own unit group (sourceType {kind.capitalize()}, sourceNumber = number); BC: in code.",
    )


ITEM_PRODUCT = TableMapping(
    name="ITEM-PRODUCT",
    bc_entity="item",
    bc_entity_set="items",
    dataverse_table="product",
    dataverse_entity_set="products",
    dataverse_id="productid",
    direction=BOTH,
    bc_default_table="Item",
    bc_filter="blocked eq false",
    dataverse_filter="producttypecode eq 1 and statecode eq 0",
    dependencies=("ITEM UOM",),
    sync_only_coupled=True,
    dataverse_on_create={"producttypecode": 1, "quantitydecimal": 2},
    behaviours=("excludeWriteIn", "publishAndPrice", "productStateFollowsBlocked"),
    schedule=SYNC_SCHEDULE,
    fields=(
        FieldMapping(
            "number",
            "productnumber",
            TO,
            match_priority=1,
            bc_default_field="No.",
            note="Our match criterion: the product number is unique in Sales.",
        ),
        FieldMapping("displayName", "name", BOTH, transform="truncate100", bc_default_field="Description"),
        FieldMapping("unitPrice", "price", TO, transform="nonNegative", bc_default_field="Unit Price", note=PRICE_NOTE),
        FieldMapping("unitCost", "standardcost", TO, bc_default_field="Unit Cost"),
        FieldMapping("unitCost", "currentcost", TO, bc_default_field="Unit Cost"),
        FieldMapping(
            "inventory",
            "quantityonhand",
            TO,
            transform="nonNegative",
            bc_default_field="Inventory",
            note=(
                "A FlowField: a change of stock does not move the item's lastModifiedDateTime, so it travels with "
                "the item's next change or a full synchronization. Negative stock is sent as 0, as BC does."
            ),
        ),
        FieldMapping(
            "baseUnitOfMeasureCode",
            "defaultuomid",
            BOTH,
            lookup=_uom_lookup("ITEM UOM"),
            bc_default_field="Base Unit of Measure",
            note="The ITEM UOM of this item (itemNumber = number) with this code; unit-group mode.",
        ),
        ITEM_UNIT_GROUP,
    ),
    gaps=(
        missing("Unit Volume", "stockvolume", "Unit Volume is not exposed by API v2.0 items."),
        missing("Gross Weight", "stockweight", "Gross Weight is not exposed by API v2.0 items."),
        missing("Vendor No.", "vendorid", VENDOR_REASON.format(what="API v2.0 items")),
        missing("Vendor Item No.", "vendorpartnumber", "Vendor Item No. is not exposed by API v2.0 items."),
        differently(
            "Base Unit of Measure",
            "defaultuomscheduleid",
            "Legacy UoM mode only; in unit-group mode the product's unit group is the item's own "
            "(number -> defaultuomscheduleid through UNIT GROUP).",
        ),
    ),
)

RESOURCE_PRODUCT = TableMapping(
    name="RESOURCE-PRODUCT",
    bc_entity="resource",
    bc_entity_set="resources",
    dataverse_table="product",
    dataverse_entity_set="products",
    dataverse_id="productid",
    direction=BOTH,
    bc_default_table="Resource",
    bc_filter="blocked eq false",
    dataverse_filter="producttypecode eq 3 and statecode eq 0",
    dependencies=("RESOURCE UOM",),
    sync_only_coupled=True,
    dataverse_on_create={"producttypecode": 3, "quantitydecimal": 2},
    behaviours=("excludeWriteIn", "publishAndPrice", "productStateFollowsBlocked"),
    schedule=SYNC_SCHEDULE,
    fields=(
        FieldMapping(
            "number",
            "productnumber",
            TO,
            match_priority=1,
            bc_default_field="No.",
            note="Our match criterion: the product number is unique in Sales.",
        ),
        FieldMapping("displayName", "name", BOTH, transform="truncate100", bc_default_field="Name"),
        FieldMapping("unitPrice", "price", TO, transform="nonNegative", bc_default_field="Unit Price", note=PRICE_NOTE),
        FieldMapping("unitCost", "standardcost", TO, bc_default_field="Unit Cost"),
        FieldMapping("unitCost", "currentcost", TO, bc_default_field="Unit Cost"),
        FieldMapping(
            "baseUnitOfMeasureCode",
            "defaultuomid",
            TO,
            lookup=_uom_lookup("RESOURCE UOM"),
            bc_default_field="Base Unit of Measure",
            note="The RESOURCE UOM of this resource (resourceNumber = number) with this code; unit-group mode.",
        ),
        _unit_group("resource"),
    ),
    gaps=(
        missing("Vendor No.", "vendorid", VENDOR_REASON.format(what="Resources (the Resource Card page)")),
        missing(
            "Capacity",
            "quantityonhand",
            "Capacity is a FlowField (sum of capacity entries) on neither the Resource Card page nor the "
            "companion-extension resources API.",
        ),
    ),
    note="Resources come from the Resource Card page web service (or the companion extension's API), not API v2.0.",
)

MAPPINGS = (ITEM_PRODUCT, RESOURCE_PRODUCT)
