"""CURRENCY carries BC's latest exchange rate to Sales (issue 19, part 5), on the emulators + Azurite.

BC writes `exchangerate` = the current LCY -> currency factor on insert and on every sync (CRMIntTableSubscriber),
and refuses a currency without a rate; Dataverse refuses a currency without one. A new rate in BC does not modify
the currency record, so the run must find it anyway.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from local.emulators.business_central.seed import COMPANY_ID
from local.emulators.business_central.seed import seeded_id as bc_seeded
from shared.engine.mapping_run import run_mapping
from shared.services.matching import match_and_couple
from tests.sync.conftest import SyncStack
from tests.sync.test_incremental import dv_get

pytestmark = pytest.mark.integration


def _rate(stack: SyncStack, iso: str) -> float:
    rows = dv_get(stack, "transactioncurrencies", **{"$filter": f"isocurrencycode eq '{iso}'"})["value"]
    assert len(rows) == 1, rows
    return float(rows[0]["exchangerate"])


def test_currencies_are_created_and_synchronized_with_bc_rates(sync_stack: SyncStack) -> None:
    report = match_and_couple(sync_stack.context, "CURRENCY").as_dict()
    assert [c["bcId"] for c in report["created"]] == [bc_seeded("currency", "CAD")]
    assert _rate(sync_stack, "CAD") == pytest.approx(1.36)  # 136 CAD = 100 USD in BC
    assert _rate(sync_stack, "GBP") == pytest.approx(0.79)
    assert _rate(sync_stack, "EUR") == pytest.approx(0.92)  # the later of EUR's two rates


def test_a_new_rate_in_bc_reaches_sales_on_the_next_run(sync_stack: SyncStack) -> None:
    match_and_couple(sync_stack.context, "CURRENCY")
    run_mapping(sync_stack.context, "CURRENCY")
    currency_before = sync_stack.bc_handle.session.get(
        f"{sync_stack.bc_handle.company_root(COMPANY_ID)}/currencies({bc_seeded('currency', 'EUR')})"
    ).json()
    today = datetime.now(UTC).date().isoformat()
    added = sync_stack.bc_handle.admin(
        "POST",
        "exchangeRates",
        json={
            "currencyCode": "EUR",
            "startingDate": today,
            "exchangeRateAmount": 90,
            "relationalExchangeRateAmount": 100,
        },
    )
    assert added.status_code == 200, added.text
    job = run_mapping(sync_stack.context, "CURRENCY")
    assert job.counters.modified == 1
    assert _rate(sync_stack, "EUR") == pytest.approx(0.9)
    currency_after = sync_stack.bc_handle.session.get(
        f"{sync_stack.bc_handle.company_root(COMPANY_ID)}/currencies({bc_seeded('currency', 'EUR')})"
    ).json()
    assert currency_after["@odata.etag"] == currency_before["@odata.etag"]  # the currency itself did not change
    assert run_mapping(sync_stack.context, "CURRENCY").counters.modified == 0


def test_a_currency_without_a_rate_is_a_record_error_naming_it(sync_stack: SyncStack) -> None:
    created = sync_stack.bc_handle.session.post(
        f"{sync_stack.bc_handle.company_root(COMPANY_ID)}/currencies",
        json={"code": "CHF", "displayName": "Swiss Franc", "symbol": "Fr."},
    )
    assert created.status_code == 201, created.text
    report = match_and_couple(sync_stack.context, "CURRENCY").as_dict()
    assert created.json()["id"] not in [c["bcId"] for c in report["created"]]
    rows = dv_get(sync_stack, "transactioncurrencies", **{"$filter": "isocurrencycode eq 'CHF'"})["value"]
    assert rows == []
    failed = [f for f in report["failed"] if f["bcId"] == created.json()["id"]]
    assert failed and failed[0]["code"] == "exchangeRateMissing" and "CHF" in failed[0]["message"]
