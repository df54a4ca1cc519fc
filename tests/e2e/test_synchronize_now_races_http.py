"""Issue 17 as the outsider ran it: Synchronize Now in opposite directions at once, over HTTP through the local
Functions host. Every answer is a 200 report naming the direction it applied or a 409 `concurrencyConflict`, and
both apps end holding the value of the one call that says it modified them (the service-level test in tests/sync
repeats this many more times)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from local.emulators.business_central.seed import COMPANY_ID
from local.stack.launcher import LocalStack
from tests.e2e.test_security_and_concurrency import DV_API, _bc_customer, token

pytestmark = pytest.mark.integration
BURSTS = 2
PER_DIRECTION = 10


class Apps:
    """BC and Dataverse as the admin's other tools see them (straight to the emulators, with their own tokens)."""

    def __init__(self, stack: LocalStack, bc_id: str, account_id: str) -> None:
        self.session = requests.Session()
        self.session.trust_env = False
        self.bc_url = f"{stack.app_settings()['BC_BASE_URL']}/api/v2.0/companies({COMPANY_ID})/customers({bc_id})"
        self.dv_url = f"{stack.urls['dataverse']}{DV_API}/accounts({account_id})"
        self.bc_headers = {"Authorization": f"Bearer {token(stack, 'https://api.businesscentral.dynamics.com')}"}
        self.dv_headers = {"Authorization": f"Bearer {token(stack, stack.urls['dataverse'])}"}

    def set_cities(self, bc_city: str, dv_city: str) -> None:
        etag = self.session.get(self.bc_url, headers=self.bc_headers, timeout=30).json()["@odata.etag"]
        headers = {**self.bc_headers, "If-Match": etag}
        self.session.patch(self.bc_url, json={"city": bc_city}, headers=headers, timeout=30).raise_for_status()
        headers = {**self.dv_headers, "If-Match": "*"}
        self.session.patch(self.dv_url, json={"address1_city": dv_city}, headers=headers, timeout=30).raise_for_status()

    def cities(self) -> tuple[str, str]:
        bc = self.session.get(self.bc_url, headers=self.bc_headers, timeout=30).json()["city"]
        dv = self.session.get(self.dv_url, headers=self.dv_headers, timeout=30).json()["address1_city"]
        return bc, dv


def test_opposite_synchronize_now_calls_never_swap_the_apps(local_stack: LocalStack, api: requests.Session) -> None:
    url = local_stack.urls["functions"]
    for mapping in ("SALESPEOPLE", "CURRENCY"):
        assert api.post(f"{url}/couplings/{mapping}/match", json={}, timeout=120).status_code == 200
    bc_id, _ = _bc_customer(local_stack)
    created = api.post(f"{url}/records/CUSTOMER/create-in-dataverse", json={"bcId": bc_id}, timeout=120)
    assert created.status_code == 201, created.text
    apps = Apps(local_stack, bc_id, created.json()["dataverseId"])
    calls = [{"mapping": "CUSTOMER", "bcId": bc_id, "direction": d} for d in ("toDataverse", "fromDataverse")]
    for round_ in range(BURSTS):
        bc_city, dv_city = f"BC city {round_}", f"Sales city {round_}"
        apps.set_cities(bc_city, dv_city)
        with ThreadPoolExecutor(max_workers=2 * PER_DIRECTION) as pool:
            answers = list(
                pool.map(lambda body: api.post(f"{url}/synchronize", json=body, timeout=120), calls * PER_DIRECTION)
            )
        assert {a.status_code for a in answers} <= {200, 409}, [(a.status_code, a.text[:200]) for a in answers]
        conflicts: list[dict[str, Any]] = [a.json()["error"] for a in answers if a.status_code == 409]
        assert all(c["code"] == "concurrencyConflict" for c in conflicts), conflicts
        winners = [a.json() for a in answers if a.status_code == 200 and a.json()["outcome"] == "modified"]
        assert len(winners) == 1, [a.text[:200] for a in answers if a.status_code == 200]
        expected = bc_city if winners[0]["direction"] == "toDataverse" else dv_city
        assert apps.cities() == (expected, expected)
