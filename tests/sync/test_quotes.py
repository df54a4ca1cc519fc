"""Quotes from Sales: BC quotes, revisions archived first, and the Won-quote rule both ways."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, timedelta
from typing import Any

import pytest

from shared.domain.errors import ConflictError, SyncError
from shared.processes.quote_orders import BUILD_LEASE, CONVERTED_MARK, LINES_BUILDING, QUOTE_MAPPING
from shared.processes.quotes import auto_process, process_quote
from shared.processes.sales_orders import MAPPING as ORDER_MAPPING
from shared.processes.sales_orders import create_in_business_central
from shared.storage.archive import TableQuoteArchive
from shared.storage.tables import TableFactory
from tests.sync.conftest import SyncStack
from tests.sync.sales_documents import couple_sales_basics, make_setup, sales_order

pytestmark = pytest.mark.integration
SETUP = make_setup(autoProcessQuotes=True)


@pytest.fixture
def archive(azurite: str) -> TableQuoteArchive:
    return TableQuoteArchive(TableFactory.from_connection_string(azurite, prefix=f"q{uuid.uuid4().hex[:12]}"))


def sales_quote(stack: SyncStack, account: str, details: list[dict[str, Any]], name: str = "Boardroom") -> str:
    quote_id = str(uuid.uuid4())
    stack.dataverse.create_row(
        "quotes",
        quote_id,
        {"name": name, "customerid_account@odata.bind": f"/accounts({account})", "effectiveto": "2027-02-28"},
    )
    for sequence, detail in enumerate(details, start=1):
        body = {"quoteid@odata.bind": f"/quotes({quote_id})", "sequencenumber": sequence, "isproductoverridden": False}
        body["productid@odata.bind"] = f"/products({detail.pop('productid')})"
        stack.dataverse.create_row("quotedetails", str(uuid.uuid4()), {**body, **detail})
    stack.dataverse.set_state("quotes", quote_id, 1, 2)  # activated
    return quote_id


def revise(stack: SyncStack, quote_id: str, quantity: float) -> str:
    """Sales' ReviseQuote: the quote is Closed / Revised, a draft copy with the next revision number appears."""
    response = stack.dataverse.http.request(
        "POST",
        f"{stack.dataverse.api_root}/ReviseQuote",
        json_body={"QuoteId": quote_id, "ColumnSet": {"AllColumns": True}},
    )
    new_id = str(response.json()["quoteid"])
    for page in stack.dataverse.list_changed_since(
        "quotedetails", None, ["quotedetailid"], extra_filter=f"_quoteid_value eq {new_id}"
    ):
        for row in page.rows:
            stack.dataverse.update_row("quotedetails", str(row["quotedetailid"]), {"quantity": quantity})
    stack.dataverse.set_state("quotes", new_id, 1, 2)
    return new_id


def bc_quote_lines(stack: SyncStack, bc_id: str) -> list[tuple[str, float]]:
    quote = stack.bc.get_entity("salesQuotes", bc_id, expand="salesQuoteLines") or {}
    return [
        (line["lineObjectNumber"], line["quantity"])
        for line in sorted(quote["salesQuoteLines"], key=lambda row: row["sequence"])
    ]


def test_an_active_quote_revised_twice_leaves_two_archived_versions(
    sync_stack: SyncStack, archive: TableQuoteArchive
) -> None:
    context = sync_stack.context
    ids = couple_sales_basics(context)
    first = sales_quote(sync_stack, ids["account"], [{"productid": ids["desk"], "quantity": 1, "priceperunit": 800}])
    created = process_quote(context, SETUP, archive, first)
    assert created["status"] == "created"
    bc_quote = sync_stack.bc.get_entity("salesQuotes", created["bcId"]) or {}
    assert (bc_quote["externalDocumentNumber"], bc_quote["validUntilDate"]) == ("BOARDROOM", "2027-02-28")
    assert process_quote(context, SETUP, archive, first)["status"] == "alreadyProcessed"
    second = revise(sync_stack, first, 2)
    assert process_quote(context, SETUP, archive, second) == {
        "status": "revised",
        "dataverseId": second,
        "bcId": created["bcId"],
    }
    third = revise(sync_stack, second, 3)
    assert process_quote(context, SETUP, archive, third)["bcId"] == created["bcId"]  # the same BC quote, rebuilt
    assert bc_quote_lines(sync_stack, created["bcId"]) == [("1896-S", 3.0)]
    number = (sync_stack.dataverse.get_row("quotes", first, ["quotenumber"]) or {})["quotenumber"]
    versions = archive.list_revisions(number)
    assert [v.revision for v in versions] == [0, 1]
    assert [[line["quantity"] for line in v.document["salesQuoteLines"]] for v in versions] == [
        [1.0],
        [2.0],
    ]  # as it stood
    assert context.couplings.find_by_dataverse_id(QUOTE_MAPPING, first) is None  # re-coupled to the newest revision
    assert (context.couplings.find_by_dataverse_id(QUOTE_MAPPING, third) or object()).bc_id == created["bcId"]  # type: ignore[attr-defined]
    quotes = [r for p in sync_stack.bc.list_changed_since("salesQuotes", None, ["id"]) for r in p.rows]
    assert len(quotes) == 1


