"""Option mappings (PAYMENT TERMS, SHIPMENT METHOD) on the real parts: BC codes coupled to the options of the account
picklists, matched by label or added, labels following the codes; through the incremental run and a full sync chunk."""

from __future__ import annotations

from typing import Any

import pytest

from local.emulators.business_central.seed import seeded_id as bc_seeded
from shared.domain.coupling import Coupling
from shared.domain.errors import SyncError
from shared.domain.mapping import Direction
from shared.domain.records import Side
from shared.engine.mapping_run import run_mapping
from shared.services.coupling import uncouple
from shared.services.sync_errors import retry
from shared.services.synchronize import synchronize_record
from tests.sync.conftest import SyncStack
from tests.sync.sales_documents import CANNON, couple_sales_basics

pytestmark = pytest.mark.integration
TERMS = "paymenttermscode"


def options(stack: SyncStack, attribute: str = TERMS) -> dict[int, str]:
    return stack.dataverse.option_set("account", attribute)


def coupled(stack: SyncStack, mapping: str = "PAYMENT TERMS") -> dict[str, int]:
    return {c.bc_id: int(c.dataverse_id) for c in stack.context.couplings.list_couplings(mapping)}


def test_codes_are_matched_by_label_or_added_and_a_second_run_changes_nothing(sync_stack: SyncStack) -> None:
    stack = sync_stack
    cm_value = stack.dataverse.insert_option("account", TERMS, "cm")  # an admin's own option, labelled in lower case
    first = run_mapping(stack.context, "PAYMENT TERMS")
    assert (first.counters.inserted, first.counters.coupled, first.counters.modified) == (2, 3, 1)
    by_bc = coupled(stack)
    labels = options(stack)
    assert by_bc[bc_seeded("terms", "CM")] == cm_value  # matched, not added
    assert labels[cm_value] == "CM"  # matched, then relabelled with BC's code (synch. after coupling)
    assert {labels[by_bc[bc_seeded("terms", code)]] for code in ("1M(8D)", "14 DAYS")} == {"1M(8D)", "14 DAYS"}
    assert {1, 2, 3, 4} <= set(labels)  # Sales' own options are left alone
    again = run_mapping(stack.context, "PAYMENT TERMS")
    assert (again.counters.unchanged, again.counters.modified, again.counters.inserted) == (3, 0, 0)
    assert options(stack) == labels


def test_a_renamed_code_relabels_its_option_and_a_deleted_option_is_a_record_error(sync_stack: SyncStack) -> None:
    stack = sync_stack
    run_mapping(stack.context, "PAYMENT TERMS")
    cm = bc_seeded("terms", "CM")
    row: dict[str, Any] = stack.bc.get_entity("paymentTerms", cm) or {}
    stack.bc.update_entity("paymentTerms", cm, {"code": "CURMONTH"}, str(row["@odata.etag"]))
    job = run_mapping(stack.context, "PAYMENT TERMS")
    assert job.counters.modified == 1 and options(stack)[coupled(stack)[cm]] == "CURMONTH"
    gone = stack.context.couplings.find_by_bc_id("PAYMENT TERMS", cm)
    assert gone is not None
    stack.context.couplings.delete_coupling("PAYMENT TERMS", cm)
    stack.context.couplings.create_coupling(Coupling("PAYMENT TERMS", cm, "999"))  # an option Sales no longer has
    job = run_mapping(stack.context, "PAYMENT TERMS")
    assert job.counters.failed == 1
    error = stack.context.errors.find_error("PAYMENT TERMS", Side.BC, cm)
    assert error is not None and error.code == "optionDeleted"


def test_the_account_picklist_takes_a_coupled_option_and_refuses_a_value_it_does_not_have(
    sync_stack: SyncStack,
) -> None:
    stack = sync_stack
    run_mapping(stack.context, "SHIPMENT METHOD")
    value = coupled(stack, "SHIPMENT METHOD")[bc_seeded("shipment", "EXW")]
    assert options(stack, "address1_freighttermscode")[value] == "EXW"
    account = next(row for page in stack.dataverse.list_changed_since("accounts", None, ["name"]) for row in page.rows)
    stack.dataverse.update_row("accounts", str(account["accountid"]), {"address1_freighttermscode": value})
    with pytest.raises(SyncError, match="outside the valid range"):
        stack.dataverse.update_row("accounts", str(account["accountid"]), {"address1_freighttermscode": 99})


def customer_stack(stack: SyncStack) -> tuple[str, str]:
    """The option mappings run, then the basics coupled; returns Cannon's BC id and account id."""
    run_mapping(stack.context, "PAYMENT TERMS")
    run_mapping(stack.context, "SHIPMENT METHOD")
    couple_sales_basics(stack.context)
    run_mapping(stack.context, "CUSTOMER")
    coupling = stack.context.couplings.find_by_bc_id("CUSTOMER", CANNON)
    assert coupling is not None
    return coupling.bc_id, coupling.dataverse_id


def set_bc_terms(stack: SyncStack, bc_id: str, terms_id: str) -> None:
    row = stack.bc.get_entity("customers", bc_id) or {}
    stack.bc.update_entity("customers", bc_id, {"paymentTermsId": terms_id}, str(row["@odata.etag"]))


