"""The identity rule on the real stack: one pair per record, whatever crashed or was uncoupled.

Reproduces what an outsider found on a mapping that runs both ways and creates (`syncOnlyCoupled=false`):
(b) couplings deleted with BC's "Delete Coupling", both sides edited, two runs: each uncoupled pair became two
pairs (25 customers and 25 accounts for 20); (a) a worker killed between a create and its coupling: the next run
copied the orphan back (392 duplicates). For CUSTOMER, CONTACT and OPPORTUNITY, records first created on either
side, the end state must be N records on each side, each coupled exactly once to an existing partner.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pytest

from local.emulators.business_central.seed import COMPANY_ID
from shared.domain.coupling import Coupling
from shared.domain.errors import BulkWriteError, RecordError, RecordFailure, TransientError
from shared.domain.mapping import ConflictPolicy, Direction, FieldMapping, TableMapping
from shared.domain.records import Side
from shared.engine.mapping_run import MappingRun, run_mapping
from shared.services.coupling import uncouple
from tests.sync.conftest import SyncStack
from tests.sync.mappings_for_tests import currency_mapping, customer_mapping
from tests.sync.test_incremental import couple_currencies

pytestmark = pytest.mark.integration
API = "/api/data/v9.2"
TWO_WAY = Direction.BIDIRECTIONAL
RECORDS = 20
UNCOUPLED = 5


@dataclass(frozen=True)
class Kind:
    """One mapping under test: how its records are made and edited on each side, and how to tell ours apart."""

    mapping: TableMapping
    bc_set: str
    dv_set: str
    dv_id: str
    bc_name: str  # the BC field holding the tag, and the Dataverse one
    dv_name: str
    bc_extra: dict[str, Any]
    dv_extra: dict[str, Any]
    bc_edit: str
    dv_edit: str


def _mapping(
    name: str, bc_set: str, dv_table: str, dv_set: str, dv_id: str, fields: tuple[FieldMapping, ...]
) -> TableMapping:
    return TableMapping(
        name=name,
        bc_entity=bc_set.rstrip("s"),
        bc_entity_set=bc_set,
        dataverse_table=dv_table,
        dataverse_entity_set=dv_set,
        dataverse_id=dv_id,
        direction=TWO_WAY,
        fields=fields,
        sync_only_coupled=False,
        conflict_policy=ConflictPolicy.BC_WINS,  # both sides are edited: the point here is identity, not conflicts
    )


KINDS = {
    "CUSTOMER": Kind(
        replace(
            customer_mapping(),
            sync_only_coupled=False,
            bc_filter=None,
            dataverse_filter=None,
            conflict_policy=ConflictPolicy.BC_WINS,
        ),
        "customers", "accounts", "accountid", "displayName", "name", {}, {"customertypecode": 3},
        "phoneNumber", "telephone1",
    ),
    "CONTACT": Kind(
        _mapping("CONTACT", "contacts", "contact", "contacts", "contactid", (
            FieldMapping("displayName", "lastname", TWO_WAY),
            FieldMapping("phoneNumber", "telephone1", TWO_WAY),
        )),
        "contacts", "contacts", "contactid", "displayName", "lastname", {"type": "Person"}, {},
        "phoneNumber", "telephone1",
    ),
    "OPPORTUNITY": Kind(
        _mapping("OPPORTUNITY", "opportunities", "opportunity", "opportunities", "opportunityid", (
            FieldMapping("description", "name", TWO_WAY),
        )),
        "opportunities", "opportunities", "opportunityid", "description", "name", {}, {},
        "description", "name",
    ),
}  # fmt: skip


class Apps:
    """Our records of one kind on both sides, read and written over HTTP as a user would."""

    def __init__(self, stack: SyncStack, kind: Kind, tag: str) -> None:
        self.stack, self.kind, self.tag = stack, kind, tag

    def _bc_url(self, suffix: str = "") -> str:
        return f"{self.stack.bc_handle.company_root(COMPANY_ID)}/{self.kind.bc_set}{suffix}"

    def _dv_url(self, suffix: str = "") -> str:
        return f"{self.stack.dv_handle.base_url}{API}/{self.kind.dv_set}{suffix}"

    def bc_rows(self) -> list[dict[str, Any]]:
        found = self.stack.bc_handle.session.get(
            self._bc_url(), params={"$filter": f"startswith({self.kind.bc_name},'{self.tag}')"}
        )
        assert found.status_code == 200, found.text
        return list(found.json()["value"])

    def dv_rows(self) -> list[dict[str, Any]]:
        found = self.stack.dv_handle.session.get(
            self._dv_url(), params={"$filter": f"startswith({self.kind.dv_name},'{self.tag}')"}
        )
        assert found.status_code == 200, found.text
        return list(found.json()["value"])

    def make_bc(self, count: int) -> None:
        for index in range(count):
            body = {self.kind.bc_name: f"{self.tag} {index:03}", **self.kind.bc_extra}
            made = self.stack.bc_handle.session.post(self._bc_url(), json=body)
            assert made.status_code == 201, made.text

    def make_dv(self, count: int) -> None:
        for index in range(count):
            body = {
                self.kind.dv_id: str(uuid.uuid4()),
                self.kind.dv_name: f"{self.tag} {index:03}",
                **self.kind.dv_extra,
            }
            made = self.stack.dv_handle.session.post(self._dv_url(), json=body)
            assert made.status_code == 204, made.text

    def edit_bc(self, row: dict[str, Any], value: str) -> None:
        if self.kind.bc_edit == self.kind.bc_name:
            value = f"{row[self.kind.bc_name]} {value}"
        changed = self.stack.bc_handle.session.patch(
            self._bc_url(f"({row['id']})"), json={self.kind.bc_edit: value}, headers={"If-Match": row["@odata.etag"]}
        )
        assert changed.status_code == 200, changed.text

    def edit_dv(self, row: dict[str, Any], value: str) -> None:
        if self.kind.dv_edit == self.kind.dv_name:
            value = f"{row[self.kind.dv_name]} {value}"
        changed = self.stack.dv_handle.session.patch(
            self._dv_url(f"({row[self.kind.dv_id]})"), json={self.kind.dv_edit: value}, headers={"If-Match": "*"}
        )
        assert changed.status_code == 204, changed.text

    def couplings(self) -> list[Coupling]:
        """Ours only (the demo data has couplings of its own), in BC id order."""
        bc_ids = {str(row["id"]) for row in self.bc_rows()}
        return [c for c in self.stack.context.couplings.list_couplings(self.kind.mapping.name) if c.bc_id in bc_ids]

    def assert_one_pair_each(self, expected: int) -> None:
        """N records on each side, every one coupled exactly once, to a partner that exists."""
        bc_ids = {str(row["id"]) for row in self.bc_rows()}
        dv_ids = {str(row[self.kind.dv_id]) for row in self.dv_rows()}
        assert (len(bc_ids), len(dv_ids)) == (expected, expected)
        couplings = self.couplings()
        assert sorted(c.bc_id for c in couplings) == sorted(bc_ids)
        assert sorted(c.dataverse_id for c in couplings) == sorted(dv_ids)
        assert all(c.creating is None for c in couplings)


def run_until_quiet(stack: SyncStack, name: str, runs: int = 2) -> None:
    for _ in range(runs):
        job = run_mapping(stack.context, name)
        assert job.counters.failed == 0, stack.context.errors.list_errors(name)


@pytest.fixture(params=sorted(KINDS))
def kind(request: pytest.FixtureRequest) -> Kind:
    return KINDS[str(request.param)]


@pytest.fixture(params=["bc", "dv"])
def apps(request: pytest.FixtureRequest, sync_stack: SyncStack, kind: Kind) -> Apps:
    """RECORDS records made on one side (`bc` or `dv`), then copied to the other by a first run and coupled."""
    sync_stack.use(currency_mapping(), kind.mapping)
    couple_currencies(sync_stack)
    apps = Apps(sync_stack, kind, f"Ident{uuid.uuid4().hex[:6]}")
    (apps.make_bc if request.param == "bc" else apps.make_dv)(RECORDS)
    run_until_quiet(sync_stack, kind.mapping.name, runs=1)
    apps.assert_one_pair_each(RECORDS)
    return apps


def test_uncoupled_pairs_edited_on_both_sides_are_coupled_again_not_copied(apps: Apps) -> None:
    """(b): BC's Delete Coupling on 5 pairs, both sides edited, two runs: still 20 and 20, one coupling each."""
    stack, name = apps.stack, apps.kind.mapping.name
    couplings = apps.couplings()
    assert len(couplings) == RECORDS
    for coupling in couplings[:UNCOUPLED]:
        stack.context.couplings.delete_coupling(name, coupling.bc_id)
    for row in apps.bc_rows():
        apps.edit_bc(row, "b1")
    for row in apps.dv_rows():
        apps.edit_dv(row, "d1")
    run_until_quiet(stack, name)
    apps.assert_one_pair_each(RECORDS)


