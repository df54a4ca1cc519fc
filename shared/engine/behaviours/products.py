"""The `publishAndPrice` behaviour: products created from BC items/resources are published and priced, as BC does.

Why: Dataverse creates a product in Draft, and a Draft product cannot go on an opportunity, quote, order or invoice
line. BC's CRMIntTableSubscriber, after inserting a product, sets it Active and puts it on the default price list
(CRMSynchHelper.SetCRMDefaultPriceListOnProduct) with a price list item per unit (amount = unit price x the unit's
quantity in unit-group mode: CreateCRMProductpricelevelForProductAndUom); the default price list, "Business Central
Default Price List" in the local currency, is created once when missing (CreateCRMDefaultPriceList). Sources:
microsoft/BCApps src/Layers/W1/BaseApp/Integration/D365Sales/CRMSynchHelper.Codeunit.al; bc-integration-facts.md
"products and prices".

Bulk, never one request per product: per chunk of products one query of their existing price list items (per
100 products), one CreateMultiple of the new items, one UpdateMultiple of their amounts, one UpdateMultiple that
publishes (statecode 0 / statuscode 1) and links `pricelevelid` (refused on create, so set once its item exists).
The LCY's currency, the default price list and the units of every unit group are the same for every chunk of a full
synchronization: read once per run (`engine/run_cache.py`; a unit group the run's read does not hold is read by the
chunk). Setting statecode through Update(Multiple) rather than SetState: the Update message takes statecode/statuscode
(SetState is deprecated); that UpdateMultiple takes them too is UNCONFIRMED, the emulator accepts them as Update does.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from shared.domain.mapping import TableMapping
from shared.engine import run_cache
from shared.engine.context import SyncContext
from shared.engine.lookups import lcy_currency_id
from shared.engine.sides import deterministic_id
from shared.ports import Row

DEFAULT_PRICE_LIST = "Business Central Default Price List"  # BC: '%1 Default Price List' with PRODUCTNAME.Short()
PRICE_ITEMS = ("productpricelevel", "productpricelevels")
ID_CHUNK = 100
PRODUCT_SELECT = ["productid", "price", "statecode", "_defaultuomid_value", "_defaultuomscheduleid_value"]


def _chunks(values: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), max(1, size)):
        yield values[start : start + size]


def _rows(context: SyncContext, entity_set: str, select: list[str], filter_text: str) -> list[Row]:
    pages = context.dataverse.list_changed_since(entity_set, None, select, extra_filter=filter_text)
    return [row for page in pages for row in page.rows]


def _any_of(attribute: str, ids: Sequence[str]) -> str:
    return "(" + " or ".join(f"{attribute} eq {value}" for value in ids) + ")"


def default_price_list(context: SyncContext) -> str:
    """BC's default price list in the local currency: found by name and currency, else created (a deterministic id,
    so two runs racing create one list). Once per full-sync run (`run_cache`), like the LCY's id it needs."""
    currency = lcy_currency_id(context)

    def find_or_create() -> str:
        scope = f"name eq '{DEFAULT_PRICE_LIST}'"
        scope += f" and _transactioncurrencyid_value eq {currency}" if currency else ""
        found = _rows(context, "pricelevels", ["pricelevelid"], scope)
        if found:
            return str(found[0]["pricelevelid"])
        new_id = deterministic_id("DEFAULT PRICE LIST", "bc", context.local_currency)
        body: dict[str, Any] = {"name": DEFAULT_PRICE_LIST}
        if currency:
            body["transactioncurrencyid@odata.bind"] = f"/transactioncurrencies({currency})"
        context.dataverse.create_row("pricelevels", new_id, body)
        return new_id

    return run_cache.run_fact(("default price list", context.local_currency, currency), find_or_create)


Units = dict[str, list[tuple[str, float]]]  # unit group id -> its units (id, quantity in base units)
UNIT_SELECT = ["uomid", "quantity", "_uomscheduleid_value"]


def _add_units(found: Units, rows: Sequence[Row]) -> None:
    for row in rows:
        found.setdefault(str(row["_uomscheduleid_value"]), []).append(
            (str(row["uomid"]), float(row.get("quantity") or 1))
        )


def _all_units(context: SyncContext) -> Units | None:
    """Every unit of every unit group, read once per full-sync run (None outside a run, or when there are more than
    `run_cache.MAX_ROWS` units: then each chunk reads its groups' units)."""
    if run_cache.current_run() is None:
        return None

    def load() -> Units | None:
        found: Units = {}
        count = 0
        for page in context.dataverse.list_changed_since("uoms", None, UNIT_SELECT):
            _add_units(found, page.rows)
            count += len(page.rows)
            if count > run_cache.MAX_ROWS:
                return None
        return found

    return run_cache.run_fact(("units",), load)


