"""Dataverse emulator over real HTTP: statecode/statuscode rules and the Sales messages the sync uses."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import EmulatorHandle
from tests.integration.dataverse_helpers import api, create, error_code

pytestmark = pytest.mark.integration


def customer(dv: EmulatorHandle) -> str:
    account_id: str = create(dv, "accounts", {"name": "Buyer Inc."})["accountid"]
    return account_id


def order(dv: EmulatorHandle, **extra: Any) -> dict[str, Any]:
    return create(
        dv, "salesorders", {"name": "SO", "customerid_account@odata.bind": f"/accounts({customer(dv)})", **extra}
    )


def quote(dv: EmulatorHandle) -> dict[str, Any]:
    return create(
        dv,
        "quotes",
        {
            "name": "Q",
            "customerid_account@odata.bind": f"/accounts({customer(dv)})",
            "quote_details": [{"quantity": 1, "isproductoverridden": True, "productdescription": "Widget"}],
        },
    )


def patch(dv: EmulatorHandle, path: str, body: dict[str, Any]) -> Any:
    return dv.session.patch(api(dv, path), json=body, headers={"If-Match": "*"})


def get(dv: EmulatorHandle, path: str) -> dict[str, Any]:
    response = dv.session.get(api(dv, path))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize(
    ("body", "ok"),
    [
        ({"statecode": 1}, True),  # default status of Submitted (3) is applied
        ({"statecode": 1, "statuscode": 3}, True),
        ({"statecode": 1, "statuscode": 1}, False),  # New belongs to Active, not Submitted
        ({"statecode": 9}, False),
        ({"statuscode": 100001}, False),  # Complete belongs to Fulfilled, not the current Active state
        ({"statuscode": 2}, True),  # Pending is an Active status
    ],
)
def test_state_and_status_pairs_are_validated(dataverse: EmulatorHandle, body: dict[str, int], ok: bool) -> None:
    so = order(dataverse)
    response = patch(dataverse, f"salesorders({so['salesorderid']})", body)
    assert (response.status_code == 204) is ok, response.text
    after = get(dataverse, f"salesorders({so['salesorderid']})")
    if ok:
        assert after["statecode"] == body.get("statecode", 0)
        assert after["statuscode"] == body.get("statuscode", 3 if body.get("statecode") == 1 else after["statuscode"])
    else:
        assert error_code(response) == "0x80040203"
        assert (after["statecode"], after["statuscode"]) == (0, 1)


def test_submitted_order_is_read_only_except_state_change(dataverse: EmulatorHandle) -> None:
    so = order(dataverse)
    path = f"salesorders({so['salesorderid']})"
    assert patch(dataverse, path, {"statecode": 1, "statuscode": 3}).status_code == 204
    refused = patch(dataverse, path, {"name": "Edited after submit"})
    assert refused.status_code == 400
    assert get(dataverse, path)["name"] == "SO"
    line = dataverse.session.post(
        api(dataverse, "salesorderdetails"),
        json={
            "salesorderid@odata.bind": f"/salesorders({so['salesorderid']})",
            "quantity": 1,
            "isproductoverridden": True,
            "productdescription": "Late line",
        },
    )
    assert line.status_code == 400
    assert patch(dataverse, path, {"statecode": 0, "statuscode": 1}).status_code == 204
    assert patch(dataverse, path, {"name": "Edited after reactivation"}).status_code == 204


def test_write_in_flag_is_create_only(dataverse: EmulatorHandle) -> None:
    so = order(dataverse, order_details=[{"quantity": 1, "isproductoverridden": True, "productdescription": "W"}])
    lines = get(dataverse, f"salesorders({so['salesorderid']})?$expand=order_details")["order_details"]
    response = patch(dataverse, f"salesorderdetails({lines[0]['salesorderdetailid']})", {"isproductoverridden": False})
    assert response.status_code == 400


def test_fulfill_sales_order(dataverse: EmulatorHandle) -> None:
    so = order(dataverse)
    path = f"salesorders({so['salesorderid']})"
    patch(dataverse, path, {"statecode": 1})
    body = {
        "OrderClose": {"subject": "Shipped", "salesorderid@odata.bind": f"/salesorders({so['salesorderid']})"},
        "Status": 100002,
    }
    assert dataverse.session.post(api(dataverse, "FulfillSalesOrder"), json=body).status_code == 204
    after = get(dataverse, path)
    assert (after["statecode"], after["statuscode"]) == (3, 100002)
    again = dataverse.session.post(api(dataverse, "FulfillSalesOrder"), json=body)
    assert again.status_code == 400
    bad_status = {**body, "Status": 4}
    other = order(dataverse)
    bad_status["OrderClose"] = {"salesorderid@odata.bind": f"/salesorders({other['salesorderid']})"}
    assert dataverse.session.post(api(dataverse, "FulfillSalesOrder"), json=bad_status).status_code == 400
    assert dataverse.session.post(api(dataverse, "FulfillSalesOrder"), json={"Status": 100001}).status_code == 400


def test_quote_lifecycle_win(dataverse: EmulatorHandle) -> None:
    q = quote(dataverse)
    path = f"quotes({q['quoteid']})"
    win = {"QuoteClose": {"subject": "Won", "quoteid@odata.bind": f"/quotes({q['quoteid']})"}, "Status": 4}
    draft_win = dataverse.session.post(api(dataverse, "WinQuote"), json=win)
    assert draft_win.status_code == 400  # a draft quote must be activated first
    assert patch(dataverse, path, {"statecode": 1, "statuscode": 2}).status_code == 204
    assert patch(dataverse, path, {"name": "Edited while active"}).status_code == 400
    assert dataverse.session.post(api(dataverse, "WinQuote"), json=win).status_code == 204
    won = get(dataverse, path)
    assert (won["statecode"], won["statuscode"]) == (2, 4)
    assert patch(dataverse, path, {"name": "Edited after won"}).status_code == 400


def test_close_quote_as_lost(dataverse: EmulatorHandle) -> None:
    q = quote(dataverse)
    patch(dataverse, f"quotes({q['quoteid']})", {"statecode": 1})
    close = {"QuoteClose": {"subject": "Lost", "quoteid@odata.bind": f"/quotes({q['quoteid']})"}, "Status": 5}
    assert dataverse.session.post(api(dataverse, "CloseQuote"), json=close).status_code == 204
    closed = get(dataverse, f"quotes({q['quoteid']})")
    assert (closed["statecode"], closed["statuscode"]) == (3, 5)
    win = {"QuoteClose": {"quoteid@odata.bind": f"/quotes({q['quoteid']})"}, "Status": 4}
    assert dataverse.session.post(api(dataverse, "WinQuote"), json=win).status_code == 400


def test_revise_quote_creates_next_revision_and_closes_old(dataverse: EmulatorHandle) -> None:
    q = quote(dataverse)
    patch(dataverse, f"quotes({q['quoteid']})", {"statecode": 1})
    response = dataverse.session.post(
        api(dataverse, "ReviseQuote"), json={"QuoteId": q["quoteid"], "ColumnSet": {"AllColumns": True}}
    )
    assert response.status_code == 200, response.text
    revised = response.json()
    assert revised["quoteid"] != q["quoteid"]
    assert revised["quotenumber"] == q["quotenumber"]
    assert revised["revisionnumber"] == (q.get("revisionnumber") or 0) + 1
    assert (revised["statecode"], revised["statuscode"]) == (0, 1)
    old = get(dataverse, f"quotes({q['quoteid']})")
    assert (old["statecode"], old["statuscode"]) == (3, 7)
    lines = get(dataverse, f"quotes({revised['quoteid']})?$expand=quote_details")["quote_details"]
    assert [line["productdescription"] for line in lines] == ["Widget"]
    twice = dataverse.session.post(api(dataverse, "ReviseQuote"), json={"QuoteId": q["quoteid"]})
    assert twice.status_code == 400  # a revised quote cannot be revised again


def test_new_products_start_in_draft_and_are_published_by_set_state(dataverse: EmulatorHandle) -> None:
    product = create(dataverse, "products", {"name": "Bicycle", "productnumber": "1000"})
    assert (product["statecode"], product["statuscode"]) == (2, 0)
    path = f"products({product['productid']})"
    assert patch(dataverse, path, {"statecode": 0, "statuscode": 1}).status_code == 204
    assert get(dataverse, path)["statecode"] == 0
    missing = dataverse.session.post(api(dataverse, "products"), json={"name": "No number"})
    assert missing.status_code == 400


def test_posts_on_the_order_timeline_cannot_be_updated(dataverse: EmulatorHandle) -> None:
    so = order(dataverse)
    post = create(
        dataverse,
        "posts",
        {
            "text": "The order status has changed to Released.",
            "source": 1,
            "type": 7,
            "regardingobjectid_salesorder@odata.bind": f"/salesorders({so['salesorderid']})",
        },
    )
    assert post["_regardingobjectid_value"] == so["salesorderid"]
    assert patch(dataverse, f"posts({post['postid']})", {"text": "edited"}).status_code == 400
    no_text = dataverse.session.post(
        api(dataverse, "posts"),
        json={"source": 1, "type": 7, "regardingobjectid_salesorder@odata.bind": f"/salesorders({so['salesorderid']})"},
    )
    assert no_text.status_code == 400


def test_who_am_i_names_the_application_user(dataverse: EmulatorHandle) -> None:
    who = dataverse.session.get(api(dataverse, "WhoAmI")).json()
    user = get(dataverse, f"systemusers({who['UserId']})")
    assert user["systemuserid"] == who["UserId"]


def test_demo_seed_is_coherent(dataverse: EmulatorHandle) -> None:
    created = dataverse.admin("POST", "seed", json={"profile": "demo"}).json()["created"]
    accounts = dataverse.session.get(
        api(dataverse, "accounts"), params={"$select": "name,_transactioncurrencyid_value", "$count": "true"}
    ).json()
    assert accounts["@odata.count"] == created["account"] > 0
    currencies = {
        row["transactioncurrencyid"]
        for row in dataverse.session.get(api(dataverse, "transactioncurrencies")).json()["value"]
    }
    assert all(row["_transactioncurrencyid_value"] in currencies for row in accounts["value"])
