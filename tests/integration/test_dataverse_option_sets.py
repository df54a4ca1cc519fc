"""Dataverse emulator over real HTTP: the account picklists' metadata, InsertOptionValue / UpdateOptionValue, and
the range check on writes."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import EmulatorHandle
from tests.integration.dataverse_helpers import api, create, error_code

pytestmark = pytest.mark.integration
META = (
    "EntityDefinitions(LogicalName='account')/Attributes(LogicalName='paymenttermscode')"
    "/Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$select=LogicalName&$expand=OptionSet"
)


def labels(dv: EmulatorHandle) -> dict[int, str]:
    body = dv.session.get(api(dv, META)).json()
    return {o["Value"]: o["Label"]["UserLocalizedLabel"]["Label"] for o in body["OptionSet"]["Options"]}


def action(dv: EmulatorHandle, name: str, body: dict[str, Any]) -> Any:
    return dv.session.post(api(dv, name), json=body)


def label(text: str) -> dict[str, Any]:
    return {"LocalizedLabels": [{"Label": text, "LanguageCode": 1033}]}


def test_options_are_read_added_relabelled_and_enforced(dataverse: EmulatorHandle) -> None:
    dv = dataverse
    assert labels(dv) == {1: "Net 30", 2: "2% 10; Net 30", 3: "Net 45", 4: "Net 60"}
    target = {"EntityLogicalName": "account", "AttributeLogicalName": "paymenttermscode"}
    added = action(dv, "InsertOptionValue", {**target, "Label": label("COD")})
    assert added.status_code == 200 and added.json()["NewOptionValue"] == 100_000_000
    assert action(dv, "InsertOptionValue", {**target, "Label": label("14 DAYS")}).json()["NewOptionValue"] == (
        100_000_001
    )
    relabel = action(
        dv, "UpdateOptionValue", {**target, "Value": 100_000_000, "Label": label("CASH"), "MergeLabels": True}
    )
    assert relabel.status_code == 204 and labels(dv)[100_000_000] == "CASH"
    account = create(dv, "accounts", {"name": "Terms Inc.", "paymenttermscode": 100_000_001})
    refused = dv.session.patch(
        api(dv, f"accounts({account['accountid']})"), json={"paymenttermscode": 7}, headers={"If-Match": "*"}
    )
    assert refused.status_code == 400 and error_code(refused) == "0x8004431a"
    dv.admin("POST", "reset").raise_for_status()
    assert 100_000_000 not in labels(dv)  # a reset forgets the added options


@pytest.mark.parametrize(
    ("name", "body", "status"),
    [
        ("InsertOptionValue", {"EntityLogicalName": "account", "AttributeLogicalName": "nosuch",
                               "Label": label("X")}, 404),
        ("InsertOptionValue", {"EntityLogicalName": "account", "AttributeLogicalName": "paymenttermscode"}, 400),
        ("UpdateOptionValue", {"EntityLogicalName": "account", "AttributeLogicalName": "paymenttermscode",
                               "Value": 55, "Label": label("X")}, 404),
    ],
)  # fmt: skip
def test_bad_option_actions_are_refused(
    dataverse: EmulatorHandle, name: str, body: dict[str, Any], status: int
) -> None:
    assert action(dataverse, name, body).status_code == status
