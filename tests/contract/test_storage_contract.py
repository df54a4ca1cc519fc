"""One contract suite for the storage ports, run against the in-memory fakes and the Table Storage repositories on
Azurite (a fresh table prefix per test), so the fakes the unit tests rely on cannot drift from the real thing."""

from __future__ import annotations

import dataclasses
import math
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from local.fakes import storage as fakes
from shared.domain.coupling import Coupling, SideState, SyncResult
from shared.domain.errors import ConcurrencyError, ConflictError, FatalError, NotFoundError, RecordError
from shared.domain.full_sync import LineChunk
from shared.domain.record_errors import next_error
from shared.domain.records import ArchivedQuote, Checkpoint, Counters, LineStatus, ReviewLine, Side, SyncJob, SyncRun
from shared.ports import (
    CheckpointBatches,
    CheckpointStore,
    CouplingStore,
    JobLog,
    QuoteArchive,
    RunStore,
    SettingsStore,
    SyncErrorStore,
)
from shared.storage import coupling_table as couplings_module
from shared.storage.archive import TableQuoteArchive
from shared.storage.checkpoints import TableCheckpointStore
from shared.storage.coupling_table import IDS_PER_QUERY
from shared.storage.couplings import TableCouplingStore
from shared.storage.jobs import TableJobLog
from shared.storage.runs import TableRunStore
from shared.storage.settings import TableSettingsStore
from shared.storage.sync_errors import TableSyncErrorStore
from shared.storage.tables import COUPLINGS, TableFactory

M = "CUSTOMER"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Stores:
    couplings: CouplingStore
    checkpoints: CheckpointStore
    runs: RunStore
    jobs: JobLog
    errors: SyncErrorStore
    settings: SettingsStore
    archive: QuoteArchive
    clock: Clock
    factory: TableFactory | None = None


@pytest.fixture(params=["fake", pytest.param("azurite", marks=pytest.mark.integration)])
def stores(request: pytest.FixtureRequest) -> Stores:
    clock = Clock()
    if request.param == "fake":
        return Stores(
            fakes.InMemoryCouplingStore(),
            fakes.InMemoryCheckpointStore(),
            fakes.InMemoryRunStore(),
            fakes.InMemoryJobLog(),
            fakes.InMemorySyncErrorStore(clock=clock),
            fakes.InMemorySettingsStore(),
            fakes.InMemoryQuoteArchive(),
            clock,
        )
    factory = TableFactory.from_connection_string(
        request.getfixturevalue("azurite"), prefix=f"t{uuid.uuid4().hex[:10]}"
    )
    return Stores(
        TableCouplingStore(factory),
        TableCheckpointStore(factory),
        TableRunStore(factory),
        TableJobLog(factory),
        TableSyncErrorStore(factory, clock=clock),
        TableSettingsStore(factory, clock=clock),
        TableQuoteArchive(factory),
        clock,
        factory,
    )


def coupling(bc_id: str = "bc-1", dv_id: str = "dv-1", mapping: str = M) -> Coupling:
    return Coupling(mapping, bc_id, dv_id, bc=SideState("2025-01-01T00:00:00Z", "W/1", SyncResult.SUCCESS, "job-1"))


# -- couplings ------------------------------------------------------------------------------------------------
def test_a_coupling_is_readable_from_either_side_with_every_field(stores: Stores) -> None:
    original = coupling().with_changes(
        values_hash="h1", skipped=True, dataverse=SideState(None, "7", SyncResult.FAILURE)
    )
    created = stores.couplings.create_coupling(original)
    assert created.etag and created == original.with_changes(etag=created.etag)
    assert stores.couplings.find_by_bc_id(M, "bc-1") == created
    assert stores.couplings.find_by_dataverse_id(M, "dv-1") == created
    assert stores.couplings.find_by_bc_id(M, "dv-1") is None
    assert stores.couplings.find_by_dataverse_id("CONTACT", "dv-1") is None


def test_ids_with_reserved_characters_are_keys_like_any_other(stores: Stores) -> None:
    odd = coupling("C/10'0#?~%", "x\\y\tz", mapping="PRICE/LIST")
    stores.couplings.create_coupling(odd)
    assert stores.couplings.find_by_dataverse_id("PRICE/LIST", "x\\y\tz") == stores.couplings.find_by_bc_id(
        "PRICE/LIST", "C/10'0#?~%"
    )
    assert stores.couplings.find_by_bc_id("PRICE/LIST", "C/10'0#?") is None


@pytest.mark.parametrize(("bc_id", "dv_id", "field"), [("bc-1", "dv-2", "bcId"), ("bc-2", "dv-1", "dataverseId")])
def test_coupling_an_id_twice_is_a_conflict_that_writes_nothing(
    stores: Stores, bc_id: str, dv_id: str, field: str
) -> None:
    stores.couplings.create_coupling(coupling())
    with pytest.raises(ConflictError) as raised:
        stores.couplings.create_coupling(coupling(bc_id, dv_id))
    assert (raised.value.code, raised.value.field) == ("alreadyCoupled", field)
    assert stores.couplings.find_by_bc_id(M, "bc-2") is None
    assert stores.couplings.find_by_dataverse_id(M, "dv-2") is None


