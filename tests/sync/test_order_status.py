"""SALESORDER-ORDER: header changes and release/ship/invoice reach the Sales order, each timeline post once."""

from __future__ import annotations

from typing import Any

import pytest

from shared.processes.order_status import CLOSED, MAPPING, events_of, update_order_status
from shared.processes.sales_orders import create_in_business_central
from tests.sync.conftest import SyncStack
from tests.sync.sales_documents import couple_sales_basics, make_setup, sales_order

pytestmark = pytest.mark.integration
SETUP = make_setup()


def posts(stack: SyncStack, order_id: str) -> list[str]:
    rows = [
        r
        for p in stack.dataverse.list_changed_since(
            "posts", None, ["postid", "text"], extra_filter=f"_regardingobjectid_value eq {order_id}"
        )
        for r in p.rows
    ]
    return sorted(str(r["text"]) for r in rows)


def created_order(stack: SyncStack) -> tuple[str, Any]:
    context = stack.context
    ids = couple_sales_basics(context)
    order_id = sales_order(context, ids["account"], [{"productid": ids["desk"], "quantity": 2, "priceperunit": 900}])
    return order_id, create_in_business_central(context, SETUP, order_id)


def test_header_changes_reach_the_submitted_sales_order_and_nothing_else_is_written(sync_stack: SyncStack) -> None:
    order_id, created = created_order(sync_stack)
    bc_order = sync_stack.bc.get_entity("salesOrders", created.bc_id) or {}
    sync_stack.bc.update_entity(
        "salesOrders",
        created.bc_id,
        {"requestedDeliveryDate": "2027-01-20", "shipToCity": "Leeds"},
        bc_order["@odata.etag"],
    )
    result = update_order_status(sync_stack.context, SETUP)
    assert (result.orders, result.updated, result.posts, result.failed) == (1, 1, 0, 0), result
    sales = sync_stack.dataverse.get_row("salesorders", order_id) or {}
    assert str(sales["requestdeliveryby"])[:10] == "2027-01-20" and sales["shipto_city"] == "Leeds"
    assert sales["statecode"] == 1  # submitted again after the write
    again = update_order_status(sync_stack.context, SETUP)
    assert (again.updated, again.posts) == (0, 0)


def test_release_ship_and_invoice_post_once_each_and_close_the_order(sync_stack: SyncStack) -> None:
    order_id, created = created_order(sync_stack)
    assert update_order_status(sync_stack.context, SETUP).posts == 0  # nothing happened yet
    sync_stack.bc_handle.admin("POST", "release", json={"orderId": created.bc_id}).raise_for_status()
    first = update_order_status(sync_stack.context, SETUP)
    assert first.posts == 1 and posts(sync_stack, order_id) == [
        f"The order status has changed to Released. (Business Central order {created.bc_number})"
    ]
    assert update_order_status(sync_stack.context, SETUP).posts == 0  # exactly once
    sync_stack.bc.invoke_action("salesOrders", created.bc_id, "shipAndInvoice")
    second = update_order_status(sync_stack.context, SETUP)
    assert (second.posts, second.invoiced) == (2, 1), second
    texts = posts(sync_stack, order_id)
    assert len(texts) == 3 and any("shipment" in t for t in texts) and any("invoice has been" in t for t in texts)
    sales = sync_stack.dataverse.get_row("salesorders", order_id) or {}
    assert (sales["statecode"], sales["statuscode"]) == (4, 100003)  # Invoiced
    coupling = sync_stack.context.couplings.find_by_dataverse_id(MAPPING, order_id)
    assert coupling is not None and CLOSED in events_of(coupling)
    third = update_order_status(sync_stack.context, SETUP)
    assert (third.orders, third.posts) == (0, 0)  # a closed order is never read again


def test_an_order_deleted_in_bc_is_uncoupled_and_can_be_submitted_again(sync_stack: SyncStack) -> None:
    order_id, created = created_order(sync_stack)
    sync_stack.bc.delete_entity("salesOrders", created.bc_id)
    result = update_order_status(sync_stack.context, SETUP)
    assert result.uncoupled == 1
    assert sync_stack.context.couplings.find_by_dataverse_id(MAPPING, order_id) is None
    sales = sync_stack.dataverse.get_row("salesorders", order_id) or {}
    assert (sales["statecode"], sales["statuscode"], sales["lastbackofficesubmit"]) == (0, 2, None)


def test_nothing_runs_when_order_integration_is_off(sync_stack: SyncStack) -> None:
    created_order(sync_stack)
    assert update_order_status(sync_stack.context, make_setup(salesOrderIntegrationEnabled=False)).orders == 0
