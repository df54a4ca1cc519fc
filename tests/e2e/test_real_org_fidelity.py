"""Real-org fidelity (issue 19), end to end: a full synchronization of the demo data through the local Functions
host, as `make demo` runs it, then what a new user of a real Sales org would look at on day one.

The admin sets up the write-in item before the first full sync (the order a real company would choose: BC's rule is
that it is never a product whatever the order). Customers and contacts keep BC's default "Create New in Case of No
Match" (off): their full-sync lines are `coupleRecords` and must create nothing on either side.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from local.demo.documents import submit_sales_order
from local.demo.full_sync import run_full_sync
from local.demo.story import Story
from local.emulators.business_central.seed import seeded_id as bc_id
from tests.e2e.conftest import seeded_stack

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(240)]
WRITE_IN = "WRITE-IN"
NO_CREATE = ("CUSTOMER", "CONTACT")  # BC's default: Couple Records creates nothing for these


def _all(story: Story, query: str) -> list[dict[str, Any]]:
    return list(story.dataverse("GET", query)["value"])


def _bc_all(story: Story, query: str) -> list[dict[str, Any]]:
    return list(story.bc("GET", query)["value"])


def _coupled(story: Story, mapping: str, bc_record: str) -> str | None:
    """The Dataverse id coupled to a BC record, or None."""
    found = story.session.get(
        f"{story.stack.urls['functions']}/couplings/{mapping}",
        params={"bcId": bc_record},
        headers={"x-functions-key": story.stack.function_key},
        timeout=30,
    )
    if found.status_code == 404:
        return None
    assert found.status_code == 200, found.text
    return str(found.json()["dataverseId"])


def _coupled_customers(story: Story) -> list[tuple[str, str]]:
    """(BC customer id, account id) of every coupled customer, in BC's number order."""
    pairs = ((row["id"], _coupled(story, "CUSTOMER", row["id"])) for row in _bc_all(story, "customers?$orderby=number"))
    return [(customer, account) for customer, account in pairs if account]


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    """Its own stack (the session stack stays as the other e2e tests expect it), seeded with the demo data."""
    for stack in seeded_stack(tmp_path_factory):  # stopped when the generator resumes after the module
        demo = Story(stack)
        yield demo


@pytest.fixture(scope="module")
def synced(story: Story) -> dict[str, Any]:
    """Write-in item set up first, counts taken, then the full synchronization of every runnable mapping."""
    story.bc("POST", "items", {"number": WRITE_IN, "displayName": "Write-in product"})
    story.api("PATCH", "setup", {"salesOrderIntegrationEnabled": True, "writeInProductNumber": WRITE_IN})
    for name in NO_CREATE:
        assert story.api("GET", f"mappings/{name}")["createIfNoMatch"] is False, name
    # no salesperson coupled first: the full sync's SALESPEOPLE line couples BC's own to the Sales users
    before = {
        "salespeople": len(_bc_all(story, "salespeoplePurchasers?$select=id")),
        "accounts": len(_all(story, "accounts?$select=accountid")),
        "customers": len(_bc_all(story, "customers?$select=id")),
        "contacts": len(_all(story, "contacts?$select=contactid")),
        "bcContacts": len(_bc_all(story, "contacts?$select=id")),
    }
    review = run_full_sync(story.api, timeout=150)
    return {"review": review, "before": before}


def _line(synced: dict[str, Any], mapping: str) -> dict[str, Any]:
    lines = {line["mapping"]: line for line in synced["review"]["lines"]}
    assert mapping in lines, sorted(lines)
    return dict(lines[mapping])


def test_the_full_sync_finishes(synced: dict[str, Any]) -> None:
    review = synced["review"]
    assert review["status"] == "finished", review
    failed = {line["mapping"]: line.get("error") for line in review["lines"] if line["status"] == "failed"}
    assert not failed, failed


def test_the_salespeople_line_couples_bc_salespeople_and_creates_none(story: Story, synced: dict[str, Any]) -> None:
    line = _line(synced, "SALESPEOPLE")
    assert line["recommendation"] == "fullSynchronization" and line["counters"]["inserted"] == 0, line
    salespeople = _bc_all(story, "salespeoplePurchasers?$select=id,code")
    assert len(salespeople) == synced["before"]["salespeople"] == line["counters"]["coupled"], line
    for salesperson in salespeople:  # BC's own, each coupled to its Sales user
        coupling = story.api("GET", f"couplings/SALESPEOPLE?bcId={salesperson['id']}")
        assert coupling["dataverseId"], (salesperson, coupling)
    customers = _line(synced, "CUSTOMER")
    assert customers["errorCounts"]["byCode"].get("dependencyNotCoupled", 0) == 0, customers


def test_products_are_active_on_the_default_price_list_with_a_price(story: Story, synced: dict[str, Any]) -> None:
    products = _all(story, "products?$select=productid,productnumber,statecode,_pricelevelid_value")
    assert products
    assert [p["productnumber"] for p in products if p["statecode"] != 0] == []  # Active (0), not Draft (2)
    levels = {p["_pricelevelid_value"] for p in products}
    assert len(levels) == 1 and None not in levels, levels  # every product on the one default price list
    (level,) = levels
    items = _all(story, f"productpricelevels?$select=_productid_value,amount&$filter=_pricelevelid_value eq {level}")
    priced = {row["_productid_value"] for row in items}
    assert {p["productid"] for p in products} <= priced  # a price list item for each product


