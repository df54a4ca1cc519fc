"""The Dataverse emulator's side of several BC companies, over real HTTP (issue 22, item 1): BC's company table
`bcbi_company`, the `bcbi_companyid` lookup on the tables BC stamps with its company, the company filter BC's
mappings use ("bcbi_companyid = this company or empty", bc-integration-facts.md section 2), and the business units and
teams a company's records are owned by in the Team ownership model (dataverse/organization.py, the overlay's notes).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from local.emulators.dataverse.organization import ROOT_BUSINESS_UNIT_ID
from tests.conftest import EmulatorHandle
from tests.integration.dataverse_helpers import api, create, error_code

pytestmark = pytest.mark.integration
NOT_FOUND = "0x80040217"
ANNOTATIONS = {"Prefer": 'odata.include-annotations="*"'}
LOOKUP_NAME = "@Microsoft.Dynamics.CRM.lookuplogicalname"
FORMATTED = "@OData.Community.Display.V1.FormattedValue"
# the tables BC stamps with its company (bc-integration-facts.md section 5), each with a body Dataverse accepts
COMPANY_TABLES: dict[str, dict[str, Any]] = {
    "accounts": {"name": "Trey Research"},
    "contacts": {"lastname": "Smith"},
    "products": {"name": "Desk", "productnumber": "1896-S"},
    "opportunities": {"name": "Desks"},
    "pricelevels": {"name": "RETAIL"},
    "quotes": {"name": "Q"},
    "salesorders": {"name": "O"},
    "invoices": {"name": "I"},
}
PRIMARY_ID = {
    "accounts": "accountid",
    "contacts": "contactid",
    "products": "productid",
    "opportunities": "opportunityid",
    "pricelevels": "pricelevelid",
    "quotes": "quoteid",
    "salesorders": "salesorderid",
    "invoices": "invoiceid",
}


def get(dv: EmulatorHandle, path: str, **params: str) -> dict[str, Any]:
    response = dv.session.get(api(dv, path), params=params, headers=ANNOTATIONS)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def business_unit(dv: EmulatorHandle, name: str) -> dict[str, Any]:
    root = f"/businessunits({ROOT_BUSINESS_UNIT_ID})"
    return create(dv, "businessunits", {"name": name, "parentbusinessunitid@odata.bind": root})


def team(dv: EmulatorHandle, name: str, business_unit_id: str, **extra: Any) -> dict[str, Any]:
    body = {"name": name, "businessunitid@odata.bind": f"/businessunits({business_unit_id})", **extra}
    return create(dv, "teams", body)


def company(dv: EmulatorHandle, name: str, owning_team: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"bcbi_name": name, "bcbi_externalid": str(uuid.uuid4())}
    if owning_team is not None:
        body["bcbi_defaultowningteam@odata.bind"] = f"/teams({owning_team})"
        body["ownerid@odata.bind"] = f"/teams({owning_team})"
    return create(dv, "bcbi_companies", body)


def bind(company_id: str) -> dict[str, str]:
    return {"bcbi_companyid@odata.bind": f"/bcbi_companies({company_id})"}


def test_a_fresh_org_has_its_root_business_unit_and_its_default_team(dataverse: EmulatorHandle) -> None:
    who = get(dataverse, "WhoAmI")
    [root] = get(dataverse, "businessunits")["value"]
    assert (root["businessunitid"], root["_parentbusinessunitid_value"]) == (who["BusinessUnitId"], None)
    [default] = get(dataverse, "teams")["value"]
    assert (default["isdefault"], default["teamtype"], default["name"]) == (True, 0, root["name"])
    assert default["_businessunitid_value"] == ROOT_BUSINESS_UNIT_ID
    assert default["_businessunitid_value" + LOOKUP_NAME] == "businessunit"
    user = get(dataverse, f"systemusers({who['UserId']})", **{"$select": "_businessunitid_value"})
    assert user["_businessunitid_value"] == ROOT_BUSINESS_UNIT_ID
    dataverse.reset()
    assert [row["businessunitid"] for row in get(dataverse, "businessunits")["value"]] == [ROOT_BUSINESS_UNIT_ID]


def test_a_business_unit_gets_its_default_team_and_teams_follow_the_rules(dataverse: EmulatorHandle) -> None:
    unit = business_unit(dataverse, "CRONUS USA, Inc. (8039b037)")
    unit_id = unit["businessunitid"]
    assert unit["_parentbusinessunitid_value"] == ROOT_BUSINESS_UNIT_ID
    bci = team(dataverse, "BCI - CRONUS USA, Inc. (8039b037)", unit_id)
    assert (bci["teamtype"], bci["isdefault"], bci["_businessunitid_value"]) == (0, False, unit_id)  # Owner
    teams = get(dataverse, "teams", **{"$filter": f"_businessunitid_value eq {unit_id}", "$orderby": "name"})
    assert [(t["name"], t["isdefault"]) for t in teams["value"]] == [
        ("BCI - CRONUS USA, Inc. (8039b037)", False),
        ("CRONUS USA, Inc. (8039b037)", True),  # made with the business unit
    ]
    session = dataverse.session
    refused = [
        session.post(api(dataverse, "businessunits"), json={"name": "No parent"}),
        session.post(api(dataverse, "teams"), json={"name": "No business unit"}),
        session.post(api(dataverse, "teams"), json={"name": "T", "teamtype": 7, **_in(unit_id)}),
        session.post(api(dataverse, "teams"), json={"name": "T", "isdefault": True, **_in(unit_id)}),
        session.post(api(dataverse, "teams"), json={"name": "x" * 161, **_in(unit_id)}),
        session.patch(api(dataverse, f"teams({bci['teamid']})"), json={"teamtype": 1}),  # set on create only
        session.get(api(dataverse, f"teams(teamid={bci['teamid']})")),  # key inherited from principal
    ]
    assert [r.status_code for r in refused] == [400] * len(refused), [r.text for r in refused]
    missing = session.post(api(dataverse, "teams"), json={"name": "T", **_in(str(uuid.uuid4()))})
    assert missing.status_code == 404 and error_code(missing) == NOT_FOUND
    assert len(get(dataverse, "teams")["value"]) == 3  # root's default, the unit's default, BCI


def _in(business_unit_id: str) -> dict[str, str]:
    return {"businessunitid@odata.bind": f"/businessunits({business_unit_id})"}


def test_bcbi_company_rows_as_bc_writes_them(dataverse: EmulatorHandle) -> None:
    unit = business_unit(dataverse, "CRONUS USA, Inc. (8039b037)")
    owning = team(dataverse, "BCI - CRONUS USA, Inc. (8039b037)", unit["businessunitid"])
    external = "8039b037-69e3-569d-8de1-6708e87638a7"  # a BC company SystemId: lower case, no braces
    row = create(
        dataverse,
        "bcbi_companies",
        {
            "bcbi_name": "CRONUS USA, Inc.",
            "bcbi_externalid": external,
            "bcbi_defaultowningteam@odata.bind": f"/teams({owning['teamid']})",
            "ownerid@odata.bind": f"/teams({owning['teamid']})",
        },
    )
    read = get(dataverse, f"bcbi_companies({row['bcbi_companyid']})")
    assert (read["bcbi_name"], read["bcbi_externalid"], read["statecode"], read["statuscode"]) == (
        "CRONUS USA, Inc.",
        external,
        0,
        1,
    )
    assert read["_bcbi_defaultowningteam_value"] == owning["teamid"]
    assert read["_bcbi_defaultowningteam_value" + LOOKUP_NAME] == "team"
    assert read["_bcbi_defaultowningteam_value" + FORMATTED] == "BCI - CRONUS USA, Inc. (8039b037)"
    assert (read["_ownerid_value"], read["_ownerid_value" + LOOKUP_NAME]) == (owning["teamid"], "team")
    found = get(dataverse, "bcbi_companies", **{"$filter": f"bcbi_externalid eq '{external}'"})
    assert [r["bcbi_companyid"] for r in found["value"]] == [row["bcbi_companyid"]]
    session = dataverse.session
    refused = [
        session.post(api(dataverse, "bcbi_companies"), json={"bcbi_name": "x" * 31}),  # Text[30]
        session.post(api(dataverse, "bcbi_companies"), json={"bcbi_externalid": "x" * 37}),  # Text[36]
        session.post(api(dataverse, "bcbi_companies"), json={"bcbi_defaultowningteamname": "BCI"}),  # not served
        session.get(api(dataverse, "bcbi_companies"), params={"$select": "bcbi_defaultowningteamname"}),
        session.post(
            api(dataverse, "bcbi_companies"),
            json={"bcbi_defaultowningteam@odata.bind": f"/systemusers({uuid.uuid4()})"},
        ),
    ]
    assert [r.status_code for r in refused] == [400] * len(refused), [r.text for r in refused]
    no_team = session.post(
        api(dataverse, "bcbi_companies"), json={"bcbi_defaultowningteam@odata.bind": f"/teams({uuid.uuid4()})"}
    )
    assert no_team.status_code == 404 and error_code(no_team) == NOT_FOUND
    assert len(get(dataverse, "bcbi_companies")["value"]) == 1


@pytest.mark.parametrize("entity_set", sorted(COMPANY_TABLES))
def test_bcbi_companyid_binds_reads_back_and_clears_on_every_company_table(
    dataverse: EmulatorHandle, entity_set: str
) -> None:
    first, second = company(dataverse, "CRONUS")["bcbi_companyid"], company(dataverse, "Fabrikam")["bcbi_companyid"]
    row = create(dataverse, entity_set, {**COMPANY_TABLES[entity_set], **bind(first)})
    row_id = row[PRIMARY_ID[entity_set]]
    assert row["_bcbi_companyid_value"] == first
    read = get(dataverse, f"{entity_set}({row_id})", **{"$select": "_bcbi_companyid_value"})
    assert (read["_bcbi_companyid_value"], read["_bcbi_companyid_value" + LOOKUP_NAME]) == (first, "bcbi_company")
    assert read["_bcbi_companyid_value" + FORMATTED] == "CRONUS"
    moved = dataverse.session.patch(api(dataverse, f"{entity_set}({row_id})"), json=bind(second))
    assert moved.status_code == 204, moved.text
    assert get(dataverse, f"{entity_set}({row_id})")["_bcbi_companyid_value"] == second
    cleared = dataverse.session.patch(
        api(dataverse, f"{entity_set}({row_id})"), json={"bcbi_companyid@odata.bind": None}
    )
    assert cleared.status_code == 204, cleared.text
    assert get(dataverse, f"{entity_set}({row_id})")["_bcbi_companyid_value"] is None
    written = dataverse.session.post(
        api(dataverse, entity_set), json={**COMPANY_TABLES[entity_set], "_bcbi_companyid_value": first}
    )
    assert written.status_code == 400  # a lookup is written through its navigation only


@pytest.mark.parametrize("entity_set", ["accounts", "contacts", "products", "salesorders"])
def test_the_company_filter_takes_this_company_or_empty(dataverse: EmulatorHandle, entity_set: str) -> None:
    cronus, fabrikam = company(dataverse, "CRONUS")["bcbi_companyid"], company(dataverse, "Fabrikam")["bcbi_companyid"]
    body = COMPANY_TABLES[entity_set]
    ids = {}
    for label, extra in (("cronus", bind(cronus)), ("fabrikam", bind(fabrikam)), ("none", {})):
        unique = {"productnumber": f"{body['productnumber']}-{label}"} if "productnumber" in body else {}
        ids[label] = create(dataverse, entity_set, {**body, **unique, **extra})[PRIMARY_ID[entity_set]]

    def matching(filter_text: str) -> set[str]:
        rows = get(dataverse, entity_set, **{"$filter": filter_text, "$select": "_bcbi_companyid_value"})["value"]
        return {row[PRIMARY_ID[entity_set]] for row in rows}

    assert matching(f"_bcbi_companyid_value eq {cronus} or _bcbi_companyid_value eq null") == {
        ids["cronus"],
        ids["none"],
    }
    state = 2 if entity_set == "products" else 0  # a new product is a Draft
    assert matching(
        f"(_bcbi_companyid_value eq {fabrikam} or _bcbi_companyid_value eq null) and statecode eq {state}"
    ) == {
        ids["fabrikam"],
        ids["none"],
    }
    assert matching(f"_bcbi_companyid_value eq {cronus}") == {ids["cronus"]}
    assert matching("_bcbi_companyid_value eq null") == {ids["none"]}
    assert matching(f"_bcbi_companyid_value ne {cronus}") == {ids["fabrikam"]}  # ne does not match null, as in SQL


def test_a_bind_to_a_missing_company_is_refused_and_writes_nothing(dataverse: EmulatorHandle) -> None:
    missing = str(uuid.uuid4())
    created = dataverse.session.post(api(dataverse, "accounts"), json={"name": "Orphan", **bind(missing)})
    assert created.status_code == 404 and error_code(created) == NOT_FOUND, created.text
    assert get(dataverse, "accounts", **{"$filter": "name eq 'Orphan'"})["value"] == []
    cronus = company(dataverse, "CRONUS")["bcbi_companyid"]
    account = create(dataverse, "accounts", {"name": "Kept", **bind(cronus)})
    url = api(dataverse, f"accounts({account['accountid']})")
    changed = dataverse.session.patch(url, json={"name": "Changed", **bind(missing)})
    assert changed.status_code == 404 and error_code(changed) == NOT_FOUND
    kept = get(dataverse, f"accounts({account['accountid']})", **{"$select": "name,_bcbi_companyid_value"})
    assert (kept["name"], kept["_bcbi_companyid_value"]) == ("Kept", cronus)
    wrong_table = dataverse.session.post(
        api(dataverse, "accounts"),
        json={"name": "W", "bcbi_companyid@odata.bind": f"/accounts({account['accountid']})"},
    )
    assert wrong_table.status_code == 400
    upsert = dataverse.session.patch(
        api(dataverse, f"contacts({uuid.uuid4()})"), json={"lastname": "U", **bind(missing)}
    )
    assert upsert.status_code == 404 and get(dataverse, "contacts")["value"] == []


def test_ownerid_takes_an_owner_team_or_a_user(dataverse: EmulatorHandle) -> None:
    unit = business_unit(dataverse, "Fabrikam, Inc. (6b54a62a)")
    owner_team = team(dataverse, "BCI - Fabrikam, Inc. (6b54a62a)", unit["businessunitid"])
    access_team = team(dataverse, "Access", unit["businessunitid"], teamtype=1)
    who = get(dataverse, "WhoAmI")
    by_team = create(
        dataverse, "accounts", {"name": "Team owned", "ownerid@odata.bind": f"/teams({owner_team['teamid']})"}
    )
    read = get(dataverse, f"accounts({by_team['accountid']})", **{"$select": "_ownerid_value"})
    assert (read["_ownerid_value"], read["_ownerid_value" + LOOKUP_NAME]) == (owner_team["teamid"], "team")
    assert read["_ownerid_value" + FORMATTED] == "BCI - Fabrikam, Inc. (6b54a62a)"
    expanded = get(
        dataverse,
        "accounts",
        **{"$filter": f"_ownerid_value eq {owner_team['teamid']}", "$expand": "ownerid($select=name)"},
    )
    assert [row["ownerid"]["name"] for row in expanded["value"]] == ["BCI - Fabrikam, Inc. (6b54a62a)"]
    default = create(dataverse, "accounts", {"name": "Mine"})
    assert default["_ownerid_value"] == who["UserId"]  # the caller owns what it creates
    url = api(dataverse, f"accounts({by_team['accountid']})")
    to_user = dataverse.session.patch(url, json={"ownerid@odata.bind": f"/systemusers({who['UserId']})"})
    assert to_user.status_code == 204, to_user.text
    read = get(dataverse, f"accounts({by_team['accountid']})", **{"$select": "_ownerid_value"})
    assert (read["_ownerid_value"], read["_ownerid_value" + LOOKUP_NAME]) == (who["UserId"], "systemuser")
    refused = [
        dataverse.session.patch(url, json={"ownerid@odata.bind": f"/teams({access_team['teamid']})"}),
        dataverse.session.patch(url, json={"ownerid@odata.bind": None}),
        dataverse.session.patch(url, json={"ownerid@odata.bind": f"/businessunits({unit['businessunitid']})"}),
        dataverse.session.patch(url, json={"ownerid_team@odata.bind": f"/teams({owner_team['teamid']})"}),
    ]
    assert [r.status_code for r in refused] == [400] * len(refused), [r.text for r in refused]
    gone = dataverse.session.patch(url, json={"ownerid@odata.bind": f"/teams({uuid.uuid4()})"})
    assert gone.status_code == 404 and error_code(gone) == NOT_FOUND
    assert get(dataverse, f"accounts({by_team['accountid']})")["_ownerid_value"] == who["UserId"]  # unchanged


def test_the_owner_column_lists_both_targets_in_metadata(dataverse: EmulatorHandle) -> None:
    owner = get(dataverse, "EntityDefinitions(LogicalName='account')/Attributes(LogicalName='ownerid')")
    assert owner["Targets"] == ["systemuser", "team"]
    company_lookup = get(
        dataverse, "EntityDefinitions(LogicalName='salesorder')/Attributes(LogicalName='bcbi_companyid')"
    )
    assert company_lookup["Targets"] == ["bcbi_company"]
    entity = get(dataverse, "EntityDefinitions(LogicalName='bcbi_company')", **{"$select": "EntitySetName"})
    assert entity["EntitySetName"] == "bcbi_companies"
