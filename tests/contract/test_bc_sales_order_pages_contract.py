"""The sales order pages through `BusinessCentralClientPort`, the real client over HTTP against the BC emulator:
page 42 "Sales Order" (`SalesOrder`, entity `salesOrderHeader`) and SalesOrderList (9305, entity `salesOrderStatus`).

The rules the sync relies on: both pages show the API order itself, so a page-42 write gives the API order a new
ETag and a later lastModifiedDateTime; the canonical calls (`salesOrderHeaders`, key `Order|<number>`) read and write
the same record in canonical names; Quote_No and Status cannot be written and a too-long Your Reference is refused,
each leaving the order as it was; makeOrder sets Quote_No and posting carries Your Reference to the posted invoice.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime

import pytest

from shared.connectors.business_central.entity_sources import DEFAULT_SOURCES
from shared.connectors.business_central.odata import location_target
from shared.domain.errors import ConcurrencyError, ErrorKind, SyncError
from shared.ports import BusinessCentralClientPort, Row
from tests.contract.test_bc_client_contract import real_client, rows, sales_order

pytestmark = pytest.mark.integration


@pytest.fixture
def bc(request: pytest.FixtureRequest) -> Iterator[BusinessCentralClientPort]:
    yield real_client(request)


def key_of(order: Row) -> dict[str, str]:
    return {"Document_Type": "Order", "No": str(order["number"])}


def test_a_page_42_write_is_a_write_of_the_api_order(bc: BusinessCentralClientPort) -> None:
    order = sales_order(bc)
    header = bc.get_page_entity("SalesOrder", key_of(order))
    assert header is not None
    assert (header["No"], header["Your_Reference"], header["Quote_No"], header["Status"]) == (
        order["number"], "", "", "Open",
    )  # fmt: skip
    assert header["@odata.etag"] == order["@odata.etag"]

    body = {"Your_Reference": "PO 4711", "WorkDescription": "Gate 4, call ahead"}
    updated = bc.update_page_entity("SalesOrder", key_of(order), body, str(header["@odata.etag"]))
    assert (updated["Your_Reference"], updated["WorkDescription"]) == ("PO 4711", "Gate 4, call ahead")
    assert updated["@odata.etag"] != header["@odata.etag"]
    with pytest.raises(ConcurrencyError):
        bc.update_page_entity("SalesOrder", key_of(order), {"Your_Reference": "X"}, str(header["@odata.etag"]))

    api = bc.get_entity("salesOrders", order["id"], select=["number", "lastModifiedDateTime"])
    assert api is not None and api["@odata.etag"] == updated["@odata.etag"]
    assert datetime.fromisoformat(api["lastModifiedDateTime"]) > datetime.fromisoformat(order["lastModifiedDateTime"])
    listed = rows(bc.list_page("SalesOrderList", ["No", "Your_Reference"], f"No eq '{order['number']}'"))
    assert [(row["No"], row["Your_Reference"]) for row in listed] == [(order["number"], "PO 4711")]


def test_order_headers_in_canonical_names(bc: BusinessCentralClientPort) -> None:
    source = DEFAULT_SOURCES.get("salesOrderHeader")
    assert (source.name, source.page_id, source.key, source.custom_set) == (
        "SalesOrder", 42, ("Document_Type", "No"), "salesOrderHeaders",
    )  # fmt: skip
    order = sales_order(bc)
    entity_id = f"Order|{order['number']}"
    header = bc.get_entity("salesOrderHeaders", entity_id)
    assert header is not None and header["id"] == entity_id
    assert (header["number"], header["documentType"], header["yourReference"], header["status"]) == (
        order["number"], "Order", "", "Open",
    )  # fmt: skip
    changes = {"yourReference": "R-9", "externalDocumentNumber": "ext-9", "requestedDeliveryDate": "2031-02-03"}
    changed = bc.update_entity("salesOrderHeaders", entity_id, changes, str(header["@odata.etag"]))
    assert (changed["yourReference"], changed["externalDocumentNumber"], changed["requestedDeliveryDate"]) == (
        "R-9", "EXT-9", "2031-02-03",
    )  # fmt: skip
    api = bc.get_entity("salesOrders", order["id"], select=["externalDocumentNumber", "requestedDeliveryDate"])
    assert api is not None and (api["externalDocumentNumber"], api["requestedDeliveryDate"]) == ("EXT-9", "2031-02-03")
    statuses = rows(
        bc.list_changed_since(
            "salesOrderStatuses", None, ["number", "yourReference", "quoteNumber", "status"],
            extra_filter=f"number eq '{order['number']}'",
        )
    )  # fmt: skip
    assert [(r["number"], r["yourReference"], r["quoteNumber"], r["status"]) for r in statuses] == [
        (order["number"], "R-9", "", "Open")
    ]
    assert bc.get_entity("salesOrderHeaders", "Order|NO-SUCH-ORDER") is None


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"Your_Reference": "x" * 36}, "Application_StringExceededLength"),
        ({"External_Document_No": "e" * 36}, "Application_StringExceededLength"),
        ({"Your_Reference": "fits", "Quote_No": "S-QUO1001"}, "BadRequest"),
        ({"Status": "Released"}, "BadRequest"),
    ],
)
def test_refused_page_42_writes_change_nothing(bc: BusinessCentralClientPort, body: dict[str, str], code: str) -> None:
    order = sales_order(bc)
    before = bc.get_page_entity("SalesOrder", key_of(order))
    assert before is not None
    with pytest.raises(SyncError) as refused:
        bc.update_page_entity("SalesOrder", key_of(order), body, str(before["@odata.etag"]))
    assert (refused.value.code, refused.value.kind) == (code, ErrorKind.RECORD)
    after = bc.get_page_entity("SalesOrder", key_of(order))
    assert after is not None and (after["@odata.etag"], after["Your_Reference"]) == (before["@odata.etag"], "")


def test_make_order_sets_quote_no_and_posting_carries_your_reference(bc: BusinessCentralClientPort) -> None:
    lines = [{"lineType": "Item", "lineObjectNumber": "1908-S", "quantity": 2}]
    quote = bc.create_entity("salesQuotes", {"customerNumber": "C00030", "salesQuoteLines": lines}, str(uuid.uuid4()))
    made = bc.invoke_action("salesQuotes", quote["id"], "makeOrder")
    assert made is not None
    entity_set, order_id = location_target(made)
    order = bc.get_entity(entity_set, order_id, select=["number"])
    assert entity_set == "salesOrders" and order is not None
    listed = rows(bc.list_page("SalesOrderList", ["No", "Quote_No"], f"Quote_No eq '{quote['number']}'"))
    assert [(row["No"], row["Quote_No"]) for row in listed] == [(order["number"], quote["number"])]

    header = bc.get_entity("salesOrderHeaders", f"Order|{order['number']}")
    assert header is not None and header["quoteNumber"] == quote["number"]
    bc.update_entity("salesOrderHeaders", header["id"], {"yourReference": "CUST-PO-77"}, str(header["@odata.etag"]))
    posted = bc.invoke_action("salesOrders", order_id, "shipAndInvoice")
    assert posted is not None
    invoice = bc.get_entity("salesInvoices", location_target(posted)[1], select=["customerPurchaseOrderReference"])
    assert invoice is not None and invoice["customerPurchaseOrderReference"] == "CUST-PO-77"
