"""Unit groups (`uomschedules`) and units (`uoms`) in the Dataverse emulator, over real HTTP.

Why these matter: the sync creates a unit group per BC item and then the item's units, each based on the group's
base unit, which Dataverse (not the client) creates with the group. A client that skips looking that unit up, or
retries a group upsert, must meet the same answers as against the real service.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from tests.conftest import EmulatorHandle
from tests.integration.dataverse_helpers import api, create, error_code

pytestmark = pytest.mark.integration

INVALID_ARGUMENT = "0x80040203"
DUPLICATE_RECORD = "0x80040237"
GROUP_TYPE = "Microsoft.Dynamics.CRM.uomschedule"


def new_group(dv: EmulatorHandle, name: str, base_name: str = "PCS") -> dict[str, Any]:
    return create(dv, "uomschedules", {"name": name, "baseuomname": base_name})


def base_units(dv: EmulatorHandle, group_id: str) -> list[dict[str, Any]]:
    """The query a client uses to find the unit Dataverse created with the group."""
    response = dv.session.get(
        api(dv, "uoms"),
        params={"$filter": f"_uomscheduleid_value eq {group_id} and isschedulebaseuom eq true"},
    )
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()["value"]
    return rows


def base_unit_of(dv: EmulatorHandle, group_id: str) -> dict[str, Any]:
    rows = base_units(dv, group_id)
    assert len(rows) == 1, rows
    return rows[0]


def unit_body(group_id: str, base_id: str | None, name: str = "BOX", quantity: Any = 12) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name,
        "quantity": quantity,
        "uomscheduleid@odata.bind": f"/uomschedules({group_id})",
    }
    if base_id is not None:
        body["baseuom@odata.bind"] = f"/uoms({base_id})"
    return body


def all_units(dv: EmulatorHandle) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = dv.session.get(api(dv, "uoms")).json()["value"]
    return rows


def test_creating_a_group_creates_its_base_unit(dataverse: EmulatorHandle) -> None:
    group = new_group(dataverse, "ITEM 1000 UOM GR", "ITEM 1000 UOM GR")
    base = base_unit_of(dataverse, group["uomscheduleid"])
    assert base["name"] == "ITEM 1000 UOM GR"
    assert base["quantity"] == 1
    assert base["isschedulebaseuom"] is True
    assert base["_baseuom_value"] is None
    assert base["_uomscheduleid_value"] == group["uomscheduleid"]
    assert base["_createdby_value"] == group["_createdby_value"]


def test_a_unit_based_on_the_groups_base_unit_is_created(dataverse: EmulatorHandle) -> None:
    group = new_group(dataverse, "G")
    base = base_unit_of(dataverse, group["uomscheduleid"])
    box = create(dataverse, "uoms", unit_body(group["uomscheduleid"], base["uomid"]))
    assert box["_baseuom_value"] == base["uomid"]
    assert box["quantity"] == 12
    assert box["isschedulebaseuom"] is False
    assert box["baseuomname"] == "PCS"
    pallet = create(dataverse, "uoms", unit_body(group["uomscheduleid"], box["uomid"], name="PALLET", quantity=40))
    assert pallet["_baseuom_value"] == box["uomid"]
    assert len(base_units(dataverse, group["uomscheduleid"])) == 1


@pytest.mark.parametrize("case", ["no baseuom", "baseuom of another group", "quantity 0", "negative", "no quantity"])
def test_bad_units_are_refused(dataverse: EmulatorHandle, case: str) -> None:
    group = new_group(dataverse, "G")
    other = new_group(dataverse, "Other")
    base_id = base_unit_of(dataverse, group["uomscheduleid"])["uomid"]
    body = unit_body(group["uomscheduleid"], base_id)
    if case == "no baseuom":
        body.pop("baseuom@odata.bind")
    elif case == "baseuom of another group":
        body["baseuom@odata.bind"] = f"/uoms({base_unit_of(dataverse, other['uomscheduleid'])['uomid']})"
    elif case == "quantity 0":
        body["quantity"] = 0
    elif case == "negative":
        body["quantity"] = -1.5
    else:
        body.pop("quantity")
    before = len(all_units(dataverse))
    response = dataverse.session.post(api(dataverse, "uoms"), json=body)
    assert response.status_code == 400, response.text
    assert error_code(response) == INVALID_ARGUMENT
    assert len(all_units(dataverse)) == before


def test_clients_cannot_make_base_units_or_clear_a_units_base(dataverse: EmulatorHandle) -> None:
    group = new_group(dataverse, "G")
    base = base_unit_of(dataverse, group["uomscheduleid"])
    flagged = {**unit_body(group["uomscheduleid"], base["uomid"]), "isschedulebaseuom": True}
    assert dataverse.session.post(api(dataverse, "uoms"), json=flagged).status_code == 400
    box = create(dataverse, "uoms", unit_body(group["uomscheduleid"], base["uomid"]))
    url = api(dataverse, f"uoms({box['uomid']})")
    assert dataverse.session.patch(url, json={"baseuom@odata.bind": None}).status_code == 400
    assert dataverse.session.patch(url, json={"quantity": 0}).status_code == 400
    assert dataverse.session.patch(url, json={"quantity": 24}).status_code == 204
    base_url = api(dataverse, f"uoms({base['uomid']})")
    assert dataverse.session.patch(base_url, json={"quantity": 2}).status_code == 400
    assert dataverse.session.patch(base_url, json={"baseuom@odata.bind": f"/uoms({box['uomid']})"}).status_code == 400


def test_unit_names_are_unique_within_a_group_only(dataverse: EmulatorHandle) -> None:
    group = new_group(dataverse, "G")
    other = new_group(dataverse, "Other")
    base_id = base_unit_of(dataverse, group["uomscheduleid"])["uomid"]
    other_base_id = base_unit_of(dataverse, other["uomscheduleid"])["uomid"]
    box = create(dataverse, "uoms", unit_body(group["uomscheduleid"], base_id, name="BOX"))
    for name in ("BOX", "box", "PCS"):  # case-insensitive, and the base unit's name counts too
        clash = dataverse.session.post(api(dataverse, "uoms"), json=unit_body(group["uomscheduleid"], base_id, name))
        assert clash.status_code == 412, (name, clash.text)
        assert error_code(clash) == DUPLICATE_RECORD
    create(dataverse, "uoms", unit_body(other["uomscheduleid"], other_base_id, name="BOX"))
    pack = create(dataverse, "uoms", unit_body(group["uomscheduleid"], base_id, name="PACK"))
    rename = dataverse.session.patch(api(dataverse, f"uoms({pack['uomid']})"), json={"name": "Box"})
    assert rename.status_code == 412
    same = dataverse.session.patch(api(dataverse, f"uoms({box['uomid']})"), json={"name": "BOX", "quantity": 6})
    assert same.status_code == 204


def test_the_base_unit_cannot_be_deleted_but_the_group_takes_its_units_along(dataverse: EmulatorHandle) -> None:
    group = new_group(dataverse, "G")
    base = base_unit_of(dataverse, group["uomscheduleid"])
    refused = dataverse.session.delete(api(dataverse, f"uoms({base['uomid']})"))
    assert refused.status_code == 400
    assert error_code(refused) == INVALID_ARGUMENT
    box = create(dataverse, "uoms", unit_body(group["uomscheduleid"], base["uomid"]))
    pallet = create(dataverse, "uoms", unit_body(group["uomscheduleid"], box["uomid"], name="PALLET"))
    assert dataverse.session.delete(api(dataverse, f"uoms({box['uomid']})")).status_code == 400  # PALLET needs it
    assert dataverse.session.delete(api(dataverse, f"uoms({pallet['uomid']})")).status_code == 204
    assert dataverse.session.delete(api(dataverse, f"uoms({box['uomid']})")).status_code == 204
    assert dataverse.session.delete(api(dataverse, f"uomschedules({group['uomscheduleid']})")).status_code == 204
    assert all_units(dataverse) == []


def test_upserting_a_group_twice_leaves_one_base_unit(dataverse: EmulatorHandle) -> None:
    group_id = str(uuid.uuid4())
    url = api(dataverse, f"uomschedules({group_id})")
    body = {"name": "ITEM 1000 UOM GR", "baseuomname": "ITEM 1000 UOM GR"}
    first = dataverse.session.patch(url, json=body, headers={"If-None-Match": "*"})
    assert first.status_code == 204
    retry = dataverse.session.patch(url, json=body, headers={"If-None-Match": "*"})
    assert retry.status_code == 412
    plain = dataverse.session.patch(url, json={"name": "ITEM 1000 UOM GR"})
    assert plain.status_code == 204
    assert len(base_units(dataverse, group_id)) == 1
    assert len(all_units(dataverse)) == 1


def test_bulk_messages_create_one_base_unit_per_group(dataverse: EmulatorHandle) -> None:
    ids = [str(uuid.uuid4()), str(uuid.uuid4())]
    targets = [
        {"@odata.type": GROUP_TYPE, "uomscheduleid": group_id, "name": f"G{n}", "baseuomname": "PCS"}
        for n, group_id in enumerate(ids)
    ]
    upsert = api(dataverse, "uomschedules/Microsoft.Dynamics.CRM.UpsertMultiple")
    first = dataverse.session.post(upsert, json={"Targets": targets})
    assert first.status_code == 200, first.text
    retargets = [{k: v for k, v in target.items() if k != "baseuomname"} for target in targets]  # create-only
    again = dataverse.session.post(upsert, json={"Targets": retargets})
    assert [r["RecordCreated"] for r in again.json()["Results"]] == [False, False]
    created = dataverse.session.post(
        api(dataverse, "uomschedules/Microsoft.Dynamics.CRM.CreateMultiple"),
        json={"Targets": [{"@odata.type": GROUP_TYPE, "name": "G3", "baseuomname": "KG"}]},
    )
    assert created.status_code == 200, created.text
    for group_id in [*ids, created.json()["Ids"][0]]:
        assert len(base_units(dataverse, group_id)) == 1
    assert len(all_units(dataverse)) == 3


def test_deep_insert_applies_the_unit_rules(dataverse: EmulatorHandle) -> None:
    body = {"name": "Deep", "baseuomname": "PCS", "UoMSchedule_UoMs": [{"name": "BOX", "quantity": 12}]}
    response = dataverse.session.post(api(dataverse, "uomschedules"), json=body)
    assert response.status_code == 400  # the child names no base unit (and cannot name the one made with the group)
    assert dataverse.session.get(api(dataverse, "uomschedules")).json()["value"] == []
    assert all_units(dataverse) == []


def test_a_batch_change_set_applies_the_unit_rules_and_rolls_back_the_base_unit(dataverse: EmulatorHandle) -> None:
    group = {"name": "Batch", "baseuomname": "PCS"}
    unit = {"name": "BOX", "quantity": 12, "uomscheduleid@odata.bind": "$1"}
    parts = [("1", "POST", "uomschedules", group), ("2", "POST", "uoms", unit)]
    lines: list[str] = []
    for content_id, method, target, body in parts:
        lines += ["--changeset_u", "Content-Type: application/http", "Content-Transfer-Encoding: binary"]
        lines += [f"Content-ID: {content_id}", "", f"{method} /api/data/v9.2/{target} HTTP/1.1"]
        lines += ["Content-Type: application/json; type=entry", "", json.dumps(body)]
    lines += ["--changeset_u--"]
    changeset = "\r\n".join(lines)
    batch = "\r\n".join(
        ["--batch_u", "Content-Type: multipart/mixed; boundary=changeset_u", "", changeset, "--batch_u--", ""]
    )
    response = dataverse.session.post(
        api(dataverse, "$batch"),
        data=batch.encode(),
        headers={"Content-Type": "multipart/mixed; boundary=batch_u"},
    )
    assert response.status_code == 400, response.text
    assert INVALID_ARGUMENT in response.text
    assert dataverse.session.get(api(dataverse, "uomschedules")).json()["value"] == []
    assert all_units(dataverse) == []
