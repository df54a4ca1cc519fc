"""Incremental sync of a mapping on the real parts: BC and Dataverse emulators over HTTP, couplings on Azurite."""

from __future__ import annotations

from typing import Any

import pytest

from local.emulators.business_central.seed import seeded_id as bc_seeded
from shared.domain.coupling import Coupling
from shared.domain.errors import SyncError
from shared.domain.mapping import ConflictPolicy, DeletionPolicy, Direction, FieldMapping
from shared.domain.records import Side
from shared.engine.mapping_run import run_mapping
from tests.sync.conftest import SyncStack
from tests.sync.mappings_for_tests import currency_mapping, customer_mapping

pytestmark = pytest.mark.integration
API = "/api/data/v9.2"


def dv_get(stack: SyncStack, path: str, **params: str) -> Any:
    return stack.dv_handle.session.get(f"{stack.dv_handle.base_url}{API}/{path}", params=params).json()


def dv_writes(stack: SyncStack, entity_set: str = "accounts") -> int:
    by_set = stack.dv_handle.stats()["byEntitySet"]
    counts = by_set.get(entity_set, {}) if isinstance(by_set, dict) else {}
    return int(sum(v for k, v in counts.items() if k in ("POST", "PATCH", "DELETE")))


def bc_writes(stack: SyncStack, entity_set: str = "customers") -> int:
    by_set = stack.bc_handle.stats()["byEntitySet"]
    counts = by_set.get(entity_set, {}) if isinstance(by_set, dict) else {}
    batch = by_set.get("$batch", {}) if isinstance(by_set, dict) else {}
    return int(sum(v for k, v in counts.items() if k in ("POST", "PATCH", "DELETE")) + sum(batch.values()))


def couple_currencies(stack: SyncStack) -> None:
    """EUR and GBP exist on both sides; couple them so customer currencies resolve."""
    rows = dv_get(stack, "transactioncurrencies", **{"$select": "isocurrencycode"})["value"]
    by_code = {row["isocurrencycode"]: row["transactioncurrencyid"] for row in rows}
    for code in ("EUR", "GBP"):
        stack.context.couplings.create_coupling(Coupling("CURRENCY", bc_seeded("currency", code), by_code[code]))


def bc_customer(stack: SyncStack, number: str) -> dict[str, Any]:
    rows = stack.bc_handle.session.get(
        f"{stack.bc_handle.company_root(_company())}/customers", params={"$filter": f"number eq '{number}'"}
    ).json()["value"]
    return dict(rows[0])


def _company() -> str:
    from local.emulators.business_central.seed import COMPANY_ID

    return COMPANY_ID


def patch_bc_customer(stack: SyncStack, number: str, body: dict[str, Any]) -> None:
    row = bc_customer(stack, number)
    url = f"{stack.bc_handle.company_root(_company())}/customers({row['id']})"
    response = stack.bc_handle.session.patch(url, json=body, headers={"If-Match": row["@odata.etag"]})
    assert response.status_code == 200, response.text


def patch_account(stack: SyncStack, account_id: str, body: dict[str, Any]) -> None:
    response = stack.dv_handle.session.patch(
        f"{stack.dv_handle.base_url}{API}/accounts({account_id})", json=body, headers={"If-Match": "*"}
    )
    assert response.status_code == 204, response.text


@pytest.fixture
def customers(sync_stack: SyncStack) -> SyncStack:
    sync_stack.use(currency_mapping(), customer_mapping())
    couple_currencies(sync_stack)
    return sync_stack


def test_first_run_creates_and_couples_then_a_second_run_writes_nothing(customers: SyncStack) -> None:
    stack = customers
    first = run_mapping(stack.context, "CUSTOMER")
    assert first.counters.inserted == 6 + 4  # 6 BC customers -> Sales, 4 Sales accounts -> BC
    assert first.counters.failed == 0
    alpine = stack.context.couplings.find_by_bc_id("CUSTOMER", bc_seeded("customer", "Alpine Ski House"))
    assert alpine is not None
    account = dv_get(
        stack,
        f"accounts({alpine.dataverse_id})",
        **{"$select": "name,address1_city,customertypecode,_transactioncurrencyid_value"},
    )
    assert (account["name"], account["address1_city"], account["customertypecode"]) == ("Alpine Ski House", "Zug", 3)
    eur = stack.context.couplings.find_by_bc_id("CURRENCY", bc_seeded("currency", "EUR"))
    assert eur is not None and account["_transactioncurrencyid_value"] == eur.dataverse_id
    stack.dv_handle.admin("DELETE", "stats")
    stack.bc_handle.admin("DELETE", "stats")
    second = run_mapping(stack.context, "CUSTOMER")
    assert (second.counters.inserted, second.counters.modified, second.counters.failed) == (0, 0, 0)
    assert dv_writes(stack) == 0 and bc_writes(stack) == 0  # our own writes are not echoed back
    third = run_mapping(stack.context, "CUSTOMER")
    assert third.counters.unchanged == 0 and dv_writes(stack) == 0  # nothing changed since: nothing even compared


