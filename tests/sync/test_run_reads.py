"""What every chunk of a full synchronization reads alike is read once per run (`engine/run_cache.py`), on the
emulators and Azurite: the company contacts' business relations (`contactsInformation`) of CONTACT's parent
account, and the local currency, default price list and units that publishing and pricing products need. Issue 19:
a full sync's requests per record may grow by 10 % at most, and these reads, made per chunk, cost more."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from shared.mappings.common import TO
from shared.mappings.contacts import CONTACT
from shared.services.full_sync import coordinator as full_sync_module
from shared.services.matching import match_and_couple
from tests.sync.conftest import SyncStack
from tests.sync.test_incremental import dv_get
from tests.sync.test_product_behaviours import default_list, full_sync, products

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """One record per chunk: every line of the demo data takes several chunks (a FullSync reads it at use)."""
    monkeypatch.setattr(full_sync_module, "CHUNK_RECORDS", 1)


def gets(handle: Any, entity_set: str) -> int:
    by_set: dict[str, dict[str, int]] = handle.stats()["byEntitySet"]
    return by_set.get(entity_set, {}).get("GET", 0)


def test_a_full_sync_reads_the_contacts_business_relations_once(sync_stack: SyncStack) -> None:
    stack = sync_stack
    stack.use(replace(CONTACT, direction=TO))  # toward Sales only (creating in BC reads the relations its own way)
    for name in ("SALESPEOPLE", "CURRENCY", "CUSTOMER"):
        match_and_couple(stack.context, name)
    stack.bc_handle.admin("DELETE", "stats")
    full_sync(stack, ["CONTACT"])  # one chunk per person
    read = gets(stack.bc_handle, "contactsInformation")
    contacts = dv_get(stack, "contacts", **{"$select": "fullname,_parentcustomerid_value"})["value"]
    assert len(contacts) >= 3 and all(c["_parentcustomerid_value"] for c in contacts), contacts
    assert read == 1  # was one (or more) per chunk


def test_a_full_sync_of_products_reads_price_list_units_and_currency_once(sync_stack: SyncStack) -> None:
    stack = sync_stack
    for name in ("SALESPEOPLE", "CURRENCY"):
        match_and_couple(stack.context, name)
    full_sync(stack, ["UNIT GROUP", "ITEM UOM"])
    stack.dv_handle.admin("DELETE", "stats")
    full_sync(stack, ["ITEM-PRODUCT"])  # one chunk per item
    read = {name: gets(stack.dv_handle, name) for name in ("transactioncurrencies", "pricelevels", "uoms")}
    print("Dataverse requests of the ITEM-PRODUCT line:", stack.dv_handle.stats()["byEntitySet"])
    price_list = default_list(stack)
    rows = products(stack)
    assert len(rows) >= 4 and all((r["statecode"], r["_pricelevelid_value"]) == (0, price_list) for r in rows)
    items = dv_get(stack, "productpricelevels", **{"$filter": f"_pricelevelid_value eq {price_list}"})["value"]
    assert {i["_productid_value"] for i in items} == {r["productid"] for r in rows}
    # each was read by every chunk; the other read of uoms is the plan's `$top=1` of the dependency ITEM UOM
    assert read == {"transactioncurrencies": 1, "pricelevels": 1, "uoms": 2}


def test_a_full_sync_reads_the_couplings_its_lookups_go_through_once(
    sync_stack: SyncStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CONTACT's parent account goes through CUSTOMER's couplings: read whole once per run, not per chunk (issue 21:
    per chunk it was a range over the whole CUSTOMER partition). A chunk still reads by id what the snapshot lacks,
    and only that: customers with no coupling (a coupling made since would be found there)."""
    from shared.storage.couplings import TableCouplingStore

    stack = sync_stack
    stack.use(replace(CONTACT, direction=TO))
    for name in ("SALESPEOPLE", "CURRENCY", "CUSTOMER"):
        match_and_couple(stack.context, name)
    coupled = {c.bc_id for c in stack.context.couplings.list_couplings("CUSTOMER")}
    reads: list[tuple[str, list[str]]] = []
    for method in ("find_many_by_bc_ids", "coupled_ids"):
        original = getattr(TableCouplingStore, method)

        def counted(
            self: TableCouplingStore, mapping: str, *args: Any, _original: Any = original, _m: str = method
        ) -> Any:
            if mapping == "CUSTOMER":
                reads.append((_m, [str(i) for i in args[0]] if args else []))
            return _original(self, mapping, *args)

        monkeypatch.setattr(TableCouplingStore, method, counted)
    full_sync(stack, ["CONTACT"])  # one chunk per person
    contacts = dv_get(stack, "contacts", **{"$select": "fullname,_parentcustomerid_value"})["value"]
    assert len(contacts) >= 3 and all(c["_parentcustomerid_value"] for c in contacts), contacts
    assert [m for m, _ in reads].count("coupled_ids") == 1  # was a read of CUSTOMER's couplings per chunk
    asked_by_id = [i for m, ids in reads if m == "find_many_by_bc_ids" for i in ids]
    assert not set(asked_by_id) & coupled, asked_by_id
