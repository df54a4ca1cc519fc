"""BC's Team ownership model through the engine (issue 22, item 5), on both emulators over HTTP: the company's view of
Sales in the Team model (`CompanyScopedDataverse`, its default owning team made by `services/company_rows.py`) and
the setup's `ownershipModel=team`.

BC's Team model has no Salesperson -> ownerid field mapping (facts, the "[P]" rows) and changes no owner when a
salesperson changes: the company's team owns what is created (`engine/lookups.LookupResolver.no_owner`). So a
customer whose salesperson is not coupled still syncs, what the sync creates is the team's, and an owner is never
a difference (a second run writes nothing; a new salesperson in BC changes no owner). In the Person model the
salesperson's user is the owner, and an uncoupled salesperson still stops the record, as before."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from local.emulators.business_central.seed import COMPANY_ID, COMPANY_NAME
from local.emulators.business_central.seed import seeded_id as bc_seeded
from shared.connectors.dataverse.company_scope import CompanyScopedDataverse
from shared.engine.context import SyncContext
from shared.engine.mapping_run import run_mapping
from shared.services.company_rows import ensure_company_row, ensure_owning_team
from shared.services.matching import match_and_couple
from tests.sync.conftest import SyncStack
from tests.sync.sales_documents import make_setup

pytestmark = pytest.mark.integration


def company_view(stack: SyncStack, model: str) -> tuple[SyncContext, str]:
    """The company's context in the ownership model, and its default owning team."""
    row = ensure_company_row(stack.dataverse, COMPANY_ID, COMPANY_NAME)
    team = ensure_owning_team(stack.dataverse, row, COMPANY_NAME)
    scoped = CompanyScopedDataverse(stack.dataverse, row, "team" if model == "team" else "person", team)
    return replace(stack.context, dataverse=scoped, setup=make_setup(ownershipModel=model)), team


def owners(stack: SyncStack, ids: set[str]) -> dict[str, Any]:
    pages = stack.dataverse.list_changed_since("accounts", None, ["accountid", "_ownerid_value"])
    found = {str(r["accountid"]): r["_ownerid_value"] for page in pages for r in page.rows}
    return {i: found.get(i) for i in ids}


def created_accounts(stack: SyncStack, context: SyncContext) -> set[str]:
    seeded = {str(r["accountid"]) for p in stack.dataverse.list_changed_since("accounts", None, ["accountid"])
              for r in p.rows}  # fmt: skip
    match_and_couple(context, "CURRENCY")
    report = match_and_couple(context, "CUSTOMER", create_if_no_match=True).as_dict()
    assert not report["failed"], report
    coupled = {c.dataverse_id for c in context.couplings.list_couplings("CUSTOMER")}
    return coupled - seeded


def test_in_the_team_model_an_uncoupled_salesperson_stops_no_customer_and_the_team_owns_them(
    sync_stack: SyncStack,
) -> None:
    context, team = company_view(sync_stack, "team")  # no SALESPEOPLE coupling at all
    created = created_accounts(sync_stack, context)
    assert len(list(context.couplings.list_couplings("CUSTOMER"))) == 6  # each names a salesperson nobody coupled
    assert created and set(owners(sync_stack, created).values()) == {team}


def test_in_the_team_model_an_owner_is_never_a_difference(sync_stack: SyncStack) -> None:
    context, team = company_view(sync_stack, "team")
    match_and_couple(context, "SALESPEOPLE")  # coupled users the Person model would make owners
    created = created_accounts(sync_stack, context)
    assert set(owners(sync_stack, created).values()) == {team}
    first = run_mapping(context, "CUSTOMER")  # the matched accounts take BC's values
    again = run_mapping(context, "CUSTOMER")
    assert first.counters.failed == 0 and (again.counters.modified, again.counters.failed) == (0, 0)

    trey = bc_seeded("customer", "Trey Research")  # matched: its account kept the owner Sales gave it
    account = context.couplings.find_by_bc_id("CUSTOMER", trey)
    assert account is not None
    before = owners(sync_stack, {account.dataverse_id})
    row = context.bc.get_entity("customers", trey, ["id", "salespersonCode"]) or {}
    context.bc.update_entity("customers", trey, {"salespersonCode": "JO", "city": "Macon"}, row["@odata.etag"])
    changed = run_mapping(context, "CUSTOMER")
    assert (changed.counters.modified, changed.counters.failed) == (1, 0)
    assert owners(sync_stack, {account.dataverse_id}) == before  # the city changed, not the owner


def test_in_the_person_model_the_salesperson_s_user_owns_and_an_uncoupled_one_stops_the_record(
    sync_stack: SyncStack,
) -> None:
    context, _ = company_view(sync_stack, "person")
    match_and_couple(context, "CURRENCY")
    refused = match_and_couple(context, "CUSTOMER", create_if_no_match=True).as_dict()["failed"]
    assert {f["code"] for f in refused} == {"dependencyNotCoupled"} and len(refused) == 6  # salespeople uncoupled
    match_and_couple(context, "SALESPEOPLE")
    created = created_accounts(sync_stack, context)
    users = {c.dataverse_id for c in context.couplings.list_couplings("SALESPEOPLE")}
    assert created and set(owners(sync_stack, created).values()) <= users


def test_the_team_model_needs_no_salesperson_source_read(sync_stack: SyncStack) -> None:
    """No salesperson is looked up in the Team model: BC answers no salespeople read for the owner."""
    context, _ = company_view(sync_stack, "team")
    match_and_couple(context, "CURRENCY")
    sync_stack.bc_handle.admin("DELETE", "stats")
    assert not match_and_couple(context, "CUSTOMER", create_if_no_match=True).as_dict()["failed"]
    by_set = sync_stack.bc_handle.stats()["byEntitySet"]
    assert isinstance(by_set, dict) and by_set.get("customers") and "salespeoplePurchasers" not in by_set, by_set
