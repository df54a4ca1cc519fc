"""Quotes from Sales (BC's codeunit "CRM Quote to Sales Quote" and the Auto Process Sales Quotes job).

Quotes are not a table mapping in BC; the quote process couples each Sales quote revision to one BC sales quote
(coupling partition `SALESQUOTE-QUOTE`, BC keeps these in the same CRM Integration Record table).
- **Active quote, first revision**: a new BC quote (`name` -> External Document No., `effectiveto` -> Quote Valid
  Until, payment terms and freight terms through their option mappings, lines as for orders with each line's own
  unit and the freight line; BC sets no Payment Discount % on a quote), one deep insert with a deterministic SystemId,
  then coupled.
- **New revision** (same `quotenumber`, `revisionnumber` + 1; the previous one Closed / Revised): the BC quote as it
  stands is first **archived** (`QuoteArchive`, under the previous revision number; the first write is kept, so a
  retry after the rebuild can never archive the rebuilt quote), then the same BC quote is rebuilt from the new
  revision (header patched, lines replaced) and re-coupled to it. A crash between the rebuild and the re-coupling
  leaves the BC quote uncoupled; the next run finds it through the archive and couples it instead of creating a
  second quote.
- **Won quote**: the BC quote must exist (created if not). If a Submitted Sales order exists for the quote, it becomes
  the BC order through BC's Sales-Quote to Order (`makeOrder`): the order gets the Quote No., the quote is archived
  first; the lines are then the Sales order's (see `sales_orders`). Otherwise BC only releases the quote.
  Change from BC: API v2.0 has no release action for quotes (and no writable status), so the quote stays open and
  the win is kept on its coupling (`won`); the order is converted when it is submitted (manually or by the timer).

Quotes of another BC company are skipped, as BC's codeunit does (facts "quotes": `bcbi_companyid` set and
different): the company's view of Sales hides a quote stamped for another company (404 quoteNotFound), and a quote
whose customer is stamped for another company is that company's too (`document_parts.AnotherCompanysDocument`:
Auto Process skips it, neither processed nor failed, with no sync error here). A quote is not claimed (stamped)
before it is processed, as an order is: BC never stamps a quote, and an Active or Won quote is read-only in Sales
(only a Draft is editable), so there is nothing to write the claim with. What keeps two companies from converting one
quote is its customer: an account is coupled (and claimed, stamped) by one company only; UNCONFIRMED whether BC
guards this race beyond that.
"""

from __future__ import annotations

import logging
from datetime import UTC
from typing import Any

from shared.domain.coupling import Coupling
from shared.domain.documents import freight_line, header_discount, header_texts
from shared.domain.errors import ConflictError, NotFoundError, RecordError, SyncError
from shared.domain.records import ArchivedQuote, Side
from shared.engine.context import SyncContext
from shared.engine.setup import Setup
from shared.engine.sides import deterministic_id
from shared.ports import QuoteArchive
from shared.processes.document_parts import (
    HEADER_SELECT,
    AnotherCompanysDocument,
    bc_currency_code,
    bc_customer_id,
    bc_lines,
    header_options,
    read_details,
)
from shared.processes.quote_orders import BC_QUOTE_LINES, BC_QUOTES, CONVERTED_MARK, QUOTE_MAPPING
from shared.processes.sales_orders import create_in_business_central

log = logging.getLogger("bc_sales_sync.quotes")
QUOTES, QUOTE_DETAILS = "quotes", "quotedetails"
DRAFT, ACTIVE, WON, CLOSED = 0, 1, 2, 3
REVISED = 7
WON_MARK = "won"
QUOTE_SELECT = (
    "name", "quotenumber", "revisionnumber", "statecode", "statuscode", "_customerid_value",
    "_transactioncurrencyid_value", "effectiveto", "discountamount", "discountpercentage", *HEADER_SELECT,
)  # fmt: skip


def read_quote(context: SyncContext, quote_id: str) -> dict[str, Any]:
    quote = context.dataverse.get_row(QUOTES, quote_id, ["quoteid", *QUOTE_SELECT])
    if quote is None:
        raise NotFoundError("quoteNotFound", f"Sales has no quote {quote_id}.", field="dataverseId")
    return quote


