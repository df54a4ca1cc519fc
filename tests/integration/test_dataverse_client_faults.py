"""The real `DataverseClient` against the Dataverse emulator with faults switched on: 429 storms, 5xx, dropped
connections before and after the server did the work. What must hold whatever the network does: no create ever
makes a duplicate, no acknowledged write is lost, the client waits exactly what `Retry-After` says (never really
sleeping here: `sleep` is a no-op and the waits are read back from `client.http.stats`), and bulk writes cost the
fewest requests the limits allow (read back from the emulator's `/_admin/stats`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from shared.connectors.dataverse.client import DataverseClient, bind
from shared.connectors.dataverse.errors import BulkWriteError
from shared.connectors.http import RetryPolicy
from tests.conftest import Authority, EmulatorHandle

pytestmark = [pytest.mark.integration, pytest.mark.chaos]

PATIENT = RetryPolicy(max_attempts=40, max_total_wait=10_000.0)  # storms are dense here; only the count matters


@pytest.fixture
def client(dataverse: EmulatorHandle, authority: Authority) -> Iterator[DataverseClient]:
    tokens = authority.token_provider(dataverse.base_url)
    tokens.get_token()  # fetch the token before any fault is on: the authority is not under test
    yield DataverseClient(dataverse.base_url, tokens, sleep=lambda _: None, policy=PATIENT)
    faults(dataverse)  # off again, so a failing test cannot leave a storm behind


def faults(dataverse: EmulatorHandle, **values: Any) -> None:
    settings = {"status429Rate": 0, "status5xxRate": 0, "dropRate": 0, "dropAfterProcessingRate": 0, **values}
    response = dataverse.admin("POST", "faults", json={"seed": 20261125, **settings})
    assert response.status_code == 200, response.text


def accounts(n: int, prefix: str = "Account") -> list[dict[str, Any]]:
    return [
        {"accountid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{prefix}/{i}")), "name": f"{prefix} {i}"} for i in range(n)
    ]


def stored(client: DataverseClient, entity_set: str = "accounts", column: str = "name") -> dict[str, Any]:
    """Every row's id -> column, read with faults off (one page of up to 5,000)."""
    return {
        row[f"{entity_set[:-1]}id"]: row[column]
        for page in client.list_changed_since(entity_set, None, [column])
        for row in page.rows
    }


def stats(dataverse: EmulatorHandle) -> dict[str, Any]:
    return dataverse.stats()


# -- fewest requests ---------------------------------------------------------------------------------------------
def test_upserting_2500_accounts_takes_three_requests(client: DataverseClient, dataverse: EmulatorHandle) -> None:
    rows = accounts(2500)
    client.upsert_multiple("account", "accounts", rows)
    counted = stats(dataverse)
    assert counted["requests"] == 3 and counted["chargedUnits"] == 3
    assert counted["byEntitySet"] == {"accounts": {"POST": 3}}
    assert stored(client) == {row["accountid"]: row["name"] for row in rows}


def test_a_bad_record_costs_one_batch_for_its_chunk_only(client: DataverseClient, dataverse: EmulatorHandle) -> None:
    client.bulk_chunk = 10
    rows = accounts(30)
    rows[14] = {**rows[14], "name": "x" * 200}  # longer than account.name allows: a record error
    with pytest.raises(BulkWriteError) as partial:
        client.upsert_multiple("account", "accounts", rows)
    assert [(f.index, f.row_id) for f in partial.value.failures] == [(14, rows[14]["accountid"])]
    assert partial.value.failures[0].error.code == "0x80044331"
    counted = stats(dataverse)
    assert counted["requests"] == 4  # three bulk messages and one $batch for the chunk that held the bad record
    assert counted["byEntitySet"]["accounts"] == {"POST": 3, "PATCH": 10}
    assert counted["byEntitySet"]["$batch"] == {"POST": 1}
    assert stored(client) == {row["accountid"]: row["name"] for i, row in enumerate(rows) if i != 14}


