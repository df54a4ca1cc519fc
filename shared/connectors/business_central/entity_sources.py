"""Where each Business Central entity the sync needs comes from: API v2.0, a page web service, or the companion
extension's custom API route. Data, not code paths.

Why: API v2.0 lacks resources, price groups, price lists, unit conversions, the write-in product setup, the
order Status text and an order's Your Reference, Quote No. and Work Description, so today those come from standard
pages an administrator publishes as web services. Microsoft stops exposing its pages as OData endpoints from BC
version 30 (2027 release wave 1), so each page-backed entity must be switchable to our own API page (the custom
route) without touching sync code or mappings. Hence:

- every entity has one `EntitySource` saying which surface, which entity set or service, its key, and how its
  property names translate to the entity's *canonical* names;
- canonical names are the API-style camelCase names of the custom API (`number`, `unitPrice`), so a mapping
  written against a page source keeps working after the entity moves to the custom route;
- page service names are whatever the admin typed on the Web Services page, so they are settings;
- a page no other need makes an admin publish (5055 Name Details) is *opt-in*: served only once its service name is
  set (`BC_PAGE_SERVICES` / setup `pageServices`), so a tenant that did not publish it is never sent a request the
  page would answer 404 (the sync then does without it, e.g. BC's own Name breakdown);
- the registry is immutable; `with_custom()` / `with_service()` return a changed copy.

The emulator keeps its own twin of this table (`local/emulators/business_central/pages_sources.py`); a contract test
checks the two agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

SourceKind = Literal["api", "page", "custom"]
API_ROUTE = "api/v2.0"
CUSTOM_ROUTE = "api/bcsalessync/integration/v1.0"
LAST_VERSION_WITH_PAGE_SERVICES = 29


@dataclass(frozen=True)
class EntitySource:
    """One entity's surface. `name` is the entity set (api, custom) or the published service name (page);
    `key` holds source property names in key-segment order; `fields` maps canonical -> source name where they
    differ; `delta` says whether `lastModifiedDateTime` reliably moves when the entity's data changes."""

    entity: str
    kind: SourceKind
    name: str
    key: tuple[str, ...] = ("id",)
    fields: tuple[tuple[str, str], ...] = ()
    route: str = API_ROUTE
    lines: str | None = None
    page_id: int | None = None
    custom_set: str | None = None
    delta: bool = True
    view: tuple[tuple[str, str], ...] = ()  # a page's SourceTableView constants: (source property, value)
    published: bool = True  # False: an opt-in page, not served until its service name is set

    @property
    def is_page(self) -> bool:
        return self.kind == "page"

    def source_name(self, canonical: str) -> str:
        return dict(self.fields).get(canonical, canonical)

    def canonical_name(self, source: str) -> str:
        return {page: name for name, page in self.fields}.get(source, source)

    def select(self, canonical: Iterable[str]) -> list[str]:
        """Source property names for a `$select` written in canonical names."""
        return [self.source_name(name) for name in canonical]

    def to_source(self, row: Mapping[str, Any]) -> dict[str, Any]:
        return {self.source_name(k): v for k, v in row.items()}

    def to_canonical(self, row: Mapping[str, Any]) -> dict[str, Any]:
        return {self.canonical_name(k): v for k, v in row.items()}

    def key_of(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """The key segment values of a source-shaped row (what `get_page_entity` takes)."""
        return {name: row[name] for name in self.key}

    def as_custom(self, route: str = CUSTOM_ROUTE) -> EntitySource:
        """The same entity served by the companion extension: SystemId key, API names, `lastModifiedDateTime`."""
        entity_set = self.custom_set or self.name
        return EntitySource(
            self.entity, "custom", entity_set, route=route, lines=self.lines, custom_set=entity_set,
            published=self.published,
        )  # fmt: skip


def _api(
    entity: str, entity_set: str, *, lines: str | None = None, delta: bool = True, key: str = "id"
) -> EntitySource:
    return EntitySource(entity, "api", entity_set, (key,), lines=lines, delta=delta)


def _page(
    entity: str,
    service: str,
    page_id: int,
    key: Sequence[str],
    custom_set: str,
    fields: Mapping[str, str],
    view: Mapping[str, str] | None = None,
    *,
    published: bool = True,
) -> EntitySource:
    return EntitySource(
        entity, "page", service, tuple(key), tuple(fields.items()), route="ODataV4", page_id=page_id,
        custom_set=custom_set, delta=False, view=tuple((view or {}).items()), published=published,
    )  # fmt: skip


def _unit_groups(kind: str, service: str, page_id: int, number: str, description: str) -> EntitySource:
    """BC's Unit Group table (5400) has one row per item and per resource, shown by two read-only pages that each
    fix Source Type; together they serve the one canonical set `unitGroups` (key `Item|<item SystemId>`)."""
    fields = {"sourceType": "Source_Type", "sourceId": "Source_Id", "code": "Code", "sourceNumber": number,
              "description": description}  # fmt: skip
    key = ["Source_Type", "Source_Id"]
    return _page(f"{kind.lower()}UnitGroup", service, page_id, key, "unitGroups", fields, {"Source_Type": kind})


_API_SOURCES = (
    _api("customer", "customers"),
    _api("vendor", "vendors"),
    _api("contact", "contacts"),
    # read-only business relations (contact -> customer): the second hop from a person to its parent account
    _api("contactInformation", "contactsInformation", delta=False, key="contactId"),
    _api("salesperson", "salespeoplePurchasers"),
    _api("currency", "currencies"),
    _api("currencyExchangeRate", "currencyExchangeRates"),  # read-only; CURRENCY reads the latest rates each run
    _api("unitOfMeasure", "unitsOfMeasure"),
    _api("item", "items"),
    _api("salesOrder", "salesOrders", lines="salesOrderLines"),
    _api("salesQuote", "salesQuotes", lines="salesQuoteLines"),
    _api("salesInvoice", "salesInvoices", lines="salesInvoiceLines"),
    _api("customerPayment", "customerPayments"),  # unposted journal lines; creating one needs a journalId
    # FlowFields (balance, sales, overdue) do not move the customer's lastModifiedDateTime: read them in full.
    _api("customerFinancialDetail", "customerFinancialDetails", delta=False),
    _api("paymentTerms", "paymentTerms"),
    _api("shipmentMethod", "shipmentMethods"),
    _api("account", "accounts"),  # G/L accounts (read-only): the freight account setting is checked against them
    _api("opportunity", "opportunities"),
)
_UOM = {"code": "Code", "quantityPerUnitOfMeasure": "Qty_per_Unit_of_Measure"}
_PAGE_SOURCES = (
    _page("resource", "ResourceCard", 76, ["No"], "resources", {
        "number": "No", "displayName": "Name", "type": "Type", "baseUnitOfMeasureCode": "Base_Unit_of_Measure",
        "unitPrice": "Unit_Price", "unitCost": "Unit_Cost", "blocked": "Blocked", "searchName": "Search_Name",
        "resourceGroupNumber": "Resource_Group_No", "generalProductPostingGroupCode": "Gen_Prod_Posting_Group",
    }),
    _page("customerPriceGroup", "CustomerPriceGroups", 7, ["Code"], "customerPriceGroups", {
        "code": "Code", "description": "Description", "priceIncludesTax": "Price_Includes_VAT",
        "allowLineDiscount": "Allow_Line_Disc", "allowInvoiceDiscount": "Allow_Invoice_Disc",
    }),
    _page("priceListHeader", "SalesPriceList", 7016, ["Code"], "priceLists", {
        "code": "Code", "description": "Description", "status": "Status", "assignToType": "SourceType",
        "assignToNumber": "SourceNo", "currencyCode": "CurrencyCode", "startingDate": "StartingDate",
        "endingDate": "EndingDate", "amountType": "AmountType", "priceIncludesTax": "PriceIncludesVAT",
        "allowUpdatingDefaults": "AllowUpdatingDefaults",
    }),
    _page("priceListLine", "PriceListLines", 7001, ["Price_List_Code", "Line_No"], "priceListLines", {
        "priceListCode": "Price_List_Code", "lineNumber": "Line_No", "assignToType": "SourceType",
        "assignToNumber": "SourceNo", "assetType": "Asset_Type", "assetNumber": "Asset_No",
        "description": "Description", "unitOfMeasureCode": "Unit_of_Measure_Code",
        "minimumQuantity": "Minimum_Quantity", "amountType": "Amount_Type", "unitPrice": "Unit_Price",
        "lineDiscountPercent": "Line_Discount_Percent", "currencyCode": "CurrencyCode",
        "startingDate": "StartingDate", "endingDate": "EndingDate",
    }),
    _page("itemUnitOfMeasure", "ItemUnitsOfMeasure", 5404, ["Item_No", "Code"], "itemUnitsOfMeasure",
          {"itemNumber": "Item_No", **_UOM}),
    _page("resourceUnitOfMeasure", "ResourceUnitsOfMeasure", 210, ["Resource_No", "Code"], "resourceUnitsOfMeasure",
          {"resourceNumber": "Resource_No", **_UOM, "relatedToBaseUnitOfMeasure": "Related_to_Base_Unit_of_Meas"}),
    _unit_groups("Item", "ItemUnitGroupList", 5400, "Item_No", "Item_Description"),
    _unit_groups("Resource", "ResourceUnitGroupList", 5403, "Resource_No", "Resource_Name"),
    _page("salesReceivablesSetup", "SalesReceivablesSetup", 459, ["Primary_Key"], "salesReceivablesSetups", {
        "writeInProductType": "Write_in_Product_Type", "writeInProductNumber": "Write_in_Product_No",
        "allowEditingActivePrice": "Allow_Editing_Active_Price", "defaultPriceListCode": "Default_Price_List_Code",
    }),
    _page("salesOrderStatus", "SalesOrderList", 9305, ["Document_Type", "No"], "salesOrderStatuses", {
        "number": "No", "customerNumber": "Sell_to_Customer_No", "externalDocumentNumber": "External_Document_No",
        "status": "Status", "completelyShipped": "Completely_Shipped", "yourReference": "Your_Reference",
        "quoteNumber": "Quote_No",
    }),
    # The order header fields API v2.0 cannot write (Your Reference, Work Description) or show (Quote No.); the
    # same Sales Header record as the API's salesOrders row, keyed `Order|<number>`. Status stays read-only here.
    _page("salesOrderHeader", "SalesOrder", 42, ["Document_Type", "No"], "salesOrderHeaders", {
        "number": "No", "documentType": "Document_Type", "yourReference": "Your_Reference", "quoteNumber": "Quote_No",
        "externalDocumentNumber": "External_Document_No", "requestedDeliveryDate": "Requested_Delivery_Date",
        "workDescription": "WorkDescription", "status": "Status", "paymentDiscountPercent": "Payment_Discount_Percent",
    }),
    # A person's name parts (API v2.0 has only displayName): page 5055 Name Details, the Contact record by No.;
    # opt-in (published=False) until the admin names its service, e.g. pageServices {"contactNameDetails": ...}.
    _page("contactNameDetails", "NameDetails", 5055, ["No"], "contactNameDetails", {
        "number": "No", "firstName": "First_Name", "middleName": "Middle_Name", "surname": "Surname",
    }, published=False),
)  # fmt: skip


@dataclass(frozen=True)
class EntitySources:
    """The registry: entity name -> source. Immutable; the `with_*` methods return a changed copy."""

    sources: tuple[EntitySource, ...]

    def __iter__(self) -> Iterator[EntitySource]:
        return iter(self.sources)

    def get(self, entity: str) -> EntitySource:
        for source in self.sources:
            if source.entity == entity:
                return source
        raise KeyError(f"no Business Central source for the entity '{entity}'")

    def by_entity_set(self, entity_set: str) -> EntitySource | None:
        """The api/custom source serving `entity_set` (how the client finds a set's route)."""
        return next((s for s in self.sources if s.kind != "page" and s.name == entity_set), None)

    def serves(self, entity_set: str) -> bool:
        """Whether some source serves `entity_set`: an api/custom set of that name, the lines of one, or a page
        behind it. A set the registry does not list (e.g. `shippingAgents`: API v2.0 has none, and no
        standard page serves it) is not served, so a mapping on it is refused before any request goes to BC."""
        return any(
            s.published and ((s.kind != "page" and s.name == entity_set) or entity_set in (s.lines, s.custom_set))
            for s in self.sources
        )

    def _replace(self, entity: str, new: EntitySource) -> EntitySources:
        self.get(entity)
        return EntitySources(tuple(new if s.entity == entity else s for s in self.sources))

    def with_custom(self, *entities: str, route: str = CUSTOM_ROUTE, publish: bool = True) -> EntitySources:
        """Point these entities (any kind) at the companion extension's route; `publish=False` keeps an opt-in page
        opt-in there (moved by BC version, not named by the admin)."""
        result = self
        for entity in entities:
            moved = result.get(entity).as_custom(route)
            result = result._replace(entity, replace(moved, published=True) if publish else moved)
        return result

    def with_service(self, entity: str, service: str) -> EntitySources:
        """Use the Service Name the administrator actually published for a page-backed entity."""
        source = self.get(entity)
        if not source.is_page:
            raise ValueError(f"'{entity}' is not served by a page web service ({source.kind})")
        return self._replace(entity, replace(source, name=service, published=True))


def default_sources(
    service_names: Mapping[str, str] | None = None,
    *,
    custom: Iterable[str] = (),
    custom_route: str = CUSTOM_ROUTE,
    bc_major_version: int | None = None,
) -> EntitySources:
    """API v2.0 where it has the entity, page services otherwise; from BC 30 (or for `custom`) the custom route."""
    registry = EntitySources(_API_SOURCES + _PAGE_SOURCES)
    for entity, service in (service_names or {}).items():
        registry = registry.with_service(entity, service)
    registry = registry.with_custom(*dict.fromkeys(custom), route=custom_route)
    if bc_major_version is not None and bc_major_version > LAST_VERSION_WITH_PAGE_SERVICES:
        moved = [s.entity for s in registry if s.is_page]
        registry = registry.with_custom(*moved, route=custom_route, publish=False)
    return registry


def sources_from_settings(settings: Mapping[str, str]) -> EntitySources:
    """From app settings: `BC_PAGE_SERVICES` ("resource=ResourceCard,priceListLine=PriceListLines"),
    `BC_CUSTOM_API_ENTITIES` ("resource,priceListLine" or "*" for every page-backed entity),
    `BC_CUSTOM_API_ROUTE`, `BC_MAJOR_VERSION`."""
    services = dict(
        (part.split("=", 1)[0].strip(), part.split("=", 1)[1].strip())
        for part in settings.get("BC_PAGE_SERVICES", "").split(",")
        if "=" in part
    )
    raw_custom = [e.strip() for e in settings.get("BC_CUSTOM_API_ENTITIES", "").split(",") if e.strip()]
    if raw_custom == ["*"]:
        raw_custom = [s.entity for s in EntitySources(_PAGE_SOURCES) if s.published]  # opt-in pages: by name
    version = settings.get("BC_MAJOR_VERSION", "").strip()
    return default_sources(
        services,
        custom=raw_custom,
        custom_route=settings.get("BC_CUSTOM_API_ROUTE", CUSTOM_ROUTE).strip("/"),
        bc_major_version=int(version) if version else None,
    )


DEFAULT_SOURCES = default_sources()
