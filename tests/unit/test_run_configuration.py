"""Immutable adapters and configuration read once (issue 21, item 5), without I/O: the catalog snapshot and the BC
client's `configured()`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

import pytest

from shared.connectors.business_central.client import BusinessCentralClient
from shared.connectors.business_central.entity_sources import DEFAULT_SOURCES, default_sources
from shared.engine.context import SyncContext
from shared.engine.setup import default_setup
from shared.mappings import InvalidOverride
from shared.services.catalog import CatalogSnapshot


class Store:
    def __init__(self, partitions: dict[str, dict[str, Any]]) -> None:
        self.partitions, self.reads = partitions, Counter[str]()

    def get_settings(self, partition: str) -> tuple[dict[str, Any], str | None]:
        self.reads[partition] += 1
        return dict(self.partitions.get(partition, {})), None

    def get_all_settings(self) -> dict[str, tuple[dict[str, Any], str | None]]:
        return {partition: self.get_settings(partition) for partition in ("setup", "mapping")}

    def update_settings(self, partition: str, values: Mapping[str, Any], etag: str | None) -> str:
        raise NotImplementedError


def test_a_snapshot_reads_the_overrides_once_whatever_it_is_asked() -> None:
    store = Store({"mapping": {"CUSTOMER": {"enabled": False}}})
    catalog = CatalogSnapshot.read(store)
    for _ in range(3):
        assert catalog("CUSTOMER").enabled is False
        assert catalog("CURRENCY").enabled is True
    store.partitions["mapping"] = {}  # saved meanwhile: the next run sees it, this one does not
    assert catalog("CUSTOMER").enabled is False
    assert store.reads == Counter({"mapping": 1})
    assert CatalogSnapshot.read(store)("CUSTOMER").enabled is True


def test_an_override_that_no_longer_validates_fails_its_mapping_at_each_lookup_and_only_it() -> None:
    catalog = CatalogSnapshot({"CUSTOMER": {"bcFilter": "no such field eq 1"}})
    for _ in range(2):
        with pytest.raises(InvalidOverride):
            catalog("CUSTOMER")
    assert catalog("CONTACT").name == "CONTACT"


def test_a_snapshot_applies_the_overrides_to_its_base_catalog() -> None:
    from shared.mappings import get_mapping

    own = get_mapping("CURRENCY")
    catalog = CatalogSnapshot({"CURRENCY": {"enabled": False}}, base=lambda name: own)
    assert catalog("CURRENCY").enabled is False and catalog("CURRENCY").name == own.name


def test_the_bc_client_is_never_rewritten_and_configured_shares_its_connection() -> None:
    client = BusinessCentralClient("https://bc.example/v2.0/t/production", None, "CRONUS")
    with pytest.raises(AttributeError):
        client.company = "Other"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        client.sources = DEFAULT_SOURCES  # type: ignore[misc]
    assert client.configured() is client
    assert client.configured(company="CRONUS", sources=default_sources()) is client  # equal values: itself
    pages = default_sources({"contactNameDetails": "NameDetails"})
    other = client.configured(company="Other", sources=pages)
    assert (other.company, other.sources) == ("Other", pages)
    assert (client.company, client.sources) == ("CRONUS", DEFAULT_SOURCES)  # the original is unchanged
    assert other.http is client.http and other.serves("contactNameDetails") and not client.serves("contactNameDetails")


def test_a_context_built_without_a_setup_has_the_defaults() -> None:
    fields = SyncContext.__dataclass_fields__
    assert "setup_values" not in fields and "setup" in fields and "archive" in fields
    assert default_setup().values["writeInProductNumber"] == "" and default_setup().write_in is None