# -- Retry-After -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("retry_after", [0, 1])
def test_a_429_storm_waits_what_retry_after_says(
    client: DataverseClient, dataverse: EmulatorHandle, retry_after: int
) -> None:
    rows = accounts(20, prefix=f"Storm{retry_after}")
    faults(dataverse, status429Rate=0.5, retryAfterSeconds=retry_after)
    for row in rows:
        client.create_row("accounts", row["accountid"], {"name": row["name"]})
    faults(dataverse)
    waits = client.http.stats.waits
    assert len(waits) >= 5 and set(waits) == {float(retry_after)}
    assert stats(dataverse)["faults"]["429"] == len(waits)
    assert stored(client) == {row["accountid"]: row["name"] for row in rows}


# -- no duplicates, no lost writes -------------------------------------------------------------------------------
STORM = {"status429Rate": 0.15, "status5xxRate": 0.15, "dropRate": 0.1, "dropAfterProcessingRate": 0.3}


def test_creates_never_duplicate_under_dropped_answers(client: DataverseClient, dataverse: EmulatorHandle) -> None:
    client.bulk_chunk = 10
    singles, bulk = accounts(25, prefix="Single"), accounts(60, prefix="Bulk")
    faults(dataverse, **STORM)
    for row in singles:
        client.create_row("accounts", row["accountid"], {"name": row["name"]})
    assert client.create_multiple("account", "accounts", bulk) == [row["accountid"] for row in bulk]
    order_id = str(uuid.uuid4())
    client.create_row(
        "salesorders",
        order_id,
        {"name": "SO", "customerid_account@odata.bind": bind("accounts", singles[0]["accountid"])},
    )
    post_ids = [client.create_post("salesorders", "salesorder", order_id, f"Step {i}") for i in range(10)]
    faults(dataverse)
    assert stats(dataverse)["faults"].get("dropAfterProcessing", 0) >= 5  # the storm really lost answers
    assert stored(client) == {row["accountid"]: row["name"] for row in singles + bulk}
    assert sorted(stored(client, "posts", "text")) == sorted(post_ids)


def test_acknowledged_writes_are_never_lost(client: DataverseClient, dataverse: EmulatorHandle) -> None:
    client.bulk_chunk = 25
    rows = accounts(100)
    client.create_multiple("account", "accounts", rows)
    etags = {
        row["accountid"]: row["@odata.etag"]
        for page in client.list_changed_since("accounts", None, ["name"])
        for row in page.rows
    }
    faults(dataverse, **STORM)
    client.upsert_multiple("account", "accounts", [{**row, "name": f"{row['name']} v2"} for row in rows[:50]])
    for row in rows[50:]:  # conditional on the ETag read before the storm: a retried update must not look lost
        client.update_row("accounts", row["accountid"], {"name": f"{row['name']} v2"}, etag=etags[row["accountid"]])
    for row in rows[:10]:
        client.delete_row("accounts", row["accountid"])
    faults(dataverse)
    assert client.http.stats.retries > 0
    expected = {row["accountid"]: f"{row['name']} v2" for row in rows[10:]}
    assert stored(client) == expected


def test_close_messages_and_paged_reads_survive_the_storm(client: DataverseClient, dataverse: EmulatorHandle) -> None:
    customer = accounts(1, prefix="Customer")[0]
    client.create_row("accounts", customer["accountid"], {"name": customer["name"]})
    customer_bind = {"customerid_account@odata.bind": bind("accounts", customer["accountid"])}
    quote_ids, order_ids = [str(uuid.uuid4()) for _ in range(5)], [str(uuid.uuid4()) for _ in range(5)]
    for quote_id, order_id in zip(quote_ids, order_ids, strict=True):
        client.create_row("quotes", quote_id, {"name": "Q", **customer_bind})
        client.set_state("quotes", quote_id, 1, 2)
        client.create_row("salesorders", order_id, {"name": "SO", **customer_bind})
    client.upsert_multiple("account", "accounts", accounts(40, prefix="Paged"))
    faults(dataverse, **STORM)
    for quote_id, order_id in zip(quote_ids, order_ids, strict=True):
        client.win_quote(quote_id)
        client.fulfill_sales_order(order_id)
    pages = list(client.list_changed_since("accounts", None, ["name"], page_size=7))
    faults(dataverse)
    assert [len(page.rows) for page in pages] == [7] * 5 + [6]
    assert len({row["accountid"] for page in pages for row in page.rows}) == 41
    assert set(stored(client, "quotes", "statecode").values()) == {2}
    assert set(stored(client, "salesorders", "statecode").values()) == {3}
