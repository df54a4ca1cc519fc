"""How a full-sync chunk reads: its records in one range read per listed page (whatever the range cannot give, a
refused filter or a record changed meanwhile, read by id, so the optimization never loses one), and its lookups
resolved for the whole chunk at once. On the real emulators, counting the requests they saw."""

from __future__ import annotations

import uuid

import pytest

from local.emulators.business_central.seed import seeded_id as bc_seeded
from shared.domain.coupling import Coupling
from shared.engine.lookups import LookupFailed, LookupResolver
from shared.engine.mapping_run import MappingRun
from shared.engine.sides import BcSide, DataverseSide
from shared.engine.values import ValueMapper
from shared.mappings import get_mapping
from shared.mappings.common import OWNER_LOOKUP
from tests.sync.conftest import SyncStack

pytestmark = pytest.mark.integration


def _sides(stack: SyncStack, name: str) -> tuple[BcSide, DataverseSide]:
    mapping = get_mapping(name)
    mapper = ValueMapper(mapping, LookupResolver(stack.context), stack.context.option_maps)
    return BcSide(stack.bc, mapping, mapper), DataverseSide(stack.dataverse, mapping, mapper)


def _reads(stats: dict[str, object], entity_set: str) -> int:
    by_set = stats["byEntitySet"]
    assert isinstance(by_set, dict)
    return int(by_set.get(entity_set, {}).get("GET", 0))


def _new_customers(stack: SyncStack, count: int) -> None:
    for n in range(count):
        body = {"displayName": f"Listed {n:03d}", "city": "Range City"}
        stack.bc.create_entity("customers", body, str(uuid.uuid4()))


def test_a_listed_chunk_of_bc_records_costs_one_read(sync_stack: SyncStack) -> None:
    _new_customers(sync_stack, 40)
    bc_side, _ = _sides(sync_stack, "CUSTOMER")
    ids = [i for page in sync_stack.bc.list_ids("customers", bc_side.mapping.bc_filter) for i in page][:35]
    sync_stack.bc_handle.admin("DELETE", "stats")
    rows = bc_side.get_listed(ids)
    assert sorted(rows) == sorted(ids)
    assert _reads(sync_stack.bc_handle.stats(), "customers") == 1  # by id: 3 reads (15 ids per filter)


def test_a_refused_range_falls_back_to_reads_by_id(sync_stack: SyncStack, monkeypatch: pytest.MonkeyPatch) -> None:
    """BC accepting `ge` on a Guid is UNCONFIRMED: a 400 for the range must cost reads, not records."""
    _new_customers(sync_stack, 20)
    bc_side, _ = _sides(sync_stack, "CUSTOMER")
    ids = [i for page in sync_stack.bc.list_ids("customers", bc_side.mapping.bc_filter) for i in page][:20]
    monkeypatch.setattr(sync_stack.bc, "id_range_filter", lambda *_: "noSuchField ge 1")
    sync_stack.bc_handle.admin("DELETE", "stats")
    rows = bc_side.get_listed(ids)
    assert sorted(rows) == sorted(ids)
    stats = sync_stack.bc_handle.stats()
    assert _reads(stats, "customers") == 1 + 2  # the refused range, then two id filters


def test_a_record_gone_from_the_range_is_read_by_id(sync_stack: SyncStack, monkeypatch: pytest.MonkeyPatch) -> None:
    """If the server's order did not follow the listing (or a record left the range), nothing is lost."""
    _new_customers(sync_stack, 20)
    bc_side, _ = _sides(sync_stack, "CUSTOMER")
    ids = [i for page in sync_stack.bc.list_ids("customers", bc_side.mapping.bc_filter) for i in page][:20]
    narrow = f"id ge {ids[0]} and id le {ids[9]}"  # a range that misses the second half
    monkeypatch.setattr(sync_stack.bc, "id_range_filter", lambda *_: narrow)
    assert sorted(bc_side.get_listed(ids)) == sorted(ids)


