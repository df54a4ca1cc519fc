"""The Business Central request builders and the choice of surface, without a server: what each call will send
(`shared/connectors/business_central/requests.py`) and which surface serves an entity set (`client.surface`)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.connectors.business_central import requests as build
from shared.connectors.business_central.api_surface import ApiSurface
from shared.connectors.business_central.client import BusinessCentralClient
from shared.connectors.business_central.entity_sources import API_ROUTE, CUSTOM_ROUTE, default_sources
from shared.connectors.business_central.page_surface import PageSurface

SET = "api/v2.0/companies(c1)/customers"


def test_a_change_read_has_a_closed_lower_bound_oldest_first_and_the_key_selected_once() -> None:
    since = datetime(2026, 1, 5, 9, 0, 0, 123456, tzinfo=UTC)
    request = build.list_changed_since(SET, "id", since, ["id", "displayName"], None, "city eq 'X'", 500)
    assert (request.method, request.path) == ("GET", SET)
    assert request.params == {
        "$select": "id,displayName,lastModifiedDateTime",
        "$filter": "lastModifiedDateTime ge 2026-01-05T09:00:00.123Z and (city eq 'X')",
        "$orderby": "lastModifiedDateTime",
    }
    assert request.headers == {"Prefer": "odata.maxpagesize=500"}


def test_writes_say_what_a_repeat_and_an_error_mean() -> None:
    create = build.create_entity(SET, {"displayName": "A", "@odata.etag": "W/1"}, "id-1")
    assert (create.method, create.body, create.idempotent, create.errors) == (
        "POST",
        {"displayName": "A", "id": "id-1"},
        True,
        "api",  # "same key exists" is settled by the surface, not mapped
    )
    update = build.update(f"{SET}(id-1)", {"city": "B", "@odata.etag": "W/1"}, "W/1")
    assert (update.method, update.headers, update.body, update.errors) == (
        "PATCH",
        {"If-Match": "W/1"},
        {"city": "B"},
        "domain",
    )
    delete = build.delete(f"{SET}(id-1)", "*")
    assert (delete.accept, delete.errors) == (frozenset({404}), "domain")
    action = build.action(f"{SET}(id-1)", "post")
    assert (action.path, action.idempotent, action.errors) == (f"{SET}(id-1)/Microsoft.NAV.post", None, "not_found")


def test_page_addresses_quote_the_company_name_and_the_key() -> None:
    path = build.page_path("O'Brien & Co", "PriceListLines")
    assert path == "ODataV4/Company('O%27%27Brien%20%26%20Co')/PriceListLines"
    request = build.get_page_entity(path, {"Price_List_Code": "S00001", "Line_No": 10000})
    assert request.path == f"{path}(Price_List_Code='S00001',Line_No=10000)" and request.accept == frozenset({404})


@pytest.mark.parametrize(("atomic", "header"), [(True, "Isolation"), (False, "Prefer")])
def test_a_batch_is_all_or_nothing_or_goes_on(atomic: bool, header: str) -> None:
    request = build.batch(API_ROUTE, [{"id": "0"}], atomic=atomic, continue_on_error=True, idempotent=False)
    assert request.path == "api/v2.0/$batch" and request.body == {"requests": [{"id": "0"}]}
    assert set(request.headers) == {"Accept", header} and request.idempotent is False


def test_each_entity_set_gets_one_surface_chosen_from_the_sources() -> None:
    client = BusinessCentralClient("https://bc.example/v2.0/t/production", None, "CRONUS")
    customers, lines = client.surface("customers"), client.surface("salesOrderLines")
    assert isinstance(customers, ApiSurface) and customers.route == API_ROUTE and customers.key == "id"
    assert isinstance(lines, ApiSurface) and lines.route == API_ROUTE  # lines are on API v2.0, not listed
    assert client.surface("customers") is customers  # built once
    relations = client.surface("contactsInformation")
    assert isinstance(relations, ApiSurface) and relations.key == "contactId"
    groups = client.surface("unitGroups")
    assert isinstance(groups, PageSurface) and [p.name for p in groups.pages] == [
        "ItemUnitGroupList",
        "ResourceUnitGroupList",
    ]
    assert groups.batch_route is None and groups.page_for("Resource|R0010").name == "ResourceUnitGroupList"
    moved = client.configured(sources=default_sources(custom=["resource"])).surface("resources")
    assert isinstance(moved, ApiSurface) and moved.route == CUSTOM_ROUTE and moved.batch_route == CUSTOM_ROUTE
