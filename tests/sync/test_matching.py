"""Match-based coupling on the real parts: demo customers in BC against demo accounts typed in Sales."""

from __future__ import annotations

from typing import Any

import pytest

from local.emulators.business_central.seed import seeded_id as bc_seeded
from local.emulators.dataverse.seed import seeded_id as dv_seeded
from shared.domain.errors import InvalidInputError
from shared.domain.mapping import ConflictPolicy, Direction, FieldMapping
from shared.engine.sides import deterministic_id
from shared.services.matching import MatchReport, match_and_couple
from tests.sync.conftest import SyncStack
from tests.sync.mappings_for_tests import currency_mapping, customer_mapping
from tests.sync.test_coupling import (
    bc_customer,
    couple_currency,
    dv_accounts_named,
    dv_create_account,
    dv_get,
    patch_bc_customer,
)

pytestmark = pytest.mark.integration
TWO_WAY = Direction.BIDIRECTIONAL


def by_name(report: MatchReport) -> dict[str, Any]:
    """bc name -> what happened to it, readable in assertions."""
    names = {bc_seeded("customer", n): n for n in ("The Cannon Group PLC", "Selangorian Ltd.", "Trey Research")}
    names |= {bc_seeded("customer", n): n for n in ("Alpine Ski House", "Adatum Corporation", "School of Fine Art")}
    outcome: dict[str, Any] = {}
    for pair in report.coupled:
        outcome[names[pair.bc_id]] = ("coupled", pair.priority)
    for pair in report.created:
        outcome[names[pair.bc_id]] = ("created",)
    for unmatched in report.unmatched:
        outcome[names[unmatched.bc_id]] = (unmatched.reason, unmatched.count)
    for failure in report.failed:
        outcome[names[failure.bc_id]] = (failure.code, failure.message)
    return outcome


def account_reads(stack: SyncStack) -> int:
    by_set = stack.dv_handle.stats()["byEntitySet"]
    assert isinstance(by_set, dict)
    return int(by_set.get("accounts", {}).get("GET", 0))


@pytest.fixture
def customers(sync_stack: SyncStack) -> SyncStack:
    sync_stack.use(currency_mapping(), customer_mapping())
    return sync_stack


def test_unique_matches_are_coupled_and_the_rest_reported_with_one_query(customers: SyncStack) -> None:
    stack = customers
    dv_create_account(stack, {"name": "Trey Research", "address1_city": "Atlanta"})  # a duplicate typed in Sales
    stack.dv_handle.admin("DELETE", "stats")
    report = match_and_couple(stack.context, "CUSTOMER")
    assert by_name(report) == {
        "The Cannon Group PLC": ("coupled", 1),
        "Selangorian Ltd.": ("coupled", 1),
        "Trey Research": ("severalMatches", 2),
        "Alpine Ski House": ("dependencyNotCoupled", "Couple CURRENCY 'EUR' first."),
        "Adatum Corporation": ("noMatch", 0),
        "School of Fine Art": ("noMatch", 0),
    }
    assert account_reads(stack) == 1  # one `or` query for every record of the priority
    cannon = stack.context.couplings.find_by_bc_id("CUSTOMER", bc_seeded("customer", "The Cannon Group PLC"))
    assert cannon is not None and cannon.dataverse_id == dv_seeded("account", "The Cannon Group PLC")
    assert len(dv_accounts_named(stack, "Adatum Corporation")) == 0  # nothing created without create-if-no-match
    job = stack.context.jobs.find_job(report.job_id)
    assert job is not None and (job.counters.coupled, job.counters.failed) == (2, 4)
    assert report.as_dict()["unmatched"][0] == {
        "bcId": report.unmatched[0].bc_id,
        "reason": "severalMatches",
        "count": 2,
    }

    couple_currency(stack, "EUR")
    again = match_and_couple(stack.context, "CUSTOMER")  # only the still uncoupled records are looked at
    assert again.examined == 4
    assert by_name(again)["Alpine Ski House"] == ("coupled", 1)


def test_text_is_matched_without_case_unless_the_field_is_case_sensitive(customers: SyncStack) -> None:
    stack = customers
    cannon_dv = dv_seeded("account", "The Cannon Group PLC")
    response = stack.dv_handle.session.patch(
        f"{stack.dv_handle.base_url}/api/data/v9.2/accounts({cannon_dv})", json={"name": "THE CANNON GROUP PLC"}
    )
    assert response.status_code == 204, response.text
    exact = (FieldMapping("displayName", "name", TWO_WAY, match_priority=1, case_sensitive_match=True),)
    stack.use(customer_mapping(fields=exact, dependencies=()))
    strict = match_and_couple(stack.context, "CUSTOMER")
    assert by_name(strict)["The Cannon Group PLC"] == ("noMatch", 0)
    assert by_name(strict)["Selangorian Ltd."] == ("coupled", 1)  # same case: still a match
    stack.use(customer_mapping())
    relaxed = match_and_couple(stack.context, "CUSTOMER")
    assert by_name(relaxed)["The Cannon Group PLC"] == ("coupled", 1)
    coupling = stack.context.couplings.find_by_bc_id("CUSTOMER", bc_seeded("customer", "The Cannon Group PLC"))
    assert coupling is not None and coupling.dataverse_id == cannon_dv