def test_an_update_changes_both_sides_and_the_etag(stores: Stores) -> None:
    created = stores.couplings.create_coupling(coupling())
    updated = stores.couplings.update_coupling(created.with_changes(values_hash="h2", skipped=True))
    assert updated.etag != created.etag
    assert stores.couplings.find_by_dataverse_id(M, "dv-1") == updated == stores.couplings.find_by_bc_id(M, "bc-1")
    assert stores.couplings.update_coupling(updated.with_changes(values_hash="h3")).values_hash == "h3"


@pytest.mark.parametrize("read_from", ["bc", "dv"])
def test_a_stale_etag_loses_and_overwrites_nothing(stores: Stores, read_from: str) -> None:
    stores.couplings.create_coupling(coupling())
    find = stores.couplings.find_by_bc_id if read_from == "bc" else stores.couplings.find_by_dataverse_id
    first, second = find(M, f"{read_from}-1"), find(M, f"{read_from}-1")
    assert first is not None and second is not None
    stores.couplings.update_coupling(first.with_changes(values_hash="winner"))
    with pytest.raises(ConcurrencyError) as raised:
        stores.couplings.update_coupling(second.with_changes(values_hash="loser"))
    assert raised.value.code == "etagMismatch"
    with pytest.raises(ConcurrencyError):
        stores.couplings.update_coupling(second.with_changes(etag="not-a-token"))
    for stored in (stores.couplings.find_by_bc_id(M, "bc-1"), stores.couplings.find_by_dataverse_id(M, "dv-1")):
        assert stored is not None and stored.values_hash == "winner"


def test_update_refuses_a_missing_coupling_changed_ids_or_no_etag(stores: Stores) -> None:
    created = stores.couplings.create_coupling(coupling())
    with pytest.raises(ConflictError) as raised:
        stores.couplings.update_coupling(created.with_changes(dataverse_id="dv-9"))
    assert raised.value.code == "couplingIdsChanged"
    with pytest.raises(ValueError, match="etag"):
        stores.couplings.update_coupling(created.with_changes(etag=None))
    stores.couplings.delete_coupling(M, "bc-1")
    with pytest.raises(NotFoundError) as missing:
        stores.couplings.update_coupling(created)
    assert missing.value.code == "couplingNotFound"


def test_delete_removes_both_rows_succeeds_when_gone_and_frees_the_ids(stores: Stores) -> None:
    stores.couplings.create_coupling(coupling())
    stores.couplings.delete_coupling(M, "bc-1")
    assert stores.couplings.find_by_bc_id(M, "bc-1") is None
    assert stores.couplings.find_by_dataverse_id(M, "dv-1") is None
    stores.couplings.delete_coupling(M, "bc-1")
    stores.couplings.delete_coupling(M, "never-coupled")
    assert stores.couplings.create_coupling(coupling("bc-1", "dv-1")).etag


def test_bulk_find_returns_the_couplings_of_a_page_from_either_side(stores: Stores) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda n: stores.couplings.create_coupling(coupling(f"bc-{n:03d}", f"dv-{n:03d}")), range(250)))
    asked = [f"bc-{n:03d}" for n in range(250)] + ["bc-unknown", "bc-007"]
    by_bc = stores.couplings.find_many_by_bc_ids(M, iter(asked))
    assert sorted(by_bc) == asked[:250]
    assert all(c.bc_id == bc_id for bc_id, c in by_bc.items())
    by_dv = stores.couplings.find_many_by_dataverse_ids(M, [f"dv-{n:03d}" for n in range(0, 250, 2)])
    assert len(by_dv) == 125 and by_dv["dv-124"] == by_bc["bc-124"]
    assert stores.couplings.find_many_by_bc_ids(M, []) == {}
    assert stores.couplings.find_many_by_bc_ids("CONTACT", asked) == {}
    bulk_read = by_bc["bc-042"]
    assert stores.couplings.update_coupling(bulk_read.with_changes(values_hash="from bulk")).values_hash == "from bulk"


