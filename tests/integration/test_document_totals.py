"""Dataverse emulator over real HTTP: document totals computed from the lines, and the document states that refuse
writes (issue 19 part 1 / issue 20 part 1: "order, quote and invoice totals are computed from their lines";
"Submitted orders are read-only"; "refuses writes to a Paid invoice and paying a Canceled one").

The formulas are those of Microsoft's CRMBusLogicSimulator (RecalculateSalesOrder and the order line's amounts), the
sources are in local/emulators/dataverse/totals.py and document_states.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import EmulatorHandle
from tests.integration.dataverse_helpers import api, create

pytestmark = pytest.mark.integration

TOTALS = (
    "totallineitemamount",
    "totallineitemdiscountamount",
    "totaltax",
    "totaldiscountamount",
    "totalamountlessfreight",
    "totalamount",
)


def customer_bind(dv: EmulatorHandle) -> str:
    return f"/accounts({create(dv, 'accounts', {'name': 'Buyer Inc.'})['accountid']})"


def write_in(price: float, quantity: float, **extra: Any) -> dict[str, Any]:
    return {
        "isproductoverridden": True,
        "productdescription": "Widget",
        "priceperunit": price,
        "quantity": quantity,
        **extra,
    }


def get(dv: EmulatorHandle, path: str) -> dict[str, Any]:
    response = dv.session.get(api(dv, path))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def patch(dv: EmulatorHandle, path: str, body: dict[str, Any]) -> Any:
    return dv.session.patch(api(dv, path), json=body, headers={"If-Match": "*"})


def totals(row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(row.get(name) for name in TOTALS)


# the two lines of every document below: 2 x (100 - 5) with 10 off and 19 tax, and 3 x 33.33 without tax
FIRST = write_in(100, 2, volumediscountamount=5, manualdiscountamount=10, tax=19)
SECOND = write_in(33.33, 3)
# detail 289.99 - 10 = 279.99; header discount round(27.999) = 28; less freight 251.99; + 5 freight + 19 tax
EXPECTED = (279.99, 10.0, 19.0, 38.0, 251.99, 275.99)


@pytest.mark.parametrize(
    ("entity_set", "lines_navigation", "details_set", "key"),
    [
        ("salesorders", "order_details", "salesorderdetails", "salesorderid"),
        ("quotes", "quote_details", "quotedetails", "quoteid"),
        ("invoices", "invoice_details", "invoicedetails", "invoiceid"),
    ],
)
def test_header_totals_follow_the_lines_and_the_header_discount(
    dataverse: EmulatorHandle, entity_set: str, lines_navigation: str, details_set: str, key: str
) -> None:
    header = create(
        dataverse,
        entity_set,
        {
            "name": "Doc",
            "customerid_account@odata.bind": customer_bind(dataverse),
            "discountpercentage": 10,
            "freightamount": 5,
            lines_navigation: [FIRST, SECOND],
        },
    )
    assert totals(header) == EXPECTED  # the deep insert answers with the totals of its lines
    path = f"{entity_set}({header[key]})"
    lines = sorted(get(dataverse, f"{path}?$expand={lines_navigation}")[lines_navigation], key=lambda r: r["quantity"])
    assert [(r["baseamount"], r["extendedamount"]) for r in lines] == [(190.0, 199.0), (99.99, 99.99)]

    etag = get(dataverse, path)["@odata.etag"]
    line_path = f"{details_set}({lines[1][details_set[:-1] + 'id']})"
    assert patch(dataverse, line_path, {"quantity": 1}).status_code == 204
    assert get(dataverse, line_path)["baseamount"] == 33.33
    after_line = get(dataverse, path)
    # detail 223.33 - 10 = 213.33; header discount 21.33; less freight 192.00; total 216.00
    assert totals(after_line) == (213.33, 10.0, 19.0, 31.33, 192.0, 216.0)
    assert after_line["@odata.etag"] != etag  # the header was updated by the recalculation

    assert (
        patch(dataverse, path, {"discountpercentage": 0, "discountamount": 3.5, "freightamount": 0}).status_code == 204
    )
    assert totals(get(dataverse, path)) == (213.33, 10.0, 19.0, 13.5, 209.83, 228.83)

    assert dataverse.session.delete(api(dataverse, line_path)).status_code == 204
    assert totals(get(dataverse, path)) == (180.0, 10.0, 19.0, 13.5, 176.5, 195.5)


def test_a_document_without_lines_totals_zero(dataverse: EmulatorHandle) -> None:
    order = create(
        dataverse, "salesorders", {"name": "Empty", "customerid_account@odata.bind": customer_bind(dataverse)}
    )
    assert totals(order) == (0, 0, 0, 0, 0, 0)
    line = create(
        dataverse,
        "salesorderdetails",
        {"salesorderid@odata.bind": f"/salesorders({order['salesorderid']})", **write_in(12.5, 4, tax=2.5)},
    )
    assert (line["baseamount"], line["extendedamount"]) == (50.0, 52.5)
    assert totals(get(dataverse, f"salesorders({order['salesorderid']})")) == (50.0, 0, 2.5, 0, 50.0, 52.5)


@pytest.mark.parametrize(("entity_set", "key"), [("salesorders", "salesorderid"), ("quotes", "quoteid")])
def test_order_and_quote_totals_cannot_be_written(dataverse: EmulatorHandle, entity_set: str, key: str) -> None:
    bind = customer_bind(dataverse)
    refused = dataverse.session.post(
        api(dataverse, entity_set), json={"name": "Doc", "customerid_account@odata.bind": bind, "totalamount": 99}
    )
    assert refused.status_code == 400, refused.text
    header = create(dataverse, entity_set, {"name": "Doc", "customerid_account@odata.bind": bind})
    for name in TOTALS:
        assert patch(dataverse, f"{entity_set}({header[key]})", {name: 1}).status_code == 400, name


def test_order_line_amounts_cannot_be_written(dataverse: EmulatorHandle) -> None:
    order = create(dataverse, "salesorders", {"name": "SO", "customerid_account@odata.bind": customer_bind(dataverse)})
    body = {"salesorderid@odata.bind": f"/salesorders({order['salesorderid']})", **write_in(10, 1)}
    assert (
        dataverse.session.post(api(dataverse, "salesorderdetails"), json={**body, "baseamount": 1}).status_code == 400
    )
    line = create(dataverse, "salesorderdetails", body)
    assert (
        patch(dataverse, f"salesorderdetails({line['salesorderdetailid']})", {"extendedamount": 1}).status_code == 400
    )


def test_invoice_totals_are_not_valid_for_create_but_an_update_writes_them(dataverse: EmulatorHandle) -> None:
    """As BC's posted-invoice code does: the invoice and its lines first, then the lines' and the header's amounts."""
    bind = customer_bind(dataverse)
    refused = dataverse.session.post(
        api(dataverse, "invoices"), json={"name": "INV", "customerid_account@odata.bind": bind, "totaltax": 1}
    )
    assert refused.status_code == 400, refused.text
    invoice = create(dataverse, "invoices", {"name": "INV", "customerid_account@odata.bind": bind})
    path = f"invoices({invoice['invoiceid']})"
    line_body = {"invoiceid@odata.bind": f"/{path}", **write_in(10, 3, tax=6)}
    assert (
        dataverse.session.post(api(dataverse, "invoicedetails"), json={**line_body, "baseamount": 1}).status_code == 400
    )
    line = create(dataverse, "invoicedetails", line_body)
    assert (line["baseamount"], line["extendedamount"]) == (30.0, 36.0)
    assert totals(get(dataverse, path)) == (30.0, 0, 6.0, 0, 30.0, 36.0)

    line_path = f"invoicedetails({line['invoicedetailid']})"
    assert patch(dataverse, line_path, {"baseamount": 29.99, "extendedamount": 35.99}).status_code == 204
    assert (get(dataverse, line_path)["baseamount"], get(dataverse, line_path)["extendedamount"]) == (29.99, 35.99)
    written = {"totalamount": 35.99, "totaltax": 6, "totalamountlessfreight": 29.99, "totaldiscountamount": 0}
    assert patch(dataverse, path, written).status_code == 204
    assert {k: get(dataverse, path)[k] for k in written} == written
    assert patch(dataverse, path, {"description": "Posted in BC"}).status_code == 204
    assert get(dataverse, path)["totalamount"] == 35.99  # a write of other columns leaves the totals as written


