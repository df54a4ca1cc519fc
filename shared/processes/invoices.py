"""POSTEDSALESINV-INV: posted BC invoices become Sales invoices with their lines, status Billed, once each; their
payment status then follows BC's remaining amount (BC's CRM Statistics Job, invoice half).

Why a process and not only the field mapping: BC builds the invoice in code (bc-integration-facts "posted
invoices"): the link to the Sales order it came from, the lines (coupled products or write-ins), the status. The
header fields themselves come from the catalog mapping, so an admin's field overrides still apply.

Once only: the Sales invoice's id is uuid5(mapping, BC invoice id), its details' ids uuid5 of the BC line ids, and
the coupling is written last, so a crash or a racing run repeats idempotent creates and ends with one invoice.

Amounts, as BC writes them (rules and sources in `domain/invoices.py`): each detail is created with BC's Line No.,
its tax and the unit of the BC line (the ITEM UOM / RESOURCE UOM coupling of the line's item or resource and unit
code, key id `<No.>|<code>`: the unit in the product's own unit group; BC refuses an invoice whose unit is not
coupled, and so does the engine, naming line and unit); then, as BC's after-insert code does by Modify, the details
get their base and extended amounts (Dataverse refuses those on create) and the invoice BC's totals. The totals
Sales computes from those details already equal BC's Amount Including VAT; the write makes the tax, discount and
net figures BC's own too. Both writes are idempotent updates, repeated as they are by a repeated run.

Payment status: the remaining amount is a FlowField (payments do not move the invoice's lastModifiedDateTime), so a
run reads every posted invoice's `remainingAmount` (one paged read, `$select` of five properties), compares with the
status kept on the coupling (`values_hash` = `status:<state>/<status>`) and writes only the invoices whose status
changed; a Paid or Canceled invoice is read-only in Sales, so it is first reset to Active / Billed, as BC does.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from shared.domain.coupling import Coupling
from shared.domain.errors import ConflictError, NotFoundError, RecordError, SyncError
from shared.domain.invoices import ACTIVE, BILLED, detail_amounts, detail_body, invoice_totals, payment_status
from shared.domain.records import Side
from shared.engine.context import SyncContext
from shared.engine.lookups import LookupResolver
from shared.engine.sides import deterministic_id
from shared.engine.values import ValueMapper
from shared.processes.document_parts import CUSTOMER_MAPPING

log = logging.getLogger("bc_sales_sync.invoices")
MAPPING, ORDER_MAPPING = "POSTEDSALESINV-INV", "SALESORDER-ORDER"
BC_INVOICES, INVOICES, DETAILS = "salesInvoices", "invoices", "invoicedetails"
POSTED = "status ne 'Draft'"
STATUS_PREFIX = "status:"
STATUS_SELECT = ["id", "number", "customerId", "remainingAmount", "totalAmountIncludingTax", "status"]
TOTALS_SELECT = ["totalAmountExcludingTax", "discountAmount"]
UNIT_MAPPINGS = {"Item": "ITEM UOM", "Resource": "RESOURCE UOM"}
ORDER_COPY = ("name", "_pricelevelid_value", "_opportunityid_value")


@dataclass
class InvoiceRunResult:
    read: int = 0
    created: int = 0
    status_changed: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def status_of(coupling: Coupling) -> tuple[int, int] | None:
    text = coupling.values_hash or ""
    if not text.startswith(STATUS_PREFIX):
        return None
    state, status = text[len(STATUS_PREFIX) :].split("/")
    return int(state), int(status)


def create_in_dataverse(context: SyncContext, bc_id: str) -> dict[str, Any]:
    """Create (or find) the Sales invoice of one posted BC invoice; the same answer on every repeat."""
    existing = context.couplings.find_by_bc_id(MAPPING, bc_id)
    mapping = context.mapping(MAPPING)
    mapper = ValueMapper(mapping, LookupResolver(context), context.option_maps)
    select = list(dict.fromkeys([*mapper.bc_select(), *STATUS_SELECT, *TOTALS_SELECT, "orderId", "orderNumber",
                                 "customerPurchaseOrderReference"]))  # fmt: skip
    invoice = context.bc.get_entity(BC_INVOICES, bc_id, select, expand="salesInvoiceLines")
    if invoice is None:
        raise NotFoundError("invoiceNotFound", f"Business Central has no invoice {bc_id}.", field="bcId")
    if existing is not None:
        return {"status": "alreadyCreated", "bcId": bc_id, "dataverseId": existing.dataverse_id}
    if invoice.get("status") == "Draft":
        raise ConflictError("invoiceNotPosted", f"Invoice {invoice.get('number')} is a draft, not a posted invoice.")
    try:
        dataverse_id = _create(context, mapper, invoice)
    except RecordError as error:
        context.errors.record_error(MAPPING, Side.BC, bc_id, error.code, error.message)
        raise
    try:
        coupling = context.couplings.create_coupling(Coupling(MAPPING, bc_id, dataverse_id))
        status = "created"
    except ConflictError:
        coupling = context.couplings.find_by_bc_id(MAPPING, bc_id) or Coupling(MAPPING, bc_id, dataverse_id)
        status = "alreadyCreated"
    context.errors.clear_error(MAPPING, Side.BC, bc_id)
    apply_payment_status(context, coupling, invoice)
    return {"status": status, "bcId": bc_id, "dataverseId": dataverse_id}


def _create(context: SyncContext, mapper: ValueMapper, invoice: dict[str, Any]) -> str:
    bc_id = str(invoice["id"])
    customer = context.couplings.find_by_bc_id(CUSTOMER_MAPPING, str(invoice.get("customerId") or ""))
    if customer is None:
        raise RecordError(
            "customerNotCoupled",
            f"Invoice {invoice.get('number')}: its customer {invoice.get('customerNumber') or ''} is not coupled to a "
            f"Sales account: couple it ({CUSTOMER_MAPPING}) first.",
            field="customerId",
        )
    mapper.prefetch([invoice], [])
    body = mapper.dataverse_payload(invoice, None, creating=True)
    body.setdefault("name", str(invoice.get("number") or ""))
    order = _sales_order(context, invoice)
    if order is not None:
        body["salesorderid@odata.bind"] = f"/salesorders({order['salesorderid']})"
        body["name"] = order.get("name") or body["name"]
        if order.get("_pricelevelid_value"):
            body["pricelevelid@odata.bind"] = f"/pricelevels({order['_pricelevelid_value']})"
        if order.get("_opportunityid_value"):
            body["opportunityid@odata.bind"] = f"/opportunities({order['_opportunityid_value']})"
    dataverse_id = deterministic_id(MAPPING, Side.BC, bc_id)
    details, amounts = _details(context, invoice, dataverse_id)  # refuses an uncoupled unit before any write
    context.dataverse.create_row(INVOICES, dataverse_id, body)
    if details:
        context.dataverse.create_multiple("invoicedetail", DETAILS, details)
        context.dataverse.update_multiple("invoicedetail", DETAILS, amounts)
    totals = invoice_totals(invoice, invoice.get("salesInvoiceLines") or [])
    context.dataverse.update_row(INVOICES, dataverse_id, totals)
    return dataverse_id


def _sales_order(context: SyncContext, invoice: dict[str, Any]) -> dict[str, Any] | None:
    """The Sales order the invoice came from: the order's coupling (BC keeps the order's id on the invoice), else
    BC's own rule, Your Reference = the Sales order number."""
    select = ["salesorderid", *ORDER_COPY]
    coupling = context.couplings.find_by_bc_id(ORDER_MAPPING, str(invoice.get("orderId") or ""))
    if coupling is not None:
        return context.dataverse.get_row("salesorders", coupling.dataverse_id, select)
    reference = str(invoice.get("customerPurchaseOrderReference") or "").replace("'", "''")
    if not reference:
        return None
    for page in context.dataverse.list_changed_since(
        "salesorders", None, select, extra_filter=f"ordernumber eq '{reference}'"
    ):
        for row in page.rows:
            return row
    return None


