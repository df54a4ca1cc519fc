"""The Sales documents lists through the registered functions, over the real stack: what each row shows in each state
(ready, refused with its reason, created with its BC number; processed quotes; invoices not in Sales, billed, then
paid), paging by `top` / `continuationToken`, and the 400s naming the field."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from local.emulators.business_central.seed import seeded_id as bc_seeded
from shared.domain.coupling import Coupling
from tests.functions.conftest import Api
from tests.sync.sales_documents import WRITE_IN_NUMBER, add_write_in_item, couple_sales_basics, sales_order

pytestmark = pytest.mark.integration
CANNON = bc_seeded("customer", "The Cannon Group PLC")


def listed(api: Api, name: str, **params: str) -> dict[str, Any]:
    status, body = api.call(name, params=params)
    assert status == 200, body
    answer: dict[str, Any] = body
    return answer


def by_id(body: dict[str, Any], key: str = "dataverseId") -> dict[str, dict[str, Any]]:
    return {row[key]: row for row in body["value"]}


def test_sales_orders_show_ready_refused_and_created_with_their_bc_number(api: Api) -> None:
    context = api.stack.context
    ids = couple_sales_basics(context)
    ready = sales_order(context, ids["account"], [{"productid": ids["desk"], "quantity": 1}], name="Desk")
    write_in = sales_order(context, ids["account"], [{"productdescription": "Gift wrap", "quantity": 1}], name="Wrap")
    draft = sales_order(context, ids["account"], [{"productid": ids["desk"], "quantity": 1}], submit=False)
    status, body = api.call("create_sales_order_in_bc", "POST", route={"dataverseId": write_in})
    assert (status, body["error"]["code"]) == (422, "writeInProductMissing")

    rows = by_id(listed(api, "list_sales_orders"))
    assert draft not in rows  # Active: not submitted to the back office
    assert (rows[ready]["outcome"], rows[ready]["canCreate"], rows[ready]["bcOrder"]) == ("ready", True, None)
    assert (rows[ready]["name"], rows[ready]["state"], rows[ready]["customer"]["id"]) == (
        "Desk",
        "Submitted",
        ids["account"],
    )
    assert rows[ready]["customer"]["name"] == "The Cannon Group PLC"
    refused = rows[write_in]
    assert (refused["outcome"], refused["canCreate"], refused["error"]["code"]) == (
        "refused",
        True,
        "writeInProductMissing",
    )
    assert "write-in" in refused["error"]["message"].lower()

    status, created = api.call("create_sales_order_in_bc", "POST", route={"dataverseId": ready})
    assert status == 201, created
    add_write_in_item(context)
    assert api.call("patch_setup", "PATCH", {"writeInProductNumber": WRITE_IN_NUMBER})[0] == 200
    status, second = api.call("create_sales_order_in_bc", "POST", route={"dataverseId": write_in})
    assert status == 201, second

    rows = by_id(listed(api, "list_sales_orders"))
    for order, answer in ((ready, created), (write_in, second)):
        row = rows[order]
        assert (row["outcome"], row["canCreate"], row["error"]) == ("created", False, None)
        assert row["bcOrder"] == {"id": answer["bcId"], "number": answer["bcNumber"]}
        bc_order = api.stack.bc.get_entity("salesOrders", answer["bcId"], ["number"]) or {}
        assert bc_order["number"] == answer["bcNumber"]
    assert listed(api, "list_sales_orders", pending="true")["value"] == []  # BC's list: all sent


def test_an_order_of_an_uncoupled_customer_is_refused_with_what_to_couple(api: Api) -> None:
    context = api.stack.context
    account = str(uuid.uuid4())
    context.dataverse.create_row("accounts", account, {"name": "Walk-in customer"})
    order = sales_order(context, account, [{"productdescription": "Gift wrap", "quantity": 1}])
    assert api.call("create_sales_order_in_bc", "POST", route={"dataverseId": order})[0] == 422
    row = by_id(listed(api, "list_sales_orders", pending="true"))[order]
    assert (row["outcome"], row["error"]["code"], row["customer"]["name"]) == (
        "refused",
        "customerNotCoupled",
        "Walk-in customer",
    )
    assert row["customer"]["anotherCompany"] is False


def test_sales_orders_page_by_top_and_continuation_token(api: Api) -> None:
    context = api.stack.context
    ids = couple_sales_basics(context)
    made = {sales_order(context, ids["account"], [{"productid": ids["desk"], "quantity": n}]) for n in range(1, 6)}
    seen: list[str] = []
    sizes: list[int] = []
    params = {"top": "2"}
    while True:
        page = listed(api, "list_sales_orders", **params)
        sizes.append(len(page["value"]))
        seen += [row["dataverseId"] for row in page["value"]]
        if page["continuationToken"] is None:
            break
        params = {"top": "2", "continuationToken": page["continuationToken"]}
    assert sizes == [2, 2, 1] and len(seen) == 5 and set(seen) == made


@pytest.mark.parametrize(
    ("name", "params", "field"),
    [
        ("list_sales_orders", {"top": "0"}, "top"),
        ("list_sales_orders", {"top": "1001"}, "top"),
        ("list_quotes", {"top": "ten"}, "top"),
        ("list_sales_orders", {"pending": "yes"}, "pending"),
        ("list_quotes", {"state": "Open"}, "state"),
        ("list_posted_sales_invoices", {"continuationToken": "not-a-token"}, "continuationToken"),
        ("list_quotes", {"continuationToken": "e30"}, "continuationToken"),  # {}: no list named
        ("list_sales_orders", {"sort": "name"}, "sort"),
    ],
)
def test_bad_paging_and_filters_are_400s_naming_the_field(
    api: Api, name: str, params: dict[str, str], field: str
) -> None:
    status, body = api.call(name, params=params)
    assert (status, body["error"]["field"]) == (400, field), body


def test_a_token_of_another_list_or_a_forged_one_is_refused(api: Api) -> None:
    from shared.engine.list_pages import token_after

    ids = couple_sales_basics(api.stack.context)
    for n in (1, 2):
        sales_order(api.stack.context, ids["account"], [{"productid": ids["desk"], "quantity": n}])
    token = listed(api, "list_sales_orders", top="1")["continuationToken"]
    assert token
    status, body = api.call("list_quotes", params={"continuationToken": token})
    assert (status, body["error"]["code"]) == (400, "invalidContinuationToken")
    forged = token_after("salesOrders", {"modifiedon": "2026-01-01T00:00:00Z or 1 eq 1", "id": str(uuid.uuid4())})
    status, body = api.call("list_sales_orders", params={"continuationToken": forged})
    assert (status, body["error"]["field"]) == (400, "continuationToken")


def test_quotes_show_revision_state_and_their_bc_quote(api: Api) -> None:
    from tests.sync.test_quotes import revise, sales_quote

    ids = couple_sales_basics(api.stack.context)
    first = sales_quote(api.stack, ids["account"], [{"productid": ids["desk"], "quantity": 1}])
    row = by_id(listed(api, "list_quotes"))[first]
    assert (row["revisionNumber"], row["state"], row["outcome"], row["canProcess"]) == (0, "Active", "ready", True)
    status, processed = api.call("process_quote", "POST", route={"dataverseId": first})
    assert status == 200, processed
    number = (api.stack.bc.get_entity("salesQuotes", processed["bcId"], ["number"]) or {})["number"]
    row = by_id(listed(api, "list_quotes"))[first]
    assert (row["outcome"], row["canProcess"], row["bcQuote"]) == (
        "processed",
        False,
        {"id": processed["bcId"], "number": number},
    )

    second = revise(api.stack, first, 3)
    rows = by_id(listed(api, "list_quotes"))
    assert (rows[second]["revisionNumber"], rows[second]["outcome"]) == (1, "ready")
    assert api.call("process_quote", "POST", route={"dataverseId": second})[1]["status"] == "revised"
    rows = by_id(listed(api, "list_quotes"))
    assert (rows[second]["outcome"], rows[second]["bcQuote"]["number"]) == ("processed", number)
    assert (rows[first]["state"], rows[first]["status"], rows[first]["outcome"]) == ("Closed", "Revised", "notActive")
    closed = listed(api, "list_quotes", state="Closed")["value"]
    assert [row["dataverseId"] for row in closed] == [first]


def test_a_won_quote_waits_for_its_order(api: Api) -> None:
    from tests.sync.test_quotes import sales_quote

    ids = couple_sales_basics(api.stack.context)
    quote = sales_quote(api.stack, ids["account"], [{"productid": ids["desk"], "quantity": 1}])
    api.stack.dataverse.win_quote(quote)
    assert by_id(listed(api, "list_quotes", state="Won"))[quote]["outcome"] == "ready"
    status, body = api.call("process_quote", "POST", route={"dataverseId": quote})
    assert (status, body["won"]) == (200, "waitingForOrder"), body
    row = by_id(listed(api, "list_quotes", state="Won"))[quote]
    assert (row["outcome"], row["canProcess"]) == ("waitingForOrder", True)


def test_posted_invoices_show_their_sales_status_from_not_in_sales_to_paid(api: Api) -> None:
    from tests.sync.test_posted_invoices import invoiced_order

    _, invoice_id = invoiced_order(api.stack)
    row = by_id(listed(api, "list_posted_sales_invoices"), "bcId")[invoice_id]
    bc_invoice = api.stack.bc.get_entity("salesInvoices", invoice_id) or {}
    assert (row["number"], row["totalAmountIncludingTax"]) == (
        bc_invoice["number"],
        bc_invoice["totalAmountIncludingTax"],
    )
    assert (row["customer"]["number"], row["customer"]["coupled"]) == ("C00010", True)
    assert (row["salesStatus"], row["paymentStatus"], row["canCreate"], row["salesInvoice"]) == (
        "not in Sales",
        "Billed",
        True,
        None,
    )
    status, created = api.call("create_posted_invoice_in_dataverse", "POST", route={"bcId": invoice_id})
    assert status == 201, created
    row = by_id(listed(api, "list_posted_sales_invoices"), "bcId")[invoice_id]
    assert (row["salesStatus"], row["canCreate"], row["salesInvoice"]["dataverseId"]) == (
        "Billed",
        False,
        created["dataverseId"],
    )

    pay = {"invoiceId": invoice_id, "amount": bc_invoice["totalAmountIncludingTax"]}
    api.stack.bc_handle.admin("POST", "payments", json=pay).raise_for_status()
    row = by_id(listed(api, "list_posted_sales_invoices"), "bcId")[invoice_id]
    assert (row["salesStatus"], row["paymentStatus"]) == ("Billed", "Paid Complete")  # Sales not told yet
    assert api.call("update_customer_statistics", "POST", route={"bcId": CANNON})[0] == 200
    row = by_id(listed(api, "list_posted_sales_invoices"), "bcId")[invoice_id]
    assert row["salesStatus"] == "Paid Complete"


def test_posted_invoices_page_in_id_order(api: Api) -> None:
    bc = api.stack.bc
    for _ in range(3):
        lines = [{"lineType": "Item", "lineObjectNumber": "1896-S", "quantity": 1}]
        draft = bc.create_entity("salesInvoices", {"customerId": CANNON, "salesInvoiceLines": lines})
        bc.invoke_action("salesInvoices", str(draft["id"]), "post")
    everything = [r["id"] for p in bc.list_changed_since("salesInvoices", None, ["id"], None, "status ne 'Draft'")
                  for r in p.rows]  # fmt: skip
    seen: list[str] = []
    params = {"top": "2"}
    while True:
        page = listed(api, "list_posted_sales_invoices", **params)
        assert len(page["value"]) <= 2
        seen += [row["bcId"] for row in page["value"]]
        if page["continuationToken"] is None:
            break
        params = {"top": "2", "continuationToken": page["continuationToken"]}
    assert sorted(seen) == sorted(everything) and len(seen) == len(set(seen)) >= 3
    assert all(row["canCreate"] is False for row in listed(api, "list_posted_sales_invoices")["value"])  # uncoupled


def test_customer_statistics_by_number_before_and_after_update(api: Api) -> None:
    body = listed_statistics(api, "C00010")
    assert (body["bcId"], body["name"], body["coupled"], body["values"]) == (
        CANNON,
        "The Cannon Group PLC",
        False,
        None,
    )
    account = str(uuid.uuid4())
    api.stack.dataverse.create_row("accounts", account, {"name": "The Cannon Group PLC"})
    api.stack.context.couplings.create_coupling(Coupling("CUSTOMER", CANNON, account))
    body = listed_statistics(api, CANNON.upper())
    assert (body["coupled"], body["accountId"], body["statisticsId"], body["values"]) == (True, account, None, None)
    status, updated = api.call("update_customer_statistics", "POST", route={"bcId": CANNON})
    assert status == 200, updated
    body = listed_statistics(api, "C00010")
    assert body["statisticsId"] == updated["statisticsId"]
    assert body["values"]["nav_customerno"] == "C00010"
    assert body["values"]["nav_balancelcy"] == updated["values"]["nav_balancelcy"]


def listed_statistics(api: Api, customer: str) -> dict[str, Any]:
    status, body = api.call("get_customer_statistics", route={"customer": customer})
    assert status == 200, body
    answer: dict[str, Any] = body
    return answer


@pytest.mark.parametrize(("customer", "status", "field"), [("NOPE-1", 404, "customer"), ("a'b", 400, "customer")])
def test_customer_statistics_refusals(api: Api, customer: str, status: int, field: str) -> None:
    answer, body = api.call("get_customer_statistics", route={"customer": customer})
    assert (answer, body["error"]["field"]) == (status, field), body
