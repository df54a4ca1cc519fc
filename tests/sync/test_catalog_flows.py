"""The catalog's own mappings on the real stack: salespeople, currencies and customers coupled by matching, created
where missing, kept in step, with owners and currencies resolved through the couplings."""

from __future__ import annotations

import pytest

from local.emulators.business_central.seed import seeded_id as bc_seeded
from shared.domain.records import Side
from shared.engine.mapping_run import run_mapping
from shared.services.matching import match_and_couple
from tests.sync.conftest import SyncStack
from tests.sync.test_incremental import bc_customer, dv_get, dv_writes, patch_bc_customer

pytestmark = pytest.mark.integration


@pytest.fixture
def coupled_catalog(sync_stack: SyncStack) -> SyncStack:
    context = sync_stack.context
    salespeople = match_and_couple(context, "SALESPEOPLE")
    assert len(salespeople.coupled) == 3  # matched by e-mail: Jim, Otis, Linda
    currencies = match_and_couple(context, "CURRENCY")
    assert {c["bcId"] for c in currencies.as_dict()["coupled"]} == {bc_seeded("currency", c) for c in ("EUR", "GBP")}
    assert [c["bcId"] for c in currencies.as_dict()["created"]] == [bc_seeded("currency", "CAD")]
    return sync_stack


def test_salespeople_come_from_sales(coupled_catalog: SyncStack) -> None:
    stack = coupled_catalog
    user = dv_get(stack, "systemusers", **{"$filter": "internalemailaddress eq 'otis.falls@cronus.example'"})
    user_id = user["value"][0]["systemuserid"]
    response = stack.dv_handle.session.patch(
        f"{stack.dv_handle.base_url}/api/data/v9.2/systemusers({user_id})",
        json={"mobilephone": "+1 555 0142"},
        headers={"If-Match": "*"},
    )
    assert response.status_code == 204
    job = run_mapping(stack.context, "SALESPEOPLE")
    assert job.counters.modified == 1
    rows = stack.bc_handle.session.get(
        f"{stack.bc_handle.company_root(_company())}/salespeoplePurchasers", params={"$filter": "code eq 'OF'"}
    ).json()["value"]
    assert rows[0]["phoneNo"] == "+1 555 0142"


def test_customers_match_create_and_stay_in_step(coupled_catalog: SyncStack) -> None:
    stack = coupled_catalog
    report = match_and_couple(stack.context, "CUSTOMER", create_if_no_match=True)
    result = report.as_dict()
    assert len(result["coupled"]) == 4  # the four names Sales already has
    assert len(result["created"]) == 2  # Adatum and School of Fine Art are created in Sales
    adatum = stack.context.couplings.find_by_bc_id("CUSTOMER", bc_seeded("customer", "Adatum Corporation"))
    assert adatum is not None
    account = dv_get(
        stack, f"accounts({adatum.dataverse_id})", **{"$select": "name,address1_city,customertypecode,_ownerid_value"}
    )
    otis = stack.context.couplings.find_by_bc_id("SALESPEOPLE", bc_seeded("salesperson", "OF"))
    assert otis is not None
    assert (account["name"], account["address1_city"], account["customertypecode"]) == (
        "Adatum Corporation",
        "Atlanta",
        3,
    )
    assert account["_ownerid_value"] == otis.dataverse_id  # owner through the SALESPEOPLE coupling
    first = run_mapping(stack.context, "CUSTOMER")
    assert first.counters.failed == 0, stack.context.errors.list_errors("CUSTOMER")
    stack.dv_handle.admin("DELETE", "stats")
    second = run_mapping(stack.context, "CUSTOMER")
    assert (second.counters.modified, second.counters.failed) == (0, 0)
    assert dv_writes(stack) == 0
    patch_bc_customer(stack, "C00050", {"phoneNumber": "+1 404 555 0100", "salespersonCode": "LM"})
    changed = run_mapping(stack.context, "CUSTOMER")
    assert changed.counters.modified == 1
    linda = stack.context.couplings.find_by_bc_id("SALESPEOPLE", bc_seeded("salesperson", "LM"))
    account = dv_get(stack, f"accounts({adatum.dataverse_id})", **{"$select": "telephone1,_ownerid_value"})
    assert linda is not None
    assert (account["telephone1"], account["_ownerid_value"]) == ("+1 404 555 0100", linda.dataverse_id)
    assert stack.context.errors.find_error("CUSTOMER", Side.BC, adatum.bc_id) is None
    assert bc_customer(stack, "C00050")["phoneNumber"] == "+1 404 555 0100"


def _company() -> str:
    from local.emulators.business_central.seed import COMPANY_ID

    return COMPANY_ID
