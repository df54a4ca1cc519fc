"""The Sales documents page's stories, set up as a salesperson and a BC user would: customers coupled, sales order
integration on with a write-in product, then Sales orders and quotes with write-in lines (no product coupling needed),
a BC order shipped and invoiced, and a payment posted in the BC emulator."""

from __future__ import annotations

import uuid

from local.emulators.business_central.seed import seeded_id as bc_seeded
from tests.browser.scenario import Scenario

WRITE_IN = "WRITE-IN"
CANNON = "The Cannon Group PLC"


def sales_ready(scenario: Scenario) -> str:
    """Customers coupled (by name), sales order integration on, the write-in product set up; Cannon's account id."""
    scenario.couple_customers()
    scenario.bc("POST", "items", {"number": WRITE_IN, "displayName": "Write-in product"})
    scenario.api("PATCH", "setup", {"salesOrderIntegrationEnabled": True, "writeInProductNumber": WRITE_IN})
    return scenario.account_of(CANNON)


def submitted_order(scenario: Scenario, account: str, name: str, write_in: str, quantity: int = 2) -> str:
    """A Sales order of `account` with one write-in line, submitted; its id."""
    order_id = str(uuid.uuid4())
    scenario.dataverse(
        "POST",
        "salesorders",
        {"salesorderid": order_id, "name": name, "customerid_account@odata.bind": f"/accounts({account})"},
    )
    line = {"isproductoverridden": True, "productdescription": write_in, "quantity": quantity, "priceperunit": 40}
    scenario.dataverse("POST", "salesorderdetails", {**line, "salesorderid@odata.bind": f"/salesorders({order_id})"})
    scenario.dataverse("PATCH", f"salesorders({order_id})", {"statecode": 1, "statuscode": 3})
    return order_id


def active_quote(scenario: Scenario, account: str, name: str, write_in: str) -> str:
    """A Sales quote of `account` with one write-in line, activated; its id."""
    quote_id = str(uuid.uuid4())
    scenario.dataverse(
        "POST", "quotes", {"quoteid": quote_id, "name": name, "customerid_account@odata.bind": f"/accounts({account})"}
    )
    line = {"isproductoverridden": True, "productdescription": write_in, "quantity": 1, "priceperunit": 120}
    scenario.dataverse("POST", "quotedetails", {**line, "quoteid@odata.bind": f"/quotes({quote_id})"})
    scenario.dataverse("PATCH", f"quotes({quote_id})", {"statecode": 1, "statuscode": 2})
    return quote_id


def posted_invoice(scenario: Scenario, account: str) -> dict[str, object]:
    """A Sales order made a BC order through the API, then shipped and invoiced in BC: its posted invoice."""
    order_id = submitted_order(scenario, account, "Invoiced order", "Site survey", quantity=3)
    created = scenario.api("POST", f"sales-orders/{order_id}/create-in-business-central", expect=201)
    scenario.bc("POST", f"salesOrders({created['bcId']})/Microsoft.NAV.shipAndInvoice")
    found = scenario.bc("GET", f"salesInvoices?$filter=orderNumber eq '{created['bcNumber']}'")["value"]
    assert len(found) == 1, found
    invoice: dict[str, object] = found[0]
    return invoice


def pay(scenario: Scenario, invoice_id: str, amount: float) -> None:
    """A customer payment posted in BC and applied to the invoice (the BC emulator's admin route)."""
    url = f"{scenario.stack.urls['business_central']}/_admin/payments"
    scenario.session.post(url, json={"invoiceId": invoice_id, "amount": amount}, timeout=30).raise_for_status()


def cannon_id() -> str:
    return bc_seeded("customer", CANNON)
