"""Conditional writes inside batches, as the sync now sends them (issue 17): each emulator refuses a stale version
the way its real service does, so the engine's handling of a lost race is tested against the real answer.

- Dataverse: `If-Match: <etag>` on a PATCH, also on each PATCH inside `$batch`, answers 412 with
  `{"error": {"code": "0x80060882", ...}}` (ConcurrencyVersionMismatch) when the row's version moved on (Microsoft
  Learn, "Perform conditional operations using the Web API": optimistic concurrency). In a change set the 412
  rolls back every operation of the set; outside one, with continue-on-error, the others are applied.
- Business Central: a stale `If-Match` is 409 `Request_EntityChanged` (Microsoft Learn, BC dev-itpro
  webservices/dynamics-error-codes), also per operation of a JSON `$batch`.
"""

from __future__ import annotations

from typing import Any

import pytest

from local.emulators.business_central.seed import COMPANY_ID
from tests.conftest import BusinessCentralHandle, EmulatorHandle
from tests.integration.test_dataverse_batch import API, ChangeSet, Op, post_batch, single

pytestmark = pytest.mark.integration
VERSION_MISMATCH = "0x80060882"


def account(dv: EmulatorHandle, name: str) -> dict[str, Any]:
    response = dv.session.post(
        f"{dv.base_url}{API}/accounts", json={"name": name}, headers={"Prefer": "return=representation"}
    )
    assert response.status_code == 201, response.text
    row: dict[str, Any] = response.json()
    return row


def name_of(dv: EmulatorHandle, account_id: str) -> str:
    name: str = dv.session.get(f"{dv.base_url}{API}/accounts({account_id})").json()["name"]
    return name


def patch(account_id: str, name: str, etag: str, content_id: str | None = None) -> Op:
    return Op("PATCH", f"{API}/accounts({account_id})", {"name": name}, {"If-Match": etag}, content_id)


def test_a_stale_if_match_inside_batch_is_412_and_the_others_go_on(dataverse: EmulatorHandle) -> None:
    stale, current = account(dataverse, "Stale"), account(dataverse, "Current")
    moved = dataverse.session.patch(
        f"{dataverse.base_url}{API}/accounts({stale['accountid']})", json={"name": "Edited meanwhile"}
    )
    assert moved.status_code == 204
    result = post_batch(
        dataverse,
        [
            patch(stale["accountid"], "From the sync", stale["@odata.etag"]),
            patch(current["accountid"], "From the sync", current["@odata.etag"]),
        ],
        prefer="odata.continue-on-error",
    )
    lost, applied = (single(part) for part in result.parts)
    assert lost.status == 412
    assert lost.json()["error"]["code"] == VERSION_MISMATCH
    assert applied.status == 204
    assert name_of(dataverse, stale["accountid"]) == "Edited meanwhile"  # not overwritten
    assert name_of(dataverse, current["accountid"]) == "From the sync"


def test_a_stale_if_match_in_a_change_set_rolls_the_set_back(dataverse: EmulatorHandle) -> None:
    first, second = account(dataverse, "First"), account(dataverse, "Second")
    dataverse.session.patch(f"{dataverse.base_url}{API}/accounts({second['accountid']})", json={"name": "Moved"})
    result = post_batch(
        dataverse,
        [
            ChangeSet(
                [
                    patch(first["accountid"], "Set 1", first["@odata.etag"], "1"),
                    patch(second["accountid"], "Set 2", second["@odata.etag"], "2"),
                ]
            )
        ],
    )
    assert result.status == 400
    assert single(result.parts[0]).status == 412
    assert (name_of(dataverse, first["accountid"]), name_of(dataverse, second["accountid"])) == ("First", "Moved")


def test_bc_answers_a_stale_if_match_with_409_entity_changed_alone_and_in_batch(
    business_central: BusinessCentralHandle, bc_demo: str
) -> None:
    created = business_central.session.post(f"{bc_demo}/customers", json={"displayName": "Versioned"})
    assert created.status_code == 201, created.text
    row = created.json()
    url = f"{bc_demo}/customers({row['id']})"
    moved = business_central.session.patch(url, json={"city": "Moved"}, headers={"If-Match": row["@odata.etag"]})
    assert moved.status_code == 200
    alone = business_central.session.patch(url, json={"city": "Stale"}, headers={"If-Match": row["@odata.etag"]})
    assert alone.status_code == 409 and alone.json()["error"]["code"] == "Request_EntityChanged"
    operation = {
        "id": "1",
        "method": "PATCH",
        "url": f"companies({COMPANY_ID})/customers({row['id']})",
        "headers": {"Content-Type": "application/json", "If-Match": row["@odata.etag"]},
        "body": {"city": "Stale in batch"},
    }
    answer = business_central.session.post(f"{business_central.api_root}/$batch", json={"requests": [operation]})
    assert answer.status_code == 200
    (item,) = answer.json()["responses"]
    assert item["status"] == 409 and item["body"]["error"]["code"] == "Request_EntityChanged"
    assert business_central.session.get(url).json()["city"] == "Moved"
