"""Mapping overrides (BC's Integration Table Mapping edits): what an administrator stores on top of the catalog
(`Settings`, partition `mapping`: enable, narrow direction, policies, filters, field overrides), saved and reset.

A use case, not a route's business: the rules (the keys given replace the stored ones, `fields` as a whole; the
result must validate before anything is stored; a reset drops the mapping's overrides and nothing else; one etag
for the partition, so two admins' saves never silently overwrite each other) hold for any caller, and the run reads
the same partition (`catalog.CatalogSnapshot`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.domain.mapping import TableMapping
from shared.mappings import get_mapping, with_overrides
from shared.mappings.overrides import stored_field
from shared.ports import SettingsStore
from shared.services.catalog import PARTITION


def stored_overrides(store: SettingsStore) -> tuple[dict[str, Any], str | None]:
    """Every mapping's stored overrides and the partition's etag."""
    values, etag = store.get_settings(PARTITION)
    return dict(values), etag


def save_overrides(store: SettingsStore, name: str, changes: Mapping[str, Any]) -> tuple[TableMapping, dict[str, Any]]:
    """Merge `changes` into the mapping's stored overrides, validate the result, store it; returns the mapping as it
    now runs and the overrides stored. Raises `InvalidOverride` (nothing stored) when the result does not validate."""
    overrides, etag = stored_overrides(store)
    own = overrides.get(name)
    merged = {**(own if isinstance(own, dict) else {}), **changes}
    mapping = with_overrides(get_mapping(name), merged)
    if isinstance(merged.get("fields"), dict):
        merged["fields"] = {key: stored_field(value) for key, value in merged["fields"].items()}
    store.update_settings(PARTITION, {**overrides, name: merged}, etag)
    return mapping, merged


def reset_overrides(store: SettingsStore, name: str) -> TableMapping:
    """Drop the mapping's stored overrides (BC's Reset); returns the catalog's mapping."""
    overrides, etag = stored_overrides(store)
    if name in overrides:
        store.update_settings(PARTITION, {k: v for k, v in overrides.items() if k != name}, etag)
    return get_mapping(name)