def test_an_uncoupled_pair_edited_on_one_side_is_coupled_again_when_the_other_is_its_copy(apps: Apps) -> None:
    """Only the record the engine created is edited after its coupling was deleted: the create writes to its
    partner's deterministic id (an upsert, or BC answering with the existing row), so it is adopted, not copied."""
    stack, name = apps.stack, apps.kind.mapping.name
    [coupling, *_] = apps.couplings()
    stack.context.couplings.delete_coupling(name, coupling.bc_id)
    created_in_dv = coupling.dataverse_id == _det(name, "bc", coupling.bc_id)
    if created_in_dv:
        apps.edit_bc(next(r for r in apps.bc_rows() if r["id"] == coupling.bc_id), "one")
    else:
        apps.edit_dv(next(r for r in apps.dv_rows() if r[apps.kind.dv_id] == coupling.dataverse_id), "one")
    run_until_quiet(stack, name)
    apps.assert_one_pair_each(RECORDS)


def test_a_copy_edited_alone_after_delete_coupling_finds_its_source_again(apps: Apps) -> None:
    """The hard case: only the record the engine *created* changes after BC's Delete Coupling. Its source's id
    cannot be computed from a uuid5, so Delete Coupling remembers the former partner, and the run couples the two
    again; the edit made on the copy is what both apps then hold."""
    stack, name = apps.stack, apps.kind.mapping.name
    [coupling, *_] = apps.couplings()
    uncouple(stack.context, name, coupling.bc_id)
    assert stack.context.couplings.find_by_bc_id(name, coupling.bc_id) is None
    created_in_dv = coupling.dataverse_id == _det(name, "bc", coupling.bc_id)
    if created_in_dv:
        copy = next(r for r in apps.dv_rows() if r[apps.kind.dv_id] == coupling.dataverse_id)
        apps.edit_dv(copy, "copy")
    else:
        copy = next(r for r in apps.bc_rows() if r["id"] == coupling.bc_id)
        apps.edit_bc(copy, "copy")
    run_until_quiet(stack, name)
    apps.assert_one_pair_each(RECORDS)
    again = stack.context.couplings.find_by_bc_id(name, coupling.bc_id)
    assert again is not None and again.dataverse_id == coupling.dataverse_id
    bc_row = next(r for r in apps.bc_rows() if r["id"] == coupling.bc_id)
    dv_row = next(r for r in apps.dv_rows() if r[apps.kind.dv_id] == coupling.dataverse_id)
    assert str(bc_row[apps.kind.bc_edit]).endswith("copy") and str(dv_row[apps.kind.dv_edit]).endswith("copy")


