"""Dataverse's product-catalog rules, checked on every write path (the writer calls `check_write` as it does
`units.check_write`: POST, PATCH upsert, deep insert, `$batch`, CreateMultiple/UpdateMultiple/UpsertMultiple).

Why a module of its own: the sync creates products and price list items, and Sales refuses what BC's integration
must avoid. A client that leaves its products in Draft, or writes two prices for one product and unit on one price
list, must fail here as it would against a real org.

Rules and sources:
- A line of an opportunity, quote, order or invoice cannot name a product that is not Active (Draft, Retired, Under
  Revision): the product catalog's lifecycle (Microsoft Learn, Dynamics 365 Sales, "Create and manage products":
  only published products can be sold) and ../shared/design/reference/bc-integration-facts.md ("write in products":
  coupled products must be Active). The real error code is UNCONFIRMED: the emulator answers 400 with its
  business-rule code (errors.INVALID_ARGUMENT), checked only when the line's product is set or changed.
- A price list item (`productpricelevel`) needs a price list and a product (required columns, see the overlay) and is
  unique per price list + product + unit: microsoft/BCApps, src/Layers/W1/Tests/TestLibraries/
  CRMBusLogicSimulator.Codeunit.al, ValidateProductPriceLevelOnInsert ("This product and unit combination has a
  price for this price list."). The error code is UNCONFIRMED (the emulator's duplicate code, 412 as for a key).
"""

from __future__ import annotations

from local.emulators.dataverse.errors import DUPLICATE_RECORD, DataverseError, invalid
from local.emulators.dataverse.schema import Table
from local.emulators.store import Row, Store

PRODUCT = "product"
PRICE_ITEM = "productpricelevel"
LINE_TABLES = frozenset({"opportunityproduct", "quotedetail", "salesorderdetail", "invoicedetail"})
ACTIVE = 0
PRICE_KEY = ("_pricelevelid_value", "_productid_value", "_uomid_value")


def check_write(store: Store, table: Table, row: Row, existing: Row | None) -> None:
    """Check a row about to be stored (`existing` is None on create); tables without a catalog rule pass through."""
    if table.logical_name in LINE_TABLES:
        _check_line_product(store, table, row, existing)
    elif table.logical_name == PRICE_ITEM:
        _check_unique_price(store, row)


def _check_line_product(store: Store, table: Table, row: Row, existing: Row | None) -> None:
    product_id = row.get("_productid_value")
    if not product_id or (existing is not None and existing.get("_productid_value") == product_id):
        return
    product = store.get(PRODUCT, product_id)
    if product is not None and product.get("statecode") != ACTIVE:
        state = {1: "Retired", 2: "Draft", 3: "Under Revision"}.get(product.get("statecode") or 0, "not active")
        raise invalid(
            f"The product {product.get('productnumber') or product_id} is {state}: only an active (published) product "
            f"can be added to a {table.logical_name}."
        )


def _check_unique_price(store: Store, row: Row) -> None:
    key = tuple(row.get(name) for name in PRICE_KEY)
    own_id = row.get("productpricelevelid")
    for other in store.rows(PRICE_ITEM):
        if other.get("productpricelevelid") != own_id and tuple(other.get(name) for name in PRICE_KEY) == key:
            raise DataverseError(
                412, DUPLICATE_RECORD, "This product and unit combination has a price for this price list."
            )