def _units(context: SyncContext, groups: Sequence[str]) -> Units:
    """Unit group -> its units (id, quantity in base units): from the run's units when it has the group, else read
    (a group created since the run's units were read)."""
    wanted = sorted(set(groups))
    every = _all_units(context) or {}
    found: Units = {group: every[group] for group in wanted if group in every}
    for chunk in _chunks([group for group in wanted if group not in found], ID_CHUNK):
        _add_units(found, _rows(context, "uoms", UNIT_SELECT, _any_of("_uomscheduleid_value", chunk)))
    return found


def _wanted_prices(context: SyncContext, products: Sequence[Row]) -> dict[tuple[str, str], float]:
    """(product id, unit id) -> amount: per unit of the product's unit group (price x quantity), else its base unit."""
    units = _units(
        context, [str(p["_defaultuomscheduleid_value"]) for p in products if p.get("_defaultuomscheduleid_value")]
    )
    wanted: dict[tuple[str, str], float] = {}
    for product in products:
        price = max(float(product.get("price") or 0), 0.0)
        own = units.get(str(product.get("_defaultuomscheduleid_value") or ""), [])
        if not own and product.get("_defaultuomid_value"):
            own = [(str(product["_defaultuomid_value"]), 1.0)]
        for unit_id, quantity in own:
            wanted[(str(product["productid"]), unit_id)] = round(price * quantity, 4)
    return wanted


def _price_item(price_list: str, product: str, unit: str, amount: float) -> dict[str, Any]:
    return {
        "productpricelevelid": deterministic_id("DEFAULT PRICE LIST", "dv", f"{product}|{unit}"),
        "pricelevelid@odata.bind": f"/pricelevels({price_list})",
        "productid@odata.bind": f"/products({product})",
        "uomid@odata.bind": f"/uoms({unit})",
        "pricingmethodcode": 1,  # Currency Amount
        "amount": amount,
    }


def _keep_price_items(context: SyncContext, price_list: str, products: Sequence[Row]) -> None:
    """Create the missing price list items of these products on the default list and correct changed amounts.

    The existing items are read even for products just created: a redelivered chunk's products may have items its
    dead predecessor created (with an older price), or an item of the same unit may be there under another id, and
    Dataverse answers a create of either as a duplicate, which cannot be told from "created before"."""
    wanted = _wanted_prices(context, products)
    existing: dict[tuple[str, str], Row] = {}
    select = ["productpricelevelid", "_productid_value", "_uomid_value", "amount"]
    for chunk in _chunks(sorted({p for p, _ in wanted}), ID_CHUNK):
        scope = f"_pricelevelid_value eq {price_list} and {_any_of('_productid_value', chunk)}"
        for found in _rows(context, PRICE_ITEMS[1], select, scope):
            existing[(str(found["_productid_value"]), str(found["_uomid_value"]))] = found
    creates: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for (product, unit), amount in sorted(wanted.items()):
        item = existing.get((product, unit))
        if item is None:
            creates.append(_price_item(price_list, product, unit, amount))
        elif float(item.get("amount") or 0) != amount:
            updates.append({"productpricelevelid": item["productpricelevelid"], "amount": amount})
    for chunk in _chunks(creates, context.bulk_size):
        context.dataverse.create_multiple(*PRICE_ITEMS, chunk)
    for chunk in _chunks(updates, context.bulk_size):
        context.dataverse.update_multiple(*PRICE_ITEMS, chunk)


def publish_and_price(context: SyncContext, mapping: TableMapping, rows: Sequence[Row]) -> set[str]:
    """After products were created from BC: their price list items, then publish and link them; returns their ids."""
    primary = mapping.dataverse_id
    price_list = default_price_list(context)
    _keep_price_items(context, price_list, rows)
    bind = f"/pricelevels({price_list})"
    updates = [
        {primary: row[primary], "statecode": 0, "statuscode": 1, "pricelevelid@odata.bind": bind}
        for row in rows
        if row.get("statecode") != 0 or row.get("_pricelevelid_value") != price_list
    ]
    for chunk in _chunks(updates, context.bulk_size):
        context.dataverse.update_multiple(mapping.dataverse_table, mapping.dataverse_entity_set, chunk)
    return {str(row[primary]) for row in updates}


def price_products(context: SyncContext, mapping: TableMapping, ids: Sequence[str]) -> None:
    """After coupled products were updated: their price list items follow the new price (and new units)."""
    products: list[Row] = []
    for chunk in _chunks(sorted(set(ids)), ID_CHUNK):
        products += _rows(context, mapping.dataverse_entity_set, PRODUCT_SELECT, _any_of(mapping.dataverse_id, chunk))
    if products:
        _keep_price_items(context, default_price_list(context), products)