@pytest.mark.integration
def test_bulk_find_reads_a_page_in_ranges_and_few_ids_by_key(azurite: str, monkeypatch: pytest.MonkeyPatch) -> None:
    factory = TableFactory.from_connection_string(azurite, prefix=f"t{uuid.uuid4().hex[:10]}")
    store = TableCouplingStore(factory)
    store.create_couplings([coupling(f"bc-{n:03d}", f"dv-{n:03d}") for n in range(200)])
    table, queries = factory.table(COUPLINGS), []
    real_query = table.query_entities

    def counting_query(*args: object, **kwargs: object) -> object:
        queries.append(args)
        return real_query(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(table, "query_entities", counting_query)
    assert len(store.find_many_by_bc_ids(M, [f"bc-{n:03d}" for n in range(40)])) == 40
    assert len(queries) == 1  # a page of ids in key order: one range
    queries.clear()
    assert len(store.find_many_by_dataverse_ids(M, [f"dv-{n:03d}" for n in range(100, 140)])) == 40
    assert len(queries) == 2  # the index rows, then the coupling rows they point to
    queries.clear()
    assert len(store.find_many_by_bc_ids(M, ["bc-001", "bc-150", "bc-199"])) == 3
    assert len(queries) == math.ceil(3 / IDS_PER_QUERY)  # a few ids: by key
    queries.clear()
    monkeypatch.setattr(couplings_module, "RANGE_PAGE", 10)  # a range holding many rows nobody asked for
    sparse = [f"bc-{n:03d}" for n in range(0, 200, 6)]  # 34 ids over 200 rows: the range stops after 3 pages
    assert sorted(store.find_many_by_bc_ids(M, [*sparse, "bc-unknown"])) == sorted(sparse)
    assert len(queries) <= 1 + math.ceil(len(sparse) / IDS_PER_QUERY)


def test_couplings_are_created_and_updated_in_bulk_each_with_its_own_outcome(stores: Stores) -> None:
    stores.couplings.create_coupling(coupling("bc-taken", "dv-taken"))
    wanted = [coupling(f"bc-{n:03d}", f"dv-{n:03d}") for n in range(120)]
    wanted[70] = coupling("bc-070", "dv-taken")  # its Dataverse id is coupled already
    created = stores.couplings.create_couplings(wanted)
    assert [n for n, c in enumerate(created) if c is None] == [70]
    assert stores.couplings.find_by_dataverse_id(M, "dv-taken") == stores.couplings.find_by_bc_id(M, "bc-taken")
    assert stores.couplings.find_by_bc_id(M, "bc-070") is None
    saved = [c for c in created if c is not None]
    assert stores.couplings.find_by_dataverse_id(M, "dv-119") == saved[-1]
    stale = stores.couplings.update_coupling(saved[5].with_changes(values_hash="someone else"))
    updated = stores.couplings.update_couplings([c.with_changes(values_hash="bulk") for c in saved])
    assert isinstance(updated[5], ConcurrencyError)
    assert all(isinstance(c, Coupling) and c.values_hash == "bulk" for n, c in enumerate(updated) if n != 5)
    assert stores.couplings.find_by_bc_id(M, saved[5].bc_id) == stale
    again = updated[6]
    assert isinstance(again, Coupling)
    assert stores.couplings.update_coupling(again.with_changes(skipped=True)).skipped
    assert stores.couplings.create_couplings([]) == [] and stores.couplings.update_couplings([]) == []


def test_claims_a_twin_page_wrote_cost_a_read_and_one_transaction_not_two_requests_each(
    azurite: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page whose couplings a duplicated delivery of it wrote first: the refused transaction is sent again without
    the ones found coupled (one read), never coupling by coupling (issue 21: 500 single creates in one bench run)."""
    store = TableCouplingStore(TableFactory.from_connection_string(azurite, prefix=f"t{uuid.uuid4().hex[:10]}"))
    twin = [coupling(f"bc-{n:03d}", f"dv-{n:03d}") for n in range(0, 100, 2)]
    store.create_couplings(twin)
    singles: list[str] = []
    real_single = store.create_coupling

    def counting_single(c: Coupling) -> Coupling:
        singles.append(c.bc_id)
        return real_single(c)

    monkeypatch.setattr(store, "create_coupling", counting_single)
    page = [coupling(f"bc-{n:03d}", f"dv-{n:03d}") for n in range(100)]  # half of it written by its twin
    page[1] = coupling("bc-001", "dv-000")  # a new BC id whose Dataverse id the twin coupled to another
    created = store.create_couplings(page)
    assert [n for n, c in enumerate(created) if c is None] == sorted([*range(0, 100, 2), 1])
    assert singles == []
    assert all(store.find_by_bc_id(M, f"bc-{n:03d}") == created[n] for n in range(3, 100, 2))
    assert store.find_by_bc_id(M, "bc-001") is None and store.find_by_dataverse_id(M, "dv-000") == store.find_by_bc_id(
        M, "bc-000"
    )


def test_list_couplings_lists_one_mapping_in_bc_id_order_with_usable_etags(stores: Stores) -> None:
    for bc_id in ("bc-c", "bc-a", "bc-b"):
        stores.couplings.create_coupling(coupling(bc_id, f"dv-{bc_id}"))
    stores.couplings.create_coupling(coupling("bc-a", "dv-other", mapping="CONTACT"))
    listed = list(stores.couplings.list_couplings(M))
    assert [c.bc_id for c in listed] == ["bc-a", "bc-b", "bc-c"]
    assert listed[1] == stores.couplings.find_by_bc_id(M, "bc-b")
    stores.couplings.update_coupling(listed[0].with_changes(skipped=True))
    assert list(stores.couplings.list_couplings("ITEM")) == []
    assert stores.couplings.has_couplings(M) and stores.couplings.has_couplings("CONTACT")
    assert not stores.couplings.has_couplings("ITEM") and not stores.couplings.has_couplings("CUSTOME")


# -- checkpoints ----------------------------------------------------------------------------------------------
def test_checkpoints_insert_then_update_conditionally(stores: Stores) -> None:
    assert stores.checkpoints.find_checkpoint(M, Side.BC) is None
    boundary = tuple(str(uuid.UUID(int=n)) for n in range(3000))  # more than one 64 KiB property
    saved = stores.checkpoints.save_checkpoint(Checkpoint(M, Side.BC, "2025-01-01T00:00:00Z", boundary))
    assert saved.etag and stores.checkpoints.find_checkpoint(M, Side.BC) == saved
    assert stores.checkpoints.find_checkpoint(M, Side.DATAVERSE) is None
    moved = stores.checkpoints.save_checkpoint(Checkpoint(M, Side.BC, "2025-01-02T00:00:00Z", etag=saved.etag))
    assert stores.checkpoints.find_checkpoint(M, Side.BC) == moved and moved.boundary_ids == ()
    for stale in (saved, Checkpoint(M, Side.BC, "2025-01-03T00:00:00Z")):
        with pytest.raises(ConcurrencyError):
            stores.checkpoints.save_checkpoint(stale)
    assert stores.checkpoints.find_checkpoint(M, Side.BC) == moved


def test_both_checkpoints_of_a_mapping_are_read_at_once_and_saved_all_or_nothing(stores: Stores) -> None:
    checkpoints = stores.checkpoints
    assert isinstance(checkpoints, CheckpointBatches)
    assert checkpoints.find_checkpoints(M) == {}
    first = checkpoints.save_checkpoints([Checkpoint(M, side, "2025-01-01T00:00:00Z") for side in Side])
    assert all(c.etag for c in first) and checkpoints.find_checkpoints(M) == {c.side: c for c in first}
    assert checkpoints.find_checkpoint(M, Side.DATAVERSE) == first[1]
    other = checkpoints.save_checkpoints([Checkpoint("CONTACT", Side.BC, "2025-01-05T00:00:00Z")])
    assert checkpoints.find_checkpoints("CONTACT") == {Side.BC: other[0]}  # one mapping's rows only
    (newer,) = checkpoints.save_checkpoints([dataclasses.replace(first[1], watermark="2025-01-03T00:00:00Z")])
    moved = dataclasses.replace(first[0], watermark="2025-01-02T00:00:00Z")
    # the DATAVERSE row as read before `newer` was written: its ETag is no longer the row's (the two rows of one
    # transaction may share an ETag on Azurite, so another row's ETag is no stale one: a CI run passed it through)
    stale = dataclasses.replace(first[1], watermark="2025-01-02T00:00:00Z")
    with pytest.raises(ConcurrencyError):
        checkpoints.save_checkpoints([moved, stale])  # one lost its race: neither is written
    with pytest.raises(ConcurrencyError):
        checkpoints.save_checkpoints([Checkpoint(M, Side.BC, "2025-01-09T00:00:00Z")])  # stored already
    assert checkpoints.find_checkpoints(M) == {Side.BC: first[0], Side.DATAVERSE: newer}
    (saved,) = checkpoints.save_checkpoints([moved])
    assert checkpoints.find_checkpoints(M) == {Side.BC: saved, Side.DATAVERSE: newer}
    with pytest.raises(ValueError, match="one checkpoint per side"):
        checkpoints.save_checkpoints([moved, moved])


# -- runs -----------------------------------------------------------------------------------------------------
def test_a_run_and_its_lines_round_trip_in_plan_order(stores: Stores) -> None:
    run = SyncRun("run-1", "2025-03-01T08:00:00Z", mappings=("SALESPEOPLE", "CUSTOMER", "CONTACT"))
    lines = [ReviewLine(name, "Full synchronization") for name in ("CONTACT", "CUSTOMER", "SALESPEOPLE")]
    created = stores.runs.create_run(run, lines)
    assert created.etag
    got, got_lines = stores.runs.get_run("run-1")
    assert got == created
    assert [line.mapping for line in got_lines] == ["SALESPEOPLE", "CUSTOMER", "CONTACT"]
    assert all(line.etag and line.status is LineStatus.WAITING for line in got_lines)
    with pytest.raises(ConflictError) as raised:
        stores.runs.create_run(run, [])
    assert raised.value.code == "runExists"
    with pytest.raises(ValueError, match="one line per mapping"):
        stores.runs.create_run(SyncRun("run-2", "2025-03-01T08:00:00Z"), [lines[0], lines[0]])
    with pytest.raises(NotFoundError) as missing:
        stores.runs.get_run("run-2")
    assert missing.value.code == "runNotFound"


def test_runs_and_lines_update_conditionally(stores: Stores) -> None:
    run = stores.runs.create_run(SyncRun("run-1", "2025-03-01T08:00:00Z", mappings=("CUSTOMER",)), [ReviewLine(M, "x")])
    _, (line,) = stores.runs.get_run("run-1")
    done = replace_line(line, LineStatus.FINISHED, Counters(inserted=3, failed=1), chunks_done=2)
    updated = stores.runs.update_line("run-1", done)
    assert updated.etag != line.etag and stores.runs.get_run("run-1")[1] == [updated]
    with pytest.raises(ConcurrencyError):
        stores.runs.update_line("run-1", replace_line(line, LineStatus.FAILED, Counters()))
    with pytest.raises(NotFoundError) as missing:
        stores.runs.update_line("run-1", ReviewLine("ITEM", "x", etag=line.etag))
    assert missing.value.code == "lineNotFound"
    finished = stores.runs.update_run(SyncRun("run-1", run.created_on, "finished", run.mappings, run.etag))
    assert stores.runs.get_run("run-1")[0] == finished and finished.status == "finished"
    with pytest.raises(ConcurrencyError):
        stores.runs.update_run(run)


def test_lines_and_the_run_update_in_one_transaction_all_or_nothing(stores: Stores) -> None:
    names = ("CUSTOMER", "CONTACT", "ITEM")
    run = stores.runs.create_run(
        SyncRun("run-1", "2025-03-01T08:00:00Z", mappings=names), [ReviewLine(n, "x") for n in names]
    )
    _, lines = stores.runs.get_run("run-1")
    started = [dataclasses.replace(line, status=LineStatus.RUNNING) for line in lines[:2]]
    running = dataclasses.replace(run, status="running")
    saved_run, saved = stores.runs.update_lines("run-1", started, running)
    assert saved_run is not None and saved_run.status == "running" and saved_run.etag != run.etag
    assert [line.etag for line in saved] != [line.etag for line in started]
    assert stores.runs.get_run("run-1") == (saved_run, [*saved, lines[2]])
    failing = [dataclasses.replace(lines[2], status=LineStatus.FAILED), dataclasses.replace(saved[0], error="x")]
    with pytest.raises(ConcurrencyError):
        stores.runs.update_lines("run-1", failing, run)  # the run's etag is stale: nothing is written
    with pytest.raises(ConcurrencyError):
        stores.runs.update_lines("run-1", [failing[0], started[1]])  # one stale line: nothing is written
    assert stores.runs.get_run("run-1") == (saved_run, [*saved, lines[2]])
    none_run, (only,) = stores.runs.update_lines("run-1", [failing[0]])
    assert none_run is None and stores.runs.get_run("run-1") == (saved_run, [*saved, only])
    with pytest.raises(NotFoundError):
        stores.runs.update_lines("run-1", [ReviewLine("VENDOR", "x", etag=only.etag)])
    with pytest.raises(ValueError, match="etag"):
        stores.runs.update_lines("run-1", [ReviewLine("ITEM", "x")])


def test_running_mappings_are_the_lines_running_that_started_after_the_instant(stores: Stores) -> None:
    names = ("CUSTOMER", "CONTACT", "ITEM-PRODUCT", "SALESPEOPLE")
    stores.runs.create_run(SyncRun("old", "2025-03-01T08:00:00Z", mappings=names), [ReviewLine(n, "x") for n in names])
    stores.runs.create_run(SyncRun("new", "2025-03-02T08:00:00Z", mappings=names), [ReviewLine(n, "x") for n in names])
    assert stores.runs.running_mappings("2025-01-01T00:00:00.000Z") == set()  # waiting lines are not running
    _, old_lines = stores.runs.get_run("old")
    _, new_lines = stores.runs.get_run("new")
    by_name = {line.mapping: line for line in new_lines}
    stores.runs.update_line("old", _started(old_lines[0], LineStatus.RUNNING, "2025-03-01T08:00:01.000Z"))
    stores.runs.update_line("new", _started(by_name["CUSTOMER"], LineStatus.RUNNING, "2025-03-02T08:00:01.000Z"))
    stores.runs.update_line("new", _started(by_name["CONTACT"], LineStatus.FINISHED, "2025-03-02T08:00:01.000Z"))
    assert stores.runs.running_mappings("2025-03-02T00:00:00.000Z") == {"CUSTOMER"}  # the old run's is abandoned
    assert stores.runs.running_mappings("2025-02-01T00:00:00.000Z") == {"CUSTOMER", old_lines[0].mapping}


def test_a_lines_lease_restarts_and_hand_over_mark_round_trip(stores: Stores) -> None:
    stores.runs.create_run(SyncRun("run-1", "2025-03-01T08:00:00Z", mappings=(M,)), [ReviewLine(M, "x")])
    _, (line,) = stores.runs.get_run("run-1")
    assert (line.progressed_on, line.restarts, line.stores_chunks, line.hand_over_pending) == ("", 0, False, False)
    changed = dataclasses.replace(
        line, progressed_on="2025-03-01T08:05:00.000Z", restarts=2, stores_chunks=True, hand_over_pending=True
    )
    saved = stores.runs.update_line("run-1", changed)
    assert stores.runs.get_run("run-1")[1] == [saved] and saved == dataclasses.replace(changed, etag=saved.etag)


def test_active_runs_are_the_runs_running(stores: Stores) -> None:
    for run_id, status in (("a", "planned"), ("b", "running"), ("c", "finished"), ("d", "running"), ("e", "failed")):
        stores.runs.create_run(SyncRun(run_id, "2025-03-01T08:00:00Z", status, (M,)), [ReviewLine(M, "x")])
    assert stores.runs.active_runs() == ["b", "d"]
    run, _ = stores.runs.get_run("b")
    stores.runs.update_run(dataclasses.replace(run, status="finished"))
    assert stores.runs.active_runs() == ["d"]


def _chunk(number: int, mapping: str = M, attempt: int = 0, phase: int = 0, side: str = "bc") -> LineChunk:
    return LineChunk(
        mapping, attempt, phase, number, side, tuple(f"{mapping}/{attempt}/{number}#{i}" for i in range(3))
    )


def test_chunks_are_stored_once_listed_in_order_and_never_part_of_the_review(stores: Stores) -> None:
    names = ("ITEM UOM", M)
    stores.runs.create_run(
        SyncRun("run-1", "2025-03-01T08:00:00Z", mappings=names), [ReviewLine(n, "x") for n in names]
    )
    phase_0 = [_chunk(n) for n in range(1, 131)]  # more than one transaction
    phase_1 = [_chunk(n, phase=1, side="dv") for n in (131, 132)]
    stores.runs.save_chunks("run-1", phase_0)
    stores.runs.save_chunks("run-1", phase_1)
    stores.runs.save_chunks("run-1", [_chunk(1, attempt=1), _chunk(1, attempt=10), _chunk(1, mapping="ITEM UOM")])
    stores.runs.save_chunks("run-2", [_chunk(1)])  # another run's partition

    assert stores.runs.list_chunks("run-1", M, 0) == phase_0 + phase_1
    assert stores.runs.list_chunks("run-1", M, 0, phase=1) == phase_1
    assert stores.runs.list_chunks("run-1", M, 0, phase=0) == phase_0
    assert stores.runs.list_chunks("run-1", M, 1) == [_chunk(1, attempt=1)]  # attempt 1 never selects attempt 10
    assert stores.runs.list_chunks("run-1", "ITEM UOM", 0) == [_chunk(1, mapping="ITEM UOM")]
    assert stores.runs.list_chunks("run-1", "CONTACT", 0) == []
    run, lines = stores.runs.get_run("run-1")
    assert run.mappings == names and [line.mapping for line in lines] == list(names)


def test_a_stored_chunk_never_changes_and_its_transaction_writes_nothing(stores: Stores) -> None:
    stores.runs.create_run(SyncRun("run-1", "2025-03-01T08:00:00Z", mappings=(M,)), [ReviewLine(M, "x")])
    stores.runs.save_chunks("run-1", [_chunk(1), _chunk(2)])
    other_ids = dataclasses.replace(_chunk(2), ids=("someone", "else"))
    with pytest.raises(ConflictError) as taken:
        stores.runs.save_chunks("run-1", [_chunk(3), other_ids, _chunk(4)])
    assert taken.value.code == "chunkExists"
    assert stores.runs.list_chunks("run-1", M, 0) == [_chunk(1), _chunk(2)]


def test_a_chunk_of_long_ids_with_reserved_characters_round_trips(stores: Stores) -> None:
    """Page keys (`<item number>|<code>`, `/` and `#` in codes) and a chunk size far above 200: compressed, not cut."""
    ids = tuple(f"ITEM/{n:05d}|#CODE?{n}%~{'x' * 200}" for n in range(2000))
    chunk = LineChunk("ITEM UOM", 3, 1, 7, "bc", ids)
    stores.runs.save_chunks("run-1", [chunk])
    assert stores.runs.list_chunks("run-1", "ITEM UOM", 3) == [chunk]


def _started(line: ReviewLine, status: LineStatus, started_on: str) -> ReviewLine:
    return dataclasses.replace(line, status=status, started_on=started_on)


def replace_line(line: ReviewLine, status: LineStatus, counters: Counters, chunks_done: int = 0) -> ReviewLine:
    return ReviewLine(line.mapping, line.recommendation, status, counters, 2, chunks_done, "", line.etag)


# -- jobs -----------------------------------------------------------------------------------------------------
def test_the_job_log_lists_newest_first_and_records_a_job_once(stores: Stores) -> None:
    for job_id, minute in (("b", 5), ("a", 1), ("c/1", 9), ("d", 5)):
        stores.jobs.record_job(SyncJob(M, job_id, f"2025-03-01T08:{minute:02d}:00.000000Z"))
    stores.jobs.record_job(SyncJob("ITEM", "z", "2025-03-01T09:00:00Z"))
    finished = SyncJob(M, "a", "2025-03-01T08:01:00.000000Z", "2025-03-01T08:02:00Z", "finished", Counters(modified=4))
    stores.jobs.record_job(finished)
    assert [job.job_id for job in stores.jobs.list_jobs(M)] == ["c/1", "b", "d", "a"]
    assert [job.job_id for job in stores.jobs.list_jobs(M, limit=2)] == ["c/1", "b"]
    assert stores.jobs.find_job("a") == finished
    assert stores.jobs.find_job("missing") is None
    assert stores.jobs.find_job("a", M) == finished  # read from its mapping's partition only
    assert stores.jobs.find_job("a", "ITEM") is None and stores.jobs.find_job("z", "ITEM") is not None


# -- record errors --------------------------------------------------------------------------------------------
def test_the_same_error_twice_in_a_row_skips_the_record(stores: Stores) -> None:
    first = stores.errors.record_error(M, Side.BC, "r1", "badValue", "Name is too long")
    assert (first.count, first.skipped, first.first_seen) == (1, False, "2025-03-01T08:00:00.000000Z")
    stores.clock.now += timedelta(minutes=5)
    other = stores.errors.record_error(M, Side.BC, "r1", "missingLookup", "no currency")
    assert (other.count, other.skipped, other.code) == (2, False, "missingLookup")
    again = stores.errors.record_error(M, Side.BC, "r1", "missingLookup", "no currency")
    assert (again.count, again.skipped, again.first_seen) == (3, True, first.first_seen)
    assert again.last_seen == "2025-03-01T08:05:00.000000Z"
    assert stores.errors.find_error(M, Side.BC, "r1") == again
    assert stores.errors.find_error(M, Side.DATAVERSE, "r1") is None


def test_restore_clears_skipped_and_keeps_the_history(stores: Stores) -> None:
    for _ in range(2):
        stores.errors.record_error(M, Side.DATAVERSE, "r1", "badValue", "x")
    stores.errors.restore(M, Side.DATAVERSE, "r1")
    restored = stores.errors.find_error(M, Side.DATAVERSE, "r1")
    assert restored is not None and (restored.skipped, restored.count) == (False, 2)
    stores.errors.restore(M, Side.DATAVERSE, "unknown")
    assert stores.errors.record_error(M, Side.DATAVERSE, "r1", "badValue", "x").skipped


def test_errors_are_listed_in_key_order_and_cleared_idempotently(stores: Stores) -> None:
    stores.errors.record_error("ITEM", Side.BC, "i1", "e", "m" * 40_000)
    for side, record_id in ((Side.DATAVERSE, "r2"), (Side.BC, "r9"), (Side.BC, "r1")):
        stores.errors.record_error(M, side, record_id, "e", "m")
    assert [(e.side, e.record_id) for e in stores.errors.list_errors(M)] == [
        (Side.BC, "r1"),
        (Side.BC, "r9"),
        (Side.DATAVERSE, "r2"),
    ]
    assert [e.mapping for e in stores.errors.list_errors()] == [M, M, M, "ITEM"]
    assert len(stores.errors.list_errors("ITEM")[0].message) < 40_000
    stores.errors.clear_error(M, Side.BC, "r9")
    stores.errors.clear_error(M, Side.BC, "r9")
    assert stores.errors.find_error(M, Side.BC, "r9") is None and len(stores.errors.list_errors(M)) == 2


def test_the_errors_of_a_few_records_are_found_at_once_and_only_theirs(stores: Stores) -> None:
    for side, record_id in ((Side.DATAVERSE, "r2"), (Side.BC, "r1"), (Side.BC, "r2")):
        stores.errors.record_error(M, side, record_id, "e", "m")
    stores.errors.record_error("ITEM", Side.BC, "r3", "e", "m")
    assert stores.errors.find_errors(M, []) == []
    found = stores.errors.find_errors(M, [(Side.BC, "r2"), (Side.DATAVERSE, "r1"), (Side.BC, "r3")])
    assert found == [stores.errors.find_error(M, Side.BC, "r2")]  # no row for dv:r1 here, r3 is ITEM's
    many = [(Side.BC, f"x{n}") for n in range(30)] + [(Side.DATAVERSE, "r2"), (Side.BC, "r1")]
    found_many = {(e.side, e.record_id) for e in stores.errors.find_errors(M, many)}
    assert found_many == {(Side.DATAVERSE, "r2"), (Side.BC, "r1")}


def test_errors_are_saved_and_cleared_in_bulk_and_a_lost_race_writes_nothing(stores: Stores) -> None:
    first = stores.errors.record_error(M, Side.BC, "r1", "badValue", "x")
    now = "2025-03-01T08:00:00.000000Z"
    entries = [
        next_error(first, M, Side.BC, "r1", "badValue", "again", now),  # replaces the row read
        next_error(None, M, Side.DATAVERSE, "r2", "missingLookup", "y", now),  # a new row
        next_error(None, M, Side.BC, "r3", "badValue", "z", now),
    ]
    saved = stores.errors.save_errors(entries)
    assert [(e.count, e.skipped) for e in saved if e is not None] == [(2, True), (1, False), (1, False)]
    assert stores.errors.find_error(M, Side.BC, "r1") == saved[0]
    stale = stores.errors.save_errors([entries[0], next_error(None, M, Side.BC, "r4", "e", "m", now)])
    assert stale[0] is None and stale[1] is not None  # r1 moved on since `first` was read
    assert stores.errors.find_error(M, Side.BC, "r1") == saved[0]
    stores.errors.clear_errors(M, [(Side.BC, "r1"), (Side.DATAVERSE, "r2"), (Side.BC, "never-failed")])
    assert [(e.side, e.record_id) for e in stores.errors.list_errors(M)] == [(Side.BC, "r3"), (Side.BC, "r4")]
    many = [next_error(None, "ITEM", Side.BC, f"i{n:03d}", "e", "m" * 9_000, now) for n in range(130)]
    assert all(e is not None for e in stores.errors.save_errors(many))  # more than one transaction, by count and size
    stores.errors.clear_errors("ITEM", [(e.side, e.record_id) for e in many])
    assert stores.errors.list_errors("ITEM") == []


# -- settings -------------------------------------------------------------------------------------------------
def test_settings_round_trip_a_partition_under_one_etag(stores: Stores) -> None:
    assert stores.settings.get_settings("setup") == ({}, None)
    values = {"company": "CRONUS", "autoCreate": True, "interval": 5, "filters": {"a": [1, None]}, "big": "x" * 70_000}
    etag = stores.settings.update_settings("setup", values, None)
    assert stores.settings.get_settings("setup") == (values, etag)
    assert stores.settings.get_settings("mapping") == ({}, None)
    newer = stores.settings.update_settings("setup", {"company": "CRONUS", "interval": 15}, etag)
    assert newer != etag and stores.settings.get_settings("setup") == ({"company": "CRONUS", "interval": 15}, newer)
    for stale in (etag, None):
        with pytest.raises(ConcurrencyError):
            stores.settings.update_settings("setup", {"company": "lost"}, stale)
    assert stores.settings.get_settings("setup")[0]["company"] == "CRONUS"
    emptied = stores.settings.update_settings("setup", {}, newer)
    assert stores.settings.get_settings("setup") == ({}, emptied)
    with pytest.raises(ValueError, match="partition"):
        stores.settings.get_settings("secrets")


def test_every_settings_partition_is_read_at_once(stores: Stores) -> None:
    assert stores.settings.get_all_settings() == {"setup": ({}, None), "mapping": ({}, None)}
    setup = stores.settings.update_settings("setup", {"company": "CRONUS"}, None)
    mapping = stores.settings.update_settings("mapping", {"CUSTOMER": {"enabled": False}}, None)
    assert stores.settings.get_all_settings() == {
        "setup": ({"company": "CRONUS"}, setup),
        "mapping": ({"CUSTOMER": {"enabled": False}}, mapping),
    }


# -- quote archive --------------------------------------------------------------------------------------------
def test_archived_revisions_list_oldest_first_and_keep_the_first_write(stores: Stores) -> None:
    for revision in (10, 2, 1):
        stores.archive.archive_quote(ArchivedQuote("QUO-1001", revision, "2025-03-01", {"rev": revision}))
    stores.archive.archive_quote(ArchivedQuote("QUO-1001", 2, "2025-03-09", {"rev": "retried"}))
    stores.archive.archive_quote(ArchivedQuote("QUO-1002", 1, "2025-03-01"))
    revisions = stores.archive.list_revisions("QUO-1001")
    assert [(q.revision, q.document) for q in revisions] == [(1, {"rev": 1}), (2, {"rev": 2}), (10, {"rev": 10})]
    assert stores.archive.list_revisions("QUO-404") == []


def test_a_large_quote_round_trips_and_a_huge_one_is_refused(stores: Stores) -> None:
    lines = [{"lineNo": n, "description": os.urandom(200).hex()} for n in range(800)]  # ~350 KB, ~half compressible
    quote = ArchivedQuote("QUO-1", 1, "2025-03-01T08:00:00Z", {"number": "QUO-1", "lines": lines})
    stores.archive.archive_quote(quote)
    assert stores.archive.list_revisions("QUO-1") == [quote]
    with pytest.raises(RecordError) as raised:
        stores.archive.archive_quote(ArchivedQuote("QUO-1", 2, "x", {"blob": os.urandom(1_100_000).hex()}))
    assert raised.value.code == "documentTooLarge"


# -- the factory ----------------------------------------------------------------------------------------------
class FakeCredential:
    def get_token(self, *scopes: str, **kwargs: object) -> object:
        raise AssertionError("building a factory must not fetch a token")


def test_account_keys_are_refused_outside_azurite() -> None:
    real_account = (
        "DefaultEndpointsProtocol=https;AccountName=prodstore;AccountKey=c2VjcmV0;EndpointSuffix=core.windows.net"
    )
    with pytest.raises(FatalError) as raised:
        TableFactory.from_connection_string(real_account)
    assert raised.value.code == "accountKeyRefused"
    assert TableFactory.from_connection_string("UseDevelopmentStorage=true", prefix="t1").table_name(COUPLINGS) == (
        "t1Couplings"
    )
    managed = TableFactory.from_account_url("https://prodstore.table.core.windows.net", FakeCredential())  # type: ignore[arg-type]
    assert managed.table_name("QuoteArchive") == "QuoteArchive"
    with pytest.raises(ValueError, match="prefix"):
        TableFactory.from_account_url("https://a.table.core.windows.net", FakeCredential(), prefix="1-bad")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown table"):
        managed.table_name("Secrets")


@pytest.mark.integration
def test_tables_are_created_on_first_use_idempotently(azurite: str) -> None:
    prefix = f"t{uuid.uuid4().hex[:10]}"
    first, second = (TableFactory.from_connection_string(azurite, prefix=prefix) for _ in range(2))
    TableCouplingStore(first).create_coupling(coupling())
    assert TableCouplingStore(second).find_by_dataverse_id(M, "dv-1") is not None
