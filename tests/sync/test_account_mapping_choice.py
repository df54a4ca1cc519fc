"""Create in Business Central of a Sales account goes through the mapping BC would choose for it, on the real stack
(both emulators over HTTP, couplings on Azurite).

BC's rule (CRMIntegrationManagement, GetIntegrationTableMappingFromCRMRecord): an account of relationship type
Customer belongs to the mapping of table Customer (CUSTOMER), type Vendor to the mapping of table Vendor (VENDOR), any
other type (or none) to the first account mapping; only that mapping creates it, whatever its filter (BC's create job
replaces the filter with the ids chosen). Before, the first mapping whose filter held the row was chosen, else the
first one, so an inactive Vendor account fell to CUSTOMER and became a BC customer."""

from __future__ import annotations

import pytest

from shared.domain.errors import ConflictError, InvalidInputError, NotFoundError, RecordError
from shared.services.coupling import create_in_business_central
from tests.sync.conftest import SyncStack
from tests.sync.test_vendor_flows import (
    CUSTOMER,
    CUSTOMER_TYPE,
    VENDOR,
    VENDOR_TYPE,
    _company,
    basics,  # noqa: F401 (the fixture)
    bc_vendors,
    sales_account,
)

pytestmark = pytest.mark.integration
COMPETITOR_TYPE = 1  # account.customertypecode Competitor: neither Customer nor Vendor
INACTIVE, INACTIVE_STATUS = 1, 2  # account statecode Inactive / statuscode Inactive


def bc_customers(stack: SyncStack) -> set[str]:
    rows = stack.bc_handle.session.get(f"{stack.bc_handle.company_root(_company())}/customers").json()["value"]
    return {row["displayName"] for row in rows}


def refused(stack: SyncStack, mapping: str, account_id: str) -> str:
    """Create in BC through `mapping` must answer 422 `outOfFilter` on dataverseId and couple nothing."""
    with pytest.raises(RecordError) as error:
        create_in_business_central(stack.context, mapping, account_id)
    assert (error.value.code, error.value.field) == ("outOfFilter", "dataverseId"), error.value
    assert not isinstance(error.value, NotFoundError | ConflictError | InvalidInputError)  # 422, not 404/409/400
    assert stack.context.couplings.find_by_dataverse_id(mapping, account_id) is None
    return error.value.message


def test_an_inactive_vendor_account_is_vendors_whatever_its_state(basics: SyncStack) -> None:  # noqa: F811
    stack = basics
    dormant = sales_account(stack, "Dormant Supplies", VENDOR_TYPE)
    stack.context.dataverse.set_state("accounts", dormant, INACTIVE, INACTIVE_STATUS)

    through_customer = refused(stack, CUSTOMER, dormant)  # BC takes VENDOR for a Vendor account, whatever its state
    assert "VENDOR" in through_customer and "customertypecode 11" in through_customer, through_customer
    assert "Dormant Supplies" not in bc_customers(stack)
    vendor = create_in_business_central(stack.context, VENDOR, dormant)  # the admin's explicit choice, as in BC
    assert (stack.bc.get_entity("vendors", vendor.bc_id) or {})["displayName"] == "Dormant Supplies"

    retired = sales_account(stack, "Retired Retail", CUSTOMER_TYPE)  # the same for an inactive Customer account
    stack.context.dataverse.set_state("accounts", retired, INACTIVE, INACTIVE_STATUS)
    refused(stack, VENDOR, retired)
    customer = create_in_business_central(stack.context, CUSTOMER, retired)
    assert (stack.bc.get_entity("customers", customer.bc_id) or {})["displayName"] == "Retired Retail"
    assert "Retired Retail" not in bc_vendors(stack)


def test_an_active_account_goes_through_the_mapping_of_its_type(basics: SyncStack) -> None:  # noqa: F811
    stack = basics
    supplier = sales_account(stack, "Litware Supplies", VENDOR_TYPE)
    retail = sales_account(stack, "Contoso Outlet", CUSTOMER_TYPE)
    refused(stack, CUSTOMER, supplier)
    refused(stack, VENDOR, retail)

    vendor = create_in_business_central(stack.context, VENDOR, supplier)
    customer = create_in_business_central(stack.context, CUSTOMER, retail)
    assert (stack.bc.get_entity("vendors", vendor.bc_id) or {})["displayName"] == "Litware Supplies"
    assert (stack.bc.get_entity("customers", customer.bc_id) or {})["displayName"] == "Contoso Outlet"
    assert "Litware Supplies" not in bc_customers(stack) and "Contoso Outlet" not in bc_vendors(stack)


def test_an_account_of_another_type_is_the_first_account_mappings(basics: SyncStack) -> None:  # noqa: F811
    """A Competitor or untyped account is the first account mapping's (CUSTOMER, first in the catalog as in BC's
    mapping list by name): created as a customer through it, refused through VENDOR, never a vendor."""
    stack = basics
    rival = sales_account(stack, "Rival Traders", COMPETITOR_TYPE)
    untyped = sales_account(stack, "Adatum Untyped", CUSTOMER_TYPE)
    stack.context.dataverse.update_row("accounts", untyped, {"customertypecode": None})
    for account_id, name in ((rival, "Rival Traders"), (untyped, "Adatum Untyped")):
        assert "CUSTOMER" in refused(stack, VENDOR, account_id)
        made = create_in_business_central(stack.context, CUSTOMER, account_id)
        assert (stack.bc.get_entity("customers", made.bc_id) or {})["displayName"] == name
    assert {"Rival Traders", "Adatum Untyped"}.isdisjoint(bc_vendors(stack))
