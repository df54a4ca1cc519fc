"""BC emulator over real HTTP: VAT per line and the invoice discount on sales documents (local/emulators/
business_central/document_tax.py), carried to the posted invoice by ship-and-invoice."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.conftest import BusinessCentralHandle

pytestmark = pytest.mark.integration


def _ok(response: requests.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def mixed_order(bc: BusinessCentralHandle, root: str) -> dict[str, Any]:
    """Two items with different VAT (25 % and 10 %), a line discount, a comment and an invoice discount of 100."""
    body = {
        "customerNumber": "C00010",
        "discountAmount": 100,
        "salesOrderLines": [
            {"lineType": "Item", "lineObjectNumber": "1896-S", "quantity": 2, "unitPrice": 1000.8,
             "discountAmount": 50.4, "taxCode": "STANDARD"},
            {"lineType": "Comment", "description": "Deliver to the back door"},
            {"lineType": "Item", "lineObjectNumber": "1900-S", "quantity": 3, "unitPrice": 192.8, "taxCode": "reduced"},
        ],
    }  # fmt: skip
    order: dict[str, Any] = _ok(bc.session.post(f"{root}/salesOrders", json=body), 201)
    return order


def lines_of(bc: BusinessCentralHandle, root: str, entity_set: str, row_id: str, lines: str) -> list[dict[str, Any]]:
    found = _ok(bc.session.get(f"{root}/{entity_set}({row_id})", params={"$expand": lines}))
    return sorted(found[lines], key=lambda line: line["sequence"])


AMOUNTS = ("taxPercent", "amountExcludingTax", "invoiceDiscountAllocation", "netAmount", "netTaxAmount",
           "netAmountIncludingTax", "totalTaxAmount", "amountIncludingTax")  # fmt: skip
# Line Amount 1951.20 and 578.40; the discount of 100 shared 77.13 / 22.87 (in proportion, rounding carried);
# Amount 1874.07 and 555.53; VAT 25 % = 468.52, 10 % = 55.55 (Line Tax Amount is on the Line Amount: 487.80, 57.84)
EXPECTED = [
    (25.0, 1951.2, 77.13, 1874.07, 468.52, 2342.59, 487.8, 2439.0),
    (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
    (10.0, 578.4, 22.87, 555.53, 55.55, 611.08, 57.84, 636.24),
]


def test_lines_carry_vat_and_their_share_of_the_invoice_discount_to_the_posted_invoice(
    business_central: BusinessCentralHandle, bc_demo: str
) -> None:
    bc, root = business_central, bc_demo
    order = mixed_order(bc, root)
    assert (order["totalAmountExcludingTax"], order["totalTaxAmount"], order["totalAmountIncludingTax"]) == (
        2429.6,
        524.07,
        2953.67,
    )
    lines = lines_of(bc, root, "salesOrders", order["id"], "salesOrderLines")
    assert [tuple(line[name] for name in AMOUNTS) for line in lines] == EXPECTED
    assert [line["taxCode"] for line in lines] == ["STANDARD", "", "REDUCED"]

    response = bc.session.post(f"{root}/salesOrders({order['id']})/Microsoft.NAV.shipAndInvoice")
    assert response.status_code == 204, response.text
    invoice_id = response.headers["Location"].rsplit("(", 1)[1].rstrip(")")
    invoice = _ok(bc.session.get(f"{root}/salesInvoices({invoice_id})"))
    assert (invoice["discountAmount"], invoice["totalTaxAmount"], invoice["totalAmountIncludingTax"]) == (
        100.0,
        524.07,
        2953.67,
    )
    assert invoice["remainingAmount"] == 2953.67  # the customer owes the amount including VAT
    posted = lines_of(bc, root, "salesInvoices", invoice_id, "salesInvoiceLines")
    assert [tuple(line[name] for name in AMOUNTS) for line in posted] == EXPECTED


def test_a_new_invoice_discount_or_a_removed_line_shares_the_discount_again(
    business_central: BusinessCentralHandle, bc_demo: str
) -> None:
    bc, root = business_central, bc_demo
    order = mixed_order(bc, root)
    etag = {"If-Match": order["@odata.etag"]}
    changed = _ok(bc.session.patch(f"{root}/salesOrders({order['id']})", json={"discountAmount": 0}, headers=etag))
    assert (changed["totalAmountExcludingTax"], changed["totalAmountIncludingTax"]) == (2529.6, 3075.24)
    lines = lines_of(bc, root, "salesOrders", order["id"], "salesOrderLines")
    assert [line["invoiceDiscountAllocation"] for line in lines] == [0, 0, 0]
    etag = {"If-Match": changed["@odata.etag"]}
    _ok(bc.session.patch(f"{root}/salesOrders({order['id']})", json={"discountAmount": 10}, headers=etag))
    chair = lines[2]
    response = bc.session.delete(f"{root}/salesOrderLines({chair['id']})", headers={"If-Match": "*"})
    assert response.status_code == 204, response.text
    desk = lines_of(bc, root, "salesOrders", order["id"], "salesOrderLines")[0]
    assert (desk["invoiceDiscountAllocation"], desk["netAmount"], desk["netAmountIncludingTax"]) == (10, 1941.2, 2426.5)


def test_an_unknown_tax_code_is_refused_and_an_item_line_takes_its_items_code(
    business_central: BusinessCentralHandle, bc_demo: str
) -> None:
    bc, root = business_central, bc_demo
    body = {"customerNumber": "C00010", "salesOrderLines": [
        {"lineType": "Item", "lineObjectNumber": "1896-S", "quantity": 1, "taxCode": "NOPE"}]}  # fmt: skip
    response = bc.session.post(f"{root}/salesOrders", json=body)
    assert response.status_code == 400 and "VAT Product Posting Group" in response.text, response.text
    item = _ok(
        bc.session.post(f"{root}/items", json={"number": "TAX-10", "unitPrice": 10, "taxGroupCode": "REDUCED"}), 201
    )
    body = {"customerNumber": "C00010", "salesOrderLines": [{"lineType": "Item", "itemId": item["id"], "quantity": 1}]}
    order = _ok(bc.session.post(f"{root}/salesOrders", json=body), 201)
    assert order["totalAmountIncludingTax"] == 11.0