def test_a_listed_chunk_of_dataverse_rows_costs_one_read(sync_stack: SyncStack) -> None:
    made = []
    for n in range(30):
        row_id = str(uuid.uuid4())
        sync_stack.dataverse.create_row("accounts", row_id, {"name": f"Listed {n:03d}", "customertypecode": 3})
        made.append(row_id)
    _, dv_side = _sides(sync_stack, "CUSTOMER")
    ids = [i for page in sync_stack.dataverse.list_ids("accounts", "startswith(name,'Listed ')") for i in page]
    sync_stack.dv_handle.admin("DELETE", "stats")
    rows = dv_side.get_listed(ids)
    assert sorted(rows) == sorted(made)
    assert _reads(sync_stack.dv_handle.stats(), "accounts") == 1


def test_a_chunk_resolves_its_lookups_in_one_read_per_direction(sync_stack: SyncStack) -> None:
    """An item's own unit group is a different value per record: resolved one by one it costs a BC read each."""
    resolver = LookupResolver(sync_stack.context)
    jo, of = bc_seeded("salesperson", "JO"), bc_seeded("salesperson", "OF")
    dv_jo, dv_of = str(uuid.uuid4()), str(uuid.uuid4())
    sync_stack.context.couplings.create_coupling(Coupling("SALESPEOPLE", jo, dv_jo))
    sync_stack.context.couplings.create_coupling(Coupling("SALESPEOPLE", of, dv_of))
    sync_stack.bc_handle.admin("DELETE", "stats")
    resolver.prefetch_bc_values(OWNER_LOOKUP, ["JO", "OF", "LM", "JO", "", None, "NOPE"])
    assert _reads(sync_stack.bc_handle.stats(), "salespeoplePurchasers") == 1
    assert resolver.to_dataverse_id(OWNER_LOOKUP, "JO") == dv_jo
    assert resolver.to_dataverse_id(OWNER_LOOKUP, "OF") == dv_of
    with pytest.raises(LookupFailed):
        resolver.to_dataverse_id(OWNER_LOOKUP, "LM")  # in BC, not coupled
    assert resolver.to_dataverse_id(OWNER_LOOKUP, "") is None
    assert _reads(sync_stack.bc_handle.stats(), "salespeoplePurchasers") == 1  # all from the cache

    back = LookupResolver(sync_stack.context)
    back.prefetch_dataverse_ids(OWNER_LOOKUP, [dv_jo, dv_of, str(uuid.uuid4()), None])
    assert _reads(sync_stack.bc_handle.stats(), "salespeoplePurchasers") == 2
    assert back.to_bc_value(OWNER_LOOKUP, dv_jo) == "JO" and back.to_bc_value(OWNER_LOOKUP, dv_of) == "OF"
    assert _reads(sync_stack.bc_handle.stats(), "salespeoplePurchasers") == 2


def test_a_chunk_redone_after_its_couplings_were_lost_couples_what_bc_already_holds(sync_stack: SyncStack) -> None:
    """A worker that died after BC created the chunk's customers but before the couplings were stored: the redone
    chunk meets "same key" for every create (the chosen ids are deterministic), takes BC's rows and couples them."""
    made = []
    for n in range(20):
        row_id = str(uuid.uuid4())
        sync_stack.dataverse.create_row("accounts", row_id, {"name": f"Redone {n:03d}", "customertypecode": 3})
        made.append(row_id)
    ids = [i for page in sync_stack.dataverse.list_ids("accounts", "startswith(name,'Redone ')") for i in page]
    mapping = get_mapping("CUSTOMER")
    first = MappingRun(sync_stack.context, mapping).run_records([], ids)
    assert first.counters.inserted == 20
    couplings = sync_stack.context.couplings
    bc_ids = sorted(couplings.find_many_by_dataverse_ids("CUSTOMER", made)[i].bc_id for i in made)
    for bc_id in bc_ids:
        couplings.delete_coupling("CUSTOMER", bc_id)
    before = sum(len(page) for page in sync_stack.bc.list_ids("customers"))
    again = MappingRun(sync_stack.context, mapping).run_records([], ids)
    assert (again.counters.coupled, again.counters.failed) == (20, 0), again.counters
    assert sorted(c.bc_id for c in couplings.find_many_by_dataverse_ids("CUSTOMER", made).values()) == bc_ids
    assert sum(len(page) for page in sync_stack.bc.list_ids("customers")) == before  # no duplicate
