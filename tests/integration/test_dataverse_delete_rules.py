"""Dataverse emulator over real HTTP: a customer a sales order names is not deleted (`delete_rules.py`, the strict
reading), and is once the order is gone."""

from __future__ import annotations

import pytest

from tests.conftest import EmulatorHandle
from tests.integration.dataverse_helpers import api, create, error_code

pytestmark = pytest.mark.integration


def test_an_account_named_by_an_order_is_kept_until_the_order_goes(dataverse: EmulatorHandle) -> None:
    account = create(dataverse, "accounts", {"name": "Kept by its order"})
    order = create(
        dataverse,
        "salesorders",
        {"name": "Open order", "customerid_account@odata.bind": f"/accounts({account['accountid']})"},
    )

    refused = dataverse.session.delete(api(dataverse, f"accounts({account['accountid']})"))
    assert refused.status_code == 400 and error_code(refused) == "0x80040203"
    assert "names it as its customer" in refused.json()["error"]["message"]
    assert dataverse.session.get(api(dataverse, f"accounts({account['accountid']})")).status_code == 200

    assert dataverse.session.delete(api(dataverse, f"salesorders({order['salesorderid']})")).status_code == 204
    assert dataverse.session.delete(api(dataverse, f"accounts({account['accountid']})")).status_code == 204
