"""`make bench` (full sync): a full synchronization of generated data, each way, through the local stack as it runs
in production: the API starts it, the chunks travel through the local broker to the queue trigger in the Functions
host, the worker talks to the emulators over HTTP with tokens, couplings go to Azurite.

Figures per direction: records per second, HTTP requests and charged service-protection units per record on each
side, and the peak resident memory of the worker process (the Functions host), which must not grow with the number
of records. Targets (issue 7): < 0.02 charged Dataverse units and < 0.02 BC requests per record when creating in
Dataverse.

Also per direction: the worker's CPU seconds per 1,000 records (user + system time of the host process, from
/proc/<pid>/stat: the local host runs the worker, its HTTP server and the AMQP broker in one process, so this is an
upper bound of the worker's own) and its resident memory sampled every second with the records done so far
(`rss_series`), read at 10 %, 50 % and 90 % of the run's time. `after` runs on the still-running stack once the full
sync has finished (the incremental and Synchronize Now benchmarks use it). `BENCH_LARGE=1` adds the 100,000-customer
run toward Sales (`measure_large`; about half an hour on two shared cores).

The mappings each direction runs are derived from the catalog: those that carry the seeded entity sets that way,
with what they depend on (`shared.mappings.carrying`, `run_list`), so a mapping added as a dependency is run too.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from bench.probe import session
from local.stack.launcher import LocalStack, quiet_timers
from shared.mappings import carrying, run_list

TO_SALES = {"customers": 10_000, "contacts": 10_000, "items": 2_000}
TO_BC = {"accounts": 10_000, "contacts": 10_000}
TO_SALES_MAPPINGS = list(run_list(*carrying(bc_sets=TO_SALES)))  # SALESPEOPLE ... CUSTOMER, CONTACT, ITEM-PRODUCT
TO_BC_MAPPINGS = list(run_list(*carrying(dataverse_sets=TO_BC)))  # SALESPEOPLE ... CUSTOMER, CONTACT


def _status_mb(pid: int, field: str) -> float:
    """A memory line of /proc/<pid>/status in MB: VmHWM (the most resident memory it ever had) or VmRSS (now)."""
    for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines():
        if line.startswith(f"{field}:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _peak_rss_mb(pid: int) -> float:
    return _status_mb(pid, "VmHWM")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process (fields 14 and 15 of /proc/<pid>/stat, after the command name)."""
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _done(review: dict[str, Any]) -> int:
    """Records finished so far (a created record also counts as coupled: counted once here)."""
    counters = ("inserted", "modified", "unchanged", "failed")
    return sum(line["counters"].get(k, 0) for line in review["lines"] for k in counters)


def at_fractions(series: list[list[float]], fractions: tuple[float, ...] = (0.1, 0.5, 0.9)) -> list[list[float]]:
    """The samples ([seconds, records done, RSS MB]) nearest to each fraction of the run's time."""
    if not series:
        return []
    end = series[-1][0]
    return [min(series, key=lambda sample: abs(sample[0] - f * end)) for f in fractions]


AfterSync = Callable[[LocalStack], dict[str, Any]]


def _stats(admin: requests.Session, url: str) -> dict[str, Any]:
    stats: dict[str, Any] = admin.get(f"{url}/_admin/stats", timeout=60).json()
    return stats


def run_direction(
    name: str,
    bc_counts: dict[str, int],
    dv_counts: dict[str, int],
    mappings: list[str],
    after: AfterSync | None = None,
) -> dict[str, Any]:
    os.environ.update(quiet_timers())  # measure the full sync alone: the incremental timer would fire in a long run
    with tempfile.TemporaryDirectory() as certs:
        stack = LocalStack.on_free_ports(cert_dir=Path(certs))
        stack.start()
        try:
            admin = session()
            for side, counts in (("business_central", bc_counts), ("dataverse", dv_counts)):
                body = {"profile": "bench", "counts": counts}  # no counts: an empty company / organization
                admin.post(f"{stack.urls[side]}/_admin/seed", json=body, timeout=600).raise_for_status()
                admin.delete(f"{stack.urls[side]}/_admin/stats", timeout=60)
            api = session(stack.function_key)
            pid = next(child for child in stack.children if child.name == "functions").process.pid
            cpu_before, series = cpu_seconds(pid), []
            started = time.perf_counter()
            review = api.post(f"{stack.urls['functions']}/full-sync", json={"mappings": mappings}, timeout=600).json()
            url = f"{stack.urls['functions']}/full-sync/{review['runId']}"
            while review["status"] not in ("finished", "failed"):
                time.sleep(1)
                review = api.get(url, timeout=60).json()
                elapsed = round(time.perf_counter() - started, 1)
                series.append([elapsed, _done(review), _status_mb(pid, "VmRSS")])
            seconds = time.perf_counter() - started
            cpu = cpu_seconds(pid) - cpu_before
            peak = _peak_rss_mb(pid)
            bc, dv = _stats(admin, stack.urls["business_central"]), _stats(admin, stack.urls["dataverse"])
            extra = after(stack) if after is not None and review["status"] == "finished" else {}
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
        f"{name}.worker_rss_mb_at_10_50_90pct": [sample[2] for sample in at_fractions(series)],
        f"{name}.progress_pct_at_10_50_90pct": [
            round(100 * sample[1] / max(series[-1][1], 1)) for sample in at_fractions(series)
        ],
        f"{name}.worker_cpu_s_per_1000_records": round(cpu / per * 1000, 2),
        f"{name}.records_touched": records,
        f"{name}.counters": {
            k: sum(line["counters"][k] for line in review["lines"]) for k in review["lines"][0]["counters"]
        },
        f"{name}.rss_series": series,  # one sample a second, in the JSON's `series`, not the table
        **extra,
    }


def measure_full_sync(scale: float = 1.0, after_to_sales: AfterSync | None = None) -> dict[str, Any]:
    """`scale` < 1 runs a smaller copy (BENCH_SCALE=0.1 for a quick look); memory is compared across scales.
    `after_to_sales` runs on the stack of the run toward Sales once it has finished (everything coupled)."""
    to_sales = {k: max(1, int(v * scale)) for k, v in TO_SALES.items()}
    to_bc = {k: max(1, int(v * scale)) for k, v in TO_BC.items()}
    figures = run_direction("full_sync.to_sales", to_sales, {}, TO_SALES_MAPPINGS, after_to_sales)
    figures.update(run_direction("full_sync.to_bc", {}, to_bc, TO_BC_MAPPINGS))
    return figures


def measure_large(customers: int = 100_000) -> dict[str, Any]:
    """The large run: `customers` BC customers to Sales (BENCH_LARGE=1; BENCH_CUSTOMERS changes the count). Memory
    must stay flat in the record count: compare its RSS at 10/50/90 % and its peak with the 10,000-record runs."""
    return run_direction(f"full_sync.to_sales_{customers // 1000}k", {"customers": customers}, {}, TO_SALES_MAPPINGS)


if __name__ == "__main__":
    for key, value in measure_full_sync(float(os.environ.get("BENCH_SCALE", "1"))).items():
        print(f"{key:<45} {value}")
