"""BC emulator over real HTTP: a customer BC would not delete is refused (`api/delete_rules.py`): one with an
outstanding sales document, one with ledger entries (a posted invoice); once its quote is gone it is deleted."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests

from tests.conftest import BusinessCentralHandle

pytestmark = pytest.mark.integration
ANY = {"If-Match": "*"}


def _ok(response: requests.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def _customer(bc: BusinessCentralHandle, root: str) -> dict[str, Any]:
    body = {"displayName": f"Delete rules {uuid.uuid4().hex[:8]}"}
    row: dict[str, Any] = _ok(bc.session.post(f"{root}/customers", json=body), 201)
    return row


def _document(bc: BusinessCentralHandle, root: str, entity_set: str, customer: dict[str, Any]) -> dict[str, Any]:
    lines = {"salesQuotes": "salesQuoteLines", "salesOrders": "salesOrderLines"}[entity_set]
    body = {"customerId": customer["id"], lines: [{"lineType": "Item", "lineObjectNumber": "1896-S", "quantity": 1}]}
    row: dict[str, Any] = _ok(bc.session.post(f"{root}/{entity_set}", json=body), 201)
    return row


def _refusal(response: requests.Response) -> str:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "Application_DialogException"  # an error of the record's trigger
    return str(error["message"])


def test_a_customer_with_an_outstanding_quote_is_kept_until_the_quote_goes(
    business_central: BusinessCentralHandle, bc_demo: str
) -> None:
    bc, root = business_central, bc_demo
    customer = _customer(bc, root)
    quote = _document(bc, root, "salesQuotes", customer)

    message = _refusal(bc.session.delete(f"{root}/customers({customer['id']})", headers=ANY))
    assert "outstanding sales quote" in message and customer["number"] in message
    _ok(bc.session.get(f"{root}/customers({customer['id']})"))  # still there

    _ok(bc.session.delete(f"{root}/salesQuotes({quote['id']})", headers=ANY), 204)
    _ok(bc.session.delete(f"{root}/customers({customer['id']})", headers=ANY), 204)
    assert bc.session.get(f"{root}/customers({customer['id']})").status_code == 404


def test_a_customer_with_ledger_entries_is_not_deleted(business_central: BusinessCentralHandle, bc_demo: str) -> None:
    bc, root = business_central, bc_demo
    customer = _customer(bc, root)
    order = _document(bc, root, "salesOrders", customer)
    _ok(bc.session.post(f"{root}/salesOrders({order['id']})/Microsoft.NAV.shipAndInvoice"), 204)

    message = _refusal(bc.session.delete(f"{root}/customers({customer['id']})", headers=ANY))
    assert "ledger entries" in message
    _ok(bc.session.get(f"{root}/customers({customer['id']})"))
