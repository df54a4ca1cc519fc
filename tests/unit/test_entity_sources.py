"""Which BC entity sets the sync has a source for: what decides whether a mapping can run at all."""

from __future__ import annotations

import pytest

from shared.connectors.business_central.entity_sources import default_sources


@pytest.mark.parametrize(
    ("entity_set", "served"),
    [
        ("customers", True),  # API v2.0
        ("salesOrderLines", True),  # the lines of an API set
        ("resources", True),  # a page web service behind the canonical set
        ("priceListLines", True),
        ("unitGroups", True),  # two read-only pages (items', resources') behind one set
        ("shippingAgents", False),  # no API set and no standard page: not served
        ("vendors", True),  # API v2.0 (VENDOR)
        ("", False),
    ],
)
def test_a_set_is_served_only_by_a_configured_source(entity_set: str, served: bool) -> None:
    assert default_sources().serves(entity_set) is served


def test_moving_a_page_entity_to_the_custom_route_keeps_it_served() -> None:
    sources = default_sources(custom=["resource"])
    assert sources.serves("resources")
    assert sources.get("resource").kind == "custom"


def test_a_unit_group_id_reaches_the_page_of_its_source_type() -> None:
    from shared.connectors.business_central.pages import page_key, page_source

    sources = default_sources()
    guid = "5b0e3d3a-58b8-4b4f-9f7e-0d6b3a1c2e11"
    item_page = page_source(sources, "unitGroups", f"Item|{guid}")
    resource_page = page_source(sources, "unitGroups", f"Resource|{guid}")
    assert (item_page and item_page.name, resource_page and resource_page.name) == (
        "ItemUnitGroupList",
        "ResourceUnitGroupList",
    )
    assert resource_page is not None
    assert str(page_key(resource_page, f"Resource|{guid}")["Source_Id"]) == guid
