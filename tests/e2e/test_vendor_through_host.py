"""VENDOR end to end through the local Functions host, as `make demo` shows it (local/demo/vendors.py): vendors made in
either app reach the other and are coupled, an edit flows on the mapping's run, and a full synchronization of every
mapping (`POST /api/full-sync {}`, what the demo and an admin's first day run) has a VENDOR line in BC's dependency
order that keeps vendor and customer accounts apart.

Its own stack (as the other module stacks): it adds vendors and vendor accounts the session stack's tests do not
expect."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from local.demo.full_sync import run_full_sync
from local.demo.story import Story
from local.demo.vendors import FROM_BC, FROM_SALES, NEW_PHONE, VENDOR_TYPE, VendorPairs, vendor_story
from shared.mappings import get_mapping, mapping_names
from tests.e2e.conftest import seeded_stack

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(240)]
CUSTOMER_TYPE = 3


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    """Its own stack, seeded with the demo data; salespeople and currencies coupled, as in the demo."""
    for stack in seeded_stack(tmp_path_factory):  # stopped when the generator resumes after the module
        demo = Story(stack)
        for mapping in ("SALESPEOPLE", "CURRENCY"):
            report = demo.api("POST", f"couplings/{mapping}/match", {})
            assert not report["failed"], (mapping, report)
        yield demo


@pytest.fixture(scope="module")
def pairs(story: Story) -> VendorPairs:
    return vendor_story(story)


@pytest.fixture(scope="module")
def review(story: Story, pairs: VendorPairs) -> dict[str, Any]:
    """A vendor account Sales already has, named like a BC customer, then the full synchronization of everything."""
    story.dataverse("POST", "accounts", {"name": "Adatum Corporation", "customertypecode": VENDOR_TYPE})
    return dict(run_full_sync(story.api, timeout=180))


def _account(story: Story, account_id: str) -> dict[str, Any]:
    return dict(story.dataverse("GET", f"accounts({account_id})?$select=name,customertypecode,telephone1"))


def test_the_mapping_is_live_as_bc_ships_it(story: Story) -> None:
    described = story.api("GET", "mappings/VENDOR")
    assert (described["enabled"], described["direction"], described["syncOnlyCoupled"]) == (True, "bidirectional", True)
    assert described["dataverseFilter"] == "statecode eq 0 and customertypecode eq 11"
    assert described["bcFilter"] == "blocked eq '_x0020_'"


def test_vendors_go_both_ways_and_are_coupled(story: Story, pairs: VendorPairs) -> None:
    vendor_id, account_id = pairs.from_bc
    account = _account(story, account_id)
    assert (account["name"], account["customertypecode"], account["telephone1"]) == (FROM_BC, VENDOR_TYPE, NEW_PHONE)
    assert story.api("GET", f"couplings/VENDOR?bcId={vendor_id}")["dataverseId"] == account_id
    made_id, supplier_id = pairs.from_sales
    vendor = story.bc("GET", f"vendors({made_id})")
    assert vendor["displayName"] == FROM_SALES and vendor["number"].startswith("V")
    number = vendor["number"].lower()  # BC's No., as users know it (any case)
    found = story.api("GET", f"records/VENDOR/by-number?number={number}")
    assert (found["bcId"], found["coupling"]["dataverseId"]) == (made_id, supplier_id)


def test_the_full_sync_runs_vendor_in_bcs_dependency_order(review: dict[str, Any]) -> None:
    assert review["status"] == "finished", review
    lines = {line["mapping"]: line for line in review["lines"]}
    failed = {name: line["error"] for name, line in lines.items() if line["status"] == "failed"}
    assert not failed, failed
    order = [line["mapping"] for line in review["lines"]]
    assert order == [name for name in mapping_names() if name in lines]  # the catalog's order
    vendor = lines["VENDOR"]
    assert vendor["status"] == "finished" and vendor["recommendation"] == "coupleRecords", vendor
    assert order.index("CUSTOMER") < order.index("VENDOR") < order.index("CONTACT")
    for dependency in get_mapping("VENDOR").dependencies:
        if dependency in lines and lines[dependency]["recommendation"] != "noRecords":
            assert lines[dependency]["finishedOn"] <= vendor["startedOn"], (dependency, lines[dependency])
    assert vendor["counters"]["inserted"] == 0 and vendor["left"]["dataverseOnly"] == 1, vendor  # the Adatum account


def test_after_the_full_sync_each_mapping_holds_only_its_own_accounts(story: Story, review: dict[str, Any]) -> None:
    assert review["status"] == "finished"
    for mapping, account_type in (("CUSTOMER", CUSTOMER_TYPE), ("VENDOR", VENDOR_TYPE)):
        for customer_or_vendor in story.bc("GET", f"{mapping.lower()}s?$select=id")["value"]:
            found = story.session.get(
                f"{story.stack.urls['functions']}/couplings/{mapping}",
                params={"bcId": customer_or_vendor["id"]},
                headers={"x-functions-key": story.stack.function_key},
                timeout=30,
            )
            if found.status_code == 404:
                continue
            account = _account(story, found.json()["dataverseId"])
            assert account["customertypecode"] == account_type, (mapping, customer_or_vendor, account)
    query = "accounts?$select=accountid&$filter=customertypecode eq 11 and name eq 'Adatum Corporation'"
    (row,) = story.dataverse("GET", query)["value"]
    story.api("GET", f"couplings/CUSTOMER?dataverseId={row['accountid']}", expect=404)  # not the customer Adatum's
    story.api("GET", f"couplings/VENDOR?dataverseId={row['accountid']}", expect=404)  # Couple Records left it
