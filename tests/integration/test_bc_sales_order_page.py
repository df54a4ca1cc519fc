"""BC emulator: page 42 "Sales Order" (service `SalesOrder`) and SalesOrderList (9305) over real HTTP, as views of
the API v2.0 salesOrders rows.

What the sync relies on: an order made through the API is read and written on page 42 by `Document_Type`+`No`; a
page write shows in the API (same ETag, later lastModifiedDateTime) and on 9305; BC's refusals (If-Match, read-only
Quote_No/Status, string length, TestStatusOpen on Requested Delivery Date, no rename) leave the order unchanged;
makeOrder sets Quote_No; posting carries Your Reference to the posted invoice. Writes the emulator does not emulate
are refused with a 400 that says so.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
import requests

from local.emulators.business_central.pages.sources import CUSTOM_ROUTE
from local.emulators.business_central.seed import COMPANY_ID
from tests.conftest import TENANT, BusinessCentralHandle

pytestmark = pytest.mark.integration

_LOCATION = re.compile(r"/(?P<set>\w+)\((?P<id>[0-9a-f-]{36})\)$")


def page_url(bc: BusinessCentralHandle, path: str) -> str:
    return f"{bc.base_url}/{TENANT}/production/ODataV4/Company('CRONUS USA, Inc.')/{path}"


def header_path(number: str, service: str = "SalesOrder") -> str:
    return f"{service}(Document_Type='Order',No='{number}')"


def code(response: requests.Response) -> str:
    return str(response.json()["error"]["code"])


def ok(response: requests.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json() if response.content else {}
    return body


def get(bc: BusinessCentralHandle, path: str, **params: str) -> dict[str, Any]:
    return ok(bc.session.get(page_url(bc, path), params=params or None))


def patch(bc: BusinessCentralHandle, number: str, body: dict[str, Any], if_match: str | None) -> requests.Response:
    headers = {"If-Match": if_match} if if_match is not None else {}
    return bc.session.patch(page_url(bc, header_path(number)), json=body, headers=headers)


def new_order(bc: BusinessCentralHandle, root: str) -> dict[str, Any]:
    lines = [{"lineType": "Item", "lineObjectNumber": "1896-S", "quantity": 1}]
    return ok(bc.session.post(f"{root}/salesOrders", json={"customerNumber": "C00010", "salesOrderLines": lines}), 201)


def action(bc: BusinessCentralHandle, root: str, entity_set: str, row_id: str, name: str) -> str:
    """Run a bound action; the id its 204 Location header points at."""
    response = bc.session.post(f"{root}/{entity_set}({row_id})/Microsoft.NAV.{name}")
    assert response.status_code == 204, response.text
    match = _LOCATION.search(response.headers["Location"])
    assert match is not None, response.headers["Location"]
    return match.group("id")


def test_a_page_42_write_shows_in_the_api_and_on_the_order_list(
    business_central: BusinessCentralHandle, bc_demo: str
) -> None:
    bc = business_central
    order = new_order(bc, bc_demo)
    number = order["number"]
    header = get(bc, header_path(number))
    assert (header["Document_Type"], header["No"], header["Sell_to_Customer_No"]) == ("Order", number, "C00010")
    assert (header["Your_Reference"], header["Quote_No"], header["Status"], header["WorkDescription"]) == (
        "", "", "Open", "",
    )  # fmt: skip
    assert header["@odata.etag"] == order["@odata.etag"]  # one record behind the API and the page
    time.sleep(0.002)  # lastModifiedDateTime has millisecond precision

    changed = patch(
        bc,
        number,
        {
            "Your_Reference": "PO 4711/b",
            "External_Document_No": "ext-42",
            "Requested_Delivery_Date": "2031-05-06",
            "WorkDescription": "Deliver to gate 4.\nCall ahead.",
        },
        header["@odata.etag"],
    )
    body = ok(changed)
    assert changed.headers["ETag"] == body["@odata.etag"] != header["@odata.etag"]
    assert (body["Your_Reference"], body["External_Document_No"]) == ("PO 4711/b", "EXT-42")  # Code upper-cased
    assert body["WorkDescription"] == "Deliver to gate 4.\nCall ahead."

    again = get(bc, header_path(number))
    assert (again["Your_Reference"], again["Requested_Delivery_Date"]) == ("PO 4711/b", "2031-05-06")
    listed = get(bc, header_path(number, "SalesOrderList"))
    assert (listed["Your_Reference"], listed["Quote_No"], listed["External_Document_No"]) == ("PO 4711/b", "", "EXT-42")
    api = ok(bc.session.get(f"{bc_demo}/salesOrders({order['id']})"))
    assert api["@odata.etag"] == body["@odata.etag"]
    assert api["lastModifiedDateTime"] > order["lastModifiedDateTime"]
    assert (api["externalDocumentNumber"], api["requestedDeliveryDate"]) == ("EXT-42", "2031-05-06")
    assert not any(key.startswith("@") and key not in {"@odata.etag", "@odata.context"} for key in api)


def test_page_42_lists_with_filter_and_select(business_central: BusinessCentralHandle, bc_demo: str) -> None:
    bc = business_central
    first, second = new_order(bc, bc_demo), new_order(bc, bc_demo)
    header = get(bc, header_path(second["number"]))
    ok(patch(bc, second["number"], {"Your_Reference": "Only me"}, header["@odata.etag"]))
    found = get(bc, "SalesOrder", **{"$filter": "Your_Reference eq 'Only me'", "$select": "No,Your_Reference"})
    assert [{k: v for k, v in row.items() if k != "@odata.etag"} for row in found["value"]] == [
        {"No": second["number"], "Your_Reference": "Only me"}
    ]
    everything = get(bc, "SalesOrder", **{"$select": "No"})["value"]
    assert [row["No"] for row in everything] == sorted([first["number"], second["number"]])  # key order
    bad = bc.session.get(page_url(bc, "SalesOrder"), params={"$select": "Your_Ref"})
    assert bad.status_code == 400


def test_page_42_refusals_leave_the_order_unchanged(business_central: BusinessCentralHandle, bc_demo: str) -> None:
    bc = business_central
    order = new_order(bc, bc_demo)
    number = order["number"]
    etag = get(bc, header_path(number))["@odata.etag"]
    refused = {
        "too long": (patch(bc, number, {"Your_Reference": "x" * 36}, etag), 400, "Application_StringExceededLength"),
        "too long code": (patch(bc, number, {"External_Document_No": "E" * 36}, etag), 400,
                          "Application_StringExceededLength"),
        "stale": (patch(bc, number, {"Your_Reference": "A"}, 'W/"JzE5OzE5OTk5OTs="'), 409, "Request_EntityChanged"),
        "no If-Match": (patch(bc, number, {"Your_Reference": "A"}, None), 400, "BadRequest_InvalidToken"),
        "Quote_No": (patch(bc, number, {"Your_Reference": "A", "Quote_No": "S-QUO1001"}, etag), 400, "BadRequest"),
        "Status": (patch(bc, number, {"Status": "Released"}, etag), 400, "BadRequest"),
        "rename": (patch(bc, number, {"No": "S-ORD999999"}, etag), 400, "Application_DialogException"),
        "unknown": (patch(bc, number, {"YourReference": "A"}, etag), 400, "BadRequest"),
        "not a date": (patch(bc, number, {"Requested_Delivery_Date": "soon"}, etag), 400, "BadRequest"),
    }  # fmt: skip
    for what, (response, status, error) in refused.items():
        assert (response.status_code, code(response)) == (status, error), (what, response.text)
    assert "read-only" in refused["Quote_No"][0].json()["error"]["message"]
    after = get(bc, header_path(number))
    assert (after["@odata.etag"], after["Your_Reference"], after["Quote_No"]) == (etag, "", "")
    same_key = patch(bc, number, {"No": number, "Document_Type": "Order", "Your_Reference": "x" * 35}, etag)
    assert ok(same_key)["Your_Reference"] == "x" * 35  # the key may be sent unchanged; 35 characters fit


def test_writes_page_42_does_not_emulate_are_refused_not_dropped(
    business_central: BusinessCentralHandle, bc_demo: str
) -> None:
    bc = business_central
    order = new_order(bc, bc_demo)
    etag = get(bc, header_path(order["number"]))["@odata.etag"]
    shipment = patch(bc, order["number"], {"Shipment_Date": "2031-01-01"}, etag)
    assert shipment.status_code == 400 and code(shipment) == "BadRequest"
    assert "not emulated" in shipment.json()["error"]["message"]
    created = bc.session.post(page_url(bc, "SalesOrder"), json={"Sell_to_Customer_No": "C00010"})
    deleted = bc.session.delete(page_url(bc, header_path(order["number"])), headers={"If-Match": "*"})
    for response in (created, deleted):
        assert response.status_code == 400 and "not emulated" in response.json()["error"]["message"], response.text
    assert get(bc, header_path(order["number"]))["@odata.etag"] == etag
    assert bc.session.patch(
        page_url(bc, header_path(order["number"], "SalesOrderList")), json={"Your_Reference": "A"},
        headers={"If-Match": "*"},
    ).status_code == 405  # fmt: skip


def test_requested_delivery_date_needs_an_open_order(business_central: BusinessCentralHandle, bc_demo: str) -> None:
    bc = business_central
    order = new_order(bc, bc_demo)
    ok(bc.admin("POST", "release", json={"orderId": order["id"]}))
    header = get(bc, header_path(order["number"]))
    assert header["Status"] == "Released"
    date = patch(bc, order["number"], {"Requested_Delivery_Date": "2031-05-06"}, header["@odata.etag"])
    assert date.status_code == 400 and code(date) == "Application_DialogException"
    assert "Status must be equal to 'Open'" in date.json()["error"]["message"]
    reference = patch(bc, order["number"], {"Your_Reference": "Late PO"}, header["@odata.etag"])
    assert ok(reference)["Your_Reference"] == "Late PO"  # Your Reference has no status test on BC


def test_make_order_sets_the_quote_number(business_central: BusinessCentralHandle, bc_demo: str) -> None:
    bc = business_central
    lines = [{"lineType": "Item", "lineObjectNumber": "1896-S", "quantity": 1}]
    quote = ok(
        bc.session.post(f"{bc_demo}/salesQuotes", json={"customerNumber": "C00010", "salesQuoteLines": lines}), 201
    )
    new_order(bc, bc_demo)  # an order without a quote must not match the filter
    order_id = action(bc, bc_demo, "salesQuotes", quote["id"], "makeOrder")
    order = ok(bc.session.get(f"{bc_demo}/salesOrders({order_id})"))
    listed = get(bc, "SalesOrderList", **{"$filter": f"Quote_No eq '{quote['number']}'", "$select": "No,Quote_No"})
    assert [(row["No"], row["Quote_No"]) for row in listed["value"]] == [(order["number"], quote["number"])]
    assert get(bc, header_path(order["number"]))["Quote_No"] == quote["number"]
    quoteless = get(bc, "SalesOrderList", **{"$filter": "Quote_No eq ''", "$select": "No"})["value"]
    assert order["number"] not in [row["No"] for row in quoteless] and len(quoteless) == 1


def test_ship_and_invoice_carries_your_reference_to_the_posted_invoice(
    business_central: BusinessCentralHandle, bc_demo: str
) -> None:
    bc = business_central
    order = new_order(bc, bc_demo)
    header = get(bc, header_path(order["number"]))
    ok(patch(bc, order["number"], {"Your_Reference": "CUST-PO-77"}, header["@odata.etag"]))
    invoice_id = action(bc, bc_demo, "salesOrders", order["id"], "shipAndInvoice")
    invoice = ok(bc.session.get(f"{bc_demo}/salesInvoices({invoice_id})"))
    assert (invoice["orderNumber"], invoice["customerPurchaseOrderReference"]) == (order["number"], "CUST-PO-77")
    gone = bc.session.get(page_url(bc, header_path(order["number"])))
    assert gone.status_code == 404 and code(gone) == "BadRequest_NotFound"  # the posted order is deleted


def test_the_custom_api_serves_the_order_headers(business_central: BusinessCentralHandle, bc_demo: str) -> None:
    bc = business_central
    order = new_order(bc, bc_demo)
    url = f"{bc.base_url}/{TENANT}/production{CUSTOM_ROUTE}/companies({COMPANY_ID})/salesOrderHeaders({order['id']})"
    header = ok(bc.session.get(url))
    assert (header["number"], header["documentType"], header["status"], header["yourReference"]) == (
        order["number"], "Order", "Open", "",
    )  # fmt: skip
    changed = ok(
        bc.session.patch(url, json={"yourReference": "Via API page"}, headers={"If-Match": header["@odata.etag"]})
    )
    assert changed["yourReference"] == "Via API page" and changed["@odata.etag"] != header["@odata.etag"]
    assert get(bc, header_path(order["number"]))["Your_Reference"] == "Via API page"
    quote = bc.session.patch(url, json={"quoteNumber": "X"}, headers={"If-Match": changed["@odata.etag"]})
    assert quote.status_code == 400 and code(quote) == "BadRequest"
