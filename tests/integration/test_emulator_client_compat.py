"""What both emulators say about a response, read by a plain `requests` client as generic OData clients read it:
`@odata.context` in the services' forms (Dataverse's projection, BC's path through the company), `Preference-Applied`
for the preferences honoured, and Dataverse query options the emulator does not run refused instead of ignored.
"""

from __future__ import annotations

from typing import Any

import pytest

from local.emulators.business_central.seed import COMPANY_ID
from tests.conftest import BusinessCentralHandle, EmulatorHandle
from tests.integration.dataverse_helpers import api, create, error_code

pytestmark = pytest.mark.integration
FETCH = "<fetch mapping='logical'><entity name='account'><attribute name='name'/></entity></fetch>"


# -- Dataverse: query options it does not run -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"fetchXml": FETCH}, 501, "0x80040800"),
        ({"fetchXml": "<fetch><entity name='account'>"}, 400, "0x80040203"),
        ({"fetchXml": FETCH.replace("'account'", "'contact'")}, 400, "0x80040203"),
        ({"sql": "SELECT name FROM account AS a WHERE a.name LIKE 'Fourth Coffee'"}, 501, "0x80040800"),
        ({"sql": "DELETE FROM account"}, 400, "0x80040203"),
        ({"savedQuery": "00000000-0000-0000-0000-000000000001"}, 501, "0x80040800"),
    ],
)
def test_query_options_the_emulator_does_not_run_are_refused_not_ignored(
    dataverse: EmulatorHandle, params: dict[str, str], status: int, code: str
) -> None:
    create(dataverse, "accounts", {"name": "Fourth Coffee"})
    create(dataverse, "accounts", {"name": "Other"})
    response = dataverse.session.get(api(dataverse, "accounts"), params=params)
    assert (response.status_code, error_code(response)) == (status, code), response.text


# -- Dataverse: @odata.context and Preference-Applied ------------------------------------------------------------
def test_dataverse_contexts_name_the_projection(dataverse: EmulatorHandle) -> None:
    dv = dataverse
    contact = create(dv, "contacts", {"lastname": "Primary"})
    account = create(
        dv, "accounts", {"name": "Ctx", "primarycontactid@odata.bind": f"/contacts({contact['contactid']})"}
    )
    root = f"{dv.base_url}/api/data/v9.2/$metadata#"
    one = dv.session.get(api(dv, f"accounts({account['accountid']})"), params={"$select": "name,accountid"}).json()
    assert one["@odata.context"] == root + "accounts(name,accountid)/$entity"
    listed = dv.session.get(
        api(dv, "accounts"), params={"$select": "name", "$expand": "primarycontactid($select=fullname)"}
    ).json()
    assert listed["@odata.context"] == root + "accounts(name,primarycontactid(fullname))"
    delta = dv.session.get(api(dv, "accounts"), params={"$select": "name"}, headers={"Prefer": "odata.track-changes"})
    assert delta.json()["@odata.context"] == root + "accounts(name)/$delta"
    assert delta.headers["Preference-Applied"] == "odata.track-changes"


def test_dataverse_says_which_preferences_it_applied(dataverse: EmulatorHandle) -> None:
    dv = dataverse
    for name in ("P1", "P2"):
        create(dv, "accounts", {"name": name})
    paged = dv.session.get(
        api(dv, "accounts"),
        params={"$select": "name"},
        headers={
            "Prefer": 'odata.maxpagesize=1, odata.include-annotations="OData.Community.Display.V1.FormattedValue"'
        },
    )
    assert paged.headers["Preference-Applied"] == (
        'odata.maxpagesize=1, odata.include-annotations="OData.Community.Display.V1.FormattedValue"'
    )
    created = dv.session.post(api(dv, "accounts"), json={"name": "P3"}, headers={"Prefer": "return=representation"})
    assert created.status_code == 201 and created.headers["Preference-Applied"] == "return=representation"
    plain = dv.session.get(api(dv, "accounts"), params={"$select": "name"})
    assert "Preference-Applied" not in plain.headers


# -- Business Central: @odata.context ----------------------------------------------------------------------------
def context_of(bc: BusinessCentralHandle, url: str, **params: Any) -> str:
    response = bc.session.get(url, params=params)
    assert response.status_code == 200, response.text
    context: str = response.json()["@odata.context"]
    return context


def test_bc_contexts_go_through_the_company(business_central: BusinessCentralHandle, bc_demo: str) -> None:
    bc = business_central
    root = f"{bc.api_root}/$metadata#companies({COMPANY_ID})"
    assert context_of(bc, f"{bc_demo}/customers") == f"{root}/customers"
    assert context_of(bc, f"{bc.api_root}/customers", company=COMPANY_ID) == f"{root}/customers"
    assert context_of(bc, f"{bc_demo}/customers", **{"$select": "number,displayName"}) == (
        f"{root}/customers(number,displayName)"
    )
    customer = bc.session.get(f"{bc_demo}/customers", params={"$top": "1"}).json()["value"][0]
    assert context_of(bc, f"{bc_demo}/customers({customer['id']})") == f"{root}/customers/$entity"
    order = bc.session.post(
        f"{bc_demo}/salesOrders",
        json={"customerNumber": "C00010", "salesOrderLines": [{"lineType": "Comment", "description": "x"}]},
    )
    assert order.status_code == 201 and order.json()["@odata.context"] == f"{root}/salesOrders/$entity"
    lines = f"{bc_demo}/salesOrders({order.json()['id']})/salesOrderLines"
    assert context_of(bc, lines) == f"{root}/salesOrders({order.json()['id']})/salesOrderLines"
