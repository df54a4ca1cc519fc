"""The BC emulator with several companies and environments, over real HTTP (issue 22, item 1).

The `companies` seed profile (business_central/seed.py `COMPANY_LAYOUT`): in environment `production` the demo
company `CRONUS USA, Inc.` (its usual id and data) and `Fabrikam, Inc.`; in environment `sandbox` another company
named `CRONUS USA, Inc.`. Each company has its own rows, and `Trey Research` is a customer of all three. What is
checked: a company's rows never show in another's, a write lands in the company its URL names, and an environment
serves only its own companies, on API v2.0, its `$batch`, the page web services and the custom API
(companies.py says why and where from).
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from local.emulators.business_central.seed import (
    COMPANY_ID,
    COMPANY_NAME,
    FABRIKAM_ID,
    FABRIKAM_NAME,
    PRODUCTION,
    SANDBOX,
    SANDBOX_COMPANY_ID,
)
from tests.conftest import TENANT, BusinessCentralHandle

pytestmark = pytest.mark.integration
CUSTOM_ROUTE = "/api/bcsalessync/integration/v1.0"
ALL_COMPANIES = ((PRODUCTION, COMPANY_ID), (PRODUCTION, FABRIKAM_ID), (SANDBOX, SANDBOX_COMPANY_ID))


def api_root(bc: BusinessCentralHandle, environment: str) -> str:
    return f"{bc.base_url}/{TENANT}/{environment}/api/v2.0"


def company_root(bc: BusinessCentralHandle, environment: str, company_id: str) -> str:
    return f"{api_root(bc, environment)}/companies({company_id})"


def page_root(bc: BusinessCentralHandle, environment: str, company_name: str) -> str:
    return f"{bc.base_url}/{TENANT}/{environment}/ODataV4/Company('{company_name}')"


def values(response: requests.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()["value"]
    return rows


def customers(bc: BusinessCentralHandle, environment: str, company_id: str) -> list[dict[str, Any]]:
    url = f"{company_root(bc, environment, company_id)}/customers"
    return values(bc.session.get(url, params={"$select": "id,number,displayName,city"}))


def code(response: requests.Response) -> str:
    return str(response.json()["error"]["code"])


@pytest.fixture
def bc_companies(business_central: BusinessCentralHandle) -> BusinessCentralHandle:
    response = business_central.admin("POST", "seed", json={"profile": "companies"})
    assert response.status_code == 200, response.text
    assert response.json()["created"]["companies"] == 3
    return business_central


def test_each_environment_lists_only_its_own_companies(bc_companies: BusinessCentralHandle) -> None:
    bc = bc_companies
    production = values(bc.session.get(f"{api_root(bc, PRODUCTION)}/companies"))
    sandbox = values(bc.session.get(f"{api_root(bc, SANDBOX)}/companies"))
    assert [(c["name"], c["id"]) for c in production] == [(COMPANY_NAME, COMPANY_ID), (FABRIKAM_NAME, FABRIKAM_ID)]
    assert [(c["name"], c["id"]) for c in sandbox] == [(COMPANY_NAME, SANDBOX_COMPANY_ID)]
    assert all(not key.startswith("@") or key == "@odata.etag" for c in production for key in c)
    other_tenant = bc.session.get(f"{bc.base_url}/another-tenant/{SANDBOX}/api/v2.0/companies")  # tenant: ignored
    assert [c["id"] for c in values(other_tenant)] == [SANDBOX_COMPANY_ID]
    unknown = bc.session.get(f"{api_root(bc, 'nosuchenvironment')}/companies")
    assert unknown.status_code == 404 and code(unknown) == "BadRequest_NotFound"
    custom = bc.session.get(f"{bc.base_url}/{TENANT}/{SANDBOX}{CUSTOM_ROUTE}/companies")
    assert [c["id"] for c in values(custom)] == [SANDBOX_COMPANY_ID]


def test_the_demo_company_keeps_its_data_in_the_layout(bc_companies: BusinessCentralHandle) -> None:
    rows = customers(bc_companies, PRODUCTION, COMPANY_ID)
    assert sorted(r["number"] for r in rows) == [f"C000{n}0" for n in range(1, 7)]  # as the demo seed makes them


def test_customers_of_one_company_never_appear_in_another(bc_companies: BusinessCentralHandle) -> None:
    seen = {key: customers(bc_companies, *key) for key in ALL_COMPANIES}
    ids = [{row["id"] for row in rows} for rows in seen.values()]
    assert all(ids) and not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    names = [{row["displayName"] for row in rows} for rows in seen.values()]
    assert names[0] != names[1] != names[2]
    trey = [next(row for row in rows if row["displayName"] == "Trey Research") for rows in seen.values()]
    assert len({row["id"] for row in trey}) == 3  # the same name in three companies: three customers
    assert [row["city"] for row in trey] == ["Atlanta", "Seattle", "Atlanta"]
    assert [row["number"] for row in trey] == ["C00030", "C00010", "C00010"]  # each company's own number series


def test_a_write_lands_in_the_company_its_url_names(bc_companies: BusinessCentralHandle) -> None:
    bc = bc_companies
    created = bc.session.post(
        f"{company_root(bc, PRODUCTION, FABRIKAM_ID)}/customers", json={"displayName": "Only at Fabrikam"}
    )
    assert created.status_code == 201, created.text
    row = created.json()
    assert row["number"] == "C00040"  # Fabrikam's series: it had three customers
    names = {key: {r["displayName"] for r in customers(bc, *key)} for key in ALL_COMPANIES}
    assert "Only at Fabrikam" in names[(PRODUCTION, FABRIKAM_ID)]
    assert "Only at Fabrikam" not in names[(PRODUCTION, COMPANY_ID)] | names[(SANDBOX, SANDBOX_COMPANY_ID)]
    for other in (company_root(bc, PRODUCTION, COMPANY_ID), company_root(bc, SANDBOX, SANDBOX_COMPANY_ID)):
        url = f"{other}/customers({row['id']})"
        assert bc.session.get(url).status_code == 404
        assert bc.session.patch(url, json={"displayName": "x"}, headers={"If-Match": "*"}).status_code == 404
        assert bc.session.delete(url, headers={"If-Match": "*"}).status_code == 404
    fabrikam = f"{company_root(bc, PRODUCTION, FABRIKAM_ID)}/customers({row['id']})"
    assert bc.session.get(fabrikam).json()["displayName"] == "Only at Fabrikam"  # nothing above touched it


def test_a_company_of_another_environment_is_not_found(bc_companies: BusinessCentralHandle) -> None:
    bc = bc_companies
    for environment, company_id in ((SANDBOX, COMPANY_ID), (SANDBOX, FABRIKAM_ID), (PRODUCTION, SANDBOX_COMPANY_ID)):
        scoped = bc.session.get(f"{company_root(bc, environment, company_id)}/customers")
        assert scoped.status_code == 404 and code(scoped) == "BadRequest_NotFound"
        assert bc.session.get(company_root(bc, environment, company_id)).status_code == 404
        by_query = bc.session.get(f"{api_root(bc, environment)}/customers", params={"company": company_id})
        assert by_query.status_code == 404
    by_name = bc.session.get(f"{api_root(bc, SANDBOX)}/customers", params={"company": FABRIKAM_NAME})
    assert by_name.status_code == 404
    same_name = bc.session.get(
        f"{api_root(bc, SANDBOX)}/customers", params={"company": COMPANY_NAME, "$select": "displayName"}
    )  # the name both environments have: the sandbox's company answers
    assert {r["displayName"] for r in values(same_name)} == {"Trey Research", "Sandbox Test Customer"}
    company = bc.session.get(company_root(bc, SANDBOX, SANDBOX_COMPANY_ID)).json()
    assert (company["id"], company["name"]) == (SANDBOX_COMPANY_ID, COMPANY_NAME)


def test_a_batch_runs_in_the_environment_of_its_url(bc_companies: BusinessCentralHandle) -> None:
    bc = bc_companies
    requests_ = [
        {"id": "1", "method": "GET", "url": f"companies({SANDBOX_COMPANY_ID})/customers?$select=displayName"},
        {"id": "2", "method": "GET", "url": f"companies({COMPANY_ID})/customers?$select=displayName"},
        {"id": "3", "method": "POST", "url": f"companies({FABRIKAM_ID})/customers", "body": {"displayName": "B"}},
    ]
    response = bc.session.post(
        f"{api_root(bc, SANDBOX)}/$batch",
        json={"requests": requests_},
        headers={"Prefer": "odata.continue-on-error"},
    )
    assert response.status_code == 200, response.text
    answers = {item["id"]: item for item in response.json()["responses"]}
    assert answers["1"]["status"] == 200
    assert {r["displayName"] for r in answers["1"]["body"]["value"]} == {"Trey Research", "Sandbox Test Customer"}
    assert (answers["2"]["status"], answers["3"]["status"]) == (404, 404)  # production's companies, not here
    assert "B" not in {r["displayName"] for r in customers(bc, PRODUCTION, FABRIKAM_ID)}


def test_page_services_serve_the_company_of_their_environment(bc_companies: BusinessCentralHandle) -> None:
    bc = bc_companies

    def resources(environment: str, company: str) -> list[str]:
        url = f"{page_root(bc, environment, company)}/ResourceList"
        return sorted(r["No"] for r in values(bc.session.get(url, params={"$select": "No"})))

    assert resources(PRODUCTION, COMPANY_NAME) == ["R0010", "R0020", "R0030"]
    assert resources(PRODUCTION, FABRIKAM_NAME) == ["R1000"]
    assert resources(SANDBOX, COMPANY_NAME) == ["R0010"]
    missing = bc.session.get(f"{page_root(bc, SANDBOX, FABRIKAM_NAME)}/ResourceList")
    assert missing.status_code == 404
    by_query = bc.session.get(
        f"{bc.base_url}/{TENANT}/{SANDBOX}/ODataV4/ResourceList", params={"company": COMPANY_ID}
    )  # production's CRONUS, by id, in the sandbox
    assert by_query.status_code == 404
    created = bc.session.post(
        f"{page_root(bc, SANDBOX, COMPANY_NAME)}/ResourceCard", json={"No": "R0099", "Name": "Sandbox only"}
    )
    assert created.status_code == 201, created.text
    assert "R0099" in resources(SANDBOX, COMPANY_NAME)
    assert "R0099" not in resources(PRODUCTION, COMPANY_NAME) + resources(PRODUCTION, FABRIKAM_NAME)
    units = values(bc.session.get(f"{page_root(bc, PRODUCTION, FABRIKAM_NAME)}/ItemUnitsOfMeasure"))
    assert sorted(u["Item_No"] for u in units) == ["FB-1000", "FB-2000"]  # Fabrikam's items, none of CRONUS's


def test_the_custom_api_is_scoped_the_same_way(bc_companies: BusinessCentralHandle) -> None:
    bc = bc_companies
    root = f"{bc.base_url}/{TENANT}/{PRODUCTION}{CUSTOM_ROUTE}"
    assert bc.session.get(f"{root}/companies({SANDBOX_COMPANY_ID})/resources").status_code == 404
    fabrikam = values(bc.session.get(f"{root}/companies({FABRIKAM_ID})/resources"))
    assert [row["number"] for row in fabrikam] == ["R1000"]


def test_the_layout_is_seeded_into_an_empty_emulator_only(bc_companies: BusinessCentralHandle) -> None:
    again = bc_companies.admin("POST", "seed", json={"profile": "companies"})
    assert again.status_code == 400
    assert len(values(bc_companies.session.get(f"{api_root(bc_companies, PRODUCTION)}/companies"))) == 2
    unknown = bc_companies.admin("POST", "seed", json={"profile": "tenants"})
    assert unknown.status_code == 400


def test_the_single_company_seed_still_answers_in_every_environment(
    business_central: BusinessCentralHandle, bc_demo: str
) -> None:
    for environment in (PRODUCTION, SANDBOX, "anything"):
        rows = values(business_central.session.get(f"{api_root(business_central, environment)}/companies"))
        assert [c["id"] for c in rows] == [COMPANY_ID]
