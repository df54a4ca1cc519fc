"""BC emulator page web services (`/ODataV4/Company('...')/{Service}`) and the custom API, over real HTTP.

What the sync relies on: page property names and keys as BC builds them, BC's refusals (with their error codes),
If-Match rules, Code upper-casing, paging, filters on page properties, SalesOrderList Status from the API order,
the custom API serving the same rows, and Resource sales lines reading the resource the pages maintain.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests

from local.emulators.business_central.pages.sources import CUSTOM_ROUTE, CUSTOM_SOURCES, SOURCES, sources
from local.emulators.business_central.seed import COMPANY_ID
from tests.conftest import TENANT, BusinessCentralHandle

pytestmark = pytest.mark.integration


def page_root(bc: BusinessCentralHandle) -> str:
    return f"{bc.base_url}/{TENANT}/production/ODataV4/Company('CRONUS USA, Inc.')"


def custom_root(bc: BusinessCentralHandle) -> str:
    return f"{bc.base_url}/{TENANT}/production{CUSTOM_ROUTE}/companies({COMPANY_ID})"


def code(response: requests.Response) -> str:
    return str(response.json()["error"]["code"])


def get(bc: BusinessCentralHandle, path: str, **kwargs: Any) -> requests.Response:
    return bc.session.get(f"{page_root(bc)}/{path}", **kwargs)


def etag(bc: BusinessCentralHandle, path: str) -> str:
    response = get(bc, path)
    assert response.status_code == 200, response.text
    return str(response.headers["ETag"])


def patch(bc: BusinessCentralHandle, path: str, body: dict[str, Any], if_match: str | None = "*") -> requests.Response:
    headers = {"If-Match": if_match} if if_match is not None else {}
    return bc.session.patch(f"{page_root(bc)}/{path}", json=body, headers=headers)


def order_with_resource_line(bc: BusinessCentralHandle, company_root: str) -> tuple[dict[str, Any], dict[str, Any]]:
    order = bc.session.post(f"{company_root}/salesOrders", json={"customerNumber": "C00010"})
    assert order.status_code == 201, order.text
    line = bc.session.post(
        f"{company_root}/salesOrders({order.json()['id']})/salesOrderLines",
        json={"lineType": "Resource", "lineObjectNumber": "R0010", "quantity": 2},
    )
    assert line.status_code == 201, line.text
    return order.json(), line.json()


# -- naming and keys ---------------------------------------------------------------------------------------------
def test_resource_card_names_and_both_key_syntaxes(business_central: BusinessCentralHandle, bc_demo: str) -> None:
    positional = get(business_central, "ResourceCard('R0010')")
    named = get(business_central, "ResourceCard(No='R0010')")
    assert positional.status_code == named.status_code == 200
    body = positional.json()
    assert body == named.json()
    assert body["@odata.etag"] == positional.headers["ETag"]
    assert (body["No"], body["Name"], body["Unit_Price"], body["Base_Unit_of_Measure"]) == (
        "R0010", "Lina Townsend", 80, "HOUR",
    )  # fmt: skip
    assert body["Type"] == "Person" and body["Blocked"] is False and body["Search_Name"] == "LINA TOWNSEND"
    assert "Indirect_Cost_Percent" in body and "Price_Profit_Calculation" in body
    assert "id" not in body and "SystemId" not in body  # UI pages expose no SystemId
    assert get(business_central, "ResourceCard('r0010')").status_code == 404  # keys match exactly
    missing = get(business_central, "ResourceCard('R9999')")
    assert missing.status_code == 404 and code(missing) == "BadRequest_NotFound"


def test_composite_keys_in_any_order_and_typed(business_central: BusinessCentralHandle, bc_demo: str) -> None:
    line = get(business_central, "PriceListLines(Price_List_Code='S00001',Line_No=30000)")
    assert line.status_code == 200, line.text
    body = line.json()
    assert (body["Asset_Type"], body["Asset_No"], body["Product_No"], body["Unit_Price"]) == (
        "Resource", "R0010", "R0010", 75,
    )  # fmt: skip
    assert body["SourceType"] == "Customer Price Group" and body["SourceNo"] == "RETAIL"  # English enum text
    assert body["Description"] == "Lina Townsend" and body["Unit_of_Measure_Code"] == "HOUR"
    swapped = get(business_central, "PriceListLines(Line_No=30000,Price_List_Code='S00001')")
    assert swapped.json() == body
    for bad in ("PriceListLines('S00001')", "PriceListLines(Price_List_Code='S00001',Line_No='30000')"):
        response = get(business_central, bad)
        assert response.status_code == 400 and code(response) == "BadRequest"
    units = get(business_central, "ItemUnitsOfMeasure(Item_No='1896-S',Code='PCS')")
    assert units.status_code == 200 and units.json()["Qty_per_Unit_of_Measure"] == 1
    setup = get(business_central, "SalesReceivablesSetup(Primary_Key='')")
    assert setup.status_code == 200 and setup.json() == get(business_central, "SalesReceivablesSetup('')").json()
    assert setup.json()["Write_in_Product_Type"] == "Item" and setup.json()["Write_in_Product_No"] == ""


def test_company_forms_and_tenant_segments(business_central: BusinessCentralHandle, bc_demo: str) -> None:
    base = business_central.base_url
    by_query = business_central.session.get(
        f"{base}/{TENANT}/production/ODataV4/ResourceList", params={"company": "CRONUS USA, Inc."}
    )
    by_id = business_central.session.get(f"{base}/{TENANT}/production/ODataV4/Company(Id={COMPANY_ID})/ResourceList")
    one_segment = business_central.session.get(f"{base}/production/ODataV4/Company('CRONUS USA, Inc.')/ResourceList")
    numbers = [[r["No"] for r in response.json()["value"]] for response in (by_query, by_id, one_segment)]
    assert numbers == [["R0010", "R0020", "R0030"]] * 3
    unknown = business_central.session.get(f"{base}/{TENANT}/production/ODataV4/Company('Nobody')/ResourceList")
    assert unknown.status_code == 404 and code(unknown) == "BadRequest_NotFound"
    no_company = business_central.session.get(f"{base}/{TENANT}/production/ODataV4/ResourceList")
    assert no_company.status_code == 400 and code(no_company) == "BadRequest"
    assert get(business_central, "NoSuchService").status_code == 404


def test_one_metadata_document_for_all_companies(business_central: BusinessCentralHandle, bc_demo: str) -> None:
    response = business_central.session.get(f"{business_central.base_url}/{TENANT}/production/ODataV4/$metadata")
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("application/xml")
    assert '<EntityType Name="ResourceCard">' in response.text
    assert '<Property Name="Write_in_Product_Type" Type="Edm.String"/>' in response.text
    assert '<Property Name="No" Type="Edm.String" Nullable="false" MaxLength="20"/>' in response.text
    assert get(business_central, "$metadata").status_code == 404  # not per company (third-party measurement)


# -- reads -------------------------------------------------------------------------------------------------------
def test_filter_select_orderby_on_page_properties(business_central: BusinessCentralHandle, bc_demo: str) -> None:
    params = {"$filter": "Unit_Price gt 75", "$orderby": "Unit_Price desc", "$select": "No,Unit_Price"}
    rows = get(business_central, "ResourceList", params=params).json()["value"]
    assert [(r["No"], r["Unit_Price"]) for r in rows] == [("R0030", 90), ("R0010", 80)]
    assert set(rows[0]) == {"@odata.etag", "No", "Unit_Price"}
    items = get(business_central, "PriceListLines", params={"$filter": "Asset_Type eq 'Item'"}).json()["value"]
    assert [r["Asset_No"] for r in items] == ["1896-S", "1900-S"]
    released = get(business_central, "SalesPriceLists", params={"$filter": "Status eq 'Active'"}).json()["value"]
    assert [r["Code"] for r in released] == ["S00001"]
    for bad in (
        {"$filter": "Nope eq 1"},
        {"$select": "No,Nope"},
        {"$filter": "No eq 'R0010' or Name eq 'x'"},  # BC cannot OR two fields
        {"$apply": "groupby((Type))"},
    ):
        response = get(business_central, "ResourceList", params=bad)
        assert response.status_code == 400 and code(response) == "BadRequest", bad


def test_paging_follows_next_link_in_key_order(business_central: BusinessCentralHandle, bc_demo: str) -> None:
    for n in range(22):
        created = business_central.session.post(
            f"{page_root(business_central)}/ResourceCard", json={"No": f"P{n:03d}", "Name": f"Paged {n}"}
        )
        assert created.status_code == 201, created.text
    url: str | None = f"{page_root(business_central)}/ResourceCard?$select=No"
    pages: list[list[str]] = []
    while url:
        body = business_central.session.get(url, headers={"Prefer": "odata.maxpagesize=10"}).json()
        pages.append([row["No"] for row in body["value"]])
        url = body.get("@odata.nextLink")
    assert [len(page) for page in pages] == [10, 10, 5]
    numbers = [number for page in pages for number in page]
    assert numbers == sorted(numbers) and len(set(numbers)) == 25
    top = get(business_central, "ResourceCard", params={"$top": "5"}, headers={"Prefer": "odata.maxpagesize=2"})
    assert len(top.json()["value"]) == 5 and "@odata.nextLink" not in top.json()


# -- writes ------------------------------------------------------------------------------------------------------
def test_post_upper_cases_codes_and_refuses_a_duplicate_key(
    business_central: BusinessCentralHandle, bc_demo: str
) -> None:
    url = f"{page_root(business_central)}/ResourceCard"
    created = business_central.session.post(url, json={"No": " r0100 ", "Name": "Temp", "Base_Unit_of_Measure": "hour"})
    assert created.status_code == 201, created.text
    assert created.json()["No"] == "R0100" and created.json()["Base_Unit_of_Measure"] == "HOUR"
    assert created.headers["ETag"] == created.json()["@odata.etag"]
    assert get(business_central, "ResourceUnitsOfMeasure(Resource_No='R0100',Code='HOUR')").status_code == 200
    duplicate = business_central.session.post(url, json={"No": "R0100", "Name": "Again"})
    assert duplicate.status_code == 400 and code(duplicate) == "Internal_EntityWithSameKeyExists"
    numbered = business_central.session.post(url, json={"Name": "No number given"})
    assert numbered.status_code == 201 and numbered.json()["No"] == "R0110"  # R0100 taken: the series skips it
    group = business_central.session.post(
        f"{page_root(business_central)}/CustomerPriceGroups", json={"Code": " vip ", "Description": "VIP"}
    )
    assert group.status_code == 201 and group.json()["Code"] == "VIP"
    changed = patch(business_central, "CustomerPriceGroups('VIP')", {"VAT_Bus_Posting_Gr_Price": "  export "})
    assert changed.status_code == 200 and changed.json()["VAT_Bus_Posting_Gr_Price"] == "EXPORT"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"No": "X1", "Nope": 1}, "BadRequest"),
        ({"No": "X1", "Last_Date_Modified": "2026-01-01"}, "BadRequest"),
        ({"No": "X1", "Name": "n" * 101}, "Application_StringExceededLength"),
        ({"No": "X" * 21}, "Application_StringExceededLength"),
        ({"No": "X1", "Unit_Price": "80"}, "BadRequest"),
        ({"No": "X1", "Type": "Robot"}, "BadRequest"),
        ({"No": "X1", "Units": [{"Code": "HOUR"}]}, "BadRequest"),
        ({"No": "X1", "Base_Unit_of_Measure": "LIGHTYEAR"}, "Application_DialogException"),
    ],
)
def test_post_rejections_leave_nothing_behind(
    business_central: BusinessCentralHandle, bc_demo: str, body: dict[str, Any], error: str
) -> None:
    response = business_central.session.post(f"{page_root(business_central)}/ResourceCard", json=body)
    assert response.status_code == 400 and code(response) == error
    assert len(get(business_central, "ResourceList").json()["value"]) == 3


def test_page_permissions_and_collection_methods(business_central: BusinessCentralHandle, bc_demo: str) -> None:
    root = page_root(business_central)
    session = business_central.session
    refused = [
        session.post(f"{root}/ResourceList", json={"No": "X1"}),
        session.post(f"{root}/SalesReceivablesSetup", json={"Primary_Key": "X"}),
        session.post(f"{root}/SalesOrderList", json={"No": "X1"}),
        session.delete(f"{root}/SalesReceivablesSetup('')", headers={"If-Match": "*"}),
        patch(business_central, "ResourceList('R0010')", {"Name": "x"}),
        session.patch(f"{root}/ResourceCard", json={"Name": "x"}, headers={"If-Match": "*"}),
        session.delete(f"{root}/ResourceCard", headers={"If-Match": "*"}),
    ]
    assert [(r.status_code, code(r)) for r in refused] == [(405, "BadRequest_MethodNotAllowed")] * len(refused)
    read_only = patch(business_central, "ResourceCard('R0010')", {"Last_Date_Modified": "2020-01-01"})
    assert read_only.status_code == 400 and code(read_only) == "BadRequest"
    rename = patch(business_central, "ResourceCard('R0010')", {"No": "R0011"})
    assert rename.status_code == 400 and code(rename) == "BadRequest"


def test_if_match_rules_on_patch_and_delete(business_central: BusinessCentralHandle, bc_demo: str) -> None:
    path = "ResourceCard('R0020')"
    first = etag(business_central, path)
    missing = patch(business_central, path, {"Unit_Price": 71}, if_match=None)
    assert missing.status_code == 400 and code(missing) == "BadRequest_InvalidToken"
    changed = patch(business_central, path, {"Unit_Price": 71}, if_match=first)
    assert changed.status_code == 200 and changed.json()["Unit_Price"] == 71
    assert changed.headers["ETag"] != first
    stale = patch(business_central, path, {"Unit_Price": 72}, if_match=first)
    assert stale.status_code == 409 and code(stale) == "Request_EntityChanged"
    url = f"{page_root(business_central)}/{path}"
    no_token = business_central.session.delete(url)
    assert no_token.status_code == 400 and code(no_token) == "BadRequest_InvalidToken"
    old_token = business_central.session.delete(url, headers={"If-Match": first})
    assert old_token.status_code == 409 and code(old_token) == "Request_EntityChanged"
    deleted = business_central.session.delete(url, headers={"If-Match": changed.headers["ETag"]})
    assert deleted.status_code == 204
    assert get(business_central, path).status_code == 404
    assert get(business_central, "ResourceUnitsOfMeasure(Resource_No='R0020',Code='HOUR')").status_code == 404


def test_write_in_product_setup_and_enum_spellings(business_central: BusinessCentralHandle, bc_demo: str) -> None:
    changed = patch(business_central, "SalesReceivablesSetup('')", {"Write_in_Product_Type": "Resource"})
    assert changed.status_code == 200 and changed.json()["Write_in_Product_Type"] == "Resource"
    number = patch(business_central, "SalesReceivablesSetup('')", {"Write_in_Product_No": "r0030"})
    assert number.status_code == 200 and number.json()["Write_in_Product_No"] == "R0030"
    unknown = patch(business_central, "SalesReceivablesSetup('')", {"Write_in_Product_No": "1896-S"})
    assert unknown.status_code == 400 and code(unknown) == "Application_DialogException"  # 1896-S is no resource
    header = business_central.session.post(
        f"{page_root(business_central)}/SalesPriceList",
        json={"Code": "s00002", "SourceType": "Customer_x0020_Price_x0020_Group", "SourceNo": "wholesale"},
    )
    assert header.status_code == 201, header.text
    assert (header.json()["SourceType"], header.json()["SourceNo"], header.json()["Status"]) == (
        "Customer Price Group", "WHOLESALE", "Draft",
    )  # fmt: skip
    bad = patch(business_central, "SalesPriceList('S00002')", {"Status": "Archived"})
    assert bad.status_code == 400 and code(bad) == "BadRequest"


def test_price_list_lines_follow_header_rules(business_central: BusinessCentralHandle, bc_demo: str) -> None:
    active = patch(business_central, "PriceListLines(Price_List_Code='S00001',Line_No=10000)", {"Unit_Price": 900})
    assert active.status_code == 400 and code(active) == "Application_DialogException"  # Status must be Draft
    allow = patch(business_central, "SalesReceivablesSetup('')", {"Allow_Editing_Active_Price": True})
    assert allow.status_code == 200
    edited = patch(business_central, "PriceListLines(Price_List_Code='S00001',Line_No=10000)", {"Unit_Price": 900})
    assert edited.status_code == 200 and edited.json()["Unit_Price"] == 900
    url = f"{page_root(business_central)}/PriceListLines"
    no_line_no = business_central.session.post(url, json={"Price_List_Code": "S00001", "Asset_Type": "Item"})
    assert no_line_no.status_code == 400 and code(no_line_no) == "BadRequest"
    line = business_central.session.post(
        url, json={"Price_List_Code": "S00001", "Line_No": 40000, "Asset_Type": "Item", "Product_No": "1906-s"}
    )
    assert line.status_code == 201, line.text
    body = line.json()
    assert (body["Asset_No"], body["Description"], body["Unit_of_Measure_Code"]) == (
        "1906-S", "ATHENS Mobile Pedestal", "PCS",
    )  # fmt: skip
    assert (body["SourceType"], body["SourceNo"], body["Amount_Type"]) == ("Customer Price Group", "RETAIL", "Price")
    review = get(business_central, "PriceListLineReview(Price_List_Code='S00001',Line_No=40000)").json()
    assert review["Status"] == "Active" and review["PriceListDescription"] == "Retail prices"
    twins = business_central.session.post(
        url, json={"Price_List_Code": "S00001", "Line_No": 50000, "Asset_No": "1896-S", "Product_No": "1900-S"}
    )
    assert twins.status_code == 400 and code(twins) == "BadRequest"


# -- views over API data and the custom API ----------------------------------------------------------------------
def test_sales_order_list_status_follows_release(business_central: BusinessCentralHandle, bc_demo: str) -> None:
    order, _ = order_with_resource_line(business_central, bc_demo)
    key = f"SalesOrderList(Document_Type='Order',No='{order['number']}')"
    opened = get(business_central, key)
    assert opened.status_code == 200, opened.text
    assert (opened.json()["Status"], opened.json()["Sell_to_Customer_No"], opened.json()["Document_Type"]) == (
        "Open", "C00010", "Order",
    )  # fmt: skip
    assert opened.json()["Sell_to_Customer_Name"] == order["customerName"]
    released = business_central.admin("POST", "release", json={"orderId": order["id"]})
    assert released.status_code == 200, released.text
    assert get(business_central, key).json()["Status"] == "Released"
    filtered = get(business_central, "SalesOrderList", params={"$filter": "Status eq 'Released'"}).json()["value"]
    assert [row["No"] for row in filtered] == [order["number"]]
    custom = business_central.session.get(f"{custom_root(business_central)}/salesOrderStatuses({order['id']})")
    assert custom.status_code == 200 and custom.json()["status"] == "Released"


def test_resource_sales_line_reads_the_page_resource(business_central: BusinessCentralHandle, bc_demo: str) -> None:
    _, line = order_with_resource_line(business_central, bc_demo)
    assert (line["description"], line["unitPrice"], line["unitOfMeasureCode"]) == ("Lina Townsend", 80, "HOUR")
    assert patch(business_central, "ResourceCard('R0010')", {"Unit_Price": 85, "Name": "Lina T."}).status_code == 200
    _, repriced = order_with_resource_line(business_central, bc_demo)
    assert (repriced["description"], repriced["unitPrice"]) == ("Lina T.", 85)


def test_a_blocked_resource_cannot_be_sold(business_central: BusinessCentralHandle, bc_demo: str) -> None:
    assert patch(business_central, "ResourceCard('R0020')", {"Blocked": True}).status_code == 200
    order = business_central.session.post(f"{bc_demo}/salesOrders", json={"customerNumber": "C00010"}).json()
    line = business_central.session.post(
        f"{bc_demo}/salesOrders({order['id']})/salesOrderLines",
        json={"lineType": "Resource", "lineObjectNumber": "R0020", "quantity": 1},
    )
    assert (line.status_code, code(line)) == (400, "Application_DialogException")


def test_custom_api_serves_the_page_rows(business_central: BusinessCentralHandle, bc_demo: str) -> None:
    root = custom_root(business_central)
    session = business_central.session
    page = {r["No"]: r for r in get(business_central, "ResourceList").json()["value"]}
    api = session.get(f"{root}/resources").json()["value"]
    assert {r["number"]: (r["displayName"], r["unitPrice"]) for r in api} == {
        number: (row["Name"], row["Unit_Price"]) for number, row in page.items()
    }
    resource = api[0]
    assert uuid.UUID(resource["id"]) and resource["lastModifiedDateTime"].endswith("Z")
    assert resource["@odata.etag"] == page[resource["number"]]["@odata.etag"]  # one row behind both
    changed = session.patch(
        f"{root}/resources({resource['id']})", json={"unitPrice": 99}, headers={"If-Match": resource["@odata.etag"]}
    )
    assert changed.status_code == 200 and changed.json()["unitPrice"] == 99
    assert get(business_central, f"ResourceCard('{resource['number']}')").json()["Unit_Price"] == 99
    lists = session.get(f"{root}/priceLists", params={"$filter": "assignToType eq 'Customer_x0020_Price_x0020_Group'"})
    assert [r["code"] for r in lists.json()["value"]] == ["S00001"]  # API pages send XML-encoded enum members
    unknown = session.post(f"{root}/resources", json={"number": "R0500", "No": "R0500"})
    assert unknown.status_code == 400 and code(unknown) == "BadRequest"
    stale = session.patch(f"{root}/resources({resource['id']})", json={"unitPrice": 1}, headers={"If-Match": 'W/"x"'})
    assert stale.status_code == 409 and code(stale) == "Request_EntityChanged"


def test_every_described_source_is_served(business_central: BusinessCentralHandle, bc_demo: str) -> None:
    for entity, source in SOURCES.items():
        if source["kind"] == "page":
            response = get(business_central, source["service"])
        else:
            response = business_central.session.get(f"{bc_demo}/{source['entitySet']}")
        assert response.status_code == 200, (entity, response.text)
    for entity, source in CUSTOM_SOURCES.items():
        response = business_central.session.get(f"{custom_root(business_central)}/{source['entitySet']}")
        assert response.status_code == 200, (entity, response.text)
    assert sources(29)["resource"]["kind"] == "page"
    assert sources(30)["resource"]["kind"] == "custom" and sources(30)["customer"]["kind"] == "api"
