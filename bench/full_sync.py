"""`make bench` (full sync): a full synchronization of generated data, each way, through the local stack as it runs
in production: the API starts it, the chunks travel through the local broker to the queue trigger in the Functions
host, the worker talks to the emulators over HTTP with tokens, couplings go to Azurite.

Figures per direction: records per second, HTTP requests and charged service-protection units per record on each
side, and the peak resident memory of the worker process (the Functions host), which must not grow with the number
of records. Targets (issue 7): < 0.02 charged Dataverse units and < 0.02 BC requests per record when creating in
Dataverse.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from local.stack import LocalStack

TO_SALES = {"customers": 10_000, "contacts": 10_000, "items": 2_000}
TO_BC = {"accounts": 10_000, "contacts": 10_000}
TO_SALES_MAPPINGS = ["SALESPEOPLE", "CURRENCY", "UNIT GROUP", "ITEM UOM", "CUSTOMER", "CONTACT", "ITEM-PRODUCT"]
TO_BC_MAPPINGS = ["SALESPEOPLE", "CURRENCY", "CUSTOMER", "CONTACT"]


def _session(key: str | None = None) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    if key:
        session.headers["x-functions-key"] = key
    return session


def _peak_rss_mb(pid: int) -> float:
    """VmHWM of the process (Linux): the most resident memory it ever had."""
    for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _stats(admin: requests.Session, url: str) -> dict[str, Any]:
    stats: dict[str, Any] = admin.get(f"{url}/_admin/stats", timeout=60).json()
    return stats


QUIET_SCHEDULE = "0 0 0 1 1 *"  # the incremental timer would fire during a long run (every 5 minutes by default)
TIMERS = ("SYNC_SCHEDULE", "ITEM_AVAILABILITY_SCHEDULE", "SALES_DOCUMENTS_SCHEDULE", "ORDER_SYNC_SCHEDULE",
          "INVOICE_SYNC_SCHEDULE")  # fmt: skip


def run_direction(
    name: str, bc_counts: dict[str, int], dv_counts: dict[str, int], mappings: list[str]
) -> dict[str, Any]:
    for timer in TIMERS:  # measure the full sync alone (see the figures' notes)
        os.environ[timer] = QUIET_SCHEDULE
    with tempfile.TemporaryDirectory() as certs:
        stack = LocalStack.on_free_ports(cert_dir=Path(certs))
        stack.start()
        try:
            admin = _session()
            for side, counts in (("business_central", bc_counts), ("dataverse", dv_counts)):
                body = {"profile": "bench", "counts": counts}  # no counts: an empty company / organization
                admin.post(f"{stack.urls[side]}/_admin/seed", json=body, timeout=600).raise_for_status()
                admin.delete(f"{stack.urls[side]}/_admin/stats", timeout=60)
            api = _session(stack.function_key)
            started = time.perf_counter()
            review = api.post(f"{stack.urls['functions']}/full-sync", json={"mappings": mappings}, timeout=600).json()
            url = f"{stack.urls['functions']}/full-sync/{review['runId']}"
            while review["status"] not in ("finished", "failed"):
                time.sleep(1)
                review = api.get(url, timeout=60).json()
            seconds = time.perf_counter() - started
            host = next(child for child in stack.children if child.name == "functions")
            peak = _peak_rss_mb(host.process.pid)
            bc, dv = _stats(admin, stack.urls["business_central"]), _stats(admin, stack.urls["dataverse"])
            if os.environ.get("BENCH_DETAIL"):
                print(name, "BC by entity set:", bc["byEntitySet"], file=sys.stderr)
                print(name, "Dataverse by entity set:", dv["byEntitySet"], file=sys.stderr)
                for line in review["lines"]:
                    print(name, line["mapping"], line["counters"], line.get("errors", [])[:3], file=sys.stderr)
        finally:
            stack.stop()
    records = sum(
        line["counters"][k] for line in review["lines"] for k in ("inserted", "coupled", "modified", "unchanged")
    )
    inserted = sum(line["counters"]["inserted"] for line in review["lines"])
    failed = sum(line["counters"]["failed"] for line in review["lines"])
    per = max(inserted, 1)
    return {
        f"{name}.status": review["status"],
        f"{name}.records_inserted": inserted,
        f"{name}.records_failed": failed,
        f"{name}.seconds": round(seconds, 1),
        f"{name}.records_per_s": round(inserted / seconds, 1),
        f"{name}.bc_requests_per_record": round(bc["requests"] / per, 4),
        f"{name}.bc_charged_per_record": round(bc["chargedUnits"] / per, 4),
        f"{name}.dataverse_requests_per_record": round(dv["requests"] / per, 4),
        f"{name}.dataverse_charged_per_record": round(dv["chargedUnits"] / per, 4),
        f"{name}.worker_peak_rss_mb": peak,
        f"{name}.records_touched": records,
    }


def measure_full_sync(scale: float = 1.0) -> dict[str, Any]:
    """`scale` < 1 runs a smaller copy (BENCH_SCALE=0.1 for a quick look); memory is compared across scales."""
    to_sales = {k: max(1, int(v * scale)) for k, v in TO_SALES.items()}
    to_bc = {k: max(1, int(v * scale)) for k, v in TO_BC.items()}
    figures = run_direction("full_sync.to_sales", to_sales, {}, TO_SALES_MAPPINGS)
    figures.update(run_direction("full_sync.to_bc", {}, to_bc, TO_BC_MAPPINGS))
    return figures


if __name__ == "__main__":
    for key, value in measure_full_sync(float(os.environ.get("BENCH_SCALE", "1"))).items():
        print(f"{key:<45} {value}")
