"""Coupling by hand on the real parts: couple, create-and-couple both ways, uncouple; checked in both systems."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from local.emulators.business_central.seed import COMPANY_ID
from local.emulators.business_central.seed import seeded_id as bc_seeded
from local.emulators.dataverse.seed import seeded_id as dv_seeded
from shared.domain.errors import ConflictError, InvalidInputError, NotFoundError, TransientError
from shared.domain.mapping import Direction
from shared.domain.records import Side
from shared.engine.sides import deterministic_id
from shared.services.coupling import (
    couple_records,
    create_in_business_central,
    create_in_dataverse,
    uncouple,
)
from shared.services.uncouple_all import run_uncouple_all
from tests.sync.conftest import SyncStack
from tests.sync.mappings_for_tests import currency_mapping, customer_mapping

pytestmark = pytest.mark.integration
API = "/api/data/v9.2"


# -- helpers shared by the matching and retry tests ---------------------------------------------------------------
def dv_get(stack: SyncStack, path: str, **params: str) -> Any:
    response = stack.dv_handle.session.get(f"{stack.dv_handle.base_url}{API}/{path}", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def dv_accounts_named(stack: SyncStack, name: str) -> list[dict[str, Any]]:
    literal = name.replace("'", "''")
    rows: list[dict[str, Any]] = dv_get(stack, "accounts", **{"$filter": f"name eq '{literal}'"})["value"]
    return rows


def dv_create_account(stack: SyncStack, body: dict[str, Any]) -> str:
    account_id = str(uuid.uuid4())
    response = stack.dv_handle.session.post(
        f"{stack.dv_handle.base_url}{API}/accounts", json={"accountid": account_id, "customertypecode": 3, **body}
    )
    assert response.status_code == 204, response.text
    return account_id


def bc_customers(stack: SyncStack, odata_filter: str) -> list[dict[str, Any]]:
    url = f"{stack.bc_handle.company_root(COMPANY_ID)}/customers"
    rows: list[dict[str, Any]] = stack.bc_handle.session.get(url, params={"$filter": odata_filter}).json()["value"]
    return rows


def bc_customer(stack: SyncStack, number: str) -> dict[str, Any]:
    return bc_customers(stack, f"number eq '{number}'")[0]


def patch_bc_customer(stack: SyncStack, number: str, body: dict[str, Any]) -> None:
    row = bc_customer(stack, number)
    url = f"{stack.bc_handle.company_root(COMPANY_ID)}/customers({row['id']})"
    response = stack.bc_handle.session.patch(url, json=body, headers={"If-Match": row["@odata.etag"]})
    assert response.status_code == 200, response.text


def couple_currency(stack: SyncStack, code: str) -> None:
    couple_records(stack.context, "CURRENCY", bc_seeded("currency", code), dv_seeded("currency", code))


def fail_once(monkeypatch: pytest.MonkeyPatch, store: Any, method: str, why: str) -> None:
    """`store.method` fails once with a transient error (storage unavailable, or the worker dying there)."""
    real = getattr(store, method)
    calls = {"count": 0}

    def failing(*args: Any) -> Any:
        calls["count"] += 1
        if calls["count"] == 1:
            raise TransientError("ServiceUnavailable", why)
        return real(*args)

    monkeypatch.setattr(store, method, failing)


def fail_first_coupling(stack: SyncStack, monkeypatch: pytest.MonkeyPatch) -> None:
    """The claims' write fails once (storage unavailable) before anything was created."""
    fail_once(monkeypatch, stack.context.couplings, "create_couplings", "Table Storage did not answer")


