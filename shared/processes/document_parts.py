"""What orders and quotes from Sales share: the customer, the currency and the lines, resolved through couplings.

Why one place: BC's sales-order and quote conversions (codeunits 5343 and 5348) resolve these the same way, and the
Won-quote rule builds an order from a quote's context, so the resolution must not drift between the two processes.
Every refusal names the record to fix (an uncoupled account, product, unit, currency or option) and is raised before
anything is written to BC, so a refused document leaves nothing behind.

Header options (BC's CopyCRMOptionFields): the document's `paymenttermscode` and `freighttermscode` hold the value
of the *account* option coupled to a BC code (the document picklists carry the same values,
`engine/document_options.py`), so the BC payment terms / shipment method is that option's coupling in PAYMENT TERMS /
SHIPMENT METHOD. A value with no coupling is a record error naming the field (BC leaves the customer's default in
silence; we refuse rather than let the Sales user believe the terms went over). The shipping method (BC's Shipping
Agent) has no way there: the SHIPPING AGENT mapping is a gap (no API source for Shipping Agent), so it is left out
(docs/mappings.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from shared.domain.documents import ProductTarget, UnitTarget, WriteInProduct, document_lines
from shared.domain.errors import NotFoundError, RecordError
from shared.engine.context import SyncContext
from shared.engine.setup import check_write_in

CUSTOMER_MAPPING = "CUSTOMER"
CURRENCY_MAPPING = "CURRENCY"
PRODUCT_MAPPINGS = (("ITEM-PRODUCT", "Item", "items"), ("RESOURCE-PRODUCT", "Resource", "resources"))
UNIT_MAPPINGS = (
    ("ITEM UOM", "Item", "itemUnitsOfMeasure", "itemNumber"),
    ("RESOURCE UOM", "Resource", "resourceUnitsOfMeasure", "resourceNumber"),
)
OPTION_FIELDS = (("paymenttermscode", "PAYMENT TERMS", "paymentTermsId"), ("freighttermscode", "SHIPMENT METHOD",
                 "shipmentMethodId"))  # fmt: skip
"""Sales document picklist -> the option mapping whose couplings give its BC record -> the API v2.0 header field."""
HEADER_SELECT = ("paymenttermscode", "freighttermscode", "freightamount")
DETAIL_SELECT = (
    "sequencenumber", "lineitemnumber", "_productid_value", "isproductoverridden", "productdescription",
    "description", "quantity", "priceperunit", "manualdiscountamount", "volumediscountamount", "_uomid_value",
)  # fmt: skip


class AnotherCompanysDocument(NotFoundError):
    """The document's customer (the account, the contact or the contact's parent account) is stamped for another BC
    company, so the document is that company's: this company never converts it. The timer jobs skip it without a
    sync error; a manual call answers 404 naming `dataverseId`, as for a document another company stamped (the
    company's view of Sales hides it: `connectors/dataverse/company_scope.py`). Only a company's view can tell:
    the whole org's client has no other company."""

    def __init__(self, document: str, document_id: str, why: str) -> None:
        super().__init__(
            f"{document}NotFound",
            f"The Sales {document} {document_id} is another Business Central company's: {why}.",
            field="dataverseId",
        )
        self.document_id = document_id


def _customers_company(document: str, document_id: str, customer_id: str) -> AnotherCompanysDocument:
    return AnotherCompanysDocument(document, document_id, f"its customer {customer_id} belongs to that company")


def bc_customer_id(context: SyncContext, customer_id: str | None, document: str, document_id: str = "") -> str:
    """The coupled BC customer of a Sales document's customer: an account directly, a contact through its parent
    account (BC's rule); anything else is refused with what to couple, and a customer of another BC company with
    `AnotherCompanysDocument` (looked for only when no coupling is found: a coupled customer is this company's)."""
    if not customer_id:
        raise RecordError("customerMissing", f"The {document} has no customer.", field="customerid")
    coupling = context.couplings.find_by_dataverse_id(CUSTOMER_MAPPING, customer_id)
    if coupling is None:
        dataverse = context.dataverse
        if dataverse.stamped_elsewhere("accounts", customer_id):
            raise _customers_company(document, document_id, customer_id)
        contact = dataverse.get_row("contacts", customer_id, ["_parentcustomerid_value"])
        if contact is None and dataverse.stamped_elsewhere("contacts", customer_id):
            raise _customers_company(document, document_id, customer_id)
        parent = (contact or {}).get("_parentcustomerid_value")
        if parent:
            coupling = context.couplings.find_by_dataverse_id(CUSTOMER_MAPPING, str(parent))
            if coupling is None and dataverse.stamped_elsewhere("accounts", str(parent)):
                raise _customers_company(document, document_id, customer_id)
            customer_id = f"{parent} (the parent account of contact {customer_id})"
    if coupling is None:
        raise RecordError(
            "customerNotCoupled",
            f"The {document}'s account {customer_id} is not coupled to a Business Central customer: couple it "
            f"({CUSTOMER_MAPPING}) first.",
            field="customerid",
        )
    return coupling.bc_id


def bc_currency_code(context: SyncContext, currency_id: str | None, document: str) -> str | None:
    """The BC currency code for the document's currency: blank (None, BC's LCY) for the local currency or none."""
    if not currency_id:
        return None
    coupling = context.couplings.find_by_dataverse_id(CURRENCY_MAPPING, currency_id)
    if coupling is not None:
        currency = context.bc.get_entity("currencies", coupling.bc_id, ["code"])
        if currency is not None:
            return str(currency["code"])
    row = context.dataverse.get_row("transactioncurrencies", currency_id, ["isocurrencycode"]) or {}
    if str(row.get("isocurrencycode") or "").upper() == context.local_currency.upper():
        return None
    raise RecordError(
        "currencyNotCoupled",
        f"The {document}'s currency {row.get('isocurrencycode') or currency_id} is not coupled to a Business Central "
        f"currency: couple it ({CURRENCY_MAPPING}) first.",
        field="transactioncurrencyid",
    )


def product_targets(context: SyncContext, product_ids: Sequence[str]) -> dict[str, ProductTarget]:
    """Coupled items and resources of the lines' products, with BC's own description (two reads at most)."""
    targets: dict[str, ProductTarget] = {}
    wanted = list(dict.fromkeys(product_ids))
    for mapping, kind, entity_set in PRODUCT_MAPPINGS:
        left = [p for p in wanted if p not in targets]
        if not left:
            break
        couplings = context.couplings.find_many_by_dataverse_ids(mapping, left)
        if not couplings:
            continue
        ids = [c.bc_id for c in couplings.values()]
        rows = context.bc.get_entities(entity_set, ids, ["id", "number", "displayName"])
        for product_id, coupling in couplings.items():
            row = rows.get(coupling.bc_id) or {}
            targets[product_id] = ProductTarget(
                kind, coupling.bc_id, str(row.get("number") or ""), str(row.get("displayName") or "")
            )
    return targets


def header_options(context: SyncContext, document_row: Mapping[str, Any], document: str) -> dict[str, str]:
    """`paymentTermsId` / `shipmentMethodId` for the document's picklist values that are set."""
    values: dict[str, str] = {}
    for attribute, mapping, prop in OPTION_FIELDS:
        value = document_row.get(attribute)
        if value is None:
            continue
        coupling = context.couplings.find_by_dataverse_id(mapping, str(value))
        if coupling is None:
            raise RecordError(
                "optionNotCoupled",
                f"The {document}'s {attribute} option {value} is not coupled to a Business Central code ({mapping}): "
                "choose an option that came from Business Central, or run that option mapping first.",
                field=attribute,
            )
        values[prop] = coupling.bc_id
    return values


def unit_targets(context: SyncContext, uom_ids: Sequence[str]) -> dict[str, UnitTarget]:
    """Coupled item and resource units of the lines' Sales units, with their item/resource and code."""
    targets: dict[str, UnitTarget] = {}
    wanted = list(dict.fromkeys(uom_ids))
    for mapping, kind, entity_set, owner in UNIT_MAPPINGS:
        left = [u for u in wanted if u not in targets]
        if not left:
            break
        couplings = context.couplings.find_many_by_dataverse_ids(mapping, left)
        if not couplings:
            continue
        rows = context.bc.get_entities(entity_set, [c.bc_id for c in couplings.values()], ["id", owner, "code"])
        for uom_id, coupling in couplings.items():
            row = rows.get(coupling.bc_id)
            if row is not None:
                targets[uom_id] = UnitTarget(kind, str(row.get(owner) or ""), str(row.get("code") or ""))
    return targets


def read_details(context: SyncContext, entity_set: str, parent: str, parent_id: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for page in context.dataverse.list_changed_since(
        entity_set, None, list(DETAIL_SELECT), extra_filter=f"_{parent}_value eq {parent_id}"
    ):
        rows.extend(page.rows)
    return rows


def bc_lines(
    context: SyncContext,
    details: Sequence[Mapping[str, Any]],
    write_in: WriteInProduct | None,
    document: str,
    *,
    freight: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """BC lines for the details (and the freight line); the write-in product is checked (exists, not coupled) only
    when a line uses it, the units only when a product line has one."""
    products = product_targets(context, [str(d["_productid_value"]) for d in details if d.get("_productid_value")])
    if write_in is not None and any(not d.get("_productid_value") for d in details):
        bc_id = check_write_in(write_in, context.bc, context.couplings, context.catalog.values())
        write_in = WriteInProduct(write_in.kind, write_in.number, bc_id)
    units = unit_targets(
        context, [str(d["_uomid_value"]) for d in details if d.get("_uomid_value") and d.get("_productid_value")]
    )
    return document_lines(details, products, write_in, document=document, units=units, freight=freight)
