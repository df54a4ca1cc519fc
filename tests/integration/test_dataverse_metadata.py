"""`EntityDefinitions` over real HTTP, called as the Python Dataverse SDK and "Query table definitions using the Web
API" call it: every table resolves to its entity set and primary key, attributes carry their types, lengths and
targets, picklists their options through the typed casts, keys their columns; what the emulator cannot serve is
refused, never approximated.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EmulatorHandle
from tests.integration.dataverse_helpers import api, error_code

pytestmark = pytest.mark.integration

SCHEMAS = Path(__file__).resolve().parents[2] / "local" / "emulators" / "schemas"
PICKLISTS = "EntityDefinitions(LogicalName='account')/Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata"


def get(dv: EmulatorHandle, path: str, **params: str) -> Any:
    response = dv.session.get(api(dv, path), params=params)
    assert response.status_code == 200, response.text
    return response.json()


def tables_in_facts() -> dict[str, dict[str, str]]:
    """Logical name -> entity set and primary id, from the facts and the overlay (independently of the emulator)."""
    facts = json.loads((SCHEMAS / "dataverse.json").read_text(encoding="utf-8"))["entities"]
    overlay = json.loads((SCHEMAS / "dataverse_overlay.json").read_text(encoding="utf-8"))["entities"]
    found = {name: {"EntitySetName": e["entitySet"], "PrimaryIdAttribute": e["primaryId"]} for name, e in facts.items()}
    for name, entity in overlay.items():
        if "define" in entity:
            found[name] = {
                "EntitySetName": entity["define"]["entitySet"],
                "PrimaryIdAttribute": entity["define"]["primaryId"],
            }
    return found


def test_every_table_resolves_like_the_sdk_resolves_it(dataverse: EmulatorHandle) -> None:
    for logical, expected in tables_in_facts().items():
        body = get(
            dataverse,
            "EntityDefinitions",
            **{"$select": "LogicalName,EntitySetName,PrimaryIdAttribute", "$filter": f"LogicalName eq '{logical}'"},
        )
        assert body["@odata.context"].endswith(
            "$metadata#EntityDefinitions(LogicalName,EntitySetName,PrimaryIdAttribute)"
        )
        [item] = body["value"]
        assert {k: item[k] for k in expected} == expected, logical
        assert set(item) == {"MetadataId", "LogicalName", "EntitySetName", "PrimaryIdAttribute"}


def test_the_collection_filters_on_flags_and_an_entity_is_found_by_name_or_id(dataverse: EmulatorHandle) -> None:
    tracked = get(
        dataverse, "EntityDefinitions", **{"$select": "LogicalName", "$filter": "ChangeTrackingEnabled eq true"}
    )
    names = {item["LogicalName"] for item in tracked["value"]}
    assert {"account", "contact", "salesorder", "opportunity"} <= names and "uom" not in names
    account = get(
        dataverse, "EntityDefinitions(LogicalName='account')", **{"$select": "EntitySetName,PrimaryNameAttribute"}
    )
    assert account["@odata.context"].endswith("$metadata#EntityDefinitions(EntitySetName,PrimaryNameAttribute)/$entity")
    assert (account["EntitySetName"], account["PrimaryNameAttribute"]) == ("accounts", "name")
    by_id = get(dataverse, f"EntityDefinitions({account['MetadataId']})", **{"$select": "LogicalName"})
    assert by_id["LogicalName"] == "account"
    missing = dataverse.session.get(api(dataverse, "EntityDefinitions(LogicalName='nosuchtable')"))
    assert missing.status_code == 404


def test_attributes_carry_types_lengths_targets_and_rules(dataverse: EmulatorHandle) -> None:
    body = get(
        dataverse,
        "EntityDefinitions(LogicalName='contact')",
        **{"$select": "LogicalName", "$expand": "Attributes($select=LogicalName,AttributeType,IsValidForUpdate)"},
    )
    attributes = {a["LogicalName"]: a for a in body["Attributes"]}
    assert attributes["lastname"]["AttributeType"] == "String"
    assert attributes["parentcustomerid"]["AttributeType"] == "Customer"
    assert attributes["fullname"]["IsValidForUpdate"] is False  # computed: the writer refuses it too
    strings = get(
        dataverse,
        "EntityDefinitions(LogicalName='contact')/Attributes/Microsoft.Dynamics.CRM.StringAttributeMetadata",
        **{"$select": "LogicalName,MaxLength", "$filter": "LogicalName eq 'firstname'"},
    )
    assert [(a["LogicalName"], a["MaxLength"]) for a in strings["value"]] == [("firstname", 50)]
    lookup = get(
        dataverse,
        "EntityDefinitions(LogicalName='contact')/Attributes(LogicalName='parentcustomerid')",
    )
    assert lookup["@odata.type"] == "#Microsoft.Dynamics.CRM.LookupAttributeMetadata"
    assert lookup["Targets"] == ["account", "contact"]
    picklists = get(
        dataverse,
        "EntityDefinitions(LogicalName='account')/Attributes",
        **{"$select": "LogicalName", "$filter": "AttributeType eq Microsoft.Dynamics.CRM.AttributeTypeCode'Picklist'"},
    )
    assert "paymenttermscode" in {a["LogicalName"] for a in picklists["value"]}


def test_picklist_options_through_the_typed_cast_sdks_use(dataverse: EmulatorHandle) -> None:
    body = get(dataverse, PICKLISTS, **{"$select": "LogicalName", "$expand": "OptionSet($select=Options)"})
    assert body["@odata.context"].endswith(
        "/Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata(LogicalName,OptionSet)"
    )
    by_name = {item["LogicalName"]: item for item in body["value"]}
    options = by_name["paymenttermscode"]["OptionSet"]["Options"]
    assert [(o["Value"], o["Label"]["LocalizedLabels"][0]["Label"]) for o in options][:2] == [
        (1, "Net 30"),
        (2, "2% 10; Net 30"),
    ]
    states = get(
        dataverse,
        "EntityDefinitions(LogicalName='salesorder')/Attributes(LogicalName='statuscode')"
        "/Microsoft.Dynamics.CRM.StatusAttributeMetadata/OptionSet",
    )
    assert {(o["Value"], o["State"]) for o in states["Options"]} >= {(1, 0), (100001, 3)}


def test_keys_are_listed_with_their_columns(dataverse: EmulatorHandle) -> None:
    body = get(dataverse, "EntityDefinitions(LogicalName='account')/Keys")
    assert [(k["KeyAttributes"], k["EntityKeyIndexStatus"]) for k in body["value"]] == [(["accountnumber"], "Active")]
    assert get(dataverse, "EntityDefinitions(LogicalName='contact')/Keys")["value"] == []


@pytest.mark.parametrize(
    ("method", "path", "params", "status"),
    [
        ("GET", "EntityDefinitions", {"$select": "NoSuchProperty"}, 400),
        ("GET", "EntityDefinitions", {"$top": "1"}, 400),
        ("GET", "EntityDefinitions(LogicalName='account')/Attributes", {"$select": "OptionSet"}, 400),
        ("GET", "EntityDefinitions(LogicalName='account')/Attributes", {"$select": "MaxLength"}, 400),
        ("GET", "EntityDefinitions(LogicalName='account')/Attributes", {"$expand": "OptionSet"}, 400),
        ("POST", "EntityDefinitions", {}, 501),
    ],
)  # fmt: skip
def test_what_the_emulator_cannot_serve_is_refused(
    dataverse: EmulatorHandle, method: str, path: str, params: dict[str, str], status: int
) -> None:
    response = dataverse.session.request(
        method, api(dataverse, path), params=params, json={} if method == "POST" else None
    )
    assert response.status_code == status, response.text
    assert error_code(response).startswith("0x")