def process_quote(context: SyncContext, setup: Setup, archive: QuoteArchive, quote_id: str) -> dict[str, Any]:
    """Process one Active or Won quote; repeating it changes nothing and answers what was done before."""
    quote = read_quote(context, quote_id)
    state = quote.get("statecode")
    if state not in (ACTIVE, WON):
        raise ConflictError(
            "quoteNotActive", f"Only active or won quotes are processed; quote {quote.get('quotenumber')} is not."
        )
    coupling = context.couplings.find_by_dataverse_id(QUOTE_MAPPING, quote_id)
    status = "alreadyProcessed"
    if coupling is None:
        try:
            coupling, status = _create_or_revise(context, setup, archive, quote)
        except AnotherCompanysDocument:
            context.errors.clear_error(QUOTE_MAPPING, Side.DATAVERSE, quote_id)  # one kept before it was known
            raise
        except RecordError as error:
            context.errors.record_error(QUOTE_MAPPING, Side.DATAVERSE, quote_id, error.code, error.message)
            raise
        context.errors.clear_error(QUOTE_MAPPING, Side.DATAVERSE, quote_id)
    result: dict[str, Any] = {"status": status, "dataverseId": quote_id, "bcId": coupling.bc_id}
    if state == WON:
        result["won"] = _won(context, setup, archive, coupling, quote)
    return result


def _quote_body(context: SyncContext, setup: Setup, quote: dict[str, Any]) -> dict[str, Any]:
    """Everything BC needs, resolved before any write: a refusal leaves nothing behind."""
    texts = header_texts(quote.get("name"), quote.get("quotenumber"))
    body: dict[str, Any] = {
        "customerId": bc_customer_id(context, quote.get("_customerid_value"), "quote", str(quote["quoteid"])),
        "externalDocumentNumber": texts.external_document_number,
    }
    currency = bc_currency_code(context, quote.get("_transactioncurrencyid_value"), "quote")
    if currency:
        body["currencyCode"] = currency
    if quote.get("effectiveto"):
        body["validUntilDate"] = str(quote["effectiveto"])[:10]
    body.update(header_options(context, quote, "quote"))
    freight = freight_line(quote.get("freightamount"), setup.freight_account, document="quote")
    details = read_details(context, QUOTE_DETAILS, "quoteid", str(quote["quoteid"]))
    body[BC_QUOTE_LINES] = bc_lines(context, details, setup.write_in, "quote", freight=freight)
    discount = header_discount(details, quote.get("discountamount"), quote.get("discountpercentage"))
    if discount:
        body["discountAmount"] = discount
    return body


def _create_or_revise(
    context: SyncContext, setup: Setup, archive: QuoteArchive, quote: dict[str, Any]
) -> tuple[Coupling, str]:
    body = _quote_body(context, setup, quote)
    quote_id = str(quote["quoteid"])
    previous = _previous_bc_quote(context, archive, quote)
    if previous is not None:
        bc_id, old_revision, old_coupling = previous
        bc_quote = context.bc.get_entity(BC_QUOTES, bc_id, expand=BC_QUOTE_LINES)
        if bc_quote is not None:
            if old_coupling is not None:
                archive.archive_quote(
                    ArchivedQuote(str(quote["quotenumber"]), old_revision, _now(context), _document(bc_quote))
                )
            _rebuild(context, bc_quote, body)
            if old_coupling is not None:
                context.couplings.delete_coupling(QUOTE_MAPPING, bc_id)
            return _couple(context, bc_id, quote_id, "revised")
    bc_id = deterministic_id(QUOTE_MAPPING, Side.DATAVERSE, quote_id)
    context.bc.create_entity(BC_QUOTES, body, entity_id=bc_id)
    return _couple(context, bc_id, quote_id, "created")


def _couple(context: SyncContext, bc_id: str, quote_id: str, status: str) -> tuple[Coupling, str]:
    try:
        return context.couplings.create_coupling(Coupling(QUOTE_MAPPING, bc_id, quote_id)), status
    except ConflictError:  # a racer coupled it first
        found = context.couplings.find_by_dataverse_id(QUOTE_MAPPING, quote_id)
        if found is None:
            raise
        return found, "alreadyProcessed"


