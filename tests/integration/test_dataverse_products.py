"""The product catalog rules of the Dataverse emulator, over real HTTP (local/emulators/dataverse/products.py).

Why these matter: a product the sync leaves in Draft cannot be sold in a real org, and two prices for one product and
unit on one price list are refused; the emulator must answer as the real service so the engine meets the rule here.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.conftest import EmulatorHandle
from tests.integration.dataverse_helpers import api, create, error_code

pytestmark = pytest.mark.integration

INVALID_ARGUMENT = "0x80040203"
DUPLICATE_RECORD = "0x80040237"


def catalog(dv: EmulatorHandle) -> dict[str, str]:
    """A unit group with its base unit, a price list and a product (Draft, as Dataverse creates it)."""
    group = create(dv, "uomschedules", {"name": "G", "baseuomname": "PCS"})["uomscheduleid"]
    unit = dv.session.get(api(dv, "uoms"), params={"$filter": f"_uomscheduleid_value eq {group}"}).json()["value"][0]
    price_list = create(dv, "pricelevels", {"name": "Default"})["pricelevelid"]
    product = create(
        dv,
        "products",
        {
            "name": "Desk",
            "productnumber": "1896-S",
            "defaultuomscheduleid@odata.bind": f"/uomschedules({group})",
            "defaultuomid@odata.bind": f"/uoms({unit['uomid']})",
        },
    )
    assert product["statecode"] == 2  # Draft
    order = create(dv, "salesorders", {"name": "Order"})["salesorderid"]
    return {
        "group": group,
        "unit": unit["uomid"],
        "pricelist": price_list,
        "product": product["productid"],
        "order": order,
    }


def line(ids: dict[str, str]) -> dict[str, Any]:
    return {
        "salesorderid@odata.bind": f"/salesorders({ids['order']})",
        "productid@odata.bind": f"/products({ids['product']})",
        "uomid@odata.bind": f"/uoms({ids['unit']})",
        "quantity": 1,
    }


def set_state(dv: EmulatorHandle, product: str, state: int, status: int) -> None:
    response = dv.session.patch(api(dv, f"products({product})"), json={"statecode": state, "statuscode": status})
    assert response.status_code == 204, response.text


def test_a_draft_or_retired_product_cannot_be_put_on_a_line(dataverse: EmulatorHandle) -> None:
    ids = catalog(dataverse)
    refused = dataverse.session.post(api(dataverse, "salesorderdetails"), json=line(ids))
    assert (refused.status_code, error_code(refused)) == (400, INVALID_ARGUMENT)
    assert "Draft" in refused.json()["error"]["message"]
    set_state(dataverse, ids["product"], 0, 1)  # published
    accepted = dataverse.session.post(api(dataverse, "salesorderdetails"), json=line(ids))
    assert accepted.status_code == 204, accepted.text
    set_state(dataverse, ids["product"], 1, 2)  # retired
    retired = dataverse.session.post(api(dataverse, "salesorderdetails"), json=line(ids))
    assert (retired.status_code, error_code(retired)) == (400, INVALID_ARGUMENT)


@pytest.mark.parametrize(("entity_set", "parent"), [("quotedetails", "quotes"), ("invoicedetails", "invoices")])
def test_quote_and_invoice_lines_refuse_a_draft_product(
    dataverse: EmulatorHandle, entity_set: str, parent: str
) -> None:
    ids = catalog(dataverse)
    head = create(dataverse, parent, {"name": "Doc"})
    key = parent[:-1] + "id"
    body = {**line(ids), f"{key}@odata.bind": f"/{parent}({head[key]})"}
    del body["salesorderid@odata.bind"]
    refused = dataverse.session.post(api(dataverse, entity_set), json=body)
    assert (refused.status_code, error_code(refused)) == (400, INVALID_ARGUMENT)


def test_a_draft_product_in_a_bulk_message_is_refused_as_a_whole(dataverse: EmulatorHandle) -> None:
    ids = catalog(dataverse)
    target = {"@odata.type": "Microsoft.Dynamics.CRM.salesorderdetail", "salesorderdetailid": str(uuid.uuid4())}
    response = dataverse.session.post(
        api(dataverse, "salesorderdetails/Microsoft.Dynamics.CRM.UpsertMultiple"),
        json={"Targets": [{**target, **line(ids)}]},
    )
    assert (response.status_code, error_code(response)) == (400, INVALID_ARGUMENT)


def price_item(ids: dict[str, str], amount: float = 10) -> dict[str, Any]:
    return {
        "pricelevelid@odata.bind": f"/pricelevels({ids['pricelist']})",
        "productid@odata.bind": f"/products({ids['product']})",
        "uomid@odata.bind": f"/uoms({ids['unit']})",
        "amount": amount,
    }


def test_price_list_items_are_unique_per_product_and_unit(dataverse: EmulatorHandle) -> None:
    ids = catalog(dataverse)
    first = create(dataverse, "productpricelevels", price_item(ids))
    again = dataverse.session.post(api(dataverse, "productpricelevels"), json=price_item(ids, 12))
    assert (again.status_code, error_code(again)) == (412, DUPLICATE_RECORD)
    assert "has a price for this price list" in again.json()["error"]["message"]
    changed = dataverse.session.patch(
        api(dataverse, f"productpricelevels({first['productpricelevelid']})"), json={"amount": 11}
    )
    assert changed.status_code == 204, changed.text  # the item itself may change
    other_list = create(dataverse, "pricelevels", {"name": "Other"})["pricelevelid"]
    create(dataverse, "productpricelevels", price_item({**ids, "pricelist": other_list}))


@pytest.mark.parametrize("left_out", ["pricelevelid@odata.bind", "productid@odata.bind"])
def test_a_price_list_item_needs_a_price_list_and_a_product(dataverse: EmulatorHandle, left_out: str) -> None:
    ids = catalog(dataverse)
    body = {k: v for k, v in price_item(ids).items() if k != left_out}
    response = dataverse.session.post(api(dataverse, "productpricelevels"), json=body)
    assert (response.status_code, error_code(response)) == (400, INVALID_ARGUMENT)
