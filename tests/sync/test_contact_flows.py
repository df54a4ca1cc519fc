"""CONTACT on the real stack (emulators + Azurite): a BC person created in Sales gets its parent account, found in
two hops (the person's companyNumber -> the customer related to that company contact -> the coupled account), so
it falls inside the mapping's own Dataverse filter (`_parentcustomerid_value ne null`)."""

from __future__ import annotations

import pytest

from local.emulators.business_central.seed import seeded_id as bc_seeded
from shared.engine.mapping_run import run_mapping
from shared.services.matching import match_and_couple
from tests.sync.conftest import SyncStack
from tests.sync.test_incremental import dv_get

pytestmark = pytest.mark.integration


@pytest.fixture
def customers_coupled(sync_stack: SyncStack) -> SyncStack:
    """Owners and currencies coupled by matching, then every BC customer coupled to (or created as) an account."""
    for name in ("SALESPEOPLE", "CURRENCY"):
        match_and_couple(sync_stack.context, name)
    customers = match_and_couple(sync_stack.context, "CUSTOMER", create_if_no_match=True).as_dict()
    assert len(customers["coupled"]) + len(customers["created"]) == 6, customers
    return sync_stack


def test_a_bc_person_created_in_sales_gets_its_parent_account(customers_coupled: SyncStack) -> None:
    stack = customers_coupled
    report = match_and_couple(stack.context, "CONTACT", create_if_no_match=True).as_dict()
    assert [c["bcId"] for c in report["created"]] and not report.get("failed"), report
    person = stack.context.couplings.find_by_bc_id("CONTACT", bc_seeded("contact-person", "Robert Townes"))
    adatum = stack.context.couplings.find_by_bc_id("CUSTOMER", bc_seeded("customer", "Adatum Corporation"))
    assert person is not None and adatum is not None
    contact = dv_get(stack, f"contacts({person.dataverse_id})", **{"$select": "_parentcustomerid_value,fullname"})
    assert contact["_parentcustomerid_value"] == adatum.dataverse_id
    in_scope = dv_get(
        stack,
        "contacts",
        **{"$filter": f"contactid eq {person.dataverse_id} and _parentcustomerid_value ne null and statecode eq 0"},
    )
    assert len(in_scope["value"]) == 1  # inside CONTACT's own Dataverse filter
    again = run_mapping(stack.context, "CONTACT")
    assert again.counters.failed == 0, stack.context.errors.list_errors("CONTACT")  # the lookup holds on every run
