"""Prices: PLHEADER-PRICE + PLLINE-PRODPRICE (extended pricing, ours), CUSTPRCGRP-PRICE + SALESPRC-PRODPRICE (legacy).

Why extended pricing: BC's legacy Sales Price table is obsolete since price lists (v16) and gone from BC 25's clean
build; BC creates either pair, never both. Price lists come from the page web services SalesPriceList (7016, whose
view is Price Type = Sale) and PriceListLines (7001), or the companion extension's API; filters and fields use the
canonical names of `connectors/business_central/entity_sources.py`.

What the engine does:
- A line's unit is an ITEM UOM of the line's own item (key id `<assetNumber>|<code>`, `Lookup.bc_id_from`), never
  another item's unit with the same code; BC fills the code from the item's base unit when the asset is set.

Not done yet (BC does them; the engine does not):
- BC's header filter also has 'Allow Updating Defaults' = (Sales & Receivables Setup 'Default Price List Code' is
  set): it depends on a setting, and the engine does not add it, so every sales price list is a candidate.
- A price list's state does not follow BC's status (BC: Active when the BC status is Active, else Inactive).
- Lines are not written right after their header (they travel with PLLINE-PRODPRICE's own run); the lines page shows
  lines of every price type, and a line whose price list is not coupled (a purchase price list) fails its lookup
  (a record error) until its list is coupled.
- Lines of resources need the product lookup through RESOURCE-PRODUCT, which `Lookup` cannot choose by `assetType`
  yet (an extension is proposed): until then the line filter keeps to items.
"""

from __future__ import annotations

from shared.domain.mapping import FieldMapping, Lookup, TableMapping
from shared.mappings.common import CONSTANT, SYNC_SCHEDULE, TO, all_missing, currency, differently

LEGACY_UOM = "Legacy UoM mode only; in unit-group mode the unit (uomid) identifies its unit group."

PLHEADER_PRICE = TableMapping(
    name="PLHEADER-PRICE",
    bc_entity="priceListHeader",
    bc_entity_set="priceLists",
    dataverse_table="pricelevel",
    dataverse_entity_set="pricelevels",
    dataverse_id="pricelevelid",
    direction=TO,
    bc_default_table="Price List Header",
    bc_filter="amountType eq 'Price'",
    dependencies=("CURRENCY", "ITEM-PRODUCT"),
    sync_only_coupled=True,
    schedule=SYNC_SCHEDULE,
    fields=(
        FieldMapping(
            "code",
            "name",
            TO,
            match_priority=1,
            bc_default_field="Code",
            note="Our match criterion (BC defines none for price lists).",
        ),
        FieldMapping("description", "description", TO, bc_default_field="Description"),
        currency(direction=TO),
        FieldMapping(
            "startingDate",
            "begindate",
            TO,
            transform="blankToNull",
            bc_default_field="Starting Date",
            note="BC's blank date (0001-01-01) is no date in Dataverse.",
        ),
        FieldMapping(
            "endingDate",
            "enddate",
            TO,
            transform="blankToNull",
            bc_default_field="Ending Date",
            note="BC's blank date (0001-01-01) is no date in Dataverse.",
        ),
    ),
)

