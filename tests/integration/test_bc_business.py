"""BC emulator over real HTTP: business events. Bound actions (ship and invoice, make order/invoice, post, cancel)
and the admin-side events API v2.0 cannot trigger (payments, release/reopen, backdating), with what they do to
invoice status, remainingAmount and customerFinancialDetails (api-facts A5-A7)."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from local.emulators.business_central.seed import COMPANY_ID, seeded_id
from tests.conftest import BusinessCentralHandle

pytestmark = pytest.mark.integration

CUSTOMER_ID = seeded_id("customer", "The Cannon Group PLC")  # C00010
DESK_PRICE = 1000.8  # item 1896-S
_LOCATION = re.compile(r"/(?P<set>\w+)\((?P<id>[0-9a-f-]{36})\)$")


def _today(offset_days: int = 0) -> str:
    return (datetime.now(UTC).date() + timedelta(days=offset_days)).isoformat()


def _ok(response: requests.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def _error_code(response: requests.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


def _lines() -> list[dict[str, Any]]:
    return [
        {"lineType": "Item", "lineObjectNumber": "1896-S", "quantity": 2},
        {"lineType": "Comment", "description": "Deliver to the back door"},
    ]


def _create(bc: BusinessCentralHandle, root: str, entity_set: str, lines_set: str, **header: Any) -> dict[str, Any]:
    body = {"customerNumber": "C00010", lines_set: _lines(), **header}
    row: dict[str, Any] = _ok(bc.session.post(f"{root}/{entity_set}", json=body), 201)
    return row


def _order(bc: BusinessCentralHandle, root: str, **header: Any) -> dict[str, Any]:
    return _create(bc, root, "salesOrders", "salesOrderLines", **header)


def _draft_invoice(bc: BusinessCentralHandle, root: str) -> dict[str, Any]:
    return _create(bc, root, "salesInvoices", "salesInvoiceLines")


def _action(bc: BusinessCentralHandle, root: str, entity_set: str, row_id: str, name: str) -> requests.Response:
    return bc.session.post(f"{root}/{entity_set}({row_id})/Microsoft.NAV.{name}")


def _target(response: requests.Response) -> tuple[str, str]:
    """The (entity set, id) a 204 action response's Location header points at."""
    assert response.status_code == 204, response.text
    match = _LOCATION.search(response.headers["Location"])
    assert match is not None, response.headers["Location"]
    return match.group("set"), match.group("id")


def _get(bc: BusinessCentralHandle, url: str, **params: str) -> dict[str, Any]:
    row: dict[str, Any] = _ok(bc.session.get(url, params=params or None))
    return row


def _posted_from_order(bc: BusinessCentralHandle, root: str, **header: Any) -> dict[str, Any]:
    order = _order(bc, root, **header)
    _, invoice_id = _target(_action(bc, root, "salesOrders", order["id"], "shipAndInvoice"))
    return _get(bc, f"{root}/salesInvoices({invoice_id})")


def _next_millisecond() -> None:
    """lastModifiedDateTime has millisecond precision: let the clock move before a write whose timestamp we compare."""
    time.sleep(0.002)


def _details(bc: BusinessCentralHandle, root: str) -> dict[str, Any]:
    return _get(bc, f"{root}/customers({CUSTOMER_ID})/customerFinancialDetails")


