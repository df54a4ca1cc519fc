"""Field overrides take effect on the next run (emulators over HTTP, couplings on Azurite): a disabled field is not
written either way, a narrowed field is not written the other way, an overridden constant is what gets written."""

from __future__ import annotations

from typing import Any

import pytest

from local.emulators.business_central.seed import seeded_id as bc_seeded
from shared.domain.mapping import Direction, FieldMapping
from shared.engine.mapping_run import run_mapping
from shared.mappings import with_overrides
from tests.sync.conftest import SyncStack
from tests.sync.mappings_for_tests import currency_mapping, customer_mapping
from tests.sync.test_incremental import bc_customer, couple_currencies, dv_get, patch_account, patch_bc_customer

pytestmark = pytest.mark.integration
PHONE, CITY, NOTE = "phoneNumber>telephone1", "city>address1_city", "=>description"
TREY = ("C00030", "Trey Research")


def customer_with_note() -> Any:
    """The test customer mapping and a constant written to the account's description (as BC's constant rows)."""
    base = customer_mapping()
    return customer_mapping(fields=(*base.fields, FieldMapping(None, "description", Direction.TO_DATAVERSE, "From BC")))


@pytest.fixture
def coupled(sync_stack: SyncStack) -> tuple[SyncStack, str]:
    """Customers coupled by the first runs of the test mapping; the Sales account of Trey Research."""
    sync_stack.use(currency_mapping(), customer_with_note())
    couple_currencies(sync_stack)
    run_mapping(sync_stack.context, "CUSTOMER")
    run_mapping(sync_stack.context, "CUSTOMER")  # settled: the first run's own writes are read back, as echoes
    coupling = sync_stack.context.couplings.find_by_bc_id("CUSTOMER", bc_seeded("customer", TREY[1]))
    assert coupling is not None
    return sync_stack, coupling.dataverse_id


def overridden(stack: SyncStack, fields: dict[str, Any]) -> None:
    stack.use(with_overrides(customer_with_note(), {"fields": fields}))


def account(stack: SyncStack, account_id: str) -> dict[str, Any]:
    return dict(dv_get(stack, f"accounts({account_id})", **{"$select": "telephone1,address1_city,description"}))


def test_a_disabled_field_is_not_written_while_the_others_of_the_same_edit_are(coupled: tuple[SyncStack, str]) -> None:
    stack, account_id = coupled
    before = account(stack, account_id)
    overridden(stack, {PHONE: False})
    patch_bc_customer(stack, TREY[0], {"phoneNumber": "555-0199", "city": "Savannah"})
    job = run_mapping(stack.context, "CUSTOMER")
    assert (job.counters.modified, job.counters.failed) == (1, 0)
    after = account(stack, account_id)
    assert (after["address1_city"], after["telephone1"]) == ("Savannah", before["telephone1"])
    patch_account(stack, account_id, {"telephone1": "555-0200"})
    run_mapping(stack.context, "CUSTOMER")
    assert bc_customer(stack, TREY[0])["phoneNumber"] == "555-0199"  # nor from Sales


def test_a_narrowed_field_is_written_its_way_only(coupled: tuple[SyncStack, str]) -> None:
    stack, account_id = coupled
    overridden(stack, {PHONE: {"direction": "toDataverse"}})
    patch_account(stack, account_id, {"telephone1": "555-0300", "address1_city": "Macon"})
    job = run_mapping(stack.context, "CUSTOMER")
    assert job.counters.failed == 0
    customer = bc_customer(stack, TREY[0])
    assert customer["city"] == "Macon" and customer["phoneNumber"] != "555-0300"  # not written to BC
    patch_bc_customer(stack, TREY[0], {"phoneNumber": "555-0301"})
    run_mapping(stack.context, "CUSTOMER")
    assert account(stack, account_id)["telephone1"] == "555-0301"  # still written to Sales


def test_an_overridden_constant_is_the_value_written(coupled: tuple[SyncStack, str]) -> None:
    stack, account_id = coupled
    assert account(stack, account_id)["description"] == "From BC"  # the catalog's constant, on create
    overridden(stack, {NOTE: {"constant": "Synchronized from Business Central"}})
    patch_bc_customer(stack, TREY[0], {"city": "Athens"})
    job = run_mapping(stack.context, "CUSTOMER")
    assert (job.counters.modified, job.counters.failed) == (1, 0)
    after = account(stack, account_id)
    assert (after["address1_city"], after["description"]) == ("Athens", "Synchronized from Business Central")
