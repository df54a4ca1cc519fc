"""Match-based coupling that never makes a duplicate (issue 19, part 8): a record with several candidates, coupled
or not, is reported and left alone; a dry run says what would happen and writes nothing to either app or to the
coupling table."""

from __future__ import annotations

import pytest

from local.emulators.business_central.seed import seeded_id as bc_seeded
from local.emulators.dataverse.seed import seeded_id as dv_seeded
from shared.domain.coupling import Coupling
from shared.engine.sides import deterministic_id
from shared.services.matching import match_and_couple
from tests.conftest import EmulatorHandle
from tests.sync.conftest import SyncStack
from tests.sync.mappings_for_tests import currency_mapping, customer_mapping
from tests.sync.test_coupling import couple_currency, dv_accounts_named, dv_create_account
from tests.sync.test_matching import by_name

pytestmark = pytest.mark.integration


def writes(handle: EmulatorHandle) -> int:
    """Requests that may change the app: every method but GET (a `$batch` POST counts, whatever it holds)."""
    by_method = handle.stats()["byMethod"]
    assert isinstance(by_method, dict)
    return sum(int(counts.get("requests", 0)) for method, counts in by_method.items() if method != "GET")


def couplings_of(stack: SyncStack, *names: str) -> set[tuple[str, str, str]]:
    return {(n, c.bc_id, c.dataverse_id) for n in names for c in stack.context.couplings.list_couplings(n)}


@pytest.fixture
def customers(sync_stack: SyncStack) -> SyncStack:
    sync_stack.use(currency_mapping(), customer_mapping())
    couple_currency(sync_stack, "EUR")
    return sync_stack


def test_a_lone_uncoupled_match_is_not_coupled_when_a_coupled_row_matches_too(customers: SyncStack) -> None:
    """Trey Research matches two accounts, one of them coupled to another customer already: two candidates, so
    nothing is coupled and nothing is created, even with create-if-no-match (before: coupled to the free one)."""
    stack = customers
    other = dv_create_account(stack, {"name": "Trey Research", "address1_city": "Atlanta"})
    adatum = bc_seeded("customer", "Adatum Corporation")
    stack.context.couplings.create_coupling(Coupling("CUSTOMER", adatum, other))
    report = match_and_couple(stack.context, "CUSTOMER", create_if_no_match=True)
    assert by_name(report)["Trey Research"] == ("severalMatches", 2)
    assert stack.context.couplings.find_by_bc_id("CUSTOMER", bc_seeded("customer", "Trey Research")) is None
    assert len(dv_accounts_named(stack, "Trey Research")) == 2  # no third one


def test_a_single_match_coupled_to_another_record_is_reported_as_such(customers: SyncStack) -> None:
    """Two customers in Atlanta, one account there: the first couples, the second's only match is taken, which the
    report says (BC: "single matching entity ... already coupled"), rather than "no match"."""
    report = match_and_couple(customers.context, "CUSTOMER", fields=["city"])
    outcome = by_name(report)
    assert sorted([outcome["Trey Research"], outcome["Adatum Corporation"]]) == [("coupled", 0), ("matchCoupled", 1)]


def test_a_dry_run_reports_what_a_real_run_does_with_zero_writes(customers: SyncStack) -> None:
    stack = customers
    dv_create_account(stack, {"name": "Trey Research"})  # ambiguous
    before = couplings_of(stack, "CUSTOMER", "CURRENCY")
    bc_writes, dv_writes = writes(stack.bc_handle), writes(stack.dv_handle)
    dry = match_and_couple(stack.context, "CUSTOMER", create_if_no_match=True, synchronize_after=True, dry_run=True)
    assert (writes(stack.bc_handle), writes(stack.dv_handle)) == (bc_writes, dv_writes)
    assert couplings_of(stack, "CUSTOMER", "CURRENCY") == before
    assert stack.context.jobs.find_job(dry.job_id) is None  # not even the job log
    assert dry.dry_run and dry.as_dict()["dryRun"] is True
    assert dry.synchronized == []
    adatum = bc_seeded("customer", "Adatum Corporation")
    assert [p.dataverse_id for p in dry.created if p.bc_id == adatum] == [deterministic_id("CUSTOMER", "bc", adatum)]

    real = match_and_couple(stack.context, "CUSTOMER", create_if_no_match=True)
    assert by_name(dry) == by_name(real)
    assert {(p.bc_id, p.dataverse_id) for p in dry.coupled} == {(p.bc_id, p.dataverse_id) for p in real.coupled}
    assert {(p.bc_id, p.dataverse_id) for p in dry.created} == {(p.bc_id, p.dataverse_id) for p in real.created}
    cannon = stack.context.couplings.find_by_bc_id("CUSTOMER", bc_seeded("customer", "The Cannon Group PLC"))
    assert cannon is not None and cannon.dataverse_id == dv_seeded("account", "The Cannon Group PLC")
