"""One contract for `BusinessCentralClientPort`: the real client over HTTP against the BC emulator, which every
service test runs on too (there is no in-memory BC client: issue 21 measured that nothing fast needed one).

Each test states an observable rule the sync relies on: idempotent create with a chosen id, `If-Match` and the
409 merge retry, closed-bound change reads, batches in order with BC's stop/continue/rollback rules, bound actions
answering with a Location, page entities by single and composite key. The last tests check that the app-side
entity-source table agrees with the emulator's twin of it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from local.emulators.business_central.pages import seed as pages_seed
from local.emulators.business_central.pages.sources import CUSTOM_SOURCES, SOURCES
from local.emulators.business_central.seed import COMPANY_ID, COMPANY_NAME
from shared.connectors.business_central.client import BusinessCentralClient
from shared.connectors.business_central.entity_sources import DEFAULT_SOURCES, EntitySources, sources_from_settings
from shared.connectors.business_central.odata import location_target
from shared.connectors.http import HttpClient
from shared.domain.errors import ConcurrencyError, FatalError, NotFoundError
from shared.ports import BusinessCentralClientPort, Row
from tests.conftest import BC_RESOURCE, TENANT

pytestmark = pytest.mark.integration

PAGE_SIZE = 3


def real_client(request: pytest.FixtureRequest, sources: EntitySources = DEFAULT_SOURCES) -> BusinessCentralClient:
    request.getfixturevalue("bc_demo")
    emulator = request.getfixturevalue("business_central")
    tokens = request.getfixturevalue("authority").token_provider(BC_RESOURCE)
    base = f"{emulator.base_url}/{TENANT}/production"
    http = HttpClient(base, tokens, sleep=lambda _: None)
    return BusinessCentralClient(base, tokens, COMPANY_NAME, http=http, sources=sources, page_size=PAGE_SIZE)


@pytest.fixture
def bc(request: pytest.FixtureRequest) -> Iterator[BusinessCentralClientPort]:
    yield real_client(request)


def rows(pages: Iterator[Any]) -> list[Row]:
    return [row for page in pages for row in page.rows]


def when(row: Row) -> datetime:
    return datetime.fromisoformat(str(row["lastModifiedDateTime"]))


def new_customer(bc: BusinessCentralClientPort, name: str, city: str = "Contract City") -> Row:
    return bc.create_entity("customers", {"displayName": name, "city": city}, str(uuid.uuid4()))


# -- company and reads -----------------------------------------------------------------------------------------
def test_company_by_name_or_id(bc: BusinessCentralClientPort) -> None:
    assert bc.resolve_company(COMPANY_NAME) == COMPANY_ID == bc.resolve_company(COMPANY_ID.upper())
    with pytest.raises(FatalError):
        bc.resolve_company("No Such Company")


def test_get_entity_selects_and_missing_is_none(bc: BusinessCentralClientPort) -> None:
    created = new_customer(bc, "Selected Ltd")
    row = bc.get_entity("customers", created["id"], select=["displayName", "city"])
    assert row == {"@odata.etag": created["@odata.etag"], "displayName": "Selected Ltd", "city": "Contract City"}
    assert bc.get_entity("customers", str(uuid.uuid4())) is None


def test_create_with_chosen_id_is_idempotent(bc: BusinessCentralClientPort) -> None:
    chosen = str(uuid.uuid4())
    first = bc.create_entity("customers", {"displayName": "Once Only", "city": "Idem"}, chosen)
    again = bc.create_entity("customers", {"displayName": "Second Try", "city": "Idem"}, chosen)
    assert first["id"] == again["id"] == chosen and again["displayName"] == "Once Only"
    found = rows(bc.list_changed_since("customers", None, ["displayName"], extra_filter="city eq 'Idem'"))
    assert [row["id"] for row in found] == [chosen]


def test_changed_since_is_a_closed_bound_oldest_first(bc: BusinessCentralClientPort) -> None:
    created = []
    for name in ("Old", "Boundary", "New"):
        created.append(new_customer(bc, name, city="Delta"))
        time.sleep(0.01)
    boundary = bc.get_entity("customers", created[1]["id"], select=["lastModifiedDateTime"])
    assert boundary is not None
    found = rows(bc.list_changed_since("customers", when(boundary), ["displayName"], extra_filter="city eq 'Delta'"))
    assert [row["displayName"] for row in found] == ["Boundary", "New"]
    assert set(found[0]) == {"@odata.etag", "id", "displayName", "lastModifiedDateTime"}
    assert when(found[0]) <= when(found[1])


def test_changed_since_follows_server_pages(bc: BusinessCentralClientPort) -> None:
    for index in range(7):
        new_customer(bc, f"Paged {index}", city="Paging")
    pages = list(bc.list_changed_since("customers", None, ["displayName"], extra_filter="city eq 'Paging'"))
    assert [len(page.rows) for page in pages] == [3, 3, 1]
    assert [page.next_link is None for page in pages] == [False, False, True]
    assert len({row["id"] for page in pages for row in page.rows}) == 7
    with pytest.raises(ValueError, match="select"):
        list(bc.list_changed_since("customers", None, []))


def test_a_set_whose_modified_on_does_not_follow_its_data_is_read_in_full(bc: BusinessCentralClientPort) -> None:
    """`EntitySource.delta` False (computed sets like contactsInformation): a read of changes since any moment
    reads every row, as a page is read, so no change can hide behind a modified-on that did not move."""
    select = ["contactNumber", "relatedId"]
    every = rows(bc.list_changed_since("contactsInformation", None, select))
    assert every
    later = rows(bc.list_changed_since("contactsInformation", datetime(2999, 1, 1, tzinfo=UTC), select))
    assert later == every


# -- writes ------------------------------------------------------------------------------------------------------
def test_update_needs_the_current_etag_and_merge_retries_once(bc: BusinessCentralClientPort) -> None:
    created = new_customer(bc, "Racer")
    theirs = bc.update_entity("customers", created["id"], {"city": "Their City"}, created["@odata.etag"])
    assert theirs["@odata.etag"] != created["@odata.etag"] and theirs["city"] == "Their City"
    with pytest.raises(ConcurrencyError):
        bc.update_entity("customers", created["id"], {"phoneNumber": "555-0100"}, created["@odata.etag"])
    merged = bc.update_entity(
        "customers", created["id"], {"phoneNumber": "555-0100"}, created["@odata.etag"], merge=True
    )
    assert (merged["city"], merged["phoneNumber"]) == ("Their City", "555-0100")
    with pytest.raises(NotFoundError):
        bc.update_entity("customers", str(uuid.uuid4()), {"city": "Nowhere"}, "*")


def test_delete_is_conditional_and_gone_is_success(bc: BusinessCentralClientPort) -> None:
    created = new_customer(bc, "Short Lived")
    changed = bc.update_entity("customers", created["id"], {"city": "Moved"}, created["@odata.etag"])
    with pytest.raises(ConcurrencyError):
        bc.delete_entity("customers", created["id"], created["@odata.etag"])
    bc.delete_entity("customers", created["id"], changed["@odata.etag"])
    assert bc.get_entity("customers", created["id"]) is None
    bc.delete_entity("customers", created["id"])


# -- documents and actions ---------------------------------------------------------------------------------------
def sales_order(bc: BusinessCentralClientPort) -> Row:
    lines = [
        {"lineType": "Item", "lineObjectNumber": "1908-S", "quantity": 2},
        {"lineType": "Item", "lineObjectNumber": "1900-S", "quantity": 1},
    ]
    return bc.create_entity("salesOrders", {"customerNumber": "C00030", "salesOrderLines": lines}, str(uuid.uuid4()))


def test_sales_order_with_lines_by_expand(bc: BusinessCentralClientPort) -> None:
    order = sales_order(bc)
    read = bc.get_entity(
        "salesOrders", order["id"], select=["number"], expand="salesOrderLines($select=lineObjectNumber,quantity)"
    )
    assert read is not None and read["number"] == order["number"]
    assert [(line["lineObjectNumber"], line["quantity"]) for line in read["salesOrderLines"]] == [
        ("1908-S", 2),
        ("1900-S", 1),
    ]


def test_ship_and_invoice_answers_with_the_invoice_location(bc: BusinessCentralClientPort) -> None:
    order = sales_order(bc)
    location = bc.invoke_action("salesOrders", order["id"], "shipAndInvoice")
    assert location is not None
    entity_set, invoice_id = location_target(location)
    invoice = bc.get_entity(entity_set, invoice_id, select=["orderNumber"])
    assert entity_set == "salesInvoices" and invoice_id != order["id"]
    assert invoice is not None and invoice["orderNumber"] == order["number"]
    assert bc.get_entity("salesOrders", order["id"]) is None
    with pytest.raises(NotFoundError):
        bc.invoke_action("salesOrders", order["id"], "shipAndInvoice")


# -- batches -----------------------------------------------------------------------------------------------------
def create(name: str, entity_id: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"displayName": name, "city": "Batch"}
    return {"method": "POST", "url": "customers", "body": body | ({"id": entity_id} if entity_id else {})}


def stale_patch(row: Row) -> dict[str, Any]:
    return {"method": "PATCH", "url": f"customers({row['id']})", "body": {"city": "X"}, "etag": 'W/"stale"'}


def test_batch_answers_in_order_and_stops_at_the_first_failure(bc: BusinessCentralClientPort) -> None:
    existing = new_customer(bc, "Already There")
    outcomes = bc.execute_batch(
        [create("B1"), {"method": "GET", "url": f"customers({existing['id']})?$select=displayName"}, create("B2")]
    )
    assert [o.status for o in outcomes] == [201, 200, 201]
    assert outcomes[1].body["displayName"] == "Already There" and outcomes[2].body["displayName"] == "B2"
    stopped = bc.execute_batch([create("S1"), stale_patch(existing), create("S2")])
    assert [o.status for o in stopped] == [201, 409, 424]
    assert stopped[1].body["error"]["code"] == "Request_EntityChanged"
    went_on = bc.execute_batch([create("C1"), stale_patch(existing), create("C2")], continue_on_error=True)
    assert [o.status for o in went_on] == [201, 409, 201]


def test_batch_create_of_an_existing_id_returns_it(bc: BusinessCentralClientPort) -> None:
    existing = new_customer(bc, "Kept")
    outcomes = bc.execute_batch([create("New One"), create("Ignored", existing["id"]), create("Last One")])
    assert [o.status for o in outcomes] == [201, 200, 201]
    assert outcomes[1].body["displayName"] == "Kept" and all(o.ok for o in outcomes)


def test_atomic_batch_rolls_back_and_refuses_more_than_100(bc: BusinessCentralClientPort) -> None:
    existing = new_customer(bc, "Anchor")
    chosen = str(uuid.uuid4())
    outcomes = bc.execute_batch([create("Rolled", chosen), stale_patch(existing), create("Never")], atomic=True)
    assert [o.status for o in outcomes] == [424, 409, 424] and not any(o.ok for o in outcomes)
    assert bc.get_entity("customers", chosen) is None
    with pytest.raises(ValueError, match="100"):
        bc.execute_batch([create(f"N{i}") for i in range(101)], atomic=True)


# -- page web services -------------------------------------------------------------------------------------------
def test_page_entity_by_single_key_and_conditional_update(bc: BusinessCentralClientPort) -> None:
    resource = bc.get_page_entity("ResourceCard", {"No": "R0010"})
    assert resource is not None and (resource["Name"], resource["Unit_Price"]) == ("Lina Townsend", 80)
    assert bc.get_page_entity("ResourceCard", {"No": "R9999"}) is None
    updated = bc.update_page_entity("ResourceCard", {"No": "R0010"}, {"Unit_Price": 85}, resource["@odata.etag"])
    assert updated["Unit_Price"] == 85 and updated["@odata.etag"] != resource["@odata.etag"]
    with pytest.raises(ConcurrencyError):
        bc.update_page_entity("ResourceCard", {"No": "R0010"}, {"Unit_Price": 90}, resource["@odata.etag"])


def test_page_entity_by_composite_key(bc: BusinessCentralClientPort) -> None:
    line = bc.get_page_entity("PriceListLines", {"Price_List_Code": "S00001", "Line_No": 10000})
    assert line is not None and (line["Asset_No"], line["Unit_Price"]) == ("1896-S", 950)
    assert bc.get_page_entity("PriceListLines", {"Price_List_Code": "S00001", "Line_No": 99999}) is None


def test_list_page_selects_and_filters_in_key_order(bc: BusinessCentralClientPort) -> None:
    found = rows(bc.list_page("ResourceCard", select=["No", "Name"], extra_filter="Unit_Price ge 80"))
    assert [(row["No"], row["Name"]) for row in found] == [("R0010", "Lina Townsend"), ("R0030", "Terry Dodds")]
    assert set(found[0]) == {"@odata.etag", "No", "Name"}


def test_an_entity_moved_to_the_custom_route_is_read_there(request: pytest.FixtureRequest) -> None:
    sources = DEFAULT_SOURCES.with_custom("resource")
    bc: BusinessCentralClientPort = real_client(request, sources)
    source = sources.get("resource")
    found = rows(bc.list_changed_since(source.name, None, source.select(["number", "displayName"])))
    assert ("R0010", "Lina Townsend") in [(row["number"], row["displayName"]) for row in found]
    resource_id = pages_seed.seeded_id("resource", "R0010")
    assert (bc.get_entity(source.name, resource_id, select=["number"]) or {}).get("number") == "R0010"


# -- the entity-source table agrees with the emulator's --------------------------------------------------------
def test_entity_sources_match_the_emulators_description() -> None:
    from local.emulators.business_central.pages.custom import custom_sets

    for entity, theirs in SOURCES.items():
        ours = DEFAULT_SOURCES.get(entity)
        assert ours.kind == theirs["kind"]
        assert ours.name == theirs.get("entitySet", theirs.get("service"))
        if ours.is_page:
            assert list(ours.key) == theirs["key"] and ours.page_id == theirs["page"]
    for entity, theirs in CUSTOM_SOURCES.items():
        ours = DEFAULT_SOURCES.get(entity)
        assert ours.custom_set == theirs["entitySet"]
        assert dict(ours.fields) == custom_sets()[theirs["entitySet"]].fields
        assert DEFAULT_SOURCES.with_custom(entity).get(entity).name == theirs["entitySet"]


def test_sources_from_settings() -> None:
    sources = sources_from_settings(
        {"BC_PAGE_SERVICES": "resource=MyResources", "BC_CUSTOM_API_ENTITIES": "priceListLine,customer"}
    )
    assert sources.get("resource").name == "MyResources" and sources.get("resource").kind == "page"
    assert (sources.get("priceListLine").kind, sources.get("priceListLine").name) == ("custom", "priceListLines")
    assert sources.get("customer").kind == "custom" and sources.by_entity_set("customers") is not None
    line = sources.get("priceListLine")
    assert line.key == ("id",) and line.to_canonical({"unitPrice": 1}) == {"unitPrice": 1}
    page_line = DEFAULT_SOURCES.get("priceListLine")
    assert page_line.to_canonical({"Unit_Price": 1, "Line_No": 2}) == {"unitPrice": 1, "lineNumber": 2}
    assert all(s.kind != "page" for s in sources_from_settings({"BC_MAJOR_VERSION": "30"}))
    with pytest.raises(ValueError, match="page"):
        DEFAULT_SOURCES.with_service("customer", "Customers")


def test_has_records_reads_one_row_of_an_api_or_page_set(bc: BusinessCentralClientPort) -> None:
    assert not bc.has_records("customers", "displayName eq 'Has Records Contract'")
    new_customer(bc, "Has Records Contract")
    assert bc.has_records("customers", "displayName eq 'Has Records Contract'")
    assert bc.has_records("resources", "number eq 'R0010'")
    assert not bc.has_records("resources", "number eq 'R9999'")


def test_list_ids_pages_every_id_in_the_same_order_each_time(bc: BusinessCentralClientPort) -> None:
    for n in range(4):
        new_customer(bc, f"List Ids {n}")
    pages = list(bc.list_ids("customers"))
    ids = [entity_id for page in pages for entity_id in page]
    assert len(pages) > 1 and all(len(page) <= PAGE_SIZE for page in pages)  # server-driven paging
    assert sorted(ids) == sorted(str(row["id"]) for row in rows(bc.list_changed_since("customers", None, ["id"])))
    assert [i for page in bc.list_ids("customers") for i in page] == ids
    only = [i for page in bc.list_ids("customers", "displayName eq 'List Ids 2'") for i in page]
    assert len(only) == 1


def test_a_listed_page_reads_back_as_one_range(bc: BusinessCentralClientPort) -> None:
    """A full-sync chunk is a run of `list_ids`; its id range must give exactly those records (and no page entity
    claims a range it cannot keep)."""
    for n in range(7):
        new_customer(bc, f"Range {n}")
    ids = [i for page in bc.list_ids("customers") for i in page]
    assert ids == sorted(ids)  # listed by id
    middle = ids[2:6]
    text = bc.id_range_filter("customers", middle[0], middle[-1])
    assert text is not None
    got = [str(row["id"]) for row in rows(bc.list_changed_since("customers", None, ["id"], extra_filter=text))]
    assert sorted(got) == sorted(middle)
    assert bc.id_range_filter("unitGroups", "Item|00000000-0000-0000-0000-000000000001", "Resource|R0010") is None


def test_page_entities_are_read_several_keys_at_a_time(request: pytest.FixtureRequest) -> None:
    """The client's page layer: one keyed `$filter` per 15 ids."""
    bc = real_client(request)
    numbers = [number for number, *_ in pages_seed.RESOURCES]
    got = bc.get_entities("resources", [*numbers, "R9999"], ["number", "displayName"])
    assert sorted(got) == sorted(numbers)
    assert {row["number"] for row in got.values()} == set(numbers)
    scoped = bc.get_entities("resources", numbers, ["number"], extra_filter=f"number eq '{numbers[0]}'")
    assert list(scoped) == [numbers[0]]
    groups = [i for page in bc.list_ids("unitGroups") for i in page]  # composite keys, two pages behind one set
    assert {i.split("|")[0] for i in groups} == {"Item", "Resource"}
    got = bc.get_entities("unitGroups", groups, ["code", "sourceNumber"])
    assert sorted(got) == sorted(groups) and all(row["code"] for row in got.values())


def test_a_listed_run_of_page_entities_reads_back_as_one_key_range(request: pytest.FixtureRequest) -> None:
    """Pages are listed by their key: the run's key range (leading fields fixed where equal) holds every id of it."""
    bc = real_client(request)
    for entity_set in ("resources", "unitGroups", "itemUnitsOfMeasure"):
        ids = [i for page in bc.list_ids(entity_set) for i in page]
        runs = (
            [ids]
            if entity_set != "unitGroups"
            else [[i for i in ids if i.startswith(k)] for k in ("Item|", "Resource|")]
        )
        for run in runs:
            text = bc.id_range_filter(entity_set, run[0], run[-1])
            assert text is not None, entity_set
            got = {str(r["id"]) for r in rows(bc.list_changed_since(entity_set, None, ["id"], extra_filter=text))}
            assert set(run) <= got, (entity_set, text)