def test_the_next_priority_is_used_only_when_the_first_finds_nothing(customers: SyncStack) -> None:
    stack = customers
    fields = (
        FieldMapping("displayName", "name", TWO_WAY, match_priority=1),
        FieldMapping("email", "emailaddress1", TWO_WAY, match_priority=2),
    )
    stack.use(customer_mapping(fields=fields, dependencies=()))
    patch_bc_customer(stack, "C00050", {"email": "orders@adatum.example"})  # Adatum: no account of that name
    adatum_dv = dv_create_account(stack, {"name": "Adatum Corp. (Sales)", "emailaddress1": "ORDERS@adatum.example"})
    patch_bc_customer(stack, "C00030", {"email": "info@trey.example"})  # Trey: name matches two accounts
    dv_create_account(stack, {"name": "Trey Research", "emailaddress1": "other@trey.example"})
    dv_create_account(stack, {"name": "Trey (by e-mail)", "emailaddress1": "info@trey.example"})
    report = match_and_couple(stack.context, "CUSTOMER")
    outcome = by_name(report)
    assert outcome["Adatum Corporation"] == ("coupled", 2)
    assert outcome["Trey Research"] == ("severalMatches", 2)  # ambiguous by name: e-mail is not tried
    assert outcome["School of Fine Art"] == ("noMatch", 0)  # empty e-mail: not used
    coupling = stack.context.couplings.find_by_bc_id("CUSTOMER", bc_seeded("customer", "Adatum Corporation"))
    assert coupling is not None and coupling.dataverse_id == adatum_dv


def test_chosen_fields_replace_the_criteria_and_a_row_is_coupled_only_once(customers: SyncStack) -> None:
    stack = customers
    couple_currency(stack, "EUR")
    report = match_and_couple(stack.context, "CUSTOMER", fields=["city"])
    outcome = by_name(report)
    assert outcome["Alpine Ski House"] == ("coupled", 0)  # Zug
    atlanta = [outcome["Trey Research"], outcome["Adatum Corporation"]]  # both in Atlanta, one account there
    assert sorted(atlanta) == [("coupled", 0), ("matchCoupled", 1)]  # its one match is taken
    with pytest.raises(InvalidInputError) as unknown:
        match_and_couple(stack.context, "CUSTOMER", fields=["shoeSize"])
    assert unknown.value.field == "fields"
    with pytest.raises(InvalidInputError) as none:
        match_and_couple(stack.context, "CUSTOMER", fields=[])
    assert none.value.code == "noMatchFields"


def test_create_if_no_match_creates_in_sales_but_never_for_ambiguous_records(customers: SyncStack) -> None:
    stack = customers
    couple_currency(stack, "EUR")
    dv_create_account(stack, {"name": "Trey Research"})
    report = match_and_couple(stack.context, "CUSTOMER", create_if_no_match=True)
    outcome = by_name(report)
    assert outcome["Adatum Corporation"] == outcome["School of Fine Art"] == ("created",)
    assert outcome["Trey Research"] == ("severalMatches", 2)
    adatum = bc_seeded("customer", "Adatum Corporation")
    account = dv_get(stack, f"accounts({deterministic_id('CUSTOMER', 'bc', adatum)})")
    assert (account["name"], account["address1_city"], account["customertypecode"]) == (
        "Adatum Corporation",
        "Atlanta",
        3,
    )
    assert len(dv_accounts_named(stack, "Trey Research")) == 2  # no third one
    coupling = stack.context.couplings.find_by_bc_id("CUSTOMER", adatum)
    assert coupling is not None and coupling.values_hash  # created records are synchronized by the create


@pytest.mark.parametrize(
    ("policy", "bc_city", "dv_city"),
    [(ConflictPolicy.NONE, "Solihull", "Solihull"), (ConflictPolicy.DATAVERSE_WINS, "Birmingham", "Birmingham")],
)
def test_synchronize_after_follows_the_conflict_policy(
    customers: SyncStack, policy: ConflictPolicy, bc_city: str, dv_city: str
) -> None:
    stack = customers
    stack.use(customer_mapping(conflict_policy=policy))
    patch_bc_customer(stack, "C00010", {"city": "Solihull"})  # Sales still says Birmingham
    report = match_and_couple(stack.context, "CUSTOMER", synchronize_after=True)
    cannon_bc = bc_seeded("customer", "The Cannon Group PLC")
    assert cannon_bc in report.synchronized
    assert bc_customer(stack, "C00010")["city"] == bc_city
    assert dv_get(stack, f"accounts({dv_seeded('account', 'The Cannon Group PLC')})")["address1_city"] == dv_city
    coupling = stack.context.couplings.find_by_bc_id("CUSTOMER", cannon_bc)
    assert coupling is not None and coupling.values_hash
    quiet = match_and_couple(stack.context, "CUSTOMER", synchronize_after=False)
    assert quiet.coupled == [] and quiet.synchronized == []