def test_submitted_order_lines_cannot_be_changed_or_deleted(dataverse: EmulatorHandle) -> None:
    order = create(
        dataverse,
        "salesorders",
        {"name": "SO", "customerid_account@odata.bind": customer_bind(dataverse), "order_details": [write_in(10, 1)]},
    )
    path = f"salesorders({order['salesorderid']})"
    line = get(dataverse, f"{path}?$expand=order_details")["order_details"][0]
    assert patch(dataverse, path, {"statecode": 1, "statuscode": 3}).status_code == 204
    line_path = f"salesorderdetails({line['salesorderdetailid']})"
    assert patch(dataverse, line_path, {"quantity": 2}).status_code == 400
    assert dataverse.session.delete(api(dataverse, line_path)).status_code == 400
    assert patch(dataverse, path, {"freightamount": 1}).status_code == 400
    assert get(dataverse, line_path)["quantity"] == 1
    assert get(dataverse, path)["totalamount"] == 10.0


def invoice(dv: EmulatorHandle) -> str:
    return str(create(dv, "invoices", {"name": "INV", "customerid_account@odata.bind": customer_bind(dv)})["invoiceid"])


def test_a_paid_invoice_is_read_only_and_is_paid_only_from_active(dataverse: EmulatorHandle) -> None:
    path = f"invoices({invoice(dataverse)})"
    assert patch(dataverse, path, {"statecode": 2, "statuscode": 100002}).status_code == 204  # Active -> Paid/Partial
    assert patch(dataverse, path, {"name": "Edited"}).status_code == 400
    line = {"invoiceid@odata.bind": f"/{path}", **write_in(1, 1)}
    assert dataverse.session.post(api(dataverse, "invoicedetails"), json=line).status_code == 400
    again = patch(dataverse, path, {"statecode": 2, "statuscode": 100001})
    assert again.status_code == 400, again.text  # Paid -> Paid: read-only
    assert patch(dataverse, path, {"statuscode": 100001}).status_code == 400
    assert (get(dataverse, path)["statecode"], get(dataverse, path)["statuscode"]) == (2, 100002)
    assert patch(dataverse, path, {"statecode": 0, "statuscode": 4}).status_code == 204  # back to Active / Billed
    assert patch(dataverse, path, {"statecode": 2, "statuscode": 100001}).status_code == 204  # then Paid/Complete
    assert (get(dataverse, path)["statecode"], get(dataverse, path)["statuscode"]) == (2, 100001)


def test_a_canceled_invoice_is_read_only_and_cannot_be_paid(dataverse: EmulatorHandle) -> None:
    path = f"invoices({invoice(dataverse)})"
    assert patch(dataverse, path, {"statecode": 3, "statuscode": 100003}).status_code == 204
    assert patch(dataverse, path, {"name": "Edited"}).status_code == 400
    paid = patch(dataverse, path, {"statecode": 2, "statuscode": 100001})
    assert paid.status_code == 400, paid.text
    assert "not in active state" in paid.json()["error"]["message"]
    assert get(dataverse, path)["statecode"] == 3
