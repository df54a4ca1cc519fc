"""The stories the browser tests need, set up through the app's API and the emulators as an admin's world would be:
the demo's basics coupled, a record changed in both apps (a conflict), a record whose lookup is not coupled (an
error a retry fixes once the cause is fixed). Also resets the stack between tests (see conftest)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import requests
from azure.data.tables import TableServiceClient

from local.emulators.business_central.seed import COMPANY_ID
from local.emulators.business_central.seed import seeded_id as bc_seeded
from local.stack.launcher import LocalStack

DV_API = "/api/data/v9.2"
BC_RESOURCE = "https://api.businesscentral.dynamics.com"


@dataclass
class Scenario:
    stack: LocalStack
    session: requests.Session = field(default_factory=requests.Session)

    def __post_init__(self) -> None:
        self.session.trust_env = False

    # -- plumbing ------------------------------------------------------------------------------------------------
    def api(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        answer = self.session.request(
            method,
            f"{self.stack.urls['functions']}/{path}",
            json=body,
            headers={"x-functions-key": self.stack.function_key},
            timeout=120,
        )
        assert answer.status_code == expect, f"{method} /api/{path}: {answer.status_code} {answer.text[:300]}"
        return answer.json() if answer.content else None

    def bc(self, method: str, path: str, body: Any = None) -> Any:
        root = f"{self.stack.app_settings()['BC_BASE_URL']}/api/v2.0/companies({COMPANY_ID})"
        headers = {"Authorization": f"Bearer {self.stack.token(BC_RESOURCE)}", "If-Match": "*"}
        answer = self.session.request(method, f"{root}/{path}", json=body, headers=headers, timeout=30)
        answer.raise_for_status()
        return answer.json() if answer.content else None

    def dataverse(self, method: str, path: str, body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {self.stack.token(self.stack.urls['dataverse'])}", "If-Match": "*"}
        url = f"{self.stack.urls['dataverse']}{DV_API}/{path}"
        answer = self.session.request(method, url, json=body, headers=headers, timeout=30)
        answer.raise_for_status()
        return answer.json() if answer.content else None

    def reset(self, storage_connection: str) -> None:
        """Both emulators re-seeded with the demo data, and the app's tables emptied (couplings, runs, errors...)."""
        for name in ("business_central", "dataverse"):
            for action, body in (("reset", None), ("seed", {"profile": "demo"})):
                url = f"{self.stack.urls[name]}/_admin/{action}"
                self.session.post(url, json=body, timeout=30).raise_for_status()
        service = TableServiceClient.from_connection_string(storage_connection)
        for table in service.list_tables():
            client = service.get_table_client(table.name)
            for entity in client.list_entities(select=["PartitionKey", "RowKey"]):
                client.delete_entity(entity["PartitionKey"], entity["RowKey"])

    # -- stories -------------------------------------------------------------------------------------------------
    def couple_customers(self) -> None:
        """As the demo: salespeople and currencies matched (CURRENCY creates what Sales lacks), then customers
        matched by name and brought in step, so every coupled pair starts equal."""
        for mapping in ("SALESPEOPLE", "CURRENCY", "CUSTOMER"):
            self.api("POST", f"couplings/{mapping}/match", {})
        self.api("POST", "mappings/CUSTOMER/synchronize")

    def account_of(self, customer: str) -> str:
        coupling = self.api("GET", f"couplings/CUSTOMER?bcId={bc_seeded('customer', customer)}")
        return str(coupling["dataverseId"])

    def conflict(self, customer: str, bc_city: str, sales_city: str) -> tuple[str, str]:
        """The same field changed in both apps, then the mapping run: the sync reports `changedInBothApps` and
        overwrites nothing. Returns (BC id, Dataverse id)."""
        self.couple_customers()
        bc_id = bc_seeded("customer", customer)
        account = self.account_of(customer)
        self.bc("PATCH", f"customers({bc_id})", {"city": bc_city})
        self.dataverse("PATCH", f"accounts({account})", {"address1_city": sales_city})
        self.api("POST", "mappings/CUSTOMER/synchronize")
        return bc_id, account

    def lookup_error(self, customer: str, currency: str) -> tuple[str, dict[str, Any]]:
        """A coupled customer moved to a currency whose coupling was removed: the run records `lookupNotCoupled`.
        Returns the customer's BC id and the currency's coupling (to restore it: the fix)."""
        self.couple_customers()
        currency_id = bc_seeded("currency", currency)
        coupling = self.api("GET", f"couplings/CURRENCY?bcId={currency_id}")
        self.api("DELETE", f"couplings/CURRENCY/{currency_id}", expect=204)
        bc_id = bc_seeded("customer", customer)
        self.bc("PATCH", f"customers({bc_id})", {"currencyCode": currency})
        self.api("POST", "mappings/CUSTOMER/synchronize")
        return bc_id, coupling

    def errors(self, mapping: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.api("GET", f"sync-errors?mapping={mapping}")["value"]
        return found