def test_delete_coupling_of_records_matched_by_the_user_remembers_nothing(apps: Apps) -> None:
    """Only an engine-made pair is an identity: two records the user coupled by hand are strangers again after
    Delete Coupling (BC's rule), so the mapping treats each as uncoupled."""
    stack, name = apps.stack, apps.kind.mapping.name
    [first, second, *_] = apps.couplings()
    stack.context.couplings.delete_coupling(name, first.bc_id)
    stack.context.couplings.delete_coupling(name, second.bc_id)
    stack.context.couplings.create_coupling(Coupling(name, first.bc_id, second.dataverse_id))  # a user's own pairing
    uncouple(stack.context, name, first.bc_id)
    assert stack.context.couplings.former_partners(name, Side.BC, [first.bc_id]) == {}


class WorkerDied(BaseException):
    """The process ended here: nothing in the app may catch it (like a kill -9)."""


def dies_after(calls: int) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    count = {"n": 0}

    def wrap(real: Callable[..., Any]) -> Callable[..., Any]:
        def dying(*args: Any, **kwargs: Any) -> Any:
            count["n"] += 1
            if count["n"] > calls:
                raise WorkerDied
            return real(*args, **kwargs)

        return dying

    return wrap


@pytest.mark.parametrize("site", ["before the create", "after the create"])
def test_a_run_killed_between_creating_and_coupling_leaves_no_duplicate(
    kind: Kind, sync_stack: SyncStack, monkeypatch: pytest.MonkeyPatch, site: str
) -> None:
    """(a): records on both sides, never synchronized; the run dies right after writing some claims (before the
    create reached the other app) or right after the creates (before the pairs were recorded as synchronized).
    Then runs as usual: every record once on each side, once coupled, nothing left half-created."""
    stack = sync_stack
    stack.use(currency_mapping(), kind.mapping)
    couple_currencies(stack)
    apps = Apps(stack, kind, f"Kill{uuid.uuid4().hex[:6]}")
    apps.make_bc(RECORDS // 2)
    apps.make_dv(RECORDS // 2)
    store = stack.context.couplings
    if site == "before the create":
        monkeypatch.setattr(stack.dataverse, "upsert_multiple", dies_after(0)(stack.dataverse.upsert_multiple))
    else:  # the page's unit of work never flushed: the records exist, their couplings are still claims
        monkeypatch.setattr(store, "update_couplings", dies_after(0)(store.update_couplings))
    with pytest.raises(WorkerDied):
        MappingRun(stack.context, stack.context.mapping(kind.mapping.name)).run()
    monkeypatch.undo()
    claims = [c for c in store.list_couplings(kind.mapping.name) if c.creating is not None]
    assert claims, "the kill left no claim: the test did not stop the run where it meant to"
    run_until_quiet(stack, kind.mapping.name)
    apps.assert_one_pair_each(RECORDS)


@pytest.fixture
def customers(sync_stack: SyncStack) -> Apps:
    """CUSTOMER creating both ways, the demo data's own records synchronized first: what follows is ours alone."""
    kind = KINDS["CUSTOMER"]
    sync_stack.use(currency_mapping(), kind.mapping)
    couple_currencies(sync_stack)
    run_until_quiet(sync_stack, "CUSTOMER", runs=1)
    return Apps(sync_stack, kind, f"Cust{uuid.uuid4().hex[:6]}")


def test_a_claim_is_counted_as_an_insert_once_by_the_run_that_finishes_it(
    customers: Apps, monkeypatch: pytest.MonkeyPatch
) -> None:
    apps, stack = customers, customers.stack
    apps.make_bc(4)
    store = stack.context.couplings
    monkeypatch.setattr(stack.dataverse, "upsert_multiple", dies_after(0)(stack.dataverse.upsert_multiple))
    with pytest.raises(WorkerDied):
        MappingRun(stack.context, stack.context.mapping("CUSTOMER")).run()
    monkeypatch.undo()
    claimed = [c for c in store.list_couplings("CUSTOMER") if c.creating is Side.DATAVERSE]
    assert claimed and apps.dv_rows() == []  # claims written, nothing created yet
    job = run_mapping(stack.context, "CUSTOMER")
    ours = {str(r["id"]) for r in apps.bc_rows()}
    assert len(apps.dv_rows()) == 4
    assert (job.counters.inserted, job.counters.coupled, job.counters.failed) == (4, 4, 0)
    assert all(c.creating is None for c in store.list_couplings("CUSTOMER") if c.bc_id in ours)
    again = run_mapping(stack.context, "CUSTOMER")
    assert (again.counters.inserted, again.counters.coupled) == (0, 0)


def _det(mapping: str, side: str, record_id: str) -> str:
    from shared.engine.sides import deterministic_id

    return deterministic_id(mapping, side, record_id)


def test_a_transient_refusal_keeps_the_claim_and_a_record_refusal_releases_it(
    customers: Apps, monkeypatch: pytest.MonkeyPatch
) -> None:
    apps, stack = customers, customers.stack
    apps.make_bc(2)
    kept, released = sorted(str(row["id"]) for row in apps.bc_rows())
    real = stack.dataverse.upsert_multiple

    def refusing(table: str, entity_set: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """Dataverse did not answer for one row (transient) and refused the other's data (a record error)."""
        ids = [str(row["accountid"]) for row in rows]
        failures = [
            RecordFailure(i, ids[i], TransientError("ServiceUnavailable", "Dataverse did not answer"))
            if ids[i] == _det("CUSTOMER", "bc", kept)
            else RecordFailure(i, ids[i], RecordError("invalidValue", "Dataverse refused the value"))
            for i in range(len(rows))
        ]
        raise BulkWriteError("UpsertMultiple", failures, ids)

    monkeypatch.setattr(stack.dataverse, "upsert_multiple", refusing)
    run_mapping(stack.context, "CUSTOMER")
    claim = stack.context.couplings.find_by_bc_id("CUSTOMER", kept)
    assert claim is not None and claim.creating is Side.DATAVERSE  # the next run finishes it
    assert stack.context.couplings.find_by_bc_id("CUSTOMER", released) is None  # nothing was written: released
    assert apps.dv_rows() == []
    monkeypatch.setattr(stack.dataverse, "upsert_multiple", real)
    run_until_quiet(stack, "CUSTOMER", runs=1)
    apps.assert_one_pair_each(2)


def test_a_pair_coupled_again_with_both_sides_edited_stays_a_conflict_until_someone_chooses(
    sync_stack: SyncStack,
) -> None:
    """With no conflict policy, an identity pair edited on both sides after Delete Coupling is a conflict, and it
    stays one on the next runs: neither edit is overwritten until an admin chooses a side (found by the fault
    simulation: the second run let BC's side win silently)."""
    kind = KINDS["CUSTOMER"]
    mapping = replace(kind.mapping, conflict_policy=ConflictPolicy.NONE)
    stack = sync_stack
    stack.use(currency_mapping(), mapping)
    couple_currencies(stack)
    run_until_quiet(stack, "CUSTOMER", runs=1)
    apps = Apps(stack, replace(kind, mapping=mapping), f"Both{uuid.uuid4().hex[:6]}")
    apps.make_bc(2)
    run_until_quiet(stack, "CUSTOMER", runs=1)
    [coupling, _] = apps.couplings()
    uncouple(stack.context, "CUSTOMER", coupling.bc_id)
    apps.edit_bc(next(r for r in apps.bc_rows() if r["id"] == coupling.bc_id), "bc-side")
    apps.edit_dv(next(r for r in apps.dv_rows() if r["accountid"] == coupling.dataverse_id), "sales-side")
    for _ in range(3):
        run_mapping(stack.context, "CUSTOMER")
        error = stack.context.errors.find_error("CUSTOMER", Side.BC, coupling.bc_id)
        assert error is not None and error.code == "changedInBothApps"
        bc_row = next(r for r in apps.bc_rows() if r["id"] == coupling.bc_id)
        dv_row = next(r for r in apps.dv_rows() if r["accountid"] == coupling.dataverse_id)
        assert (bc_row["phoneNumber"], dv_row["telephone1"]) == ("bc-side", "sales-side")
    apps.assert_one_pair_each(2)
