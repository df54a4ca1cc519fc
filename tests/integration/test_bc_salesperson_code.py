"""BC emulator over real HTTP: a salesperson's Code is its primary key and may not be blank.

Source: Microsoft's AL source (microsoft/BCApps), table 13 "Salesperson/Purchaser"
(src/Layers/W1/BaseApp/CRM/Team/SalespersonPurchaser.Table.al): field 1 "Code" is Code[20], the primary key, with
`NotBlank = true` and a TestField on validate; the platform checks NotBlank on a key field at insert, before the
table's OnInsert. API v2.0 `salespeoplePurchasers` (page 30075) writes that field as `code` (writable,
/work/shared/schemas/bc_api_v2.json) and the table has no number series to fill it. The exact error code of the
answer is UNCONFIRMED: the emulator answers 400 `Application_DialogException` (BC's code for a business-rule error,
api-facts A11) with a TestField-like message.
"""

from __future__ import annotations

from typing import Any

import pytest

from local.emulators.business_central.seed import seeded_id
from tests.conftest import BusinessCentralHandle

pytestmark = pytest.mark.integration


def _error(response: Any) -> tuple[int, str, str]:
    assert response.status_code >= 400, response.text
    error = response.json()["error"]
    return response.status_code, str(error["code"]), str(error["message"])


@pytest.mark.parametrize("body", [{"displayName": "No Code"}, {"code": "", "displayName": "Blank"}, {"code": "  "}])
def test_a_salesperson_without_a_code_is_refused(
    business_central: BusinessCentralHandle, bc_demo: str, body: dict[str, Any]
) -> None:
    before = business_central.session.get(f"{bc_demo}/salespeoplePurchasers").json()["value"]
    status, code, message = _error(business_central.session.post(f"{bc_demo}/salespeoplePurchasers", json=body))
    assert (status, code) == (400, "Application_DialogException")
    assert "Code must have a value in Salesperson/Purchaser" in message
    after = business_central.session.get(f"{bc_demo}/salespeoplePurchasers").json()["value"]
    assert after == before


def test_a_salesperson_code_cannot_be_blanked_but_a_new_code_is_taken(
    business_central: BusinessCentralHandle, bc_demo: str
) -> None:
    url = f"{bc_demo}/salespeoplePurchasers({seeded_id('salesperson', 'JO')})"
    row = business_central.session.get(url).json()
    headers = {"If-Match": row["@odata.etag"]}
    status, code, _ = _error(business_central.session.patch(url, json={"code": ""}, headers=headers))
    assert (status, code) == (400, "Application_DialogException")
    created = business_central.session.post(
        f"{bc_demo}/salespeoplePurchasers", json={"code": "nb", "displayName": "New Buyer"}
    )
    assert created.status_code == 201, created.text
    assert created.json()["code"] == "NB"  # a Code field: upper case (api-facts)
