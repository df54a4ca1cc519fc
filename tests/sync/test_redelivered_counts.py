"""Exact counters under redelivery: a full-sync chunk keeps its job id on every delivery, and its line counts it once,
so a delivery that finishes what a dead one began must count the dead one's work too, once, and a pair that the other
side's chunk of the same run synchronized is not counted again (an outsider saw inserted=1,800 for 2,000 created, and
each pair of a bidirectional line counted twice)."""

from __future__ import annotations

import uuid

import pytest

from shared.domain.records import Counters
from shared.engine.mapping_run import MappingRun
from shared.services.matching import match_and_couple
from tests.sync.conftest import SyncStack
from tests.sync.mappings_for_tests import currency_mapping
from tests.sync.test_catalog_flows import coupled_catalog  # noqa: F401 (fixture)
from tests.sync.test_identity import KINDS, Apps, WorkerDied, dies_after
from tests.sync.test_incremental import couple_currencies

pytestmark = pytest.mark.integration
RUN = "fs-00000000-0000-0000-0000-000000000001"


@pytest.fixture
def customers(sync_stack: SyncStack) -> Apps:
    kind = KINDS["CUSTOMER"]
    sync_stack.use(currency_mapping(), kind.mapping)
    couple_currencies(sync_stack)
    MappingRun(sync_stack.context, kind.mapping).run()  # the demo data's own records first
    apps = Apps(sync_stack, kind, f"Redo{uuid.uuid4().hex[:6]}")
    apps.make_bc(12)
    apps.make_dv(8)
    return apps


@pytest.mark.parametrize(
    ("port", "method"),
    [
        ("couplings", "create_couplings"),  # before the claims
        ("couplings", "update_couplings"),  # the records created, before the page's unit of work is flushed
        ("jobs", "record_job"),  # flushed, before the job log line
    ],
)
def test_a_redelivered_chunk_counts_its_dead_predecessors_creations_once(
    customers: Apps, monkeypatch: pytest.MonkeyPatch, port: str, method: str
) -> None:
    stack, mapping = customers.stack, customers.kind.mapping
    bc_ids = sorted(str(row["id"]) for row in customers.bc_rows())
    store = getattr(stack.context, port)
    monkeypatch.setattr(store, method, dies_after(0)(getattr(store, method)))
    with pytest.raises(WorkerDied):
        MappingRun(stack.context, mapping, f"{RUN}/CUSTOMER/1").run_records(bc_ids, [])
    monkeypatch.undo()
    again = MappingRun(stack.context, mapping, f"{RUN}/CUSTOMER/1").run_records(bc_ids, []).counters
    assert (again.inserted, again.coupled, again.failed) == (12, 12, 0)
    assert again.inserted + again.modified + again.unchanged == len(bc_ids)
    once_more = MappingRun(stack.context, mapping, f"{RUN}/CUSTOMER/1").run_records(bc_ids, []).counters
    assert once_more.inserted == 12  # a duplicate delivery after success reports the same; the line counts one


def test_the_other_sides_chunk_of_the_same_run_counts_each_pair_once(customers: Apps) -> None:
    stack, mapping = customers.stack, customers.kind.mapping
    bc_ids = sorted(str(row["id"]) for row in customers.bc_rows())
    first = MappingRun(stack.context, mapping, f"{RUN}/CUSTOMER/1").run_records(bc_ids, []).counters
    dv_ids = sorted(str(row["accountid"]) for row in customers.dv_rows())  # the split lists after chunk 1 ran
    assert len(dv_ids) == 20
    second = MappingRun(stack.context, mapping, f"{RUN}/CUSTOMER/2").run_records([], dv_ids).counters
    assert first == Counters(inserted=12, coupled=12)
    # the 12 accounts made by chunk 1 are in this list: synchronized by this run already, not counted again
    assert second == Counters(inserted=8, coupled=8)
    total = first.add(second)
    assert total.inserted + total.modified + total.unchanged == 20
    customers.assert_one_pair_each(20)
    other_run = MappingRun(stack.context, mapping, "fs-other/CUSTOMER/1").run_records([], dv_ids).counters
    # a later run compares every pair again, as BC's full synchronization does (the accounts made without a currency
    # get BC's local currency once: a two-way lookup whose blank is not blank on the other side)
    assert (other_run.inserted, other_run.unchanged + other_run.modified) == (0, 20)


@pytest.mark.parametrize(
    ("port", "method", "calls"),
    [
        ("couplings", "create_couplings", 0),  # the pairs matched, flushed in one transaction: nothing written yet
        ("couplings", "create_couplings", 1),  # the pairs written, before the claims of the records to create
        ("couplings", "update_couplings", 0),  # records created, before their completions are flushed
        ("errors", "list_errors", 0),  # before the job's one read of the errors (nothing written yet)
        ("jobs", "record_job", 0),  # everything flushed, before the job log line
    ],
)
def test_a_redelivered_match_chunk_counts_its_dead_predecessors_couplings_once(
    coupled_catalog: SyncStack,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    port: str,
    method: str,
    calls: int,
) -> None:
    """Matching writes its pairs through a unit of work (issue 21: 50 to a transaction, no longer one each): a
    worker killed at any of its flushes leaves no half coupling, and the redelivered chunk couples each record once
    and counts its dead predecessor's pairs once."""
    stack = coupled_catalog
    job = f"{RUN}/CUSTOMER/1"
    bc_ids = [bc_id for page in stack.bc.list_ids("customers", None) for bc_id in page]
    clean = match_and_couple(stack.context, "CUSTOMER", create_if_no_match=True, job_id="probe", bc_ids=bc_ids)
    expected = clean.counters()
    assert (expected.inserted, expected.coupled) == (2, 6)  # the demo data: four matches, two creations
    for coupling in stack.context.couplings.list_couplings("CUSTOMER"):
        stack.context.couplings.delete_coupling("CUSTOMER", coupling.bc_id)
    for made in clean.created:  # back to the start: the two accounts the probe created go
        stack.context.dataverse.delete_row("accounts", made.dataverse_id)
    store = getattr(stack.context, port)
    monkeypatch.setattr(store, method, dies_after(calls)(getattr(store, method)))
    with pytest.raises(WorkerDied):
        match_and_couple(stack.context, "CUSTOMER", create_if_no_match=True, job_id=job, bc_ids=bc_ids)
    monkeypatch.undo()
    redelivered = match_and_couple(stack.context, "CUSTOMER", create_if_no_match=True, job_id=job, bc_ids=bc_ids)
    got = redelivered.counters()
    assert (got.inserted, got.coupled, got.failed) == (expected.inserted, expected.coupled, expected.failed)
    pairs = sorted((c.bc_id, c.dataverse_id) for c in stack.context.couplings.list_couplings("CUSTOMER"))
    assert len(pairs) == 6 and len({dv for _, dv in pairs}) == 6
    assert all(c.creating is None for c in stack.context.couplings.list_couplings("CUSTOMER"))
    again = match_and_couple(stack.context, "CUSTOMER", create_if_no_match=True, job_id=job, bc_ids=bc_ids)
    assert again.counters() == got  # a duplicate delivery after success reports the same; the line counts one