def test_ship_and_invoice_posts_a_shipment_and_an_invoice_with_a_new_id(
    business_central: BusinessCentralHandle, bc_demo: str
) -> None:
    bc, root = business_central, bc_demo
    order = _order(bc, root, externalDocumentNumber="po-4711")
    assert order["totalAmountIncludingTax"] == round(2 * DESK_PRICE, 2)

    target_set, invoice_id = _target(_action(bc, root, "salesOrders", order["id"], "shipAndInvoice"))

    assert target_set == "salesInvoices"
    assert invoice_id != order["id"]
    invoice = _get(bc, f"{root}/salesInvoices({invoice_id})", **{"$expand": "salesInvoiceLines"})
    assert invoice["number"].startswith("PS-INV")
    assert (invoice["orderNumber"], invoice["orderId"]) == (order["number"], order["id"])
    assert invoice["externalDocumentNumber"] == "PO-4711"
    assert invoice["customerNumber"] == "C00010"
    assert invoice["status"] == "Open"
    assert invoice["remainingAmount"] == invoice["totalAmountIncludingTax"] == order["totalAmountIncludingTax"]
    assert invoice["postingDate"] == invoice["invoiceDate"] == _today()
    assert invoice["dueDate"] == _today(30)  # no payment terms on the order or the customer: net 30
    lines = invoice["salesInvoiceLines"]
    assert [(li["lineType"], li["lineObjectNumber"], li["quantity"]) for li in lines] == [
        ("Item", "1896-S", 2),
        ("Comment", "", 0),
    ]
    assert lines[1]["description"] == "Deliver to the back door"
    assert all(li["documentId"] == invoice_id for li in lines)

    shipments = _get(
        bc,
        f"{root}/salesShipments",
        **{"$filter": f"orderNumber eq '{order['number']}'", "$expand": "salesShipmentLines"},
    )["value"]
    assert len(shipments) == 1
    assert shipments[0]["number"].startswith("S-SHPT")
    shipped = shipments[0]["salesShipmentLines"]
    assert [(li["lineType"], li["lineObjectNumber"], li["quantity"]) for li in shipped] == [
        ("Item", "1896-S", 2),
        ("_x0020_", "", 0),
    ]
    assert all(li["documentNo"] == shipments[0]["number"] for li in shipped)

    gone = bc.session.get(f"{root}/salesOrders({order['id']})")
    assert gone.status_code == 404
    assert _get(bc, f"{root}/salesOrderLines")["value"] == []

    changed = bc.session.patch(
        f"{root}/salesInvoices({invoice_id})", json={"externalDocumentNumber": "X"}, headers={"If-Match": "*"}
    )
    assert changed.status_code == 400  # a posted invoice is read-only


def test_ship_and_invoice_uses_the_order_dates_and_payment_terms(
    business_central: BusinessCentralHandle, bc_demo: str
) -> None:
    terms_id = seeded_id("terms", "14 DAYS")
    invoice = _posted_from_order(
        business_central, bc_demo, postingDate=_today(-3), orderDate=_today(-4), paymentTermsId=terms_id
    )
    assert (invoice["postingDate"], invoice["invoiceDate"], invoice["dueDate"]) == (_today(-3), _today(-4), _today(10))


@pytest.mark.parametrize(
    "lines",
    [[], [{"lineType": "Comment", "description": "only a comment"}]],
    ids=["no lines", "comment only"],
)
def test_ship_and_invoice_with_nothing_to_post_is_refused(
    business_central: BusinessCentralHandle, bc_demo: str, lines: list[dict[str, Any]]
) -> None:
    bc, root = business_central, bc_demo
    order = _ok(
        bc.session.post(f"{root}/salesOrders", json={"customerNumber": "C00010", "salesOrderLines": lines}), 201
    )

    response = _action(bc, root, "salesOrders", order["id"], "shipAndInvoice")

    assert response.status_code == 400
    assert _error_code(response) == "Application_DialogException"
    assert _get(bc, f"{root}/salesOrders({order['id']})")["number"] == order["number"]
    assert _get(bc, f"{root}/salesShipments")["value"] == []
    assert _get(bc, f"{root}/salesInvoices")["value"] == []


