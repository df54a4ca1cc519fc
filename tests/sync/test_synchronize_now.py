"""Synchronize Now on one coupled record, both ways, on the real stack."""

from __future__ import annotations

from typing import Any

import pytest

from local.emulators.business_central.seed import seeded_id as bc_seeded
from shared.domain.errors import InvalidInputError, NotFoundError
from shared.domain.mapping import Direction
from shared.domain.records import Side
from shared.engine.mapping_run import run_mapping
from shared.services.synchronize import synchronize_record
from tests.sync.conftest import SyncStack
from tests.sync.mappings_for_tests import currency_mapping, customer_mapping
from tests.sync.test_incremental import bc_customer, couple_currencies, dv_get, patch_account, patch_bc_customer

pytestmark = pytest.mark.integration


@pytest.fixture
def coupled(sync_stack: SyncStack) -> tuple[SyncStack, str, str]:
    sync_stack.use(currency_mapping(), customer_mapping())
    couple_currencies(sync_stack)
    run_mapping(sync_stack.context, "CUSTOMER")
    bc_id = bc_seeded("customer", "The Cannon Group PLC")
    coupling = sync_stack.context.couplings.find_by_bc_id("CUSTOMER", bc_id)
    assert coupling is not None
    return sync_stack, bc_id, coupling.dataverse_id


def changes_by_field(report: Any) -> dict[str, tuple[Any, Any]]:
    return {change.dataverse_field: (change.old, change.new) for change in report.changes}


def test_to_dataverse_overwrites_sales_with_bc_values(coupled: tuple[SyncStack, str, str]) -> None:
    stack, bc_id, account_id = coupled
    patch_bc_customer(stack, "C00010", {"city": "Solihull"})
    patch_account(stack, account_id, {"telephone1": "0121 000", "address1_city": "Sales City"})
    report = synchronize_record(stack.context, "CUSTOMER", Direction.TO_DATAVERSE, bc_id=bc_id)
    assert report.outcome == "modified"
    assert changes_by_field(report)["address1_city"] == ("Sales City", "Solihull")
    assert changes_by_field(report)["telephone1"] == ("0121 000", "")
    account = dv_get(stack, f"accounts({account_id})")
    assert (account["address1_city"], account["telephone1"]) == ("Solihull", None)


def test_from_dataverse_overwrites_bc_and_reports_each_field(coupled: tuple[SyncStack, str, str]) -> None:
    stack, _, account_id = coupled
    patch_account(stack, account_id, {"address1_city": "Coventry", "emailaddress1": "buyer@cannon.example"})
    report = synchronize_record(stack.context, "CUSTOMER", Direction.FROM_DATAVERSE, dataverse_id=account_id)
    assert set(changes_by_field(report)) == {"address1_city", "emailaddress1"}
    customer = bc_customer(stack, "C00010")
    assert (customer["city"], customer["email"]) == ("Coventry", "buyer@cannon.example")
    again = synchronize_record(stack.context, "CUSTOMER", Direction.FROM_DATAVERSE, dataverse_id=account_id)
    assert again.outcome == "unchanged" and again.changes == ()
    assert run_mapping(stack.context, "CUSTOMER").counters.modified == 0  # the run agrees: nothing left to do


def test_a_direction_the_mapping_does_not_allow_is_refused(coupled: tuple[SyncStack, str, str]) -> None:
    stack, bc_id, _ = coupled
    stack.use(customer_mapping(direction=Direction.TO_DATAVERSE))
    with pytest.raises(InvalidInputError) as refused:
        synchronize_record(stack.context, "CUSTOMER", Direction.FROM_DATAVERSE, bc_id=bc_id)
    assert (refused.value.code, refused.value.field) == ("directionNotAllowed", "direction")


def test_an_uncoupled_record_is_not_found(coupled: tuple[SyncStack, str, str]) -> None:
    stack, _, _ = coupled
    stack.context.couplings.delete_coupling("CUSTOMER", bc_seeded("customer", "Trey Research"))
    with pytest.raises(NotFoundError) as missing:
        synchronize_record(
            stack.context, "CUSTOMER", Direction.TO_DATAVERSE, bc_id=bc_seeded("customer", "Trey Research")
        )
    assert missing.value.code == "notCoupled"


def test_a_successful_synchronize_now_restores_a_skipped_record(coupled: tuple[SyncStack, str, str]) -> None:
    stack, bc_id, account_id = coupled
    for _ in range(2):
        stack.context.errors.record_error("CUSTOMER", Side.BC, bc_id, "someRecordError", "it failed")
    coupling = stack.context.couplings.find_by_bc_id("CUSTOMER", bc_id)
    assert coupling is not None
    stack.context.couplings.update_coupling(coupling.with_changes(skipped=True))
    patch_bc_customer(stack, "C00010", {"city": "Wolverhampton"})
    assert run_mapping(stack.context, "CUSTOMER").counters.skipped == 1
    synchronize_record(stack.context, "CUSTOMER", Direction.TO_DATAVERSE, bc_id=bc_id)
    restored = stack.context.couplings.find_by_bc_id("CUSTOMER", bc_id)
    assert restored is not None and not restored.skipped
    assert stack.context.errors.find_error("CUSTOMER", Side.BC, bc_id) is None
    assert dv_get(stack, f"accounts({account_id})")["address1_city"] == "Wolverhampton"


def test_synchronize_now_deletes_only_the_error_rows_that_exist(
    coupled: tuple[SyncStack, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 21: the pair's error rows are read once and only those that exist are deleted (it sent two blind
    deletes, which usually answered 404)."""
    stack, bc_id, account_id = coupled
    errors = stack.context.errors
    calls: list[tuple[str, Any]] = []
    for name in ("find_errors", "clear_errors", "clear_error"):
        real = getattr(errors, name)

        def spy(*args: Any, _name: str = name, _real: Any = real) -> Any:
            calls.append((_name, args[1:]))
            return _real(*args)

        monkeypatch.setattr(errors, name, spy)
    synchronize_record(stack.context, "CUSTOMER", Direction.TO_DATAVERSE, bc_id=bc_id)
    assert [name for name, _ in calls] == ["find_errors"]  # nothing to delete: no delete sent
    assert calls[0][1] == ([(Side.BC, bc_id), (Side.DATAVERSE, account_id)],)
    monkeypatch.undo()
    errors.record_error("CUSTOMER", Side.DATAVERSE, account_id, "someRecordError", "it failed")
    monkeypatch.setattr(errors, "clear_errors", lambda mapping, keys: calls.append(("clear_errors", keys)))
    calls.clear()
    synchronize_record(stack.context, "CUSTOMER", Direction.FROM_DATAVERSE, bc_id=bc_id)
    assert calls == [("clear_errors", [(Side.DATAVERSE, account_id)])]  # the one row that exists
