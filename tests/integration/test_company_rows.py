"""A BC company's own Dataverse rows (issue 22, item 5), made by `services/company_rows.py` through the app's
`DataverseClient` over real HTTP against the Dataverse emulator: the `bcbi_company` row BC keys by the company's
SystemId, and the business unit and default owning team of BC's Team ownership model (CDSIntegrationImpl.SyncCompany).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from local.emulators.dataverse.organization import ROOT_BUSINESS_UNIT_ID
from shared.connectors.dataverse.client import DataverseClient
from shared.domain.errors import FatalError, NotFoundError
from shared.services.company_rows import (
    business_unit_name,
    company_row_id,
    ensure_company_row,
    ensure_owning_team,
    external_id,
    find_company_row,
    root_business_unit,
)
from tests.conftest import Authority, EmulatorHandle

pytestmark = pytest.mark.integration
SYSTEM_ID = "{8039B037-69E3-569D-8DE1-6708E87638A7}"  # as AL formats a GUID
EXTERNAL = "8039b037-69e3-569d-8de1-6708e87638a7"  # as BC writes bcbi_externalid


@pytest.fixture
def client(dataverse: EmulatorHandle, authority: Authority) -> Iterator[DataverseClient]:
    yield DataverseClient(dataverse.base_url, authority.token_provider(dataverse.base_url), sleep=lambda _: None)


def rows(client: DataverseClient, entity_set: str, select: list[str], where: str | None = None) -> list[dict[str, Any]]:
    return [row for page in client.list_changed_since(entity_set, None, select, where) for row in page.rows]


def test_the_external_id_is_the_system_id_as_bc_writes_it() -> None:
    assert external_id(SYSTEM_ID) == EXTERNAL
    assert external_id(EXTERNAL.upper()) == EXTERNAL
    with pytest.raises(FatalError):
        external_id("CRONUS USA, Inc.")
    assert company_row_id(EXTERNAL) == company_row_id(external_id(SYSTEM_ID)) != company_row_id(str(uuid.uuid4()))


def test_ensure_company_row_makes_one_row_and_finds_it_again(client: DataverseClient) -> None:
    long_name = "CRONUS International Ltd. (Sales)"  # 34 characters: bcbi_name is Text[30]
    first = ensure_company_row(client, SYSTEM_ID, long_name)
    assert ensure_company_row(client, EXTERNAL, "another name") == first
    [row] = rows(client, "bcbi_companies", ["bcbi_companyid", "bcbi_externalid", "bcbi_name"])
    assert (row["bcbi_companyid"], row["bcbi_externalid"], row["bcbi_name"]) == (first, EXTERNAL, long_name[:30])
    other = ensure_company_row(client, str(uuid.uuid4()), "Fabrikam")
    assert other != first and len(rows(client, "bcbi_companies", ["bcbi_companyid"])) == 2


def test_ensure_company_row_uses_the_row_bc_made(client: DataverseClient) -> None:
    bcs = str(uuid.uuid4())
    client.create_row("bcbi_companies", bcs, {"bcbi_externalid": EXTERNAL, "bcbi_name": "CRONUS USA, Inc."})
    assert find_company_row(client, SYSTEM_ID) == bcs
    assert ensure_company_row(client, SYSTEM_ID, "CRONUS USA, Inc.") == bcs
    assert len(rows(client, "bcbi_companies", ["bcbi_companyid"])) == 1


def test_two_concurrent_callers_end_with_one_row(dataverse: EmulatorHandle, authority: Authority) -> None:
    results: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def run() -> None:
        own = DataverseClient(dataverse.base_url, authority.token_provider(dataverse.base_url), sleep=lambda _: None)
        start.wait()
        try:
            results.append(ensure_company_row(own, SYSTEM_ID, "CRONUS"))
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    client = DataverseClient(dataverse.base_url, authority.token_provider(dataverse.base_url), sleep=lambda _: None)
    stored = rows(client, "bcbi_companies", ["bcbi_companyid"], f"bcbi_externalid eq '{EXTERNAL}'")
    assert [row["bcbi_companyid"] for row in stored] == [results[0]] and set(results) == {results[0]}


def test_the_root_business_unit_is_the_one_without_a_parent(client: DataverseClient) -> None:
    client.create_row(
        "businessunits",
        str(uuid.uuid4()),
        {"name": "Child", "parentbusinessunitid@odata.bind": f"/businessunits({ROOT_BUSINESS_UNIT_ID})"},
    )
    assert root_business_unit(client) == ROOT_BUSINESS_UNIT_ID


def test_ensure_owning_team_makes_bcs_business_unit_and_team_once(client: DataverseClient) -> None:
    company = ensure_company_row(client, SYSTEM_ID, "CRONUS USA, Inc.")
    team = ensure_owning_team(client, company, "CRONUS USA, Inc.")
    assert ensure_owning_team(client, company, "CRONUS USA, Inc.") == team
    unit_name = "CRONUS USA, Inc. (8039b037-69e3-569d-8de1-6708e87638a7)"
    assert business_unit_name("CRONUS USA, Inc.", EXTERNAL) == unit_name
    [unit] = rows(
        client,
        "businessunits",
        ["businessunitid", "name", "_parentbusinessunitid_value"],
        f"_parentbusinessunitid_value eq {ROOT_BUSINESS_UNIT_ID}",
    )
    assert (unit["name"], unit["_parentbusinessunitid_value"]) == (unit_name, ROOT_BUSINESS_UNIT_ID)
    teams = rows(
        client,
        "teams",
        ["teamid", "name", "isdefault", "teamtype"],
        f"_businessunitid_value eq {unit['businessunitid']}",
    )
    assert sorted((t["name"], t["isdefault"], t["teamtype"]) for t in teams) == [
        (f"BCI - {unit_name}", False, 0),
        (unit_name, True, 0),  # the platform's default team of the business unit
    ]
    assert team == next(t["teamid"] for t in teams if not t["isdefault"])
    row = client.get_row("bcbi_companies", company, ["_bcbi_defaultowningteam_value", "_ownerid_value"]) or {}
    assert (row["_bcbi_defaultowningteam_value"], row["_ownerid_value"]) == (team, team)


def test_ensure_owning_team_keeps_a_team_the_company_names_and_finds_a_renamed_unit(client: DataverseClient) -> None:
    renamed = str(uuid.uuid4())
    client.create_row(
        "businessunits",
        renamed,
        {
            "name": f"Sales East ({EXTERNAL})",  # BC takes a child of the root ending in " (<company id>)"
            "parentbusinessunitid@odata.bind": f"/businessunits({ROOT_BUSINESS_UNIT_ID})",
        },
    )
    company = ensure_company_row(client, SYSTEM_ID, "CRONUS")
    team = ensure_owning_team(client, company, "CRONUS", ROOT_BUSINESS_UNIT_ID)
    [found] = rows(client, "teams", ["teamid", "name"], f"_businessunitid_value eq {renamed} and isdefault eq false")
    assert (found["teamid"], found["name"]) == (team, f"BCI - Sales East ({EXTERNAL})")
    assert len(rows(client, "businessunits", ["businessunitid"])) == 2  # the root and the renamed one
    other = ensure_company_row(client, str(uuid.uuid4()), "Fabrikam")
    client.update_row("bcbi_companies", other, {"bcbi_defaultowningteam@odata.bind": f"/teams({team})"})
    assert ensure_owning_team(client, other, "Fabrikam") == team  # a default owning team already set is kept
    with pytest.raises(NotFoundError):
        ensure_owning_team(client, str(uuid.uuid4()), "Nobody")
