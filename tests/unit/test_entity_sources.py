"""Which BC entity sets the sync has a source for: what decides whether a mapping can run at all."""

from __future__ import annotations

import pytest

from shared.connectors.entity_sources import default_sources


@pytest.mark.parametrize(
    ("entity_set", "served"),
    [
        ("customers", True),  # API v2.0
        ("salesOrderLines", True),  # the lines of an API set
        ("resources", True),  # a page web service behind the canonical set
        ("priceListLines", True),
        ("unitGroups", False),  # BC's unit group pages have no source yet
        ("vendors", False),  # not in the sync's registry
        ("", False),
    ],
)
def test_a_set_is_served_only_by_a_configured_source(entity_set: str, served: bool) -> None:
    assert default_sources().serves(entity_set) is served


def test_moving_a_page_entity_to_the_custom_route_keeps_it_served() -> None:
    sources = default_sources(custom=["resource"])
    assert sources.serves("resources")
    assert sources.get("resource").kind == "custom"