@pytest.mark.parametrize(
    ("action", "target_set", "lines_set"),
    [("makeOrder", "salesOrders", "salesOrderLines"), ("makeInvoice", "salesInvoices", "salesInvoiceLines")],
)
def test_quote_becomes_an_order_or_a_draft_invoice_and_is_removed(
    business_central: BusinessCentralHandle, bc_demo: str, action: str, target_set: str, lines_set: str
) -> None:
    bc, root = business_central, bc_demo
    quote = _create(bc, root, "salesQuotes", "salesQuoteLines", externalDocumentNumber="Q-REF")

    made_set, made_id = _target(_action(bc, root, "salesQuotes", quote["id"], action))

    assert made_set == target_set
    made = _get(bc, f"{root}/{target_set}({made_id})", **{"$expand": lines_set})
    assert made["id"] != quote["id"]
    assert made["status"] == "Draft"
    assert (made["customerNumber"], made["externalDocumentNumber"]) == ("C00010", "Q-REF")
    assert made["totalAmountExcludingTax"] == quote["totalAmountExcludingTax"]
    assert [(li["sequence"], li["lineType"], li["lineObjectNumber"], li["description"]) for li in made[lines_set]] == [
        (10000, "Item", "1896-S", "ATHENS Desk"),
        (20000, "Comment", "", "Deliver to the back door"),
    ]
    assert bc.session.get(f"{root}/salesQuotes({quote['id']})").status_code == 404
    assert _get(bc, f"{root}/salesQuoteLines")["value"] == []


def test_posting_a_draft_invoice_keeps_its_id_and_only_once(
    business_central: BusinessCentralHandle, bc_demo: str
) -> None:
    bc, root = business_central, bc_demo
    draft = _draft_invoice(bc, root)
    assert (draft["status"], draft["remainingAmount"]) == ("Draft", draft["totalAmountIncludingTax"])

    target_set, posted_id = _target(_action(bc, root, "salesInvoices", draft["id"], "post"))

    assert (target_set, posted_id) == ("salesInvoices", draft["id"])
    posted = _get(bc, f"{root}/salesInvoices({posted_id})")
    assert posted["number"].startswith("PS-INV") and posted["number"] != draft["number"]
    assert posted["status"] == "Open"
    assert posted["remainingAmount"] == draft["totalAmountIncludingTax"]
    assert posted["postingDate"] == _today()

    again = _action(bc, root, "salesInvoices", posted_id, "post")
    assert again.status_code == 400
    assert _error_code(again) == "Application_DialogException"
    added = bc.session.post(
        f"{root}/salesInvoices({posted_id})/salesInvoiceLines", json={"lineType": "Comment", "description": "late"}
    )
    assert added.status_code == 400


def test_cancel_applies_to_posted_invoices_only(business_central: BusinessCentralHandle, bc_demo: str) -> None:
    bc, root = business_central, bc_demo
    draft = _draft_invoice(bc, root)
    refused = _action(bc, root, "salesInvoices", draft["id"], "cancel")
    assert refused.status_code == 400
    assert _error_code(refused) == "Application_DialogException"

    posted = _posted_from_order(bc, root)
    _next_millisecond()
    assert _target(_action(bc, root, "salesInvoices", posted["id"], "cancel")) == ("salesInvoices", posted["id"])
    canceled = _get(bc, f"{root}/salesInvoices({posted['id']})")
    assert (canceled["status"], canceled["remainingAmount"]) == ("Canceled", 0)
    assert canceled["lastModifiedDateTime"] > posted["lastModifiedDateTime"]
    assert _action(bc, root, "salesInvoices", posted["id"], "cancel").status_code == 400


def test_payments_reduce_the_remaining_amount_until_paid(business_central: BusinessCentralHandle, bc_demo: str) -> None:
    bc, root = business_central, bc_demo
    invoice = _posted_from_order(bc, root)
    total = invoice["totalAmountIncludingTax"]
    _next_millisecond()

    partial = _ok(bc.admin("POST", "payments", json={"invoiceId": invoice["id"], "amount": 500}))
    assert (partial["remainingAmount"], partial["status"]) == (round(total - 500, 2), "Open")
    after_partial = _get(bc, f"{root}/salesInvoices({invoice['id']})")
    assert (after_partial["remainingAmount"], after_partial["status"]) == (round(total - 500, 2), "Open")
    assert after_partial["lastModifiedDateTime"] > invoice["lastModifiedDateTime"]
    assert after_partial["@odata.etag"] != invoice["@odata.etag"]

    too_much = bc.admin("POST", "payments", json={"invoiceId": invoice["id"], "amount": total})
    assert too_much.status_code == 400
    assert _error_code(too_much) == "Application_DialogException"

    paid = _ok(
        bc.admin(
            "POST",
            "payments",
            json={"invoiceId": invoice["id"], "amount": round(total - 500, 2), "companyId": COMPANY_ID},
        )
    )
    assert (paid["remainingAmount"], paid["status"]) == (0, "Paid")
    after_full = _get(bc, f"{root}/salesInvoices({invoice['id']})")
    assert (after_full["remainingAmount"], after_full["status"]) == (0, "Paid")
    paid_list = _get(bc, f"{root}/salesInvoices", **{"$filter": "status eq 'Paid'"})["value"]
    assert [row["id"] for row in paid_list] == [invoice["id"]]
    assert _action(bc, root, "salesInvoices", invoice["id"], "cancel").status_code == 400  # paid: cannot cancel