def test_a_won_quote_with_a_submitted_order_becomes_the_bc_order_with_its_quote_number(
    sync_stack: SyncStack, archive: TableQuoteArchive
) -> None:
    context = sync_stack.context
    ids = couple_sales_basics(context)
    quote_id = sales_quote(sync_stack, ids["account"], [{"productid": ids["desk"], "quantity": 1}])
    processed = process_quote(context, SETUP, archive, quote_id)
    bc_quote_number = (sync_stack.bc.get_entity("salesQuotes", processed["bcId"]) or {})["number"]
    order_id = sales_order(
        context,
        ids["account"],
        [{"productid": ids["chair"], "quantity": 4}],
        name="From the quote",
        quoteid_bind=quote_id,
    )
    sync_stack.dataverse.win_quote(quote_id)
    won = process_quote(context, SETUP, archive, quote_id)
    assert won["won"] == "converted"
    coupling = context.couplings.find_by_dataverse_id(ORDER_MAPPING, order_id)
    assert coupling is not None
    statuses = [
        r
        for p in sync_stack.bc.list_changed_since(
            "salesOrderStatuses", None, ["number", "quoteNumber"], extra_filter=f"quoteNumber eq '{bc_quote_number}'"
        )
        for r in p.rows
    ]
    assert len(statuses) == 1  # the order carries the Quote No.
    order = sync_stack.bc.get_entity("salesOrders", coupling.bc_id, expand="salesOrderLines") or {}
    assert [(line["lineObjectNumber"], line["quantity"]) for line in order["salesOrderLines"]] == [
        ("1900-S", 4.0)
    ]  # the order's lines
    assert order["externalDocumentNumber"] == "FROM THE QUOTE"
    assert sync_stack.bc.get_entity("salesQuotes", processed["bcId"]) is None  # made an order
    number = (sync_stack.dataverse.get_row("quotes", quote_id, ["quotenumber"]) or {})["quotenumber"]
    assert [v.document["number"] for v in archive.list_revisions(number)] == [bc_quote_number]  # archived first
    assert process_quote(context, SETUP, archive, quote_id)["won"] == "converted"  # once only
    assert (context.couplings.find_by_dataverse_id(QUOTE_MAPPING, quote_id) or object()).values_hash == CONVERTED_MARK  # type: ignore[attr-defined]


def test_a_won_quote_without_a_submitted_order_waits_and_its_order_converts_later(
    sync_stack: SyncStack, archive: TableQuoteArchive
) -> None:
    context = sync_stack.context
    ids = couple_sales_basics(context)
    quote_id = sales_quote(sync_stack, ids["account"], [{"productid": ids["desk"], "quantity": 1}])
    order_id = sales_order(
        context, ids["account"], [{"productid": ids["desk"], "quantity": 1}], submit=False, quoteid_bind=quote_id
    )
    sync_stack.dataverse.win_quote(quote_id)
    assert auto_process(context, SETUP, archive) == {"processed": 1, "failed": 0}
    result = process_quote(context, SETUP, archive, quote_id)
    assert result["won"] == "waitingForOrder"
    assert sync_stack.bc.get_entity("salesQuotes", result["bcId"]) is not None  # kept, no order yet
    assert [r for p in sync_stack.bc.list_changed_since("salesOrders", None, ["id"]) for r in p.rows] == []
    sync_stack.dataverse.set_state("salesorders", order_id, 1, 3)  # submitted later
    created = create_in_business_central(context, SETUP, order_id, archive)
    assert created.status == "created"
    assert sync_stack.bc.get_entity("salesQuotes", result["bcId"]) is None
    header = sync_stack.bc.get_entity("salesOrderHeaders", f"Order|{created.bc_number}") or {}
    assert header["quoteNumber"]
    assert auto_process(context, SETUP, archive) == {"processed": 0, "failed": 0}


