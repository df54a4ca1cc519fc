"""How a full-synchronization line cuts its records into chunks (issue 21): chunks of BC records hold
`FULL_SYNC_CHUNK_RECORDS` (default 1,000: a Dataverse bulk message's size, and a fifth of the chunk's own Table
requests of chunks of 200), chunks of Sales rows, each written to BC as one charged operation, 200 at most."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any, cast

import pytest

from shared.domain.full_sync import Recommendation
from shared.engine.context import SyncContext
from shared.mappings.customers import CUSTOMER
from shared.services.full_sync.coordinator import CHUNK_RECORDS, CHUNK_RECORDS_TO_BC
from shared.services.full_sync.messages import id_chunks
from shared.settings import Settings, SettingsError, full_sync_chunk_records
from tests.unit.test_full_sync_stall import ENV


class Lister:
    def __init__(self, prefix: str, count: int) -> None:
        self.ids = [f"{prefix}{n:05d}" for n in range(count)]

    def list_ids(self, entity_set: str, scope: str | None) -> Iterator[list[str]]:
        for start in range(0, len(self.ids), 700):  # pages that do not line up with the chunks
            yield self.ids[start : start + 700]


def chunks(size: int, to_bc: int, skip: dict[str, list[str]] | None = None) -> list[tuple[str, int]]:
    context = cast(SyncContext, SimpleNamespace(bc=Lister("b", 2500), dataverse=Lister("d", 450)))
    mode = Recommendation.FULL_SYNCHRONIZATION.value
    return [(side, len(ids)) for side, ids in id_chunks(context, CUSTOMER, mode, 0, size, skip or {}, to_bc)]


def test_bc_records_go_in_chunks_of_the_setting_and_sales_rows_in_chunks_of_200_at_most() -> None:
    assert (CHUNK_RECORDS, CHUNK_RECORDS_TO_BC) == (1000, 200)
    assert chunks(CHUNK_RECORDS, CHUNK_RECORDS_TO_BC) == [
        ("bc", 1000), ("bc", 1000), ("bc", 500), ("dv", 200), ("dv", 200), ("dv", 50),
    ]  # fmt: skip


def test_a_smaller_setting_applies_to_both_sides_and_skipped_ids_are_left_out() -> None:
    got = chunks(300, CHUNK_RECORDS_TO_BC, {"bc": [f"b{n:05d}" for n in range(2000)]})
    assert got == [("bc", 300), ("bc", 200), ("dv", 200), ("dv", 200), ("dv", 50)]


def test_the_chunk_setting_is_read_validated_and_defaulted() -> None:
    assert full_sync_chunk_records({"FULL_SYNC_CHUNK_RECORDS": " 250 "}) == 250
    assert full_sync_chunk_records({}) is None
    Settings.from_env({**ENV, "FULL_SYNC_CHUNK_RECORDS": "5000"})
    for bad in ("0", "5001", "many", "-3"):
        with pytest.raises(SettingsError) as raised:
            Settings.from_env({**ENV, "FULL_SYNC_CHUNK_RECORDS": bad})
        assert raised.value.problems == ["FULL_SYNC_CHUNK_RECORDS must be a whole number from 1 to 5000"], bad
        assert full_sync_chunk_records({"FULL_SYNC_CHUNK_RECORDS": bad}) is None


def test_the_deployment_setting_reaches_the_full_synchronization(monkeypatch: pytest.MonkeyPatch) -> None:
    from shared import bootstrap

    services: Any = SimpleNamespace(context=None, runs=None, queue=None, environment={"FULL_SYNC_CHUNK_RECORDS": "40"})
    assert bootstrap.full_sync_for(services).chunk_records == 40
    services.environment = {}
    assert bootstrap.full_sync_for(services).chunk_records == CHUNK_RECORDS