def test_payments_that_cannot_apply_are_refused(business_central: BusinessCentralHandle, bc_demo: str) -> None:
    bc, root = business_central, bc_demo
    draft = _draft_invoice(bc, root)
    canceled = _posted_from_order(bc, root)
    _target(_action(bc, root, "salesInvoices", canceled["id"], "cancel"))
    posted = _posted_from_order(bc, root)
    unknown = "5f0c1e2a-0000-4000-8000-000000000001"

    cases = [
        ({"invoiceId": unknown, "amount": 1}, 404, "BadRequest_NotFound"),
        ({"invoiceId": draft["id"], "amount": 1}, 400, "Application_DialogException"),
        ({"invoiceId": canceled["id"], "amount": 1}, 400, "Application_DialogException"),
        ({"invoiceId": posted["id"], "amount": 0}, 400, "BadRequest"),
        ({"invoiceId": posted["id"], "amount": "10"}, 400, "BadRequest"),
        ({"invoiceId": posted["id"], "amount": 1, "companyId": unknown}, 404, "BadRequest_NotFound"),
    ]
    for body, status, code in cases:
        response = bc.admin("POST", "payments", json=body)
        assert (response.status_code, _error_code(response)) == (status, code), body
    assert _get(bc, f"{root}/salesInvoices({posted['id']})")["remainingAmount"] == posted["remainingAmount"]


def test_release_blocks_line_changes_and_reopen_allows_them(
    business_central: BusinessCentralHandle, bc_demo: str
) -> None:
    bc, root = business_central, bc_demo
    order = _order(bc, root)
    assert order["status"] == "Draft"
    line = _get(bc, f"{root}/salesOrders({order['id']})/salesOrderLines", **{"$filter": "lineType eq 'Item'"})["value"][
        0
    ]
    line_url = f"{root}/salesOrders({order['id']})/salesOrderLines({line['id']})"

    released = _ok(bc.admin("POST", "release", json={"orderId": order["id"]}))
    assert (released["status"], released["released"]) == ("Open", True)
    assert _get(bc, f"{root}/salesOrders({order['id']})")["status"] == "Open"

    blocked = [
        bc.session.patch(line_url, json={"quantity": 5}, headers={"If-Match": "*"}),
        bc.session.post(f"{root}/salesOrders({order['id']})/salesOrderLines", json={"lineType": "Comment"}),
        bc.session.delete(line_url, headers={"If-Match": "*"}),
    ]
    assert [(r.status_code, _error_code(r)) for r in blocked] == [(400, "Application_DialogException")] * 3

    reopened = _ok(bc.admin("POST", "reopen", json={"orderNumber": order["number"]}))
    assert reopened["status"] == "Draft"
    changed = _ok(bc.session.patch(line_url, json={"quantity": 5}, headers={"If-Match": "*"}))
    assert changed["quantity"] == 5
    assert _get(bc, f"{root}/salesOrders({order['id']})")["totalAmountExcludingTax"] == round(5 * DESK_PRICE, 2)


