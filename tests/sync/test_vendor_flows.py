"""VENDOR, the catalog's mapping as shipped, on the real stack (both emulators over HTTP, couplings on Azurite):
BC vendors <-> Sales accounts of relationship type Vendor, beside CUSTOMER on the same table.

What BC's defaults promise, and what is checked here: a vendor made in BC becomes an account of type Vendor (BC's
BCIVENDOR template) and is coupled; edits flow both ways; "Synch. Only Coupled Records" means the incremental run
creates nothing on either side, while Create in Business Central / Dataverse, match-based coupling that creates, and
the full synchronization do; and the two mappings never take each other's accounts (their Dataverse filters, by
`customertypecode`), neither when matching, nor in a run, nor in a full synchronization, which runs VENDOR after its
dependencies and before CONTACT."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

import pytest

from local.emulators.business_central.seed import seeded_id as bc_seeded
from shared.domain.errors import ConflictError, InvalidInputError, NotFoundError, RecordError
from shared.domain.records import LineStatus
from shared.engine.mapping_run import run_mapping
from shared.mappings import get_mapping
from shared.services.coupling import create_in_business_central, create_in_dataverse
from shared.services.matching import match_and_couple
from tests.sync.conftest import SyncStack
from tests.sync.test_full_sync_salespeople import run_lines
from tests.sync.test_incremental import dv_get

pytestmark = pytest.mark.integration
VENDOR, CUSTOMER = "VENDOR", "CUSTOMER"
VENDOR_TYPE, CUSTOMER_TYPE = 11, 3  # account.customertypecode Vendor / Customer
COLUMNS = "name,address1_city,telephone1,customertypecode,_transactioncurrencyid_value,paymenttermscode"


def bc_vendor(stack: SyncStack, name: str, **values: Any) -> str:
    return str(stack.bc.create_entity("vendors", {"displayName": name, **values})["id"])


def bc_vendors(stack: SyncStack) -> dict[str, dict[str, Any]]:
    rows = stack.bc_handle.session.get(f"{stack.bc_handle.company_root(_company())}/vendors").json()["value"]
    return {row["displayName"]: row for row in rows}


def bc_vendor_id(stack: SyncStack, name: str) -> str:
    return str(bc_vendors(stack)[name]["id"])


def patch_bc_vendor(stack: SyncStack, bc_id: str, body: dict[str, Any]) -> None:
    row = stack.bc.get_entity("vendors", bc_id) or {}
    stack.bc.update_entity("vendors", bc_id, body, str(row["@odata.etag"]))


def sales_account(stack: SyncStack, name: str, account_type: int, **values: Any) -> str:
    account_id = str(uuid.uuid4())
    body = {"name": name, "customertypecode": account_type, **values}
    stack.context.dataverse.create_row("accounts", account_id, body)
    return account_id


def account(stack: SyncStack, account_id: str) -> dict[str, Any]:
    return dict(dv_get(stack, f"accounts({account_id})", **{"$select": COLUMNS}))


def accounts_of_type(stack: SyncStack, account_type: int) -> dict[str, str]:
    rows = dv_get(stack, "accounts", **{"$select": "name", "$filter": f"customertypecode eq {account_type}"})["value"]
    return {row["accountid"]: row["name"] for row in rows}


def coupled(stack: SyncStack, mapping: str) -> dict[str, str]:
    return {c.bc_id: c.dataverse_id for c in stack.context.couplings.list_couplings(mapping)}


def _company() -> str:
    from local.emulators.business_central.seed import COMPANY_ID

    return COMPANY_ID


@pytest.fixture
def basics(sync_stack: SyncStack) -> SyncStack:
    """VENDOR's dependencies as an admin has them before the vendors: currencies and payment terms coupled."""
    for name in ("SALESPEOPLE", "CURRENCY"):
        match_and_couple(sync_stack.context, name)
    run_mapping(sync_stack.context, "PAYMENT TERMS")  # the option map `paymentTerms` (codes <-> account options)
    return sync_stack


