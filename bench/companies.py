"""`make bench` (two companies, issue 22): a full synchronization toward Sales of two BC companies served by one
deployment, against one Dataverse org, through the whole local stack, and what each company's records cost.

The stack runs with `BC_COMPANIES` listing the demo company `CRONUS USA, Inc.` (the primary, key "", today's tables)
and `Fabrikam, Inc.` (key `fab`: its tables are `fab` + the table name), both in environment `production` of the BC
emulator's `companies` seed; each gets `BENCH_COMPANIES_CUSTOMERS` generated customers (default 2,000 each, scaled by
`BENCH_SCALE`) created through BC's API (`$batch`, 100 a batch) on top of its seeded ones. The Sales org starts empty,
so every account is created, stamped with its company's `bcbi_company` row (the company view of the Dataverse client:
`connectors/dataverse/company_scope.py`).

The companies' full synchronizations (`POST /api/full-sync?company=...`, the mappings that carry customers with what
they depend on) run one after the other, so each company's requests are told apart: between two runs the emulators'
request counts and the Table proxy (`bench/table_counter.py`) are reset. Per company: records synchronized, seconds,
Table requests per record (the bench's own polls of the review left out), BC and Dataverse requests and charged
Dataverse units per record, the worker's CPU seconds per 1,000 records, and the accounts Sales holds stamped with the
company. Figures only: nothing here asserts a time.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import requests

from bench.full_sync import cpu_seconds
from bench.probe import bc_api, dataverse_api, session
from bench.storage import _records
from bench.table_counter import TableCounter
from local.emulators.business_central.seed import (
    COMPANY_ID,
    COMPANY_NAME,
    FABRIKAM_ID,
    FABRIKAM_NAME,
    PRODUCTION,
    SALESPEOPLE,
)
from local.stack.azurite import connection_string
from local.stack.launcher import LocalStack, quiet_timers
from shared.mappings import carrying, run_list

CUSTOMERS = 2_000  # per company at BENCH_SCALE=1: under a minute in all (BC's 6,000 requests / 5 min hold the creates)
BATCH = 100  # BC's $batch maximum
MAPPINGS = list(run_list(*carrying(bc_sets={"customers"})))  # SALESPEOPLE ... CUSTOMER
# (figure name, BC_COMPANIES entry, how the API's `company` names it, BC company id)
COMPANIES = (
    ("primary", {"environment": PRODUCTION, "company": COMPANY_NAME}, f"{PRODUCTION}/{COMPANY_NAME}", COMPANY_ID),
    ("fab", {"environment": PRODUCTION, "company": FABRIKAM_NAME, "key": "fab"}, "fab", FABRIKAM_ID),
)
PREFIX = "full_sync.two_companies"


def customers_per_company(scale: float | None = None) -> int:
    """`BENCH_COMPANIES_CUSTOMERS`, else 2,000 x `BENCH_SCALE` (at least 1)."""
    configured = os.environ.get("BENCH_COMPANIES_CUSTOMERS")
    if configured:
        return max(1, int(configured))
    if scale is None:
        scale = float(os.environ.get("BENCH_SCALE", "1"))
    return max(1, int(CUSTOMERS * scale))


def create_customers(stack: LocalStack, company_id: str, count: int, tag: str) -> None:
    """`count` customers in the BC company, through BC's API in `$batch`es of 100."""
    http, root = bc_api(stack)
    for start in range(0, count, BATCH):
        batch = [
            {
                "id": str(n),
                "method": "POST",
                "url": f"companies({company_id})/customers",
                "headers": {"Content-Type": "application/json"},
                "body": {"displayName": f"Bench {tag} customer {n:06d}", "city": "Seattle"},
            }
            for n in range(start, min(start + BATCH, count))
        ]
        answer = http.post(f"{root}/$batch", json={"requests": batch}, timeout=120)
        answer.raise_for_status()
        failed = [r for r in answer.json()["responses"] if int(r["status"]) >= 400]
        if failed:
            raise RuntimeError(f"creating bench customers in {tag} failed: {failed[:2]}")


def add_sales_users(stack: LocalStack) -> None:
    """The Sales users of the seeded salespeople (by e-mail: what SALESPEOPLE couples on), so the seeded customers'
    owners resolve in the otherwise empty org."""
    http, api = dataverse_api(stack)
    for _, name, email in SALESPEOPLE:
        first, _, last = name.partition(" ")
        user = {
            "firstname": first,
            "lastname": last,
            "internalemailaddress": email,
            "domainname": email,
            "islicensed": True,  # SALESPEOPLE's filter: licensed, enabled, not an integration user (as BC's)
            "isdisabled": False,
            "isintegrationuser": False,
        }
        http.post(f"{api}/systemusers", json=user, timeout=60).raise_for_status()


def stamped_accounts(stack: LocalStack) -> dict[str, int]:
    """Accounts in Sales by the BC company id their `bcbi_companyid` stands for ("" for none)."""
    http, api = dataverse_api(stack)
    rows = http.get(f"{api}/bcbi_companies?$select=bcbi_companyid,bcbi_externalid", timeout=60).json()["value"]
    company_of = {str(row["bcbi_companyid"]): str(row["bcbi_externalid"]).lower() for row in rows}
    counts: dict[str, int] = {}
    url: str | None = f"{api}/accounts?$select=_bcbi_companyid_value"
    while url:
        page = http.get(url, headers={"Prefer": "odata.maxpagesize=5000"}, timeout=120).json()
        for row in page["value"]:
            stamp = row.get("_bcbi_companyid_value")
            company = company_of.get(str(stamp), str(stamp)) if stamp else ""
            counts[company] = counts.get(company, 0) + 1
        url = page.get("@odata.nextLink")
    return counts


