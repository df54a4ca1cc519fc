"""Dataverse emulator over real HTTP: the sales documents' own picklists (payment terms, freight terms, shipping
method on salesorder, quote and invoice) are option sets of their own, refuse a value they do not carry, and take
an option with the value the caller gives (as BC copies an account option into them with the same value)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import EmulatorHandle
from tests.integration.dataverse_helpers import api, create, error_code

pytestmark = pytest.mark.integration


def options(dv: EmulatorHandle, table: str, attribute: str) -> dict[int, str]:
    path = (
        f"EntityDefinitions(LogicalName='{table}')/Attributes(LogicalName='{attribute}')"
        "/Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$select=LogicalName&$expand=OptionSet"
    )
    body = dv.session.get(api(dv, path)).json()
    return {o["Value"]: o["Label"]["UserLocalizedLabel"]["Label"] for o in body["OptionSet"]["Options"]}


def insert(dv: EmulatorHandle, table: str, attribute: str, text: str, value: int | None = None) -> Any:
    body: dict[str, Any] = {
        "EntityLogicalName": table,
        "AttributeLogicalName": attribute,
        "Label": {"LocalizedLabels": [{"Label": text, "LanguageCode": 1033}]},
    }
    if value is not None:
        body["Value"] = value
    return dv.session.post(api(dv, "InsertOptionValue"), json=body)


def test_document_picklists_are_their_own_option_sets(dataverse: EmulatorHandle) -> None:
    dv = dataverse
    assert options(dv, "salesorder", "freighttermscode") == {1: "FOB", 2: "No Charge"}
    assert options(dv, "invoice", "shippingmethodcode")[4] == "UPS"
    account = create(dv, "accounts", {"name": "Picklist Ltd."})
    order = {"name": "Terms", "customerid_account@odata.bind": f"/accounts({account['accountid']})"}
    added = insert(dv, "account", "paymenttermscode", "COD").json()["NewOptionValue"]
    refused = dv.session.post(api(dv, "salesorders"), json={**order, "paymenttermscode": added})
    assert refused.status_code == 400 and error_code(refused) == "0x8004431a"  # the account's option only
    copied = insert(dv, "salesorder", "paymenttermscode", "COD", value=added)
    assert copied.status_code == 200 and copied.json()["NewOptionValue"] == added
    assert dv.session.post(api(dv, "salesorders"), json={**order, "paymenttermscode": added}).status_code in (200, 204)
    assert added not in options(dv, "quote", "paymenttermscode")  # each document's picklist is its own
    assert insert(dv, "salesorder", "paymenttermscode", "COD", value=added).status_code == 400  # value taken
    dv.admin("POST", "reset").raise_for_status()
    assert added not in options(dv, "salesorder", "paymenttermscode")
