"""The couplings of a mapping read one page at a time (the console's list, issue 24), and uncoupled many at a time,
on Azurite: the pages hold coupling rows only (never the `dv:` index rows or the `was:` former partners that share
the partition), every coupling once, tokens that chain and end in None; a bad token is refused naming it."""

from __future__ import annotations

import uuid

import pytest

from shared.domain.coupling import Coupling
from shared.domain.errors import InvalidInputError
from shared.domain.records import Side
from shared.storage.couplings import TableCouplingStore
from shared.storage.tables import TableFactory

pytestmark = pytest.mark.integration
M = "CUSTOMER"


def store_of(azurite: str) -> TableCouplingStore:
    return TableCouplingStore(TableFactory.from_connection_string(azurite, prefix=f"t{uuid.uuid4().hex[:10]}"))


def test_250_couplings_are_three_pages_of_100_100_and_50_each_coupling_once(azurite: str) -> None:
    store = store_of(azurite)
    couplings = [Coupling(M, f"bc-{n:04d}", f"dv-{n:04d}") for n in range(252)]
    store.create_couplings(couplings)
    store.create_couplings([Coupling("CONTACT", f"bc-{n}", f"dv-{n}") for n in range(5)])  # another partition
    store.delete_coupling(M, "bc-0250", remember=True)  # leaves `was:` rows in the partition
    store.delete_coupling(M, "bc-0251", remember=True)

    pages: list[list[Coupling]] = []
    tokens: list[str | None] = []
    token: str | None = None
    while True:
        page, token = store.list_page(M, 100, token)
        pages.append(page)
        tokens.append(token)
        if token is None:
            break
    assert [len(page) for page in pages] == [100, 100, 50]
    assert tokens[0] and tokens[1] and tokens[0] != tokens[1] and tokens[2] is None
    listed = [c.bc_id for page in pages for c in page]
    assert listed == [f"bc-{n:04d}" for n in range(250)]  # BC id order, every coupling once, no index row
    assert pages[2][-1].dataverse_id == "dv-0249" and pages[0][0].etag is not None


def test_a_page_of_skipped_couplings_and_tokens_that_are_not_this_mappings(azurite: str) -> None:
    store = store_of(azurite)
    created = store.create_couplings([Coupling(M, f"bc-{n:02d}", f"dv-{n:02d}") for n in range(12)])
    skipped = [c.with_changes(skipped=True) for c in created[3:6] if c is not None]
    store.update_couplings(skipped)

    page, token = store.list_page(M, 10, skipped_only=True)
    assert [c.bc_id for c in page] == ["bc-03", "bc-04", "bc-05"] and token is None
    store.create_couplings([Coupling("CONTACT", "a", "b"), Coupling("CONTACT", "c", "d")])
    _, other = store.list_page("CONTACT", 1)
    assert other is not None
    for bad in ("not-a-token", "e30", other):  # garbage, `{}` in base64, another mapping's token
        with pytest.raises(InvalidInputError) as refused:
            store.list_page(M, 10, bad)
        assert refused.value.field == "continuationToken"


def test_many_couplings_are_deleted_together_each_counted_once(azurite: str) -> None:
    store = store_of(azurite)
    created = [c for c in store.create_couplings([Coupling(M, f"bc-{n:03d}", f"dv-{n:03d}") for n in range(60)]) if c]
    moved = store.update_coupling(created[7].with_changes(values_hash="new"))  # the read copy of bc-007 is stale
    assert store.delete_coupling(M, "bc-009") is True  # gone before the bulk delete

    deleted = store.delete_couplings(M, created, remember={"bc-001"})
    assert deleted.count(False) == 1 and deleted[9] is False  # bc-009: removed by the earlier call, not this one
    assert deleted[7] is True and moved.etag != created[7].etag  # a stale read is replayed by re-reading
    assert list(store.list_couplings(M)) == []
    assert store.find_by_dataverse_id(M, "dv-030") is None  # the index rows went too
    assert store.former_partners(M, Side.BC, ["bc-001", "bc-002"]) == {"bc-001": "dv-001"}
    assert store.delete_couplings(M, created[:3]) == [False, False, False]  # a second delivery counts nothing