PLLINE_PRODPRICE = TableMapping(
    name="PLLINE-PRODPRICE",
    bc_entity="priceListLine",
    bc_entity_set="priceListLines",
    dataverse_table="productpricelevel",
    dataverse_entity_set="productpricelevels",
    dataverse_id="productpricelevelid",
    direction=TO,
    bc_default_table="Price List Line",
    bc_filter="amountType eq 'Price' and assetType eq 'Item' and minimumQuantity eq 0",
    dependencies=("PLHEADER-PRICE", "ITEM-PRODUCT"),
    sync_only_coupled=False,
    schedule=SYNC_SCHEDULE,
    fields=(
        FieldMapping(
            "priceListCode",
            "pricelevelid",
            TO,
            lookup=Lookup("PLHEADER-PRICE", "pricelevels", "pricelevelid", bc_key="code", bc_entity_set="priceLists"),
            bc_default_field="Price List Code",
            note="Dataverse accepts it only on create: the engine leaves it out of updates.",
        ),
        FieldMapping(
            "assetNumber",
            "productid",
            TO,
            lookup=Lookup("ITEM-PRODUCT", "products", "productid", bc_key="number", bc_entity_set="items"),
            bc_default_field="Asset No.",
            note="Items only for now (BC: ITEM-PRODUCT or RESOURCE-PRODUCT by assetType).",
        ),
        currency(direction=TO),
        FieldMapping(
            None,
            "pricingmethodcode",
            TO,
            constant=1,
            bc_default_field=CONSTANT,
            note="Currency Amount: the price is the amount, as BC writes it.",
        ),
        FieldMapping(
            "unitOfMeasureCode",
            "uomid",
            TO,
            lookup=Lookup("ITEM UOM", "uoms", "uomid", bc_id_from=("assetNumber",)),
            bc_default_field="Unit of Measure Code",
            note=(
                "The ITEM UOM of the line's own item: its key id is `<assetNumber>|<code>` (no BC read), so a code "
                "that other items have too never takes their unit. BC fills the code from the item's base unit."
            ),
        ),
        FieldMapping("unitPrice", "amount", TO, bc_default_field="Unit Price"),
    ),
    gaps=(
        differently(
            "Asset No.",
            "productnumber",
            "productnumber is read-only on productpricelevel: Dataverse copies it from the product (productid).",
        ),
        differently("Unit of Measure Code", "uomscheduleid", LEGACY_UOM),
    ),
    note=(
        "BC's filter also has Price Type = Sale, which the lines page cannot filter: a line of a price list that is "
        "not coupled (a purchase list) fails its price list lookup (a record error). Resource lines wait for a "
        "lookup that picks RESOURCE-PRODUCT by assetType."
    ),
)

CUSTPRCGRP_PRICE = TableMapping(
    name="CUSTPRCGRP-PRICE",
    bc_entity="customerPriceGroup",
    bc_entity_set="customerPriceGroups",
    dataverse_table="pricelevel",
    dataverse_entity_set="pricelevels",
    dataverse_id="pricelevelid",
    direction=TO,
    bc_default_table="Customer Price Group",
    dependencies=("CURRENCY", "ITEM-PRODUCT"),
    sync_only_coupled=True,
    enabled=False,
    fields=(FieldMapping("code", "name", TO, match_priority=1, bc_default_field="Code"),),
    note="Legacy pricing (extended price calculation off): a price list per customer price group.",
)

LEGACY_PRICE_REASON = (
    "The Sales Price table (7002) is BC's legacy pricing: obsolete since price lists and removed from BC 25's clean "
    "build; neither API v2.0 nor this project's page sources expose it. Prices travel by PLLINE-PRODPRICE."
)

SALESPRC_PRODPRICE = TableMapping(
    name="SALESPRC-PRODPRICE",
    bc_entity="salesPrice",
    bc_entity_set="salesPrices",
    dataverse_table="productpricelevel",
    dataverse_entity_set="productpricelevels",
    dataverse_id="productpricelevelid",
    direction=TO,
    bc_default_table="Sales Price",
    dependencies=("CUSTPRCGRP-PRICE", "ITEM-PRODUCT"),
    sync_only_coupled=False,
    enabled=False,
    fields=(),
    gaps=all_missing(
        LEGACY_PRICE_REASON,
        ("Sales Code", "pricelevelid"),
        ("Item No.", "productid"),
        ("Item No.", "productnumber"),
        ("Currency Code", "transactioncurrencyid"),
        (CONSTANT, "pricingmethodcode"),
        ("Unit Price", "amount"),
    ),
)

MAPPINGS = (PLHEADER_PRICE, PLLINE_PRODPRICE, CUSTPRCGRP_PRICE, SALESPRC_PRODPRICE)
