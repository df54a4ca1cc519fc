"""Page-sourced entities through the BC client's entity calls: keyed by the page key, canonical names, If-Match."""

from __future__ import annotations

import pytest

from local.emulators.business_central.seed import COMPANY_NAME
from shared.connectors.business_central.client import BusinessCentralClient
from shared.connectors.http import HttpClient
from tests.conftest import BC_RESOURCE, TENANT, Authority, BusinessCentralHandle

pytestmark = pytest.mark.integration


@pytest.fixture
def client(authority: Authority, business_central: BusinessCentralHandle, bc_demo: str) -> BusinessCentralClient:
    base = f"{business_central.base_url}/{TENANT}/production"
    return BusinessCentralClient(base, None, COMPANY_NAME, http=HttpClient(base, authority.token_provider(BC_RESOURCE)))


def test_resources_are_listed_in_canonical_names_keyed_by_number(client: BusinessCentralClient) -> None:
    rows = [
        row
        for page in client.list_changed_since(
            "resources", None, ["number", "displayName", "unitPrice"], extra_filter="unitPrice ge 75"
        )
        for row in page.rows
    ]
    assert sorted((row["id"], row["displayName"], row["unitPrice"]) for row in rows) == [
        ("R0010", "Lina Townsend", 80),
        ("R0030", "Terry Dodds", 90),
    ]
    assert all("@odata.etag" in row for row in rows)


def test_a_page_entity_is_read_and_updated_by_its_key(
    client: BusinessCentralClient, business_central: BusinessCentralHandle
) -> None:
    row = client.get_entity("resources", "R0020")
    assert row is not None and row["displayName"] == "Marty Horst"
    updated = client.update_entity("resources", "R0020", {"unitPrice": 75}, str(row["@odata.etag"]))
    assert (updated["id"], updated["unitPrice"]) == ("R0020", 75)
    outcomes = client.execute_batch(
        [{"method": "PATCH", "url": "resources(R0020)", "body": {"unitPrice": 76}, "etag": str(row["@odata.etag"])}],
        continue_on_error=True,
    )
    assert outcomes[0].status == 409  # the page's If-Match rule, through the batch call
    assert client.get_entity("resources", "NOPE") is None


def test_composite_keys(client: BusinessCentralClient) -> None:
    lines = [
        row
        for page in client.list_changed_since("priceListLines", None, ["priceListCode", "unitPrice"])
        for row in page.rows
    ]
    first = lines[0]
    assert "|" in first["id"]
    again = client.get_entity("priceListLines", first["id"])
    assert again is not None and again["unitPrice"] == first["unitPrice"]