def test_a_draft_quote_is_refused(sync_stack: SyncStack, archive: TableQuoteArchive) -> None:
    context = sync_stack.context
    ids = couple_sales_basics(context)
    quote_id = str(uuid.uuid4())
    sync_stack.dataverse.create_row(
        "quotes", quote_id, {"name": "Draft", "customerid_account@odata.bind": f"/accounts({ids['account']})"}
    )
    with pytest.raises(ConflictError):
        process_quote(context, SETUP, archive, quote_id)


def won_quote_with_order(stack: SyncStack, archive: TableQuoteArchive, lines: list[tuple[str, float]]) -> str:
    """A quote processed into BC (one desk), then a submitted Sales order made from it with these lines, and the
    quote won; returns the Sales order's id."""
    ids = couple_sales_basics(stack.context)
    quote_id = sales_quote(stack, ids["account"], [{"productid": ids["desk"], "quantity": 1}])
    process_quote(stack.context, SETUP, archive, quote_id)
    details = [{"productid": ids[product], "quantity": quantity} for product, quantity in lines]
    order_id = sales_order(stack.context, ids["account"], details, quoteid_bind=quote_id)
    stack.dataverse.win_quote(quote_id)
    return order_id

def test_conversions_of_one_won_quote_at_the_same_moment_give_one_order_with_its_lines_once(
    sync_stack: SyncStack, archive: TableQuoteArchive
) -> None:
    """Several workers process the same won quote at once (a timer and a click): one order, its lines exactly once
    (the order's lines are rebuilt by whoever claims them; the others leave them alone)."""
    context = sync_stack.context
    order_id = won_quote_with_order(sync_stack, archive, [("chair", 4), ("desk", 2)])
    barrier = threading.Barrier(4)

    def convert() -> str:
        barrier.wait()
        try:
            return str(create_in_business_central(context, SETUP, order_id, archive).bc_id)
        except SyncError as error:
            return f"{error.code}"

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: convert(), range(4)))
    coupling = context.couplings.find_by_dataverse_id(ORDER_MAPPING, order_id)
    assert coupling is not None and coupling.values_hash is None  # the lines are finished, the mark cleared
    orders = [r for p in sync_stack.bc.list_changed_since("salesOrders", None, ["id"]) for r in p.rows]
    assert [str(o["id"]) for o in orders] == [coupling.bc_id]
    assert answers == [coupling.bc_id] * 4  # the same answer for every caller
    order = sync_stack.bc.get_entity("salesOrders", coupling.bc_id, expand="salesOrderLines") or {}
    lines = sorted((line["lineObjectNumber"], line["quantity"]) for line in order["salesOrderLines"])
    assert lines == [("1896-S", 2.0), ("1900-S", 4.0)]


def test_a_claim_on_the_lines_left_by_a_crashed_worker_is_taken_over_once_its_lease_is_over(
    sync_stack: SyncStack, archive: TableQuoteArchive
) -> None:
    context = sync_stack.context
    order_id = won_quote_with_order(sync_stack, archive, [("chair", 4)])
    bc_id = create_in_business_central(context, SETUP, order_id, archive).bc_id
    coupling = context.couplings.find_by_dataverse_id(ORDER_MAPPING, order_id)
    assert coupling is not None
    for line in (sync_stack.bc.get_entity("salesOrders", bc_id, expand="salesOrderLines") or {})["salesOrderLines"]:
        sync_stack.bc.delete_entity("salesOrderLines", str(line["id"]))  # the crash: lines deleted, none rebuilt
    now = context.clock().astimezone(UTC)
    live = LINES_BUILDING + now.isoformat(timespec="seconds")
    coupling = context.couplings.update_coupling(coupling.with_changes(values_hash=live))
    create_in_business_central(context, SETUP, order_id, archive)  # a live claim: left alone
    assert (context.couplings.find_by_dataverse_id(ORDER_MAPPING, order_id) or coupling).values_hash == live
    stale = LINES_BUILDING + (now - BUILD_LEASE - timedelta(seconds=1)).isoformat(timespec="seconds")
    context.couplings.update_coupling(coupling.with_changes(values_hash=stale))
    create_in_business_central(context, SETUP, order_id, archive)
    order = sync_stack.bc.get_entity("salesOrders", bc_id, expand="salesOrderLines") or {}
    assert [(line["lineObjectNumber"], line["quantity"]) for line in order["salesOrderLines"]] == [("1900-S", 4.0)]
    assert (context.couplings.find_by_dataverse_id(ORDER_MAPPING, order_id) or coupling).values_hash is None