def test_release_refuses_an_order_without_lines_and_unknown_orders(
    business_central: BusinessCentralHandle, bc_demo: str
) -> None:
    bc, root = business_central, bc_demo
    empty = _ok(bc.session.post(f"{root}/salesOrders", json={"customerNumber": "C00010"}), 201)
    nothing = bc.admin("POST", "release", json={"orderId": empty["id"]})
    assert (nothing.status_code, _error_code(nothing)) == (400, "Application_DialogException")
    unknown = bc.admin("POST", "release", json={"orderId": "5f0c1e2a-0000-4000-8000-000000000002"})
    assert (unknown.status_code, _error_code(unknown)) == (404, "BadRequest_NotFound")


def test_a_released_order_can_still_be_shipped_and_invoiced(
    business_central: BusinessCentralHandle, bc_demo: str
) -> None:
    bc, root = business_central, bc_demo
    order = _order(bc, root)
    _ok(bc.admin("POST", "release", json={"orderId": order["id"]}))
    assert _target(_action(bc, root, "salesOrders", order["id"], "shipAndInvoice"))[0] == "salesInvoices"
    assert bc.session.get(f"{root}/salesOrders({order['id']})").status_code == 404


def test_financial_details_follow_posting_payments_backdating_and_cancel(
    business_central: BusinessCentralHandle, bc_demo: str
) -> None:
    bc, root = business_central, bc_demo
    assert _details(bc, root)["balance"] == 0
    first = _posted_from_order(bc, root)
    second = _posted_from_order(bc, root)
    amount = first["totalAmountIncludingTax"]
    _draft_invoice(bc, root)  # drafts are not ledger entries

    today_only = _details(bc, root)
    assert today_only["balance"] == round(2 * amount, 2)
    assert today_only["totalSalesExcludingTax"] == 0  # BC sums sales up to yesterday
    assert today_only["overdueAmount"] == 0

    moved = bc.admin(
        "POST", "backdate", json={"invoiceId": first["id"], "postingDate": _today(-40), "dueDate": _today(-10)}
    )
    assert _ok(moved)["dueDate"] == _today(-10)
    backdated = _details(bc, root)
    assert backdated["totalSalesExcludingTax"] == first["totalAmountExcludingTax"]
    assert backdated["overdueAmount"] == amount
    assert backdated["balance"] == round(2 * amount, 2)

    _ok(bc.admin("POST", "payments", json={"invoiceId": first["id"], "amount": 100}))
    partly_paid = _details(bc, root)
    assert partly_paid["overdueAmount"] == round(amount - 100, 2)
    assert partly_paid["balance"] == round(2 * amount - 100, 2)
    assert partly_paid["totalSalesExcludingTax"] == first["totalAmountExcludingTax"]  # payments are not sales
    customer = bc.session.get(f"{root}/customers", params={"$filter": "number eq 'C00010'"}).json()["value"][0]
    assert customer["balanceDue"] == partly_paid["overdueAmount"]  # Balance Due (LCY): what is due by now

    _target(_action(bc, root, "salesInvoices", second["id"], "cancel"))
    after_cancel = _details(bc, root)
    assert after_cancel["balance"] == round(amount - 100, 2)
    assert after_cancel["lastModifiedDateTime"] == today_only["lastModifiedDateTime"]  # the customer's own timestamp

    bad = bc.admin("POST", "backdate", json={"invoiceId": first["id"], "postingDate": "yesterday"})
    assert (bad.status_code, _error_code(bad)) == (400, "BadRequest")


def test_actions_run_inside_a_batch(business_central: BusinessCentralHandle, bc_demo: str) -> None:
    bc, root = business_central, bc_demo
    order = _order(bc, root)
    relative = root.split("/api/v2.0/", 1)[1]
    batch = {
        "requests": [
            {"id": "1", "method": "POST", "url": f"{relative}/salesOrders({order['id']})/Microsoft.NAV.shipAndInvoice"},
            {"id": "2", "method": "POST", "url": f"{relative}/salesOrders({order['id']})/Microsoft.NAV.shipAndInvoice"},
        ]
    }
    api_root = root.split("/companies(", 1)[0]
    responses = _ok(bc.session.post(f"{api_root}/$batch", json=batch))["responses"]
    assert [r["status"] for r in responses] == [204, 404]  # the order is gone after the first
    assert "/salesInvoices(" in responses[0]["headers"]["location"]
