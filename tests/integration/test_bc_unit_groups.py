"""BC emulator: the read-only Unit Group pages ItemUnitGroupList (5400) and ResourceUnitGroupList (5403), over HTTP.

What the sync relies on: BC keeps exactly one Unit Group per item and per resource (created with it, renumbered with
it, deleted with it), keyed by Source_Type + Source_Id (the item's / resource's SystemId), with Code
`ITEM <No.> UOM GR` / `RESOURCE <No.> UOM GR`; the pages filter, select and page like every other page service, and
refuse writes the way a non-editable page does (405 BadRequest_MethodNotAllowed, as for ResourceList).
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from local.emulators.business_central.pages import seed as pages_seed
from local.emulators.business_central.seed import ITEMS
from tests.conftest import BusinessCentralHandle
from tests.integration.test_bc_pages import code, get, page_root

pytestmark = pytest.mark.integration

ITEM_FIELDS = {"Source_Type", "Source_Id", "Code", "Item_No", "Item_Description", "Coupled_to_Dataverse"}
RESOURCE_FIELDS = {"Source_Type", "Source_Id", "Code", "Resource_No", "Resource_Name", "Coupled_to_Dataverse"}


def rows(bc: BusinessCentralHandle, service: str, **params: str) -> list[dict[str, Any]]:
    response = get(bc, service, params=params)
    assert response.status_code == 200, response.text
    return list(response.json()["value"])


def api_items(bc: BusinessCentralHandle, company_root: str) -> dict[str, dict[str, Any]]:
    response = bc.session.get(f"{company_root}/items")
    assert response.status_code == 200, response.text
    return {item["number"]: item for item in response.json()["value"]}


def group_key(kind: str, source_id: str) -> str:
    return f"{kind}UnitGroupList(Source_Type='{kind}',Source_Id={source_id})"


def test_demo_seed_has_one_unit_group_per_item_and_resource(
    business_central: BusinessCentralHandle, bc_demo: str
) -> None:
    items = api_items(business_central, bc_demo)
    groups = rows(business_central, "ItemUnitGroupList")
    assert len(groups) == len(ITEMS) == len(items)
    assert {g["Item_No"]: (g["Source_Id"], g["Item_Description"], g["Code"]) for g in groups} == {
        number: (item["id"], item["displayName"], f"ITEM {number} UOM GR") for number, item in items.items()
    }
    assert all(set(g) == ITEM_FIELDS | {"@odata.etag"} for g in groups)
    assert all(g["Source_Type"] == "Item" and g["Coupled_to_Dataverse"] is False for g in groups)
    resources = rows(business_central, "ResourceUnitGroupList")
    expected = [
        (pages_seed.seeded_id("resource", number), number, name, f"RESOURCE {number} UOM GR")
        for number, name, _, _ in pages_seed.RESOURCES
    ]
    shown = [(g["Source_Id"], g["Resource_No"], g["Resource_Name"], g["Code"]) for g in resources]
    assert sorted(shown) == sorted(expected)  # in key order (Source_Id, a GUID), so not by number: compare sorted
    assert all(set(g) == RESOURCE_FIELDS | {"@odata.etag"} for g in resources)


def test_filter_select_and_paging(business_central: BusinessCentralHandle, bc_demo: str) -> None:
    one = rows(business_central, "ItemUnitGroupList", **{"$filter": "Item_No eq '1896-S'", "$select": "Code,Item_No"})
    assert [(g["Code"], g["Item_No"]) for g in one] == [("ITEM 1896-S UOM GR", "1896-S")]
    assert set(one[0]) == {"@odata.etag", "Code", "Item_No"}
    assert len(rows(business_central, "ItemUnitGroupList", **{"$filter": "Source_Type eq 'Item'"})) == len(ITEMS)
    assert rows(business_central, "ItemUnitGroupList", **{"$filter": "Source_Type eq 'Resource'"}) == []
    by_type = rows(business_central, "ResourceUnitGroupList", **{"$filter": "Source_Type eq 'Resource'"})
    assert len(by_type) == len(pages_seed.RESOURCES)
    named = rows(business_central, "ResourceUnitGroupList", **{"$filter": "Resource_No eq 'R0020'"})
    assert [g["Resource_Name"] for g in named] == ["Marty Horst"]
    bad = get(business_central, "ItemUnitGroupList", params={"$filter": "Resource_No eq 'R0020'"})
    assert bad.status_code == 400 and code(bad) == "BadRequest"  # each page has only its own kind's properties
    url: str | None = f"{page_root(business_central)}/ItemUnitGroupList?$select=Item_No"
    pages: list[list[str]] = []
    while url:
        body = business_central.session.get(url, headers={"Prefer": "odata.maxpagesize=4"}).json()
        pages.append([row["Item_No"] for row in body["value"]])
        url = body.get("@odata.nextLink")
    assert [len(page) for page in pages] == [4, len(ITEMS) - 4]
    assert len({number for page in pages for number in page}) == len(ITEMS)


def test_get_by_key(business_central: BusinessCentralHandle, bc_demo: str) -> None:
    item = api_items(business_central, bc_demo)["1900-S"]
    found = get(business_central, group_key("Item", item["id"]))
    assert found.status_code == 200, found.text
    body = found.json()
    assert (body["Code"], body["Item_No"], body["Item_Description"]) == (
        "ITEM 1900-S UOM GR", "1900-S", "PARIS Guest Chair, black",
    )  # fmt: skip
    assert body["@odata.etag"] == found.headers["ETag"]
    swapped = get(business_central, f"ItemUnitGroupList(Source_Id={item['id']},Source_Type='Item')")
    assert swapped.json() == body
    resource_id = pages_seed.seeded_id("resource", "R0030")
    resource = get(business_central, group_key("Resource", resource_id))
    assert resource.status_code == 200 and resource.json()["Code"] == "RESOURCE R0030 UOM GR"
    wrong_page = get(business_central, f"ItemUnitGroupList(Source_Type='Resource',Source_Id={resource_id})")
    assert wrong_page.status_code == 404 and code(wrong_page) == "BadRequest_NotFound"  # outside the view
    for bad in (f"ItemUnitGroupList({item['id']})", f"ItemUnitGroupList(Source_Type=Item,Source_Id={item['id']})"):
        response = get(business_central, bad)
        assert response.status_code == 400 and code(response) == "BadRequest", bad


def test_writes_are_refused(business_central: BusinessCentralHandle, bc_demo: str) -> None:
    root, session = page_root(business_central), business_central.session
    item_key = group_key("Item", api_items(business_central, bc_demo)["1896-S"]["id"])
    resource_key = group_key("Resource", pages_seed.seeded_id("resource", "R0010"))
    star = {"If-Match": "*"}
    refused: list[requests.Response] = [
        session.post(f"{root}/ItemUnitGroupList", json={"Source_Type": "Item", "Item_No": "1896-S"}),
        session.post(f"{root}/ResourceUnitGroupList", json={"Resource_No": "R0010"}),
        session.patch(f"{root}/{item_key}", json={"Code": "X"}, headers=star),
        session.patch(f"{root}/{resource_key}", json={"Resource_Name": "X"}, headers=star),
        session.delete(f"{root}/{item_key}", headers=star),
        session.delete(f"{root}/{resource_key}", headers=star),
    ]
    assert [(r.status_code, code(r)) for r in refused] == [(405, "BadRequest_MethodNotAllowed")] * len(refused)
    assert "not allowed" in refused[0].json()["error"]["message"]
    assert len(rows(business_central, "ItemUnitGroupList")) == len(ITEMS)
    assert len(rows(business_central, "ResourceUnitGroupList")) == len(pages_seed.RESOURCES)


def test_unit_groups_follow_resources_and_items(business_central: BusinessCentralHandle, bc_demo: str) -> None:
    root, session = page_root(business_central), business_central.session
    created = session.post(f"{root}/ResourceCard", json={"No": "R0500", "Name": "New Person"})
    assert created.status_code == 201, created.text
    group = rows(business_central, "ResourceUnitGroupList", **{"$filter": "Resource_No eq 'R0500'"})
    assert [(g["Code"], g["Resource_Name"]) for g in group] == [("RESOURCE R0500 UOM GR", "New Person")]
    assert get(business_central, group_key("Resource", group[0]["Source_Id"])).status_code == 200
    gone = session.delete(f"{root}/ResourceCard('R0500')", headers={"If-Match": "*"})
    assert gone.status_code == 204
    assert get(business_central, group_key("Resource", group[0]["Source_Id"])).status_code == 404

    item = session.post(f"{bc_demo}/items", json={"number": "1999-T", "displayName": "Test Lamp"})
    assert item.status_code == 201, item.text
    key = group_key("Item", item.json()["id"])
    assert get(business_central, key).json()["Code"] == "ITEM 1999-T UOM GR"
    renamed = session.patch(
        f"{bc_demo}/items({item.json()['id']})", json={"number": "1999-U"}, headers={"If-Match": "*"}
    )
    assert renamed.status_code == 200, renamed.text
    after = get(business_central, key).json()
    assert (after["Item_No"], after["Code"]) == ("1999-U", "ITEM 1999-U UOM GR")  # Source No. kept in step
    deleted = session.delete(f"{bc_demo}/items({item.json()['id']})", headers={"If-Match": "*"})
    assert deleted.status_code == 204
    assert get(business_central, key).status_code == 404
    assert len(rows(business_central, "ItemUnitGroupList")) == len(ITEMS)
