"""Threads racing on the same stored things: every write is conditional, so each race has exactly one winner per
ETag generation, the losers re-read and try again, and no change is lost or applied twice.

Each thread's change is recorded in a way that exposes a lost update: the coupling's `values_hash` accumulates
`<thread>.<change>` tokens and `bc.version` counts the writes, so an overwrite drops a token and the count falls
behind, and a change applied twice shows up as a duplicate token.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pytest
from azure.data.tables import TableClient

from local.fakes.storage import InMemoryCouplingStore, InMemorySyncErrorStore
from shared.domain.coupling import Coupling, SideState
from shared.domain.errors import ConcurrencyError, ConflictError
from shared.domain.records import Side
from shared.ports import CouplingStore, SyncErrorStore
from shared.storage.coupling_rows import INDEX_PROPERTIES
from shared.storage.couplings import TableCouplingStore
from shared.storage.sync_errors import TableSyncErrorStore
from shared.storage.tables import COUPLINGS, TableFactory

pytestmark = pytest.mark.integration

THREADS = 8
CHANGES = 3
M = "CUSTOMER"
T = TypeVar("T")


@pytest.fixture(params=["azurite", "fake"])
def factory(request: pytest.FixtureRequest) -> TableFactory | None:
    if request.param == "fake":
        return None
    return TableFactory.from_connection_string(request.getfixturevalue("azurite"), prefix=f"t{uuid.uuid4().hex[:10]}")


def run_threads(work: Callable[[int], T]) -> list[T]:
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        return list(pool.map(work, range(THREADS)))


def test_racing_updates_of_one_coupling_lose_nothing(factory: TableFactory | None) -> None:
    store: CouplingStore = InMemoryCouplingStore() if factory is None else TableCouplingStore(factory)
    store.create_coupling(Coupling(M, "bc-1", "dv-1", bc=SideState(version="0"), values_hash=""))
    barrier = threading.Barrier(THREADS)
    lock = threading.Lock()
    winning_bases: list[str] = []
    lost_races = [0] * THREADS

    def racer(thread: int) -> None:
        for change in range(CHANGES):
            barrier.wait(timeout=30)  # every round starts together, so the threads really collide
            while True:
                read = store.find_by_bc_id(M, "bc-1")
                assert read is not None and read.etag is not None
                tokens = [token for token in (read.values_hash or "").split(",") if token]
                changed = read.with_changes(
                    values_hash=",".join([*tokens, f"{thread}.{change}"]),
                    bc=SideState(version=str(int(read.bc.version or "0") + 1)),
                )
                time.sleep(0.001)  # the work between read and write, where the other threads get in
                try:
                    store.update_coupling(changed)
                except ConcurrencyError:
                    lost_races[thread] += 1
                    continue
                with lock:
                    winning_bases.append(read.etag)
                break

    run_threads(racer)

    final = store.find_by_dataverse_id(M, "dv-1")
    assert final is not None and final == store.find_by_bc_id(M, "bc-1")
    tokens = (final.values_hash or "").split(",")
    assert sorted(tokens) == sorted(f"{t}.{c}" for t in range(THREADS) for c in range(CHANGES))  # each exactly once
    assert final.bc.version == str(THREADS * CHANGES)
    assert len(winning_bases) == len(set(winning_bases)) == THREADS * CHANGES  # one winner per ETag generation
    assert sum(lost_races) > 0, "the threads never collided: the test proved nothing"
    if factory is not None:
        assert_the_index_row_points_to_the_coupling(factory.table(COUPLINGS))


def assert_the_index_row_points_to_the_coupling(table: TableClient) -> None:
    """The coupling row and its index row (issue 21: the index row holds the two ids and nothing else)."""
    rows = {row["RowKey"]: dict(row) for row in table.query_entities(f"PartitionKey eq '{M}'")}
    assert sorted(rows) == ["bc:bc-1", "dv:dv-1"]
    bc_row, dv_row = rows["bc:bc-1"], rows["dv:dv-1"]
    assert set(dv_row) == INDEX_PROPERTIES
    assert (dv_row["BcId"], dv_row["DataverseId"]) == (bc_row["BcId"], bc_row["DataverseId"])


def test_racing_creates_of_one_coupling_have_one_winner(factory: TableFactory | None) -> None:
    store: CouplingStore = InMemoryCouplingStore() if factory is None else TableCouplingStore(factory)
    barrier = threading.Barrier(THREADS)

    def creator(thread: int) -> str:
        barrier.wait(timeout=30)
        try:
            store.create_coupling(Coupling(M, "bc-1", f"dv-{thread}"))
        except ConflictError as error:
            return error.code
        return "created"

    outcomes = run_threads(creator)
    assert sorted(outcomes) == ["alreadyCoupled"] * (THREADS - 1) + ["created"]
    winner = store.find_by_bc_id(M, "bc-1")
    assert winner is not None
    assert [store.find_by_dataverse_id(M, f"dv-{t}") is not None for t in range(THREADS)].count(True) == 1


def test_racing_record_errors_count_every_error_once(factory: TableFactory | None) -> None:
    store: SyncErrorStore = InMemorySyncErrorStore() if factory is None else TableSyncErrorStore(factory)
    barrier = threading.Barrier(THREADS)

    def fail(thread: int) -> None:
        barrier.wait(timeout=30)
        store.record_error(M, Side.BC, "r1", "badValue", f"from thread {thread}")

    run_threads(fail)
    entry = store.find_error(M, Side.BC, "r1")
    assert entry is not None and (entry.count, entry.skipped) == (THREADS, True)