def test_the_write_in_item_is_coupled_to_no_product(story: Story, synced: dict[str, Any]) -> None:
    write_in = _bc_all(story, f"items?$filter=number eq '{WRITE_IN}'")[0]
    assert _coupled(story, "ITEM-PRODUCT", write_in["id"]) is None
    assert _all(story, f"products?$select=productid&$filter=productnumber eq '{WRITE_IN}'") == []


def test_a_sales_order_with_a_write_in_line_becomes_a_bc_order(story: Story, synced: dict[str, Any]) -> None:
    customers = _coupled_customers(story)
    assert customers, "no customer coupled by the full sync"
    account = customers[0][1]
    desk = story.api("GET", f"couplings/ITEM-PRODUCT?bcId={bc_id('item', '1896-S')}")["dataverseId"]
    order_id = submit_sales_order(story, "Fidelity order", account, desk, 2, "Engraved name plate")
    created = story.api("POST", f"sales-orders/{order_id}/create-in-business-central", expect=201)
    bc_order = story.bc("GET", f"salesOrders({created['bcId']})?$expand=salesOrderLines")
    numbers = sorted(line["lineObjectNumber"] for line in bc_order["salesOrderLines"])
    assert numbers == ["1896-S", WRITE_IN], bc_order["salesOrderLines"]


def test_contacts_under_accounts_keep_first_names_and_parent_accounts(story: Story, synced: dict[str, Any]) -> None:
    """Each coupled person keeps a first name in Sales (fullname computed from the parts) and sits under the account
    coupled to the customer of its company (BC's business relation, `contactsInformation`)."""
    customer_of = {
        row["contactNumber"]: row["relatedId"]
        for row in _bc_all(story, "contactsInformation")
        if row.get("relatedType") == "Customer"
    }
    coupled = 0
    for person in _bc_all(story, "contacts?$filter=type eq 'Person'"):
        contact_id = _coupled(story, "CONTACT", person["id"])
        if contact_id is None:
            continue
        coupled += 1
        columns = "firstname,lastname,fullname,_parentcustomerid_value"
        contact = story.dataverse("GET", f"contacts({contact_id})?$select={columns}")
        assert contact["firstname"], (person["displayName"], contact)
        assert contact["fullname"] == f"{contact['firstname']} {contact['lastname']}", contact
        expected = _coupled(story, "CUSTOMER", customer_of.get(person["companyNumber"], ""))
        assert expected and contact["_parentcustomerid_value"] == expected, (person["displayName"], contact)
    assert coupled > 0
    under = _all(story, "contacts?$select=firstname&$filter=_parentcustomerid_value ne null")
    assert under and all(row["firstname"] for row in under), under


def test_currencies_carry_bcs_current_exchange_rates(story: Story, synced: dict[str, Any]) -> None:
    latest: dict[str, tuple[str, float]] = {}
    for rate in _bc_all(story, "currencyExchangeRates"):
        code, starting = rate["currencyCode"], rate["startingDate"]
        if code not in latest or starting > latest[code][0]:
            latest[code] = (starting, rate["exchangeRateAmount"] / rate["relationalExchangeRateAmount"])
    assert latest
    currencies = {
        row["isocurrencycode"]: row["exchangerate"]
        for row in _all(story, "transactioncurrencies?$select=isocurrencycode,exchangerate")
    }
    for code, (_, current) in latest.items():
        assert currencies.get(code) == pytest.approx(current, rel=1e-6), (code, currencies)
    assert all(value for value in currencies.values()), currencies  # never a currency without a rate


def test_a_rate_changed_in_bc_reaches_sales_on_the_next_currency_run(story: Story, synced: dict[str, Any]) -> None:
    rate = {"currencyCode": "GBP", "startingDate": "2026-01-01", "exchangeRateAmount": 80.0,
            "relationalExchangeRateAmount": 100.0}  # fmt: skip
    added = story.session.post(f"{story.stack.urls['business_central']}/_admin/exchangeRates", json=rate, timeout=30)
    added.raise_for_status()
    story.api("POST", "mappings/CURRENCY/synchronize")
    gbp = _all(story, "transactioncurrencies?$select=exchangerate&$filter=isocurrencycode eq 'GBP'")
    assert [row["exchangerate"] for row in gbp] == [pytest.approx(0.8)]


def test_couple_records_lines_create_nothing_when_the_mapping_does_not_create(
    story: Story, synced: dict[str, Any]
) -> None:
    before = synced["before"]
    for name in NO_CREATE:
        line = _line(synced, name)
        assert line["counters"]["inserted"] == 0, line
    customer = _line(synced, "CUSTOMER")
    assert customer["recommendation"] == "coupleRecords", customer
    assert customer["counters"]["coupled"] > 0 and customer["left"]["noMatch"] > 0, customer  # matched, rest left
    assert len(_all(story, "accounts?$select=accountid")) == before["accounts"]
    assert len(_bc_all(story, "customers?$select=id")) == before["customers"]
    assert len(_all(story, "contacts?$select=contactid")) == before["contacts"]
    assert len(_bc_all(story, "contacts?$select=id")) == before["bcContacts"]


def test_an_account_deactivated_in_sales_blocks_its_customer(story: Story, synced: dict[str, Any]) -> None:
    customer, account = _coupled_customers(story)[-1]  # not the one the order test used (when there are two)
    assert story.bc("GET", f"customers({customer})")["blocked"] in ("", " ", "_x0020_", None)  # BC's blank enum value
    story.dataverse("PATCH", f"accounts({account})", {"statecode": 1, "statuscode": 2})
    story.api("POST", "mappings/CUSTOMER/synchronize")
    assert story.bc("GET", f"customers({customer})")["blocked"] == "All"
