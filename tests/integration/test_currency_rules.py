"""Currency rules of both emulators over plain HTTP (issue 19, part 1 for currencies).

Dataverse refuses a transaction currency without a (non-zero) exchange rate, as Microsoft's CRMBusLogicSimulator
does; BC serves `currencyExchangeRates` read-only, as API v2.0 does, with seeded rates that an admin route adds to.
"""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import BusinessCentralHandle, EmulatorHandle
from tests.integration.dataverse_helpers import api, create

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("rate", [None, 0, -1])
def test_dataverse_refuses_a_currency_without_a_positive_exchange_rate(dataverse: EmulatorHandle, rate: object) -> None:
    body: dict[str, object] = {"isocurrencycode": "CHF", "currencyname": "Swiss Franc", "currencyprecision": 2}
    if rate is not None:
        body["exchangerate"] = rate
    response = dataverse.session.post(api(dataverse, "transactioncurrencies"), json=body)
    assert response.status_code == 400, response.text
    assert "exchange rate" in response.json()["error"]["message"]


def test_dataverse_refuses_clearing_a_currency_rate_and_accepts_a_new_one(dataverse: EmulatorHandle) -> None:
    row = create(
        dataverse, "transactioncurrencies", {"isocurrencycode": "CHF", "currencyname": "Franc", "exchangerate": 0.9}
    )
    url = api(dataverse, f"transactioncurrencies({row['transactioncurrencyid']})")
    assert dataverse.session.patch(url, json={"exchangerate": 0}).status_code == 400
    assert dataverse.session.patch(url, json={"exchangerate": 0.95}).status_code == 204
    assert dataverse.session.get(url).json()["exchangerate"] == 0.95


def test_bc_serves_seeded_exchange_rates_read_only(business_central: BusinessCentralHandle, bc_demo: str) -> None:
    session = business_central.session
    rows = session.get(f"{bc_demo}/currencyExchangeRates").json()["value"]
    assert {r["currencyCode"] for r in rows} == {"EUR", "GBP", "CAD"}
    eur = sorted((r for r in rows if r["currencyCode"] == "EUR"), key=lambda r: r["startingDate"])
    assert [r["startingDate"] for r in eur] == ["2024-01-01", "2025-01-01"]
    assert eur[-1]["exchangeRateAmount"] == 92 and eur[-1]["relationalExchangeRateAmount"] == 100
    assert eur[-1]["relationalCurrencyCode"] == "" and eur[-1]["lastModifiedDateTime"]
    new = {
        "currencyCode": "EUR",
        "startingDate": "2026-01-01",
        "exchangeRateAmount": 1,
        "relationalExchangeRateAmount": 1,
    }
    assert session.post(f"{bc_demo}/currencyExchangeRates", json=new).status_code in (400, 405)
    one = f"{bc_demo}/currencyExchangeRates({eur[-1]['id']})"
    assert session.patch(one, json={"exchangeRateAmount": 1}, headers={"If-Match": "*"}).status_code in (400, 405)


def test_bc_admin_route_adds_a_rate_and_checks_it(business_central: BusinessCentralHandle, bc_demo: str) -> None:
    added = business_central.admin(
        "POST",
        "exchangeRates",
        json={
            "currencyCode": "gbp",
            "startingDate": "2026-01-01",
            "exchangeRateAmount": 80,
            "relationalExchangeRateAmount": 100,
        },
    )
    assert added.status_code == 200, added.text
    assert added.json()["currencyCode"] == "GBP"
    rows = business_central.session.get(
        f"{bc_demo}/currencyExchangeRates", params={"$filter": "currencyCode eq 'GBP'"}
    ).json()["value"]
    assert {r["startingDate"] for r in rows} == {"2025-01-01", "2026-01-01"}
    for bad in (
        {
            "currencyCode": "XXX",
            "startingDate": "2026-01-01",
            "exchangeRateAmount": 1,
            "relationalExchangeRateAmount": 1,
        },
        {
            "currencyCode": "GBP",
            "startingDate": "2026-01-01",
            "exchangeRateAmount": 0,
            "relationalExchangeRateAmount": 1,
        },
        {"currencyCode": "GBP", "startingDate": "soon", "exchangeRateAmount": 1, "relationalExchangeRateAmount": 1},
    ):
        assert business_central.admin("POST", "exchangeRates", json=bad).status_code in (400, 404)
    assert uuid.UUID(added.json()["id"])
