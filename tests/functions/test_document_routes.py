"""The sales document routes through the registered functions: statuses and bodies a caller relies on."""

from __future__ import annotations

import uuid

import pytest

from tests.functions.conftest import Api
from tests.sync.sales_documents import WRITE_IN_NUMBER, add_write_in_item, couple_sales_basics, sales_order

pytestmark = pytest.mark.integration


def test_create_sales_order_in_bc_route(api: Api) -> None:
    context = api.stack.context
    ids = couple_sales_basics(context)
    add_write_in_item(context)
    status, body = api.call("patch_setup", "PATCH", {"writeInProductNumber": WRITE_IN_NUMBER})
    assert status == 200, body
    order_id = sales_order(context, ids["account"], [{"productdescription": "Gift wrap", "quantity": 1}])
    route = {"dataverseId": order_id}
    status, created = api.call("create_sales_order_in_bc", "POST", route=route)
    assert status == 201 and created["status"] == "created" and created["bcNumber"]
    status, again = api.call("create_sales_order_in_bc", "POST", route=route)
    assert (status, again["status"], again["bcId"]) == (200, "alreadyCreated", created["bcId"])


def test_create_sales_order_in_bc_refusals(api: Api) -> None:
    context = api.stack.context
    ids = couple_sales_basics(context)
    status, body = api.call("create_sales_order_in_bc", "POST", route={"dataverseId": "not-a-guid"})
    assert (status, body["error"]["field"]) == (400, "dataverseId")
    status, body = api.call("create_sales_order_in_bc", "POST", route={"dataverseId": str(uuid.uuid4())})
    assert (status, body["error"]["code"]) == (404, "orderNotFound")
    draft = sales_order(context, ids["account"], [{"productid": ids["desk"], "quantity": 1}], submit=False)
    status, body = api.call("create_sales_order_in_bc", "POST", route={"dataverseId": draft})
    assert (status, body["error"]["code"]) == (409, "orderNotSubmitted")
    write_in = sales_order(context, ids["account"], [{"productdescription": "Gift wrap", "quantity": 1}])
    status, body = api.call("create_sales_order_in_bc", "POST", route={"dataverseId": write_in})
    assert (status, body["error"]["code"], body["error"]["field"]) == (
        422,
        "writeInProductMissing",
        "writeInProductNumber",
    )


def test_create_posted_invoice_in_dataverse_route(api: Api) -> None:
    from tests.sync.test_posted_invoices import invoiced_order

    _, invoice_id = invoiced_order(api.stack)
    status, body = api.call("create_posted_invoice_in_dataverse", "POST", route={"bcId": invoice_id})
    assert status == 201 and body["status"] == "created", body
    status, again = api.call("create_posted_invoice_in_dataverse", "POST", route={"bcId": invoice_id})
    assert (status, again["dataverseId"]) == (200, body["dataverseId"])
    status, body = api.call("create_posted_invoice_in_dataverse", "POST", route={"bcId": str(uuid.uuid4())})
    assert (status, body["error"]["code"]) == (404, "invoiceNotFound")
    status, body = api.call("create_posted_invoice_in_dataverse", "POST", route={"bcId": "x"})
    assert (status, body["error"]["field"]) == (400, "bcId")


def test_quote_process_and_archive_routes(api: Api) -> None:
    from tests.sync.test_quotes import revise, sales_quote

    ids = couple_sales_basics(api.stack.context)
    first = sales_quote(api.stack, ids["account"], [{"productid": ids["desk"], "quantity": 1}])
    status, body = api.call("process_quote", "POST", route={"dataverseId": first})
    assert status == 200 and body["status"] == "created", body
    second = revise(api.stack, first, 5)
    status, body = api.call("process_quote", "POST", route={"dataverseId": second})
    assert status == 200 and body["status"] == "revised"
    status, body = api.call("get_quote_archive", route={"dataverseId": second})
    assert status == 200 and [v["revision"] for v in body["value"]] == [0]
    assert body["value"][0]["document"]["salesQuoteLines"][0]["quantity"] == 1
    status, body = api.call("process_quote", "POST", route={"dataverseId": str(uuid.uuid4())})
    assert (status, body["error"]["code"]) == (404, "quoteNotFound")
    status, body = api.call("get_quote_archive", route={"dataverseId": "nope"})
    assert (status, body["error"]["field"]) == (400, "dataverseId")


def test_the_generic_engine_refuses_mappings_their_processes_run(api: Api) -> None:
    status, body = api.call("start_full_sync", "POST", {"mappings": ["CURRENCY", "POSTEDSALESINV-INV"], "start": False})
    assert status == 202, body
    assert "invoice process" in body["notRunnable"]["POSTEDSALESINV-INV"]
    assert [line["mapping"] for line in body["lines"]] == ["CURRENCY"]
    status, body = api.call(
        "synchronize_now",
        "POST",
        {"mapping": "POSTEDSALESINV-INV", "bcId": str(uuid.uuid4()), "direction": "toDataverse"},
    )
    assert (status, body["error"]["code"]) == (409, "mappingNotRunnable")
