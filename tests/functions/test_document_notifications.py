"""Money documents within seconds (issue 23 item 1), through the registered functions over the real stack: BC's
API v2.0 webhooks on salesInvoices and salesOrders (the emulator's, sent after commit) call `/api/notifications/bc`,
which wakes the sales document processes reading the set (`processRun`), run by the registered queue trigger; the
document timers never run here. BC's external business events are not used (their contract is UNCONFIRMED)."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from typing import Any

import pytest

from local.emulators.business_central.seed import COMPANY_ID
from shared.mappings import get_mapping
from shared.processes.invoices import MAPPING as INVOICES
from shared.processes.order_status import MAPPING as ORDERS
from shared.processes.sales_orders import create_in_business_central
from tests.functions import test_bc_notifications as bc_notifications
from tests.functions.test_bc_notifications import Notifying, call
from tests.integration.test_bc_webhooks_emulation import wait_for
from tests.sync.sales_documents import CANNON, CHAIR, couple_sales_basics, make_setup, sales_order

pytestmark = pytest.mark.integration
PAID_COMPLETE, ACTIVE_BILLED = (2, 100001), (0, 4)
notifying = bc_notifications.notifying  # the fixture, shared: the BC emulator's webhooks reach the registered route


def woken(n: Notifying, settle: float = 0.8) -> list[tuple[str, str]]:
    """The runs the notifications asked for, once they have arrived: (kind, mapping or process)."""
    wait_for(lambda: bool(n.runs()), 10)
    time.sleep(settle)  # a later notification of the same change would add to them
    return sorted((r.kind.value, str(r.payload.get("process") or r.payload.get("mapping"))) for r in n.runs())


def order_integration(n: Notifying) -> None:
    n.api.services.environment = {**n.api.services.environment, "SALES_ORDER_INTEGRATION_ENABLED": "true"}


def posted_invoice(n: Notifying) -> str:
    """A draft invoice of the coupled Cannon customer, posted after the subscriptions exist; its BC id."""
    context = n.api.services.context
    couple_sales_basics(context)
    draft = context.bc.create_entity(
        "salesInvoices",
        {"customerId": CANNON, "salesInvoiceLines": [{"lineType": "Item", "itemId": CHAIR, "quantity": 2}]},
    )
    n.ensure()
    assert n.runs() == []
    context.bc.invoke_action("salesInvoices", str(draft["id"]), "post")
    return str(draft["id"])


def sales_state(n: Notifying, bc_invoice_id: str) -> tuple[int, int] | None:
    coupling = n.api.services.context.couplings.find_by_bc_id(INVOICES, bc_invoice_id)
    if coupling is None:
        return None
    row = n.api.services.context.dataverse.get_row("invoices", coupling.dataverse_id, ["statecode", "statuscode"])
    return int((row or {})["statecode"]), int((row or {})["statuscode"])


def pay(n: Notifying, invoice_id: str, amount: float) -> None:
    n.bc.admin("POST", "payments", json={"invoiceId": invoice_id, "amount": amount}).raise_for_status()


def test_an_invoice_posted_in_bc_reaches_sales_billed_through_one_process_run(notifying: Notifying) -> None:
    invoice_id = posted_invoice(notifying)
    # orderStatus reads salesInvoices too, but sales-order integration is off in setup: not woken
    assert woken(notifying) == [("processRun", "postedInvoices")]
    assert sales_state(notifying, invoice_id) is None  # nothing before the woken run
    assert notifying.drain() == 1
    assert sales_state(notifying, invoice_id) == ACTIVE_BILLED


def test_a_payment_applied_in_bc_moves_the_sales_invoice_to_paid(notifying: Notifying) -> None:
    invoice_id = posted_invoice(notifying)
    woken(notifying)
    notifying.drain()
    total = float(
        (notifying.api.services.context.bc.get_entity("salesInvoices", invoice_id) or {})["totalAmountIncludingTax"]
    )
    pay(notifying, invoice_id, total)  # paid in full: BC's aggregate status becomes Paid
    assert woken(notifying) == [("processRun", "postedInvoices")]
    assert sales_state(notifying, invoice_id) == ACTIVE_BILLED
    assert notifying.drain() == 1
    assert sales_state(notifying, invoice_id) == PAID_COMPLETE


def test_a_burst_of_payments_makes_at_most_two_runs(notifying: Notifying) -> None:
    invoice_id = posted_invoice(notifying)
    woken(notifying)
    notifying.drain()
    total = float(
        (notifying.api.services.context.bc.get_entity("salesInvoices", invoice_id) or {})["totalAmountIncludingTax"]
    )
    for _ in range(40):
        pay(notifying, invoice_id, 1)
    pay(notifying, invoice_id, round(total - 40, 2))
    wait_for(lambda: bool(notifying.runs()), 10)
    time.sleep(1.5)  # past the next window: every notification of the burst has arrived
    runs = notifying.runs()
    assert 1 <= len(runs) <= 2 and {r.payload["process"] for r in runs} == {"postedInvoices"}
    assert notifying.drain() == len(runs)
    assert sales_state(notifying, invoice_id) == PAID_COMPLETE


def test_a_released_order_gets_its_timeline_post_and_its_invoice_both_processes(notifying: Notifying) -> None:
    order_integration(notifying)
    context = notifying.api.services.context
    ids = couple_sales_basics(context)
    order_id = sales_order(context, ids["account"], [{"productid": ids["desk"], "quantity": 2, "priceperunit": 900}])
    created = create_in_business_central(context, make_setup(), order_id)
    report = notifying.ensure()
    assert {"salesInvoices", "salesOrders"} <= set(report.created)
    assert notifying.runs() == []
    notifying.bc.admin("POST", "release", json={"orderId": created.bc_id}).raise_for_status()
    assert woken(notifying) == [("processRun", "orderStatus")]  # salesOrders wakes no posted-invoice run
    assert notifying.drain() == 1
    assert posts(notifying, order_id) == [
        f"The order status has changed to Released. (Business Central order {created.bc_number})"
    ]
    context.bc.invoke_action("salesOrders", created.bc_id, "shipAndInvoice")  # order deleted, invoice created
    assert woken(notifying) == [("processRun", "orderStatus"), ("processRun", "postedInvoices")]
    notifying.drain()
    texts = posts(notifying, order_id)
    assert len(texts) == 3 and any("shipment" in t for t in texts) and any("invoice has been" in t for t in texts)
    order = context.dataverse.get_row("salesorders", order_id, ["statecode", "statuscode"]) or {}
    assert (order["statecode"], order["statuscode"]) == (4, 100003)  # Invoiced
    coupling = context.couplings.find_by_dataverse_id(ORDERS, order_id)
    assert coupling is not None
    invoice = [
        r
        for p in context.bc.list_changed_since("salesInvoices", None, ["id", "orderNumber"])
        for r in p.rows
        if r["orderNumber"] == created.bc_number
    ]
    assert sales_state(notifying, str(invoice[0]["id"])) == ACTIVE_BILLED


def posts(n: Notifying, order_id: str) -> list[str]:
    rows = [
        r
        for p in n.api.services.context.dataverse.list_changed_since(
            "posts", None, ["text"], extra_filter=f"_regardingobjectid_value eq {order_id}"
        )
        for r in p.rows
    ]
    return sorted(str(r["text"]) for r in rows)


def test_a_process_disabled_in_setup_is_not_woken_and_loses_its_webhook(notifying: Notifying) -> None:
    couple_sales_basics(notifying.api.services.context)
    notifying.ensure()
    subscription = next(s for s in notifying.store.all() if s.entity_set == "salesInvoices")
    notifying.api.stack.use(replace(get_mapping(INVOICES), enabled=False))  # POSTEDSALESINV-INV switched off
    entry: dict[str, Any] = {
        "subscriptionId": subscription.subscription_id,
        "clientState": subscription.client_state,
        "changeType": "updated",
        "resource": f"api/v2.0/companies({COMPANY_ID})/salesInvoices({CANNON})",
    }
    status, body, _ = call("POST", {}, json.dumps({"value": [entry]}).encode())
    assert (status, json.loads(body)) == (202, {"woken": []})
    assert notifying.runs() == []
    report = notifying.ensure()  # the next timer tick: no process reads salesInvoices any more
    assert "salesInvoices" in report.deleted and "salesOrders" not in report.created


def test_a_forged_notification_for_a_document_set_is_401_and_wakes_nothing(notifying: Notifying) -> None:
    notifying.ensure()
    subscription = next(s for s in notifying.store.all() if s.entity_set == "salesInvoices")
    entry = {
        "subscriptionId": subscription.subscription_id,
        "clientState": "guessed",
        "changeType": "created",
        "resource": f"api/v2.0/companies({COMPANY_ID})/salesInvoices",
    }
    status, body, _ = call("POST", {}, json.dumps({"value": [entry]}).encode())
    assert status == 401 and json.loads(body)["error"]["code"] == "unauthorized"
    assert b"guessed" not in body and subscription.client_state.encode() not in body
    time.sleep(0.3)
    assert notifying.runs() == []