def test_a_change_in_bc_goes_to_sales_only_for_that_record(customers: SyncStack) -> None:
    stack = customers
    run_mapping(stack.context, "CUSTOMER")
    run_mapping(stack.context, "CUSTOMER")
    patch_bc_customer(stack, "C00030", {"city": "Savannah", "phoneNumber": "555-0100"})
    stack.dv_handle.admin("DELETE", "stats")
    job = run_mapping(stack.context, "CUSTOMER")
    assert job.counters.modified == 1
    coupling = stack.context.couplings.find_by_bc_id("CUSTOMER", bc_seeded("customer", "Trey Research"))
    assert coupling is not None
    account = dv_get(stack, f"accounts({coupling.dataverse_id})", **{"$select": "address1_city,telephone1"})
    assert (account["address1_city"], account["telephone1"]) == ("Savannah", "555-0100")
    assert dv_writes(stack) == 1  # one UpsertMultiple for the one changed record
    assert bc_customer(stack, "C00030")["city"] == "Savannah"
    echo = run_mapping(stack.context, "CUSTOMER")
    assert echo.counters.modified == 0  # the account's new modifiedon is our own write: no echo back to BC


def test_a_change_in_sales_goes_to_bc(customers: SyncStack) -> None:
    stack = customers
    run_mapping(stack.context, "CUSTOMER")
    coupling = stack.context.couplings.find_by_bc_id("CUSTOMER", bc_seeded("customer", "Adatum Corporation"))
    assert coupling is not None
    patch_account(stack, coupling.dataverse_id, {"telephone1": "+1 404 555 0199"})
    job = run_mapping(stack.context, "CUSTOMER")
    assert job.counters.modified == 1
    assert bc_customer(stack, "C00050")["phoneNumber"] == "+1 404 555 0199"


@pytest.mark.parametrize(
    ("policy", "expected_bc_city", "expected_dv_city", "failed"),
    [
        (ConflictPolicy.NONE, "From BC", "From Sales", 1),
        (ConflictPolicy.BC_WINS, "From BC", "From BC", 0),
        (ConflictPolicy.DATAVERSE_WINS, "From Sales", "From Sales", 0),
    ],
)
def test_conflict_policies(
    customers: SyncStack, policy: ConflictPolicy, expected_bc_city: str, expected_dv_city: str, failed: int
) -> None:
    stack = customers
    stack.use(customer_mapping(conflict_policy=policy))
    run_mapping(stack.context, "CUSTOMER")
    coupling = stack.context.couplings.find_by_bc_id("CUSTOMER", bc_seeded("customer", "Selangorian Ltd."))
    assert coupling is not None
    patch_bc_customer(stack, "C00020", {"city": "From BC"})
    patch_account(stack, coupling.dataverse_id, {"address1_city": "From Sales"})
    job = run_mapping(stack.context, "CUSTOMER")
    assert job.counters.failed == failed
    assert bc_customer(stack, "C00020")["city"] == expected_bc_city
    assert dv_get(stack, f"accounts({coupling.dataverse_id})")["address1_city"] == expected_dv_city
    if failed:
        error = stack.context.errors.find_error("CUSTOMER", Side.BC, coupling.bc_id)
        assert error is not None and error.code == "changedInBothApps"


def test_field_merge_when_different_fields_changed(customers: SyncStack) -> None:
    stack = customers
    stack.use(customer_mapping(conflict_policy=ConflictPolicy.MERGE))
    run_mapping(stack.context, "CUSTOMER")
    coupling = stack.context.couplings.find_by_bc_id("CUSTOMER", bc_seeded("customer", "Selangorian Ltd."))
    assert coupling is not None
    patch_bc_customer(stack, "C00020", {"city": "Leamington"})
    patch_account(stack, coupling.dataverse_id, {"telephone1": "+44 24 7600 0000"})
    job = run_mapping(stack.context, "CUSTOMER")
    assert (job.counters.modified, job.counters.failed) == (1, 0)
    bc = bc_customer(stack, "C00020")
    dv = dv_get(stack, f"accounts({coupling.dataverse_id})")
    assert (bc["city"], bc["phoneNumber"]) == ("Leamington", "+44 24 7600 0000")
    assert (dv["address1_city"], dv["telephone1"]) == ("Leamington", "+44 24 7600 0000")
    patch_bc_customer(stack, "C00020", {"city": "Same field"})
    patch_account(stack, coupling.dataverse_id, {"address1_city": "Other value"})
    overlap = run_mapping(stack.context, "CUSTOMER")
    assert overlap.counters.failed == 1  # the same field changed on both sides: no merge, nothing overwritten
    assert bc_customer(stack, "C00020")["city"] == "Same field"