def _details(
    context: SyncContext, invoice: dict[str, Any], dataverse_id: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The details to create and the amounts to write on them after the create, in line order."""
    lines = sorted(invoice.get("salesInvoiceLines") or [], key=lambda line: int(line.get("sequence") or 0))
    items = context.couplings.find_many_by_bc_ids(
        "ITEM-PRODUCT", [str(line["itemId"]) for line in lines if line.get("itemId")]
    )
    resources = context.couplings.find_many_by_bc_ids(
        "RESOURCE-PRODUCT", [str(line["lineObjectNumber"]) for line in lines if line.get("lineType") == "Resource"]
    )
    units = {
        mapping: context.couplings.find_many_by_bc_ids(
            mapping, [_unit_key(line) for line in lines if line.get("lineType") == kind]
        )
        for kind, mapping in UNIT_MAPPINGS.items()
    }
    rows: list[dict[str, Any]] = []
    amounts: list[dict[str, Any]] = []
    for line in lines:
        coupling = items.get(str(line.get("itemId"))) or resources.get(str(line.get("lineObjectNumber")))
        product = coupling.dataverse_id if coupling and line.get("lineType") in UNIT_MAPPINGS else None
        unit = None
        if product is not None:
            unit = units[UNIT_MAPPINGS[str(line["lineType"])]].get(_unit_key(line))
            if unit is None:
                raise _unit_not_coupled(invoice, line)
        body = detail_body(line, product, unit.dataverse_id if unit else None)
        if body is None:
            continue
        detail_id = deterministic_id("POSTEDSALESLINE-INV", Side.BC, str(line["id"]))
        body["invoicedetailid"] = detail_id
        body["invoiceid@odata.bind"] = f"/invoices({dataverse_id})"
        rows.append(body)
        amounts.append({"invoicedetailid": detail_id, **detail_amounts(line)})
    return rows, amounts


def _unit_key(line: dict[str, Any]) -> str:
    """The key id of a line's unit: `<item or resource No.>|<unit code>` (ITEM UOM / RESOURCE UOM couplings)."""
    return f"{line.get('lineObjectNumber') or ''}|{line.get('unitOfMeasureCode') or ''}"


def _unit_not_coupled(invoice: dict[str, Any], line: dict[str, Any]) -> RecordError:
    kind, code = str(line.get("lineType")), line.get("unitOfMeasureCode") or ""
    return RecordError(
        "unitNotCoupled",
        f"Invoice {invoice.get('number')}, line {line.get('sequence')}: the unit '{code}' of {kind.lower()} "
        f"{line.get('lineObjectNumber')} is not coupled to a Sales unit of its unit group: couple it "
        f"({UNIT_MAPPINGS[kind]}) first.",
        field="unitOfMeasureCode",
    )


def apply_payment_status(context: SyncContext, coupling: Coupling, invoice: dict[str, Any]) -> bool:
    """Set the Sales invoice's payment status when it changed; True when something was written."""
    wanted = payment_status(
        float(invoice.get("remainingAmount") or 0),
        float(invoice.get("totalAmountIncludingTax") or 0),
        canceled=invoice.get("status") == "Canceled",
    )
    known = status_of(coupling)
    if known == wanted:
        return False
    row = context.dataverse.get_row(INVOICES, coupling.dataverse_id, ["statecode", "statuscode"]) or {}
    current = (row.get("statecode"), row.get("statuscode"))
    if current != wanted:
        if current[0] != ACTIVE:  # Paid and Canceled are read-only: back to Active / Billed first (BC does)
            context.dataverse.set_state(INVOICES, coupling.dataverse_id, ACTIVE, BILLED)
        if wanted != (ACTIVE, BILLED) or current[0] == ACTIVE:
            context.dataverse.set_state(INVOICES, coupling.dataverse_id, *wanted)
    context.couplings.update_coupling(coupling.with_changes(values_hash=f"{STATUS_PREFIX}{wanted[0]}/{wanted[1]}"))
    return True


def sync_posted_invoices(context: SyncContext) -> InvoiceRunResult:
    """The periodic POSTEDSALESINV-INV run: new posted invoices of coupled customers become Sales invoices, and every
    coupled invoice's payment status follows BC. One failing invoice does not stop the others."""
    result = InvoiceRunResult()
    if not context.mapping(MAPPING).enabled:
        return result
    for page in context.bc.list_changed_since(BC_INVOICES, None, STATUS_SELECT, extra_filter=POSTED):
        couplings = context.couplings.find_many_by_bc_ids(MAPPING, [str(r["id"]) for r in page.rows])
        customers = context.couplings.find_many_by_bc_ids(CUSTOMER_MAPPING, [str(r["customerId"]) for r in page.rows])
        for invoice in page.rows:
            result.read += 1
            bc_id = str(invoice["id"])
            try:
                coupling = couplings.get(bc_id)
                if coupling is None and str(invoice["customerId"]) in customers:
                    if create_in_dataverse(context, bc_id)["status"] == "created":
                        result.created += 1
                elif coupling is not None and apply_payment_status(context, coupling, invoice):
                    result.status_changed += 1
            except SyncError as error:
                if error.is_transient:
                    raise
                result.failed += 1
                result.errors.append(f"{invoice.get('number')}: {error.message}")
    return result