def test_customers_carry_payment_terms_both_ways_through_the_option_map(sync_stack: SyncStack) -> None:
    stack = sync_stack
    bc_id, account = customer_stack(stack)
    days = bc_seeded("terms", "14 DAYS")
    set_bc_terms(stack, bc_id, days)
    assert run_mapping(stack.context, "CUSTOMER").counters.failed == 0
    value = (stack.dataverse.get_row("accounts", account, [TERMS]) or {})[TERMS]
    assert value == coupled(stack)[days] and options(stack)[value] == "14 DAYS"
    stack.dataverse.update_row("accounts", account, {TERMS: coupled(stack)[bc_seeded("terms", "CM")]})
    assert run_mapping(stack.context, "CUSTOMER").counters.modified == 1
    assert (stack.bc.get_entity("customers", bc_id) or {})["paymentTermsId"] == bc_seeded("terms", "CM")


def test_an_option_or_a_code_without_its_counterpart_fails_the_record_and_blanks_nothing(sync_stack: SyncStack) -> None:
    stack = sync_stack
    bc_id, account = customer_stack(stack)
    cm = bc_seeded("terms", "CM")
    set_bc_terms(stack, bc_id, cm)
    run_mapping(stack.context, "CUSTOMER")
    stack.dataverse.update_row("accounts", account, {TERMS: 1})  # Sales' own "Net 30": no BC payment terms
    job = run_mapping(stack.context, "CUSTOMER")
    error = stack.context.errors.find_error("CUSTOMER", Side.DATAVERSE, account)
    assert job.counters.failed == 1 and error is not None and error.code == "optionMappingFailure"
    assert (stack.bc.get_entity("customers", bc_id) or {})["paymentTermsId"] == cm  # not blanked

    new_terms = stack.bc.create_entity("paymentTerms", {"code": "60 DAYS", "displayName": "Net 60 days"})
    stack.dataverse.update_row("accounts", account, {TERMS: coupled(stack)[cm]})  # Sales back in step
    set_bc_terms(stack, bc_id, str(new_terms["id"]))  # a code the option mapping has not seen yet
    job = run_mapping(stack.context, "CUSTOMER")
    error = stack.context.errors.find_error("CUSTOMER", Side.BC, bc_id)
    assert job.counters.failed == 1 and error is not None and "PAYMENT TERMS" in error.message
    assert (stack.dataverse.get_row("accounts", account, [TERMS]) or {})[TERMS] == coupled(stack)[cm]
    with pytest.raises(SyncError) as refused:  # Synchronize Now answers with the field named
        synchronize_record(stack.context, "CUSTOMER", bc_id=bc_id, direction=Direction.TO_DATAVERSE)
    assert refused.value.code == "optionMappingFailure" and refused.value.field == TERMS
    run_mapping(stack.context, "PAYMENT TERMS")
    assert run_mapping(stack.context, "CUSTOMER").counters.failed == 0  # retried first, applied now
    assert (stack.dataverse.get_row("accounts", account, [TERMS]) or {})[TERMS] == coupled(stack)[str(new_terms["id"])]


def test_an_option_error_twice_is_skipped_until_retried_and_uncoupling_couples_it_again_by_label(
    sync_stack: SyncStack,
) -> None:
    stack = sync_stack
    run_mapping(stack.context, "PAYMENT TERMS")
    cm = bc_seeded("terms", "CM")
    original = coupled(stack)[cm]
    stack.context.couplings.delete_coupling("PAYMENT TERMS", cm)
    stack.context.couplings.create_coupling(Coupling("PAYMENT TERMS", cm, "999"))  # an option Sales no longer has
    for _ in range(2):
        assert run_mapping(stack.context, "PAYMENT TERMS").counters.failed == 1
    left_alone = run_mapping(stack.context, "PAYMENT TERMS").counters
    assert (left_alone.failed, left_alone.skipped) == (0, 1)
    report = retry(stack.context, "PAYMENT TERMS", [cm])  # restored and run: fails the same way, reported so
    assert [(r.outcome, r.code) for r in report.records] == [("failed", "optionDeleted")]
    uncouple(stack.context, "PAYMENT TERMS", cm)  # what the error message advises
    again = run_mapping(stack.context, "PAYMENT TERMS").counters
    assert (again.inserted, again.coupled, again.failed) == (0, 1, 0)  # its old option, found by its label
    assert coupled(stack)[cm] == original


def test_a_blank_option_in_sales_is_the_empty_guid_in_bc_not_an_empty_string(sync_stack: SyncStack) -> None:
    """API v2.0 carries payment terms and shipment method as ids (Edm.Guid): a Sales account with no option becomes
    BC's empty GUID (what BC itself shows for a customer without them), never '' which BC refuses with a 400."""
    from local.emulators.business_central.values import EMPTY_GUID
    from shared.services.coupling import create_in_business_central

    stack = sync_stack
    bc_id, account = customer_stack(stack)
    set_bc_terms(stack, bc_id, bc_seeded("terms", "CM"))
    run_mapping(stack.context, "CUSTOMER")
    stack.dataverse.update_row("accounts", account, {TERMS: None})
    job = run_mapping(stack.context, "CUSTOMER")
    assert (job.counters.modified, job.counters.failed) == (1, 0), stack.context.errors.list_errors("CUSTOMER")
    assert (stack.bc.get_entity("customers", bc_id) or {})["paymentTermsId"] == EMPTY_GUID
    fresh = "8d1f5a3e-5b1c-4f0e-9a4e-2f7d3c6b1a00"
    stack.dataverse.create_row("accounts", fresh, {"name": "No Terms Ltd", "customertypecode": 3})
    created = create_in_business_central(stack.context, "CUSTOMER", fresh)
    customer = stack.bc.get_entity("customers", created.bc_id) or {}
    assert (customer["paymentTermsId"], customer["shipmentMethodId"]) == (EMPTY_GUID, EMPTY_GUID)