def _stats(admin: requests.Session, stack: LocalStack, side: str) -> dict[str, Any]:
    stats: dict[str, Any] = admin.get(f"{stack.urls[side]}/_admin/stats", timeout=60).json()
    return stats


def failed_by_code(review: dict[str, Any]) -> dict[str, int]:
    """The record errors the review lists, by code (none expected: a failure is shown, not hidden)."""
    codes: dict[str, int] = {}
    for line in review["lines"]:
        for entry in line.get("errors", []):
            codes[entry["code"]] = codes.get(entry["code"], 0) + 1
    return codes


def full_sync_of(
    stack: LocalStack, counter: TableCounter, pid: int, name: str, company: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """One company's full synchronization from reset counters to its end; its figures and its review."""
    admin, api = session(), session(stack.function_key)
    for side in ("business_central", "dataverse"):
        admin.delete(f"{stack.urls[side]}/_admin/stats", timeout=60).raise_for_status()
    counter.reset()
    cpu, started = cpu_seconds(pid), time.perf_counter()
    params = {"company": company}
    url = f"{stack.urls['functions']}/full-sync"
    answer = api.post(url, params=params, json={"mappings": MAPPINGS}, timeout=600)
    answer.raise_for_status()
    review = answer.json()
    polls = 0
    while review["status"] not in ("finished", "failed"):
        time.sleep(1)
        review = api.get(f"{url}/{review['runId']}", params=params, timeout=60).json()
        polls += 1
    seconds, cpu = time.perf_counter() - started, cpu_seconds(pid) - cpu
    bc, dv = _stats(admin, stack, "business_central"), _stats(admin, stack, "dataverse")
    during = counter.read()
    counter.reset()  # what one poll of the review costs in Table requests: the bench's, not the sync's
    api.get(f"{url}/{review['runId']}", params=params, timeout=60).raise_for_status()
    table_requests = during.requests - counter.read().requests * polls
    totals: dict[str, int] = {}
    for line in review["lines"]:
        for key, value in line["counters"].items():
            totals[key] = totals.get(key, 0) + int(value)
    if os.environ.get("BENCH_DETAIL"):
        for line in review["lines"]:
            print(name, line["mapping"], line["counters"], line.get("errors", [])[:3], file=sys.stderr)
    records, inserted = _records(totals), totals.get("inserted", 0)
    per, per_inserted = max(records, 1), max(inserted, 1)
    figures = {
        f"{PREFIX}.{name}.status": review["status"],
        f"{PREFIX}.{name}.records": records,
        f"{PREFIX}.{name}.records_inserted": inserted,
        f"{PREFIX}.{name}.records_failed": totals.get("failed", 0),
        f"{PREFIX}.{name}.failed_by_code": failed_by_code(review),
        f"{PREFIX}.{name}.seconds": round(seconds, 1),
        f"{PREFIX}.{name}.table_requests_per_record": round(table_requests / per, 4),
        f"{PREFIX}.{name}.bc_requests_per_record": round(bc["requests"] / per_inserted, 4),
        f"{PREFIX}.{name}.dataverse_requests_per_record": round(dv["requests"] / per_inserted, 4),
        f"{PREFIX}.{name}.dataverse_charged_per_record": round(dv["chargedUnits"] / per_inserted, 4),
        f"{PREFIX}.{name}.worker_cpu_s_per_1000_records": round(cpu / per * 1000, 2),
    }
    return figures, review


def measure_two_companies(customers: int | None = None) -> dict[str, Any]:
    """Both companies' full synchronizations toward Sales on one stack (see the module docstring)."""
    count = customers if customers is not None else customers_per_company()
    figures: dict[str, Any] = {f"{PREFIX}.customers_generated_per_company": count}
    with tempfile.TemporaryDirectory() as certs:
        stack = LocalStack.on_free_ports(cert_dir=Path(certs))
        stack.companies = [dict(entry) for _, entry, _, _ in COMPANIES]
        stack.quiet = not os.environ.get("BENCH_LOGS")
        counter = TableCounter(stack.ports["azurite"]).start()
        stack.host_env["AzureWebJobsStorage"] = connection_string("127.0.0.1", counter.port)
        stack.host_env.update(quiet_timers())  # the full syncs alone: no timer run in between (this stack only)
        stack.start()
        try:
            admin = session()
            seeds = (("business_central", {"profile": "companies"}), ("dataverse", {"profile": "bench", "counts": {}}))
            for side, body in seeds:  # two BC companies (and a sandbox one, not served); an empty Sales org
                admin.post(f"{stack.urls[side]}/_admin/seed", json=body, timeout=600).raise_for_status()
            add_sales_users(stack)
            tag = uuid.uuid4().hex[:6]
            for name, _, _, company_id in COMPANIES:
                create_customers(stack, company_id, count, f"{name}-{tag}")
            pid = next(child for child in stack.children if child.name == "functions").process.pid
            for name, _, company, _ in COMPANIES:
                result, _review = full_sync_of(stack, counter, pid, name, company)
                figures.update(result)
            stamped = stamped_accounts(stack)
            for name, _, _, company_id in COMPANIES:
                figures[f"{PREFIX}.{name}.accounts_stamped"] = stamped.get(company_id.lower(), 0)
            figures[f"{PREFIX}.accounts_unstamped"] = stamped.get("", 0)
        finally:
            stack.stop()
            counter.stop()
    return figures


if __name__ == "__main__":
    for key, value in measure_two_companies().items():
        print(f"{key:<60} {value}")
