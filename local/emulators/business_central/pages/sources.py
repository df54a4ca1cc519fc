"""Where each Business Central entity the sync needs comes from: API v2.0, a standard page web service, or the
companion extension's custom API.

Why this exists: Microsoft pages cannot be published as OData endpoints from BC version 30 (2027 release wave 1),
so every page-backed entity must be switchable to our own API page without touching sync code. The sync resolves
an entity's source here (or from a copy of this description in its settings); the emulator serves all three
kinds from the same rows, so a test can run the sync against either and compare.
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict

CUSTOM_ROUTE = "/api/bcsalessync/integration/v1.0"
LAST_VERSION_WITH_PAGE_SERVICES = 29


class Source(TypedDict):
    kind: Literal["api", "page", "custom"]
    entitySet: NotRequired[str]  # api and custom: the entity set under the route
    route: NotRequired[str]  # custom: /api/{publisher}/{group}/{version}
    service: NotRequired[str]  # page: the published Service Name (the page web service)
    key: NotRequired[list[str]]  # page: key properties, in key-segment order
    page: NotRequired[int]  # page: the BC page id, for the administrator who publishes it


def _api(entity_set: str) -> Source:
    return {"kind": "api", "entitySet": entity_set}


def _page(service: str, page: int, *key: str) -> Source:
    return {"kind": "page", "service": service, "page": page, "key": list(key)}


def _custom(entity_set: str) -> Source:
    return {"kind": "custom", "route": CUSTOM_ROUTE, "entitySet": entity_set}


SOURCES: dict[str, Source] = {
    "customer": _api("customers"),
    "vendor": _api("vendors"),
    "contact": _api("contacts"),
    "contactInformation": _api("contactsInformation"),
    "salesperson": _api("salespeoplePurchasers"),
    "currency": _api("currencies"),
    "unitOfMeasure": _api("unitsOfMeasure"),
    "item": _api("items"),
    "resource": _page("ResourceCard", 76, "No"),
    "customerPriceGroup": _page("CustomerPriceGroups", 7, "Code"),
    "priceListHeader": _page("SalesPriceList", 7016, "Code"),
    "priceListLine": _page("PriceListLines", 7001, "Price_List_Code", "Line_No"),
    "itemUnitOfMeasure": _page("ItemUnitsOfMeasure", 5404, "Item_No", "Code"),
    "resourceUnitOfMeasure": _page("ResourceUnitsOfMeasure", 210, "Resource_No", "Code"),
    "itemUnitGroup": _page("ItemUnitGroupList", 5400, "Source_Type", "Source_Id"),
    "resourceUnitGroup": _page("ResourceUnitGroupList", 5403, "Source_Type", "Source_Id"),
    "salesReceivablesSetup": _page("SalesReceivablesSetup", 459, "Primary_Key"),
    "salesOrderStatus": _page("SalesOrderList", 9305, "Document_Type", "No"),
    "salesOrderHeader": _page("SalesOrder", 42, "Document_Type", "No"),
    "contactNameDetails": _page("NameDetails", 5055, "No"),
}
"""Today's sources (BC up to version 29): API v2.0 where it has the entity, else a standard page."""

CUSTOM_SOURCES: dict[str, Source] = {
    "resource": _custom("resources"),
    "customerPriceGroup": _custom("customerPriceGroups"),
    "priceListHeader": _custom("priceLists"),
    "priceListLine": _custom("priceListLines"),
    "itemUnitOfMeasure": _custom("itemUnitsOfMeasure"),
    "resourceUnitOfMeasure": _custom("resourceUnitsOfMeasure"),
    "salesReceivablesSetup": _custom("salesReceivablesSetups"),
    "salesOrderStatus": _custom("salesOrderStatuses"),
    "salesOrderHeader": _custom("salesOrderHeaders"),
}
"""The companion extension's replacement for the page sources (the emulator serves these too).

The unit groups have none yet: the app reads both unit-group pages as one canonical set (`unitGroups`), while a
custom set here is one page's name mapping (`customApi` in bc_page_overlay.json), and Item_No/Resource_No cannot
both be `sourceNumber` in one mapping. Serving them after version 29 needs a custom set over both pages first."""


def sources(bc_major_version: int, *, custom: bool = False) -> dict[str, Source]:
    """The source of every entity for a tenant on `bc_major_version`; `custom=True` prefers the extension early."""
    if custom or bc_major_version > LAST_VERSION_WITH_PAGE_SERVICES:
        return {**SOURCES, **CUSTOM_SOURCES}
    return dict(SOURCES)