def test_a_vendor_made_in_bc_becomes_a_vendor_account_and_edits_flow_both_ways(basics: SyncStack) -> None:
    stack = basics
    terms = bc_seeded("terms", "14 DAYS")
    bc_id = bc_vendor(stack, "Fabrikam Supplies", city="Atlanta", currencyCode="EUR", paymentTermsId=terms)
    before = accounts_of_type(stack, VENDOR_TYPE)
    quiet = run_mapping(stack.context, VENDOR)  # BC's default: the scheduled run synchronizes coupled records only
    assert (quiet.counters.inserted, quiet.counters.failed) == (0, 0), quiet.counters
    assert accounts_of_type(stack, VENDOR_TYPE) == before == {}

    coupling = create_in_dataverse(stack.context, VENDOR, bc_id)  # the vendor card's "Create in Dataverse"
    created = account(stack, coupling.dataverse_id)
    eur = stack.context.couplings.find_by_bc_id("CURRENCY", bc_seeded("currency", "EUR"))
    option = stack.context.couplings.find_by_bc_id("PAYMENT TERMS", terms)
    assert eur is not None and option is not None
    assert (created["name"], created["address1_city"], created["customertypecode"]) == (
        "Fabrikam Supplies",
        "Atlanta",
        VENDOR_TYPE,  # BC's BCIVENDOR template: an account made from a vendor is of type Vendor
    )
    assert created["_transactioncurrencyid_value"] == eur.dataverse_id  # through the CURRENCY couplings
    assert created["paymenttermscode"] == int(option.dataverse_id)  # through the PAYMENT TERMS option map
    assert stack.context.couplings.find_by_dataverse_id(CUSTOMER, coupling.dataverse_id) is None

    settled = run_mapping(stack.context, VENDOR)
    assert (settled.counters.modified, settled.counters.failed) == (0, 0), settled.counters
    patch_bc_vendor(stack, bc_id, {"phoneNumber": "+1 404 555 0199"})
    to_sales = run_mapping(stack.context, VENDOR)
    assert (to_sales.counters.modified, to_sales.counters.failed) == (1, 0), to_sales.counters
    assert account(stack, coupling.dataverse_id)["telephone1"] == "+1 404 555 0199"
    stack.context.dataverse.update_row("accounts", coupling.dataverse_id, {"address1_city": "Savannah"})
    to_bc = run_mapping(stack.context, VENDOR)  # bidirectional, as BC's default
    assert (to_bc.counters.modified, to_bc.counters.failed) == (1, 0), to_bc.counters
    vendor = stack.bc.get_entity("vendors", bc_id) or {}
    assert (vendor["city"], vendor["phoneNumber"]) == ("Savannah", "+1 404 555 0199")
    assert account(stack, coupling.dataverse_id)["customertypecode"] == VENDOR_TYPE  # never rewritten by a run


def test_a_vendor_account_made_in_sales_reaches_bc_only_the_ways_bc_allows(basics: SyncStack) -> None:
    stack = basics
    northwind = sales_account(stack, "Northwind Traders", VENDOR_TYPE, address1_city="Redmond")
    prospect = sales_account(stack, "Northwind Prospects", 8)  # a Prospect account: neither CUSTOMER's nor VENDOR's
    quiet = run_mapping(stack.context, VENDOR)
    assert quiet.counters.inserted == 0 and bc_vendors(stack) == {}  # only coupled records are synchronized

    # "Create in Business Central" of a Vendor account: BC takes VENDOR for it (GetIntegrationTableMappingFromCRMRecord)
    coupling = create_in_business_central(stack.context, VENDOR, northwind)
    vendor = stack.bc.get_entity("vendors", coupling.bc_id) or {}
    assert (vendor["displayName"], vendor["city"], vendor["number"]) == ("Northwind Traders", "Redmond", "V00010")
    assert account(stack, northwind)["customertypecode"] == VENDOR_TYPE

    assert set(bc_vendors(stack)) == {"Northwind Traders"}

    # the admin switches "Synch. Only Coupled Records" off: then the run creates what is new in Sales, as BC does
    stack.use(replace(get_mapping(VENDOR), sync_only_coupled=False))
    later = sales_account(stack, "Litware Supplies", VENDOR_TYPE)
    creating = run_mapping(stack.context, VENDOR)
    assert (creating.counters.inserted, creating.counters.failed) == (1, 0), creating.counters
    assert set(bc_vendors(stack)) == {"Northwind Traders", "Litware Supplies"}
    assert stack.context.couplings.find_by_dataverse_id(VENDOR, later) is not None
    assert stack.context.couplings.find_by_dataverse_id(VENDOR, prospect) is None


def test_create_in_business_central_refuses_an_account_outside_the_mappings_filter(basics: SyncStack) -> None:
    """BC picks the mapping of an account by its relationship type (GetIntegrationTableMappingFromCRMRecord: Customer
    -> CUSTOMER, Vendor -> VENDOR, any other type the first account mapping): a Customer, Prospect or untyped account
    never becomes a vendor, nor a Vendor account a customer. Asked to, we answer 422 naming the record and write
    nothing (no BC record, no coupling)."""
    stack = basics
    customer = sales_account(stack, "Contoso Retail", CUSTOMER_TYPE)
    prospect = sales_account(stack, "Northwind Prospects", 8)
    supplier = sales_account(stack, "Fabrikam Supplies", VENDOR_TYPE)
    untyped = str(uuid.uuid4())
    stack.context.dataverse.create_row("accounts", untyped, {"name": "Adatum Untyped"})
    for mapping, account_id in ((VENDOR, customer), (VENDOR, prospect), (VENDOR, untyped), (CUSTOMER, supplier)):
        with pytest.raises(RecordError) as refused:
            create_in_business_central(stack.context, mapping, account_id)
        assert (refused.value.code, refused.value.field) == ("outOfFilter", "dataverseId"), refused.value
        assert not isinstance(refused.value, NotFoundError | ConflictError | InvalidInputError)  # 422, not 404/409/400
        assert stack.context.couplings.find_by_dataverse_id(mapping, account_id) is None
    assert bc_vendors(stack) == {}
    customers = stack.bc_handle.session.get(f"{stack.bc_handle.company_root(_company())}/customers").json()["value"]
    assert "Fabrikam Supplies" not in {row["displayName"] for row in customers}