def _previous_bc_quote(
    context: SyncContext, archive: QuoteArchive, quote: dict[str, Any]
) -> tuple[str, int, Coupling | None] | None:
    """The BC quote of an earlier revision: coupled to a Closed/Revised Sales quote of the same number, or (after a
    crash between rebuild and re-coupling) the last archived one that no revision is coupled to any more."""
    revision = int(quote.get("revisionnumber") or 0)
    if revision <= 0:
        return None
    number = str(quote["quotenumber"]).replace("'", "''")
    older = [
        row
        for page in context.dataverse.list_changed_since(
            QUOTES,
            None,
            ["quoteid", "revisionnumber"],
            extra_filter=f"quotenumber eq '{number}' and statecode eq {CLOSED} and statuscode eq {REVISED}",
        )
        for row in page.rows
        if int(row.get("revisionnumber") or 0) < revision
    ]
    for row in sorted(older, key=lambda r: -int(r.get("revisionnumber") or 0)):
        coupling = context.couplings.find_by_dataverse_id(QUOTE_MAPPING, str(row["quoteid"]))
        if coupling is not None:
            return coupling.bc_id, int(row.get("revisionnumber") or 0), coupling
    for archived in reversed(archive.list_revisions(str(quote["quotenumber"]))):
        bc_id = str(archived.document.get("id") or "")
        if bc_id and context.couplings.find_by_bc_id(QUOTE_MAPPING, bc_id) is None:
            return bc_id, archived.revision, None
    return None


def _rebuild(context: SyncContext, bc_quote: dict[str, Any], body: dict[str, Any]) -> None:
    """The same BC quote, from the new revision: header patched, every line replaced (idempotent as a whole)."""
    bc_id = str(bc_quote["id"])
    for line in bc_quote.get(BC_QUOTE_LINES) or []:
        context.bc.delete_entity(BC_QUOTE_LINES, str(line["id"]))
    header = {k: v for k, v in body.items() if k != BC_QUOTE_LINES}
    fresh = context.bc.get_entity(BC_QUOTES, bc_id) or bc_quote
    context.bc.update_entity(BC_QUOTES, bc_id, header, str(fresh.get("@odata.etag") or "*"))
    for line in body[BC_QUOTE_LINES]:
        context.bc.create_entity(BC_QUOTE_LINES, {**line, "documentId": bc_id})


def _document(bc_quote: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in bc_quote.items() if not k.startswith("@odata")}


def _now(context: SyncContext) -> str:
    return context.clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _won(context: SyncContext, setup: Setup, archive: QuoteArchive, coupling: Coupling, quote: dict[str, Any]) -> str:
    """BC's Won-quote rule; answers `converted`, `waitingForOrder` (quote kept, no submitted order yet)."""
    if coupling.values_hash == CONVERTED_MARK:
        return "converted"
    orders = [
        row
        for page in context.dataverse.list_changed_since(
            "salesorders", None, ["salesorderid", "statecode"], extra_filter=f"_quoteid_value eq {quote['quoteid']}"
        )
        for row in page.rows
    ]
    submitted = [o for o in orders if o.get("statecode") == 1]
    if not submitted:
        if coupling.values_hash != WON_MARK:
            context.couplings.update_coupling(coupling.with_changes(values_hash=WON_MARK))
        return "waitingForOrder"
    create_in_business_central(context, setup, str(submitted[0]["salesorderid"]), archive)
    return "converted"


def auto_process(context: SyncContext, setup: Setup, archive: QuoteArchive) -> dict[str, int]:
    """Auto Process Sales Quotes: active quotes not processed yet, and won quotes not converted yet."""
    counts = {"processed": 0, "failed": 0}
    if not setup["autoProcessQuotes"]:
        return counts
    quotes = [
        row
        for page in context.dataverse.list_changed_since(
            QUOTES, None, ["quoteid", "statecode"], extra_filter=f"statecode eq {ACTIVE} or statecode eq {WON}"
        )
        for row in page.rows
    ]
    couplings = context.couplings.find_many_by_dataverse_ids(QUOTE_MAPPING, [str(q["quoteid"]) for q in quotes])
    for quote in quotes:
        coupling = couplings.get(str(quote["quoteid"]))
        done = coupling is not None and (quote["statecode"] == ACTIVE or coupling.values_hash == CONVERTED_MARK)
        if done:
            continue
        try:
            process_quote(context, setup, archive, str(quote["quoteid"]))
            counts["processed"] += 1
        except AnotherCompanysDocument:  # BC's "skipping quotes of another BC company": not failed here
            log.debug("quote %s is another company's: skipped", quote["quoteid"])
        except SyncError as error:
            if error.is_transient:
                raise
            counts["failed"] += 1
            log.warning("quote %s not processed: %s", quote["quoteid"], error.code)
    return counts
