"""One contract for `DataverseClientPort`: the real client over HTTP against the Dataverse emulator, which every
service test runs on too (there is no in-memory Dataverse client: issue 21 measured that nothing fast needed one).

Each test states an observable rule the sync relies on: reads that say None for a missing row, closed-bound change
reads in `modifiedon` order, creates that a retry can never duplicate, updates that lose a race loudly, bulk writes
that store the good records when one is bad, batches with Dataverse's atomic / stop / continue rules, the Sales close
messages, and posts on a record's wall. (The client's change tracking, which the sync never used, is gone; its tests
moved to the emulator's, tests/integration/test_dataverse_queries.py, and its boundary helpers' claims to the cursor's,
tests/unit/test_watermarks.py.)
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from shared.connectors.dataverse.client import DataverseClient, bind
from shared.connectors.dataverse.errors import BulkWriteError
from shared.connectors.errors import ApiError
from shared.domain.errors import ConcurrencyError, ErrorKind, FatalError, NotFoundError, RecordError
from shared.ports import DataverseClientPort, Page, Row

PAYLOAD_ERROR = "0x80048d19"


pytestmark = pytest.mark.integration

Client = DataverseClient  # it exposes `create_post(..., post_id=)` beyond the port


def implements_the_port(real: DataverseClient) -> DataverseClientPort:
    """Never called: mypy proves here that the client satisfies `DataverseClientPort`."""
    return real


@pytest.fixture
def dv(request: pytest.FixtureRequest) -> Iterator[Client]:
    emulator = request.getfixturevalue("dataverse")
    tokens = request.getfixturevalue("authority").token_provider(emulator.base_url)
    yield DataverseClient(emulator.base_url, tokens, sleep=lambda _: None)


def new_id() -> str:
    return str(uuid.uuid4())


def account(dv: Client, name: str = "Contoso", **extra: Any) -> str:
    row_id = new_id()
    dv.create_row("accounts", row_id, {"name": name, **extra})
    return row_id


def order(dv: Client) -> str:
    row_id = new_id()
    dv.create_row("salesorders", row_id, {"name": "SO", "customerid_account@odata.bind": bind("accounts", account(dv))})
    return row_id


def quote(dv: Client) -> str:
    row_id = new_id()
    dv.create_row("quotes", row_id, {"name": "Q", "customerid_account@odata.bind": bind("accounts", account(dv))})
    return row_id


def rows_of(pages: Iterable[Page]) -> list[Row]:
    return [row for page in pages for row in page.rows]


def names(rows: Iterable[Row]) -> set[str]:
    return {str(row["name"]) for row in rows}


def state(dv: Client, entity_set: str, row_id: str) -> tuple[Any, Any]:
    row = dv.get_row(entity_set, row_id, ["statecode", "statuscode"])
    assert row is not None
    return row["statecode"], row["statuscode"]


# -- reads -------------------------------------------------------------------------------------------------------
def test_get_row_reads_selected_columns_with_etag_and_none_when_missing(dv: Client) -> None:
    row_id = account(dv, "Fabrikam", telephone1="555")
    row = dv.get_row("accounts", row_id.upper(), ["name"])
    assert row is not None
    assert row["name"] == "Fabrikam" and row["accountid"] == row_id and "telephone1" not in row
    assert str(row["@odata.etag"]).startswith('W/"')
    assert dv.get_row("accounts", new_id()) is None
    with pytest.raises(RecordError) as invalid:
        dv.get_row("accounts", "not-a-guid")
    assert invalid.value.code == "InvalidId"


def test_list_changed_since_is_closed_ordered_and_paged(dv: Client) -> None:
    for number in range(5):
        account(dv, f"A{number}", telephone1="1" if number % 2 else "0")
    pages = list(dv.list_changed_since("accounts", None, ["name"], page_size=2))
    assert [len(page.rows) for page in pages] == [2, 2, 1]
    assert pages[0].next_link and pages[-1].next_link is None
    every = rows_of(pages)
    assert names(every) == {f"A{n}" for n in range(5)}
    stamps = [row["modifiedon"] for row in every]
    assert stamps == sorted(stamps, key=datetime.fromisoformat)
    latest = datetime.fromisoformat(stamps[-1])
    at_bound = rows_of(dv.list_changed_since("accounts", latest, ["name"]))
    assert every[-1]["accountid"] in {row["accountid"] for row in at_bound}  # the bound itself is included
    assert rows_of(dv.list_changed_since("accounts", latest + timedelta(seconds=1), ["name"])) == []
    filtered = rows_of(dv.list_changed_since("accounts", None, ["name"], extra_filter="telephone1 eq '1'"))
    assert names(filtered) == {"A1", "A3"}


def test_list_changed_since_refuses_select_all_and_naive_watermarks(dv: Client) -> None:
    with pytest.raises(FatalError) as missing:
        list(dv.list_changed_since("accounts", None, []))
    assert missing.value.code == "SelectRequired"
    with pytest.raises(FatalError) as naive:
        list(dv.list_changed_since("accounts", datetime(2026, 1, 1), ["name"]))  # a naive datetime is the point
    assert naive.value.code == "NaiveDateTime"
    assert rows_of(dv.list_changed_since("accounts", None, ["name"])) == []


# -- single-row writes -------------------------------------------------------------------------------------------
def test_create_row_with_a_chosen_id_is_idempotent(dv: Client) -> None:
    row_id = new_id()
    dv.create_row("accounts", row_id, {"name": "First"})
    dv.create_row("accounts", row_id, {"name": "Second"})  # a retry after a lost answer: success, no change
    stored = rows_of(dv.list_changed_since("accounts", None, ["name"]))
    assert [(row["accountid"], row["name"]) for row in stored] == [(row_id, "First")]


def test_create_row_refuses_bad_data_and_missing_lookup_targets(dv: Client) -> None:
    with pytest.raises(ApiError) as bad:
        dv.create_row("accounts", new_id(), {"name": "X", "nosuchcolumn": 1})
    assert (bad.value.status, bad.value.code, bad.value.kind) == (400, PAYLOAD_ERROR, ErrorKind.RECORD)
    with pytest.raises(NotFoundError):
        orphan = {"lastname": "L", "parentcustomerid_account@odata.bind": bind("accounts", new_id())}
        dv.create_row("contacts", new_id(), orphan)


def test_update_row_is_conditional(dv: Client) -> None:
    row_id = account(dv, "Before")
    read = dv.get_row("accounts", row_id, ["name"])
    assert read is not None
    dv.update_row("accounts", row_id, {"name": "Mine"}, etag=read["@odata.etag"])
    with pytest.raises(ConcurrencyError) as lost:
        dv.update_row("accounts", row_id, {"name": "Stale"}, etag=read["@odata.etag"])
    assert isinstance(lost.value, ApiError) and lost.value.status == 412
    with pytest.raises(NotFoundError) as missing:
        dv.update_row("accounts", new_id(), {"name": "Ghost"})
    assert isinstance(missing.value, ApiError) and missing.value.status == 404
    assert rows_of(dv.list_changed_since("accounts", None, ["name"]))[0]["name"] == "Mine"


def test_upsert_creates_then_updates_and_delete_is_idempotent(dv: Client) -> None:
    row_id = new_id()
    dv.upsert_row("accounts", row_id, {"name": "Created"})
    dv.upsert_row("accounts", row_id, {"name": "Updated"})
    assert (dv.get_row("accounts", row_id, ["name"]) or {})["name"] == "Updated"
    dv.delete_row("accounts", row_id)
    dv.delete_row("accounts", row_id)  # already gone: success
    assert dv.get_row("accounts", row_id) is None


def test_set_state_checks_the_pair_and_the_row(dv: Client) -> None:
    order_id = order(dv)
    assert state(dv, "salesorders", order_id) == (0, 1)
    dv.set_state("salesorders", order_id, 2, 4)
    assert state(dv, "salesorders", order_id) == (2, 4)
    with pytest.raises(ApiError) as invalid:
        dv.set_state("salesorders", order_id, 0, 100001)
    assert invalid.value.status == 400
    with pytest.raises(NotFoundError):
        dv.set_state("salesorders", new_id(), 2, 4)


# -- bulk --------------------------------------------------------------------------------------------------------
def test_create_multiple_returns_ids_and_a_repeat_duplicates_nothing(dv: Client) -> None:
    rows = [{"accountid": new_id(), "name": f"Bulk {n}"} for n in range(5)]
    ids = dv.create_multiple("account", "accounts", rows)
    assert ids == [row["accountid"] for row in rows]
    assert dv.create_multiple("account", "accounts", rows) == ids  # e.g. a redelivered queue message
    assert len(rows_of(dv.list_changed_since("accounts", None, ["name"]))) == 5
    server_ids = dv.create_multiple("account", "accounts", [{"name": "No id"}])
    assert len(server_ids) == 1 and dv.get_row("accounts", server_ids[0]) is not None


def test_upsert_and_update_multiple(dv: Client) -> None:
    existing = account(dv, "Old")
    dv.upsert_multiple(
        "account", "accounts", [{"accountid": existing, "name": "New"}, {"accountid": new_id(), "name": "F"}]
    )
    assert names(rows_of(dv.list_changed_since("accounts", None, ["name"]))) == {"New", "F"}
    dv.update_multiple("account", "accounts", [{"accountid": existing, "name": "Newer"}])
    assert (dv.get_row("accounts", existing, ["name"]) or {})["name"] == "Newer"


def test_a_bad_record_in_a_bulk_chunk_does_not_block_the_others(dv: Client) -> None:
    rows: list[dict[str, Any]] = [{"accountid": new_id(), "name": f"Good {n}"} for n in range(4)]
    rows.insert(2, {"accountid": new_id(), "name": "Bad", "nosuchcolumn": 1})
    with pytest.raises(BulkWriteError) as partial:
        dv.upsert_multiple("account", "accounts", rows)
    failure = partial.value
    assert failure.kind is ErrorKind.RECORD and failure.code == "BulkWritePartialFailure"
    assert [(f.index, f.row_id) for f in failure.failures] == [(2, rows[2]["accountid"])]
    assert isinstance(failure.failures[0].error, ApiError) and failure.failures[0].error.code == PAYLOAD_ERROR
    assert failure.ids[2] is None and len(failure.written_ids) == 4
    assert names(rows_of(dv.list_changed_since("accounts", None, ["name"]))) == {f"Good {n}" for n in range(4)}


def test_update_multiple_reports_missing_rows_and_updates_the_rest(dv: Client) -> None:
    present = account(dv, "Present")
    ghost = new_id()
    with pytest.raises(BulkWriteError) as partial:
        dv.update_multiple("account", "accounts", [{"accountid": ghost, "name": "G"}, {"accountid": present}])
    assert [(f.index, f.row_id) for f in partial.value.failures] == [(0, ghost)]
    assert isinstance(partial.value.failures[0].error, NotFoundError)
    assert dv.get_row("accounts", ghost) is None
    assert dv.get_row("accounts", present, ["name"]) is not None


# -- $batch ------------------------------------------------------------------------------------------------------
def test_atomic_batch_binds_by_content_id_and_commits_together(dv: Client) -> None:
    operations = [
        {"method": "POST", "url": "accounts", "body": {"name": "Parent"}},
        {"method": "POST", "url": "contacts", "body": {"lastname": "C", "parentcustomerid_account@odata.bind": "$1"}},
    ]
    outcomes = dv.execute_batch(operations)
    assert [o.status for o in outcomes] == [204, 204]
    account_id = outcomes[0].headers["odata-entityid"].rsplit("(", 1)[1].rstrip(")")
    contact_id = outcomes[1].headers["odata-entityid"].rsplit("(", 1)[1].rstrip(")")
    contact = dv.get_row("contacts", contact_id, ["_parentcustomerid_value"])
    assert contact is not None and contact["_parentcustomerid_value"] == account_id


def test_atomic_batch_rolls_back_when_one_operation_fails(dv: Client) -> None:
    operations = [
        {"method": "PATCH", "url": f"accounts({new_id()})", "body": {"name": "Rolled back"}},
        {"method": "PATCH", "url": f"accounts({new_id()})", "body": {"nosuchcolumn": 1}},
    ]
    outcomes = dv.execute_batch(operations)
    assert len(outcomes) == 2 and not any(o.ok for o in outcomes)
    assert 400 in {o.status for o in outcomes}
    assert rows_of(dv.list_changed_since("accounts", None, ["name"])) == []
    with pytest.raises(FatalError):
        dv.execute_batch([{"method": "GET", "url": "accounts"}])


def test_batch_stops_at_the_first_error_unless_told_to_go_on(dv: Client) -> None:
    good, missing = account(dv, "Good"), new_id()
    operations: list[dict[str, Any]] = [
        {"method": "PATCH", "url": f"accounts({missing})", "body": {"name": "X"}, "headers": {"If-Match": "*"}},
        {"method": "PATCH", "url": f"accounts({good})", "body": {"name": "Touched"}, "headers": {"If-Match": "*"}},
        {"method": "GET", "url": f"accounts({good})?$select=name"},
    ]
    stopped = dv.execute_batch(operations, atomic=False)
    assert [o.status for o in stopped] == [404, 424, 424]
    went_on = dv.execute_batch(operations, atomic=False, continue_on_error=True)
    assert [o.status for o in went_on] == [404, 204, 200]
    assert went_on[2].body["name"] == "Touched"
    assert dv.execute_batch([]) == []


# -- actions and timeline ----------------------------------------------------------------------------------------
def test_win_quote_needs_an_active_quote_and_repeats_harmlessly(dv: Client) -> None:
    quote_id = quote(dv)
    with pytest.raises(ApiError) as draft:
        dv.win_quote(quote_id)
    assert draft.value.status == 400
    dv.set_state("quotes", quote_id, 1, 2)
    dv.win_quote(quote_id)
    dv.win_quote(quote_id)  # a repeat after a lost answer or a re-run: already won = done
    assert state(dv, "quotes", quote_id) == (2, 4)
    with pytest.raises(NotFoundError):
        dv.win_quote(new_id())


def test_fulfill_sales_order_and_its_state_rules(dv: Client) -> None:
    order_id = order(dv)
    dv.fulfill_sales_order(order_id)
    dv.fulfill_sales_order(order_id)
    assert state(dv, "salesorders", order_id) == (3, 100001)
    with pytest.raises(ApiError):
        dv.fulfill_sales_order(order_id, status=100002)  # fulfilled as Complete; Partial now is a real refusal
    canceled = order(dv)
    dv.set_state("salesorders", canceled, 2, 4)
    with pytest.raises(ApiError) as refused:
        dv.fulfill_sales_order(canceled)
    assert refused.value.status == 400 and refused.value.kind is ErrorKind.RECORD


def test_create_post_on_the_order_wall(dv: Client) -> None:
    order_id = order(dv)
    post_id = dv.create_post("salesorders", "salesorder", order_id, "The order status has changed to Released.")
    post = dv.get_row("posts", post_id, ["text", "source", "type", "_regardingobjectid_value"])
    assert post is not None and post["text"].endswith("Released.")
    assert (post["source"], post["type"], post["_regardingobjectid_value"]) == (1, 7, order_id)
    chosen = new_id()
    assert dv.create_post("salesorders", "salesorder", order_id, "Shipped", post_id=chosen) == chosen
    assert dv.create_post("salesorders", "salesorder", order_id, "Shipped", post_id=chosen) == chosen
    with pytest.raises(NotFoundError):
        dv.create_post("salesorders", "salesorder", new_id(), "Nowhere")


def test_has_records_reads_one_row(dv: Client) -> None:
    assert not dv.has_records("accounts", "name eq 'Has Records Contract'")
    account(dv, "Has Records Contract")
    assert dv.has_records("accounts", "name eq 'Has Records Contract'")
    assert dv.has_records("accounts")


def test_list_ids_is_ordered_by_id_and_filtered(dv: Client) -> None:
    made = {account(dv, f"List Ids {n}") for n in range(4)}
    ids = [row_id for page in dv.list_ids("accounts", "startswith(name,'List Ids')") for row_id in page]
    assert len(ids) == len(made) and set(ids) == made  # SQL Server orders GUIDs its own way: only stability counts
    assert [row_id for page in dv.list_ids("accounts", "startswith(name,'List Ids')") for row_id in page] == ids


def test_a_listed_run_of_ids_reads_back_as_one_range(dv: Client) -> None:
    """A full-sync chunk is a run of `list_ids`: the range from its first to its last id holds exactly it."""
    for n in range(6):
        account(dv, f"Range {n}")
    ids = [row_id for page in dv.list_ids("accounts", "startswith(name,'Range ')") for row_id in page]
    middle = ids[1:5]
    text = dv.id_range_filter("accounts", middle[0], middle[-1])
    assert text is not None
    scoped = f"({text}) and startswith(name,'Range ')"
    got = [str(r["accountid"]) for page in dv.list_changed_since("accounts", None, ["name"], scoped) for r in page.rows]
    assert sorted(got) == sorted(middle)
