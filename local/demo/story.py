"""The admin's story on the local stack, through the app's own HTTP API: `Story` holds the plumbing (the app's API,
Dataverse and BC as a user of each, the summary) and the first part of `make demo` (local/demo/__main__.py runs it):
a coupling that must be refused (a dependency is missing), salespeople and currencies coupled, match-based coupling
for customers, an account created in Sales from a BC customer and a customer in BC from a Sales account, a change on
each side through Synchronize Now, a conflict, and a full synchronization. The document part (local/demo/documents.py,
local/demo/cash.py) and the end-to-end tests take a `Story` for its plumbing.

With several BC companies configured (`make demo` runs two: local/demo/companies.py) every call about a company's data
must name its company, so `api` adds `?company=` with the story's `company` unless told otherwise; a story without
one (the end-to-end tests, a single-company stack) sends none, as before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import requests

from local.demo.errors import StoryError
from local.demo.full_sync import contact_names, currency_rates, product_states, review_table, run_full_sync
from local.emulators.business_central.seed import COMPANY_ID, COMPANY_NAME
from local.emulators.business_central.seed import seeded_id as bc_id
from local.emulators.identity.tokens import acquire_local_token
from local.stack.launcher import LocalStack

API_DV = "/api/data/v9.2"


@dataclass
class Story:
    stack: LocalStack
    session: requests.Session = field(default_factory=requests.Session)
    company: str | None = None  # the company every API call names (`?company=`); None: none (one company configured)
    summary: dict[str, list[str]] = field(
        default_factory=lambda: {
            "coupled": [],
            "created": [],
            "synchronized": [],
            "refused": [],
            "errors": [],
            "full synchronization": [],
            "documents": [],
            "companies": [],
            "notifications": [],
        }
    )

    def __post_init__(self) -> None:
        self.session.trust_env = False

    # -- plumbing --------------------------------------------------------------------------------------------
    def api(self, method: str, path: str, body: Any = None, expect: int = 200, company: str | None = None) -> Any:
        """A call of the app's API, expecting `expect`. `company` names the company (`?company=`): None the story's
        own (`self.company`), "" none at all (to show the 400 a missing company gets)."""
        named = self.company if company is None else company
        response = self.session.request(
            method,
            f"{self.stack.urls['functions']}/{path}",
            params={"company": named} if named else None,
            json=body,
            timeout=60,
            headers={"x-functions-key": self.stack.function_key},
        )
        if response.status_code != expect:
            raise StoryError(
                f"{method} /api/{path} answered {response.status_code}, expected {expect}: {response.text[:300]}"
            )
        return response.json() if response.content else None

    def dataverse(self, method: str, path: str, body: Any = None) -> Any:
        response = self.session.request(
            method,
            f"{self.stack.urls['dataverse']}{API_DV}/{path}",
            json=body,
            headers={"Authorization": f"Bearer {self._dv_token()}", "If-Match": "*", "Prefer": "return=representation"},
            timeout=30,
        )
        response.raise_for_status()
        return response.json() if response.content else None

    def bc(self, method: str, path: str, body: Any = None, etag: str | None = None) -> Any:
        root = f"{self.stack.app_settings()['BC_BASE_URL']}/api/v2.0/companies({COMPANY_ID})"
        headers = {"Authorization": f"Bearer {self._bc_token()}"}
        if etag:
            headers["If-Match"] = etag
        response = self.session.request(method, f"{root}/{path}", json=body, headers=headers, timeout=30)
        response.raise_for_status()
        return response.json() if response.content else None

    def bc_page(self, method: str, page: str, body: Any = None) -> Any:
        """A page web service of the BC company (ODataV4), for what API v2.0 does not offer (item units)."""
        root = f"{self.stack.app_settings()['BC_BASE_URL']}/ODataV4/Company('{COMPANY_NAME}')"
        headers = {"Authorization": f"Bearer {self._bc_token()}"}
        response = self.session.request(method, f"{root}/{page}", json=body, headers=headers, timeout=30)
        response.raise_for_status()
        return response.json() if response.content else None

    def _dv_token(self) -> str:
        return self._token(self.stack.urls["dataverse"])

    def _bc_token(self) -> str:
        return self._token("https://api.businesscentral.dynamics.com")

    def _token(self, resource: str) -> str:
        settings = self.stack.app_settings()
        return acquire_local_token(
            self.stack.urls["authority"],
            self.stack.ca_file,
            settings["CLIENT_ID"],
            settings["CLIENT_SECRET"],
            resource,
            settings["TENANT_ID"],
        )

    @staticmethod
    def step(title: str) -> None:
        print(f"\n== {title}", flush=True)

    # -- the story (local/demo/__main__.py runs the steps in order) ------------------------------------------
    def refused_coupling(self) -> None:
        self.step("Creating 'Alpine Ski House' in Sales before its salesperson and currency are coupled")
        answer = self.api(
            "POST", "records/CUSTOMER/create-in-dataverse", {"bcId": bc_id("customer", "Alpine Ski House")}, expect=409
        )
        print(f"   refused (409 {answer['error']['code']}): {answer['error']['message']}")
        self.summary["refused"].append(f"Alpine Ski House: {answer['error']['message']}")

    def couple_basics(self) -> None:
        """Salespeople and currencies, then BC's unit-group mode: a Sales unit group per item and resource, and
        each item/resource unit in its own group (all created in Sales where there is no match)."""
        for mapping in ("SALESPEOPLE", "CURRENCY", "UNIT GROUP", "ITEM UOM", "RESOURCE UOM"):
            self.step(f"Match-based coupling for {mapping}")
            report = self.api("POST", f"couplings/{mapping}/match", {})
            print(
                f"   examined {report['examined']}: coupled {len(report['coupled'])}, created "
                f"{len(report['created'])}, unmatched {len(report['unmatched'])}, failed {len(report['failed'])}"
            )
            self.summary["coupled"].append(
                f"{mapping}: {len(report['coupled'])} coupled, {len(report['created'])} created in Sales"
            )

    def match_customers(self) -> None:
        self.step("Match-based coupling for CUSTOMER (by name)")
        report = self.api("POST", "couplings/CUSTOMER/match", {})
        print(
            f"   coupled {len(report['coupled'])} customers to the accounts Sales already had; "
            f"{len(report['unmatched'])} have no match in Sales"
        )
        self.summary["coupled"].append(f"CUSTOMER: {len(report['coupled'])} matched by name")

    def create_both_ways(self) -> None:
        self.step("Creating 'Adatum Corporation' in Sales from BC")
        coupling = self.api(
            "POST",
            "records/CUSTOMER/create-in-dataverse",
            {"bcId": bc_id("customer", "Adatum Corporation")},
            expect=201,
        )
        account = self.dataverse("GET", f"accounts({coupling['dataverseId']})?$select=name,address1_city")
        print(f"   account '{account['name']}' ({account['address1_city']}) created and coupled")
        self.summary["created"].append("Adatum Corporation: account in Sales")
        self.step("Creating a customer in BC from the Sales account 'Fabrikam Residences'")
        lead = self.dataverse(
            "POST",
            "accounts",
            {
                "name": "Fabrikam Residences",
                "address1_city": "Redmond",
                "telephone1": "+1 425 555 0100",
                "customertypecode": 3,
            },
        )
        coupling = self.api(
            "POST", "records/CUSTOMER/create-in-business-central", {"dataverseId": lead["accountid"]}, expect=201
        )
        customer = self.bc("GET", f"customers({coupling['bcId']})")
        print(f"   customer {customer['number']} '{customer['displayName']}' created in BC and coupled")
        self.summary["created"].append(f"Fabrikam Residences: customer {customer['number']} in BC")

    def synchronize_now(self) -> None:
        self.step("Changing Trey Research's phone in BC, then Synchronize Now to Sales")
        trey = self.bc("GET", f"customers({bc_id('customer', 'Trey Research')})")
        self.bc("PATCH", f"customers({trey['id']})", {"phoneNumber": "+1 404 555 0188"}, etag=trey["@odata.etag"])
        report = self.api(
            "POST", "synchronize", {"mapping": "CUSTOMER", "bcId": trey["id"], "direction": "toDataverse"}
        )
        for change in report["changes"]:
            print(f"   {change['dataverseField']}: {change['old']!r} -> {change['new']!r}")
        self.summary["synchronized"].append(f"Trey Research -> Sales: {len(report['changes'])} field(s)")
        self.step("Changing Selangorian's city in Sales, then Synchronize Now to BC")
        coupling = self.api("GET", f"couplings/CUSTOMER?bcId={bc_id('customer', 'Selangorian Ltd.')}")
        self.dataverse("PATCH", f"accounts({coupling['dataverseId']})", {"address1_city": "Leamington Spa"})
        report = self.api(
            "POST",
            "synchronize",
            {"mapping": "CUSTOMER", "dataverseId": coupling["dataverseId"], "direction": "fromDataverse"},
        )
        for change in report["changes"]:
            print(f"   {change['bcField']}: {change['old']!r} -> {change['new']!r}")
        self.summary["synchronized"].append(f"Selangorian Ltd. -> BC: {len(report['changes'])} field(s)")

    def conflict(self) -> None:
        self.step("Changing The Cannon Group in both apps, then synchronizing the mapping")
        self.api("POST", "mappings/CUSTOMER/synchronize")  # bring every coupled pair in step first
        cannon_id = bc_id("customer", "The Cannon Group PLC")
        cannon = self.bc("GET", f"customers({cannon_id})")
        self.bc("PATCH", f"customers({cannon_id})", {"city": "Solihull"}, etag=cannon["@odata.etag"])
        coupling = self.api("GET", f"couplings/CUSTOMER?bcId={cannon_id}")
        self.dataverse("PATCH", f"accounts({coupling['dataverseId']})", {"address1_city": "Redditch"})
        job = self.api("POST", "mappings/CUSTOMER/synchronize")
        print(f"   job {job['jobId']}: {job['counters']}")
        errors = self.api("GET", "sync-errors?mapping=CUSTOMER")["value"]
        conflicts = [e for e in errors if e["code"] == "changedInBothApps"]
        if not conflicts:
            raise StoryError("the conflict was not reported")
        print(f"   reported, nothing overwritten: {conflicts[0]['message']}")
        self.summary["errors"].append(f"The Cannon Group PLC: {conflicts[0]['code']}")

    def full_sync(self) -> None:
        self.step("Full synchronization of every mapping, fanned out on the sync-jobs queue")
        review = run_full_sync(self.api)
        print(f"\n   review of run {review['runId']}: {review['status']}")
        print("\n".join(review_table(review)))
        if review["status"] not in ("finished", "failed"):
            raise StoryError(f"the full synchronization did not end: {review['status']}")
        failed = [line["mapping"] for line in review["lines"] if line["status"] == "failed"]
        self.summary["full synchronization"].append(
            f"run {review['runId']}: {review['status']}, {len(review['lines'])} lines"
            + (f", failed: {', '.join(failed)}" if failed else "")
        )
        self.summary["full synchronization"].append(contact_names(self.dataverse))
        self.summary["full synchronization"].append(product_states(self.dataverse))
        self.summary["full synchronization"].append(currency_rates(self.dataverse))

    def print_summary(self) -> None:
        print("\n== Summary")
        for title, lines in self.summary.items():
            print(f"   {title}:")
            for line in lines or ["(none)"]:
                print(f"     - {line}")
