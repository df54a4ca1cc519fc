"""`engine/coupled_ids.py` and the option maps: a pointed-to mapping's couplings are read whole once per full-sync
run, an id the snapshot lacks is still read (a coupling made since), and outside a run nothing is shared."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import pytest

from local.fakes.storage import InMemoryCouplingStore
from shared.domain.coupling import Coupling
from shared.engine import coupled_ids
from shared.engine.option_maps import CouplingOptionMaps
from shared.engine.run_cache import RUN_CACHE, run_scope


class CountingStore(InMemoryCouplingStore):
    """Counts the reads the snapshot exists to save."""

    def __init__(self) -> None:
        super().__init__()
        self.scans: list[str] = []
        self.by_id: list[tuple[str, tuple[str, ...]]] = []

    def coupled_ids(self, mapping: str) -> Iterator[tuple[str, str]]:
        self.scans.append(mapping)
        return super().coupled_ids(mapping)

    def find_many_by_bc_ids(self, mapping: str, bc_ids: Iterable[str]) -> dict[str, Coupling]:
        wanted = tuple(bc_ids)
        self.by_id.append((mapping, wanted))
        return super().find_many_by_bc_ids(mapping, wanted)

    def find_many_by_dataverse_ids(self, mapping: str, dataverse_ids: Iterable[str]) -> dict[str, Coupling]:
        wanted = tuple(dataverse_ids)
        self.by_id.append((mapping, wanted))
        return super().find_many_by_dataverse_ids(mapping, wanted)


@pytest.fixture
def store() -> CountingStore:
    RUN_CACHE.clear()
    found = CountingStore()
    for n in range(5):
        found.create_coupling(Coupling("CUSTOMER", f"c{n}", f"a{n}"))
    return found


def test_chunks_of_one_run_read_the_pointed_to_couplings_once(store: CountingStore) -> None:
    with run_scope("fs-ids-1"):
        first = coupled_ids.dataverse_ids(store, "CUSTOMER", ["c0", "c3"])
        second = coupled_ids.dataverse_ids(store, "CUSTOMER", ["c1", "c4"])
        back = coupled_ids.bc_ids(store, "CUSTOMER", ["a2"])
    assert first == {"c0": "a0", "c3": "a3"} and second == {"c1": "a1", "c4": "a4"} and back == {"a2": "c2"}
    assert store.scans == ["CUSTOMER", "CUSTOMER"]  # one per direction, not one per chunk
    assert store.by_id == []


def test_an_id_the_snapshot_lacks_is_read_not_taken_for_uncoupled(store: CountingStore) -> None:
    with run_scope("fs-ids-2"):
        coupled_ids.dataverse_ids(store, "CUSTOMER", ["c0"])
        store.create_coupling(Coupling("CUSTOMER", "c9", "a9"))  # coupled after the snapshot
        found = coupled_ids.dataverse_ids(store, "CUSTOMER", ["c1", "c9", "nobody"])
    assert found == {"c1": "a1", "c9": "a9"}
    assert store.by_id == [("CUSTOMER", ("c9", "nobody"))]  # only the misses


def test_outside_a_run_the_ids_asked_are_read_each_time(store: CountingStore) -> None:
    assert coupled_ids.dataverse_ids(store, "CUSTOMER", ["c0"]) == {"c0": "a0"}
    assert coupled_ids.bc_ids(store, "CUSTOMER", ["a1"]) == {"a1": "c1"}
    assert store.scans == []
    assert store.by_id == [("CUSTOMER", ("c0",)), ("CUSTOMER", ("a1",))]


def test_too_many_couplings_are_not_held(store: CountingStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shared.engine.run_cache.MAX_ROWS", 3)
    with run_scope("fs-ids-3"):
        assert coupled_ids.dataverse_ids(store, "CUSTOMER", ["c0"]) == {"c0": "a0"}
    assert store.by_id == [("CUSTOMER", ("c0",))]


def test_an_option_map_is_read_once_per_run_and_an_empty_one_is_not_kept() -> None:
    RUN_CACHE.clear()
    store = CountingStore()
    maps = CouplingOptionMaps(store, {"paymentTerms": "PAYMENT TERMS"})
    with run_scope("fs-ids-4"):
        with pytest.raises(KeyError):
            maps["paymentTerms"]  # the option line has coupled nothing yet
        store.create_coupling(Coupling("PAYMENT TERMS", "t1", "3"))
        first, second = maps["paymentTerms"], maps["paymentTerms"]
    assert first.values == second.values == {"t1": 3}
    assert store.scans == ["PAYMENT TERMS", "PAYMENT TERMS"]  # the empty read, then once for the run
    maps["paymentTerms"]
    assert len(store.scans) == 3  # outside a run: read at use, as before