@pytest.mark.parametrize("policy", [DeletionPolicy.NONE, DeletionPolicy.REMOVE_COUPLING, DeletionPolicy.RESTORE])
def test_deletion_policies(customers: SyncStack, policy: DeletionPolicy) -> None:
    stack = customers
    stack.use(customer_mapping(deletion_policy=policy))
    run_mapping(stack.context, "CUSTOMER")
    bc_id = bc_seeded("customer", "School of Fine Art")
    coupling = stack.context.couplings.find_by_bc_id("CUSTOMER", bc_id)
    assert coupling is not None
    deleted = stack.dv_handle.session.delete(f"{stack.dv_handle.base_url}{API}/accounts({coupling.dataverse_id})")
    assert deleted.status_code == 204
    patch_bc_customer(stack, "C00060", {"city": "Orlando"})
    job = run_mapping(stack.context, "CUSTOMER")
    after = stack.context.couplings.find_by_bc_id("CUSTOMER", bc_id)
    if policy is DeletionPolicy.NONE:
        assert after is not None and job.counters.failed == 1
        error = stack.context.errors.find_error("CUSTOMER", Side.BC, bc_id)
        assert error is not None and error.code == "coupledRecordDeleted"
    elif policy is DeletionPolicy.REMOVE_COUPLING:
        assert after is None and job.counters.uncoupled == 1
    else:
        assert after is not None and job.counters.inserted == 1
        restored = dv_get(stack, f"accounts({after.dataverse_id})")
        assert (restored["name"], restored["address1_city"]) == ("School of Fine Art", "Orlando")


def test_the_same_record_error_twice_marks_skipped_but_transient_errors_do_not(customers: SyncStack) -> None:
    stack = customers
    # route the BC e-mail (80 characters) to a 20-character Sales column (address1_postofficebox),
    # so this customer's data is refused by Dataverse: a record error
    stack.use(
        customer_mapping(
            direction=Direction.TO_DATAVERSE,
            sync_only_coupled=True,
            dataverse_filter=None,
            fields=(FieldMapping("email", "address1_postofficebox", Direction.TO_DATAVERSE),),
        )
    )
    bc_id = bc_seeded("customer", "Trey Research")
    account_id = "5c6b2d4e-1111-4a1a-9c9c-000000000001"
    stack.dv_handle.session.post(
        f"{stack.dv_handle.base_url}{API}/accounts", json={"accountid": account_id, "name": "Trey"}
    ).raise_for_status()
    stack.context.couplings.create_coupling(Coupling("CUSTOMER", bc_id, account_id))
    patch_bc_customer(stack, "C00030", {"email": "a" * 30 + "@example.com"})
    stack.dv_handle.admin("POST", "faults", json={"status429Rate": 1, "retryAfterSeconds": 0})
    for _ in range(2):
        with pytest.raises(SyncError) as throttled:
            run_mapping(stack.context, "CUSTOMER")
        assert throttled.value.is_transient
    stack.dv_handle.admin("POST", "faults", json={"status429Rate": 0})
    assert stack.context.errors.find_error("CUSTOMER", Side.BC, bc_id) is None  # transient: never counted
    first = run_mapping(stack.context, "CUSTOMER")
    entry = stack.context.errors.find_error("CUSTOMER", Side.BC, bc_id)
    assert first.counters.failed == 1 and entry is not None and not entry.skipped
    assert entry.code == "0x80044331"  # Dataverse's "too long" error, kept on the record
    run_mapping(stack.context, "CUSTOMER")  # retried first (failed, not skipped), fails the same way
    entry = stack.context.errors.find_error("CUSTOMER", Side.BC, bc_id)
    assert entry is not None and entry.skipped and entry.count == 2
    third = run_mapping(stack.context, "CUSTOMER")
    assert third.counters.failed == 0  # skipped records are left alone until retried or restored


def test_a_record_whose_write_failed_transiently_inside_a_run_is_read_again_by_the_next(customers: SyncStack) -> None:
    """The run itself succeeds (the other records are written); the checkpoint must neither pass the failed record
    nor remember it as processed at its version, so the next run applies it."""
    stack = customers
    run_mapping(stack.context, "CUSTOMER")
    coupling = stack.context.couplings.find_by_bc_id("CUSTOMER", bc_seeded("customer", "Adatum Corporation"))
    assert coupling is not None
    patch_account(stack, coupling.dataverse_id, {"telephone1": "+1 404 555 0142"})
    stack.bc_handle.admin("POST", "faults", json={"failRecordId": coupling.bc_id, "failRecordTimes": 2})
    for _ in range(2):
        job = run_mapping(stack.context, "CUSTOMER")
        assert (job.counters.failed, job.counters.modified) == (1, 0)
    assert stack.context.errors.find_error("CUSTOMER", Side.DATAVERSE, coupling.dataverse_id) is None  # not counted
    third = run_mapping(stack.context, "CUSTOMER")
    assert (third.counters.failed, third.counters.modified) == (0, 1)
    assert bc_customer(stack, "C00050")["phoneNumber"] == "+1 404 555 0142"
