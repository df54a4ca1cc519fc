"""The coupling store's part in the identity rule, on the in-memory fake and on Azurite alike: claims keep their
`creating`/`created_by` through a round trip, and Delete Coupling with `remember` keeps each record's former
partner without it being a coupling (no list, lookup or has-couplings sees it)."""

from __future__ import annotations

import uuid

import pytest

from local.fakes.storage import InMemoryCouplingStore
from shared.domain.coupling import Coupling
from shared.domain.errors import ConflictError
from shared.domain.records import Side
from shared.ports import CouplingStore
from shared.storage.couplings import TableCouplingStore
from shared.storage.tables import TableFactory

M = "CUSTOMER"


@pytest.fixture(params=["fake", pytest.param("azurite", marks=pytest.mark.integration)])
def store(request: pytest.FixtureRequest) -> CouplingStore:
    if request.param == "fake":
        return InMemoryCouplingStore()
    factory = TableFactory.from_connection_string(
        request.getfixturevalue("azurite"), prefix=f"t{uuid.uuid4().hex[:10]}"
    )
    return TableCouplingStore(factory)


def ids() -> tuple[str, str]:
    return str(uuid.uuid4()), str(uuid.uuid4())


def test_a_claim_keeps_what_it_is_creating_and_for_whom(store: CouplingStore) -> None:
    bc_id, dv_id = ids()
    store.create_coupling(Coupling(M, bc_id, dv_id, creating=Side.DATAVERSE, created_by="fs-1/CUSTOMER/3"))
    found = store.find_by_dataverse_id(M, dv_id)
    assert found is not None
    assert (found.creating, found.created_by, found.source_side) == (Side.DATAVERSE, "fs-1/CUSTOMER/3", Side.BC)
    finished = store.update_coupling(found.with_changes(creating=None))
    again = store.find_by_bc_id(M, bc_id)
    assert again is not None and again.creating is None and again.created_by == "fs-1/CUSTOMER/3"
    assert again.etag == finished.etag
    with pytest.raises(ConflictError):  # a claim is a coupling: a second claim on either id is refused
        store.create_coupling(Coupling(M, bc_id, str(uuid.uuid4()), creating=Side.DATAVERSE))


def test_delete_coupling_remembers_former_partners_only_when_asked(store: CouplingStore) -> None:
    (kept_bc, kept_dv), (gone_bc, gone_dv) = ids(), ids()
    assert not store.has_former_couplings(M)
    store.create_coupling(Coupling(M, kept_bc, kept_dv))
    store.create_coupling(Coupling(M, gone_bc, gone_dv))
    store.delete_coupling(M, gone_bc)
    assert not store.has_former_couplings(M)
    store.delete_coupling(M, kept_bc, remember=True)
    assert store.has_former_couplings(M)
    assert store.former_partners(M, Side.BC, [kept_bc, gone_bc]) == {kept_bc: kept_dv}
    assert store.former_partners(M, Side.DATAVERSE, [kept_dv, gone_dv, kept_bc]) == {kept_dv: kept_bc}
    assert store.former_partners("CONTACT", Side.BC, [kept_bc]) == {}
    # a memory is no coupling: the records are uncoupled and can be coupled again
    assert store.find_by_bc_id(M, kept_bc) is None and store.find_by_dataverse_id(M, kept_dv) is None
    assert list(store.list_couplings(M)) == [] and not store.has_couplings(M)
    store.create_coupling(Coupling(M, kept_bc, kept_dv))
    assert [c.bc_id for c in store.list_couplings(M)] == [kept_bc]