def die_after_the_create(stack: SyncStack, monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker dies once right after the record was created, before the pair was recorded as synchronized."""
    fail_once(monkeypatch, stack.context.couplings, "update_coupling", "the worker died here")


@pytest.fixture
def customers(sync_stack: SyncStack) -> SyncStack:
    sync_stack.use(currency_mapping(), customer_mapping())
    return sync_stack


# -- couple --------------------------------------------------------------------------------------------------------
def test_a_customer_whose_currency_is_not_coupled_is_refused_until_the_currency_is(customers: SyncStack) -> None:
    stack = customers
    alpine_bc, alpine_dv = bc_seeded("customer", "Alpine Ski House"), dv_seeded("account", "Alpine Ski House")
    with pytest.raises(ConflictError) as refused:
        couple_records(stack.context, "CUSTOMER", alpine_bc, alpine_dv)
    assert refused.value.code == "dependencyNotCoupled"
    assert refused.value.message == "Couple CURRENCY 'EUR' first."
    assert refused.value.field == "currencyCode"
    assert stack.context.couplings.find_by_bc_id("CUSTOMER", alpine_bc) is None

    couple_currency(stack, "EUR")
    result = couple_records(stack.context, "CUSTOMER", alpine_bc, alpine_dv, synchronize=Direction.TO_DATAVERSE)
    assert (result.coupling.bc_id, result.coupling.dataverse_id) == (alpine_bc, alpine_dv)
    assert result.sync is not None and result.sync_error is None
    account = dv_get(stack, f"accounts({alpine_dv})")
    assert account["_transactioncurrencyid_value"] == dv_seeded("currency", "EUR")  # was USD: BC's EUR was sent
    assert account["name"] == "Alpine Ski House"
    assert bc_customer(stack, "C00040")["currencyCode"] == "EUR"  # BC untouched
    stored = stack.context.couplings.find_by_dataverse_id("CUSTOMER", alpine_dv)
    assert stored is not None and stored.values_hash  # synchronized: hashes saved


def test_each_record_is_coupled_at_most_once(customers: SyncStack) -> None:
    stack = customers
    cannon_bc, cannon_dv = bc_seeded("customer", "The Cannon Group PLC"), dv_seeded("account", "The Cannon Group PLC")
    selangorian_bc, selangorian_dv = bc_seeded("customer", "Selangorian Ltd."), dv_seeded("account", "Selangorian Ltd.")
    first = couple_records(stack.context, "CUSTOMER", cannon_bc, cannon_dv).coupling
    with pytest.raises(ConflictError) as bc_taken:
        couple_records(stack.context, "CUSTOMER", cannon_bc, selangorian_dv)
    assert (bc_taken.value.code, bc_taken.value.field) == ("alreadyCoupled", "bcId")
    assert cannon_dv in bc_taken.value.message  # names the record it is coupled to
    with pytest.raises(ConflictError) as dv_taken:
        couple_records(stack.context, "CUSTOMER", selangorian_bc, cannon_dv)
    assert (dv_taken.value.code, dv_taken.value.field) == ("alreadyCoupled", "dataverseId")
    assert cannon_bc in dv_taken.value.message
    again = couple_records(stack.context, "CUSTOMER", cannon_bc.upper(), cannon_dv).coupling  # a repeated request
    assert (again.bc_id, again.dataverse_id) == (first.bc_id, first.dataverse_id)
    assert stack.context.couplings.find_by_bc_id("CUSTOMER", selangorian_bc) is None


def test_unknown_ids_are_not_found_and_malformed_ones_invalid(customers: SyncStack) -> None:
    stack = customers
    cannon_bc, cannon_dv = bc_seeded("customer", "The Cannon Group PLC"), dv_seeded("account", "The Cannon Group PLC")
    with pytest.raises(NotFoundError) as no_bc:
        couple_records(stack.context, "CUSTOMER", str(uuid.uuid4()), cannon_dv)
    assert no_bc.value.field == "bcId"
    with pytest.raises(NotFoundError) as no_dv:
        couple_records(stack.context, "CUSTOMER", cannon_bc, str(uuid.uuid4()))
    assert no_dv.value.field == "dataverseId"
    with pytest.raises(InvalidInputError) as malformed:
        couple_records(stack.context, "CUSTOMER", "C00010", cannon_dv)
    assert (malformed.value.code, malformed.value.field) == ("invalidId", "bcId")
    with pytest.raises(InvalidInputError) as direction:  # CURRENCY only goes to Dataverse: refused before coupling
        couple_records(
            stack.context,
            "CURRENCY",
            bc_seeded("currency", "EUR"),
            dv_seeded("currency", "EUR"),
            Direction.FROM_DATAVERSE,
        )
    assert direction.value.field == "synchronize"
    assert stack.context.couplings.find_by_bc_id("CURRENCY", bc_seeded("currency", "EUR")) is None


# -- create and couple ---------------------------------------------------------------------------------------------
def test_create_in_dataverse_writes_the_row_couples_it_and_a_retry_never_duplicates(
    customers: SyncStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = customers
    adatum = bc_seeded("customer", "Adatum Corporation")
    coupling = create_in_dataverse(stack.context, "CUSTOMER", adatum)
    assert coupling.dataverse_id == deterministic_id("CUSTOMER", "bc", adatum)
    account = dv_get(stack, f"accounts({coupling.dataverse_id})")
    assert (account["name"], account["address1_city"], account["customertypecode"]) == (
        "Adatum Corporation",
        "Atlanta",
        3,
    )
    assert account["_transactioncurrencyid_value"] == dv_seeded("currency", "USD")  # BC's blank code is the LCY
    with pytest.raises(ConflictError) as twice:
        create_in_dataverse(stack.context, "CUSTOMER", adatum)
    assert twice.value.code == "alreadyCoupled" and coupling.dataverse_id in twice.value.message
    assert len(dv_accounts_named(stack, "Adatum Corporation")) == 1

    school = bc_seeded("customer", "School of Fine Art")
    fail_first_coupling(stack, monkeypatch)
    with pytest.raises(TransientError):
        create_in_dataverse(stack.context, "CUSTOMER", school)
    assert dv_accounts_named(stack, "School of Fine Art") == []  # the coupling is written first: nothing created
    monkeypatch.undo()
    die_after_the_create(stack, monkeypatch)
    with pytest.raises(TransientError):
        create_in_dataverse(stack.context, "CUSTOMER", school)
    assert len(dv_accounts_named(stack, "School of Fine Art")) == 1  # created, its coupling still a claim
    claim = stack.context.couplings.find_by_bc_id("CUSTOMER", school)
    assert claim is not None and claim.creating is Side.DATAVERSE
    retried = create_in_dataverse(stack.context, "CUSTOMER", school)  # finishes the claim, no 409
    assert retried.creating is None and retried.dataverse_id == claim.dataverse_id
    assert [row["accountid"] for row in dv_accounts_named(stack, "School of Fine Art")] == [retried.dataverse_id]


def test_create_in_business_central_writes_the_customer_couples_it_and_a_retry_never_duplicates(
    customers: SyncStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = customers
    account_id = dv_create_account(
        stack, {"name": "Northwind Traders", "address1_city": "Redmond", "telephone1": "+1 425 555 0100"}
    )
    fail_first_coupling(stack, monkeypatch)
    with pytest.raises(TransientError):
        create_in_business_central(stack.context, "CUSTOMER", account_id)
    assert bc_customers(stack, "displayName eq 'Northwind Traders'") == []  # the coupling is written first
    monkeypatch.undo()
    die_after_the_create(stack, monkeypatch)
    with pytest.raises(TransientError):
        create_in_business_central(stack.context, "CUSTOMER", account_id)
    assert len(bc_customers(stack, "displayName eq 'Northwind Traders'")) == 1  # created, its coupling a claim
    coupling = create_in_business_central(stack.context, "CUSTOMER", account_id)
    [customer] = bc_customers(stack, "displayName eq 'Northwind Traders'")
    assert customer["id"] == coupling.bc_id == deterministic_id("CUSTOMER", "dv", account_id)
    assert (customer["city"], customer["phoneNumber"], customer["currencyCode"]) == ("Redmond", "+1 425 555 0100", "")
    with pytest.raises(ConflictError) as twice:
        create_in_business_central(stack.context, "CUSTOMER", account_id)
    assert (twice.value.code, twice.value.field) == ("alreadyCoupled", "dataverseId")
    assert len(bc_customers(stack, "displayName eq 'Northwind Traders'")) == 1


def test_creates_refuse_records_whose_lookups_are_not_coupled(customers: SyncStack) -> None:
    stack = customers
    alpine = bc_seeded("customer", "Alpine Ski House")
    with pytest.raises(ConflictError) as to_sales:
        create_in_dataverse(stack.context, "CUSTOMER", alpine)
    assert (to_sales.value.code, to_sales.value.message) == ("dependencyNotCoupled", "Couple CURRENCY 'EUR' first.")
    assert (
        dv_get(stack, "accounts", **{"$filter": f"accountid eq {deterministic_id('CUSTOMER', 'bc', alpine)}"})["value"]
        == []
    )
    eur = dv_seeded("currency", "EUR")
    account_id = dv_create_account(
        stack, {"name": "Contoso Europe", "transactioncurrencyid@odata.bind": f"/transactioncurrencies({eur})"}
    )
    with pytest.raises(ConflictError) as to_bc:
        create_in_business_central(stack.context, "CUSTOMER", account_id)
    assert to_bc.value.code == "dependencyNotCoupled" and eur in to_bc.value.message
    assert to_bc.value.message.startswith("Couple CURRENCY")
    assert bc_customers(stack, "displayName eq 'Contoso Europe'") == []
    with pytest.raises(InvalidInputError):  # CURRENCY never carries data from Dataverse
        create_in_business_central(stack.context, "CURRENCY", eur)


# -- uncouple ------------------------------------------------------------------------------------------------------
def test_uncouple_is_idempotent_and_uncouple_all_counts(customers: SyncStack) -> None:
    stack = customers
    names = ["The Cannon Group PLC", "Selangorian Ltd.", "Trey Research"]
    for name in names:
        couple_records(stack.context, "CUSTOMER", bc_seeded("customer", name), dv_seeded("account", name))
    cannon = bc_seeded("customer", "The Cannon Group PLC")
    stack.context.errors.record_error("CUSTOMER", Side.BC, cannon, "boom", "a record error")
    uncouple(stack.context, "CUSTOMER", cannon)
    uncouple(stack.context, "CUSTOMER", cannon)  # already gone: fine
    assert stack.context.couplings.find_by_bc_id("CUSTOMER", cannon) is None
    assert (
        stack.context.couplings.find_by_dataverse_id("CUSTOMER", dv_seeded("account", "The Cannon Group PLC")) is None
    )
    assert stack.context.errors.find_error("CUSTOMER", Side.BC, cannon) is None
    assert run_uncouple_all(stack.context, "CUSTOMER", "uncouple-1").counters.uncoupled == 2
    assert list(stack.context.couplings.list_couplings("CUSTOMER")) == []
    assert run_uncouple_all(stack.context, "CUSTOMER", "uncouple-2").counters.uncoupled == 0
    for name in names:  # neither side's records are touched
        assert len(dv_accounts_named(stack, name)) == 1
        assert len(bc_customers(stack, f"displayName eq '{name}'")) == 1