def test_customer_and_vendor_never_take_each_others_accounts(basics: SyncStack) -> None:
    """Same names on both sides of the line between customers and vendors: each mapping sees only its own type."""
    stack = basics
    trey_vendor = sales_account(stack, "Trey Research", VENDOR_TYPE)  # Sales already has Trey Research as a customer
    adatum_vendor = sales_account(stack, "Adatum Corporation", VENDOR_TYPE)  # BC's Adatum is a customer
    fabrikam_customer = sales_account(stack, "Fabrikam Supplies", CUSTOMER_TYPE)  # BC's Fabrikam is a vendor
    fabrikam = bc_vendor(stack, "Fabrikam Supplies")
    bc_vendor(stack, "Adatum Corporation")  # a vendor too, named like the customer

    customers = match_and_couple(stack.context, CUSTOMER, create_if_no_match=True).as_dict()
    assert not customers["failed"], customers
    trey = stack.context.couplings.find_by_bc_id(CUSTOMER, bc_seeded("customer", "Trey Research"))
    assert trey is not None and trey.dataverse_id != trey_vendor  # one match among customers: no severalMatches
    vendors = match_and_couple(stack.context, VENDOR).as_dict()
    assert not vendors["failed"], vendors
    assert coupled(stack, VENDOR) == {bc_vendor_id(stack, "Adatum Corporation"): adatum_vendor}
    assert [u["bcId"] for u in vendors["unmatched"]] == [fabrikam]  # the customer account of that name is not its

    for name in (CUSTOMER, VENDOR):
        job = run_mapping(stack.context, name)
        assert job.counters.failed == 0, stack.context.errors.list_errors(name)
    customer_accounts, vendor_accounts = set(coupled(stack, CUSTOMER).values()), set(coupled(stack, VENDOR).values())
    assert customer_accounts and not customer_accounts & vendor_accounts
    assert customer_accounts <= set(accounts_of_type(stack, CUSTOMER_TYPE))
    assert vendor_accounts <= set(accounts_of_type(stack, VENDOR_TYPE))
    assert {trey_vendor, adatum_vendor}.isdisjoint(customer_accounts) and fabrikam_customer not in vendor_accounts
    assert account(stack, trey_vendor)["customertypecode"] == VENDOR_TYPE  # a run never retypes an account


def test_a_full_sync_runs_vendor_after_its_dependencies_and_keeps_the_types_apart(
    sync_stack: SyncStack, azurite: str
) -> None:
    stack = sync_stack
    stack.use(replace(get_mapping(VENDOR), create_if_no_match=True))  # the admin's "Create New in Case of No Match"
    adatum_vendor = sales_account(stack, "Adatum Corporation", VENDOR_TYPE)  # named like BC's customer Adatum
    fabrikam_customer = sales_account(stack, "Fabrikam Supplies", CUSTOMER_TYPE)  # named like BC's vendor below
    bc_vendor(stack, "Fabrikam Supplies", currencyCode="GBP")
    bc_vendor(stack, "Wide World Importers")
    bc_vendor(stack, "Stopped Vendor", blocked="All")  # outside VENDOR's BC filter
    names = ["SALESPEOPLE", "CURRENCY", "PAYMENT TERMS", "SHIPMENT METHOD", CUSTOMER, VENDOR, "CONTACT"]
    lines = run_lines(stack, azurite, names)  # planned with BC's own recommendations; the run must finish
    assert list(lines) == names  # the catalog's dependency order
    vendor_line = lines[VENDOR]
    assert vendor_line.status is LineStatus.FINISHED and vendor_line.recommendation == "coupleRecords", vendor_line
    for dependency in get_mapping(VENDOR).dependencies:
        if dependency in lines:  # VENDOR started only when each dependency in the run had finished
            assert lines[dependency].finished_on <= vendor_line.started_on, (dependency, lines[dependency])
    assert vendor_line.finished_on <= lines["CONTACT"].started_on  # CONTACT depends on CUSTOMER and VENDOR

    vendors = coupled(stack, VENDOR)
    bc_names = {row["id"]: name for name, row in bc_vendors(stack).items()}
    assert sorted(bc_names[bc_id] for bc_id in vendors) == ["Fabrikam Supplies", "Wide World Importers"]
    assert vendor_line.counters.inserted == 2 and vendor_line.left.dataverse_only == 1, vendor_line
    for account_id in vendors.values():
        assert account(stack, account_id)["customertypecode"] == VENDOR_TYPE
    assert fabrikam_customer not in vendors.values()  # a customer account is never a vendor's match
    assert adatum_vendor not in coupled(stack, CUSTOMER).values()  # nor a vendor account a customer's
    gbp = stack.context.couplings.find_by_bc_id("CURRENCY", bc_seeded("currency", "GBP"))
    fabrikam = next(a for bc_id, a in vendors.items() if bc_names[bc_id] == "Fabrikam Supplies")
    assert gbp is not None and account(stack, fabrikam)["_transactioncurrencyid_value"] == gbp.dataverse_id
