"""`make bench`: measure the local platform, then the sync through the whole local stack.

1. The emulators themselves (bulk upsert, paged and delta reads, BC batches), so the sync's figures can be told from
   the emulators' share.
2. A full synchronization each way (`bench/full_sync.py`): records/s, requests and charged units per record on each
   side, the worker's CPU seconds per 1,000 records and its memory over the run. On the stack of the run toward
   Sales, once everything is coupled: the incremental timer with nothing changed, per mapping, and with 1 % of the
   customers changed on either side (`bench/incremental.py`), then Synchronize Now latency
   (`bench/synchronize_now.py`).
3. The projected time of a 100,000-customer initial load and of a 1 % daily change under the real service-protection
   limits, from the charged units measured (`bench/projection.py`).
4. Cold start: importing `function_app` in a fresh interpreter with and without bytecode (`bench/cold_start.py`).
5. Table Storage requests and worker CPU per synchronized record, a full sync toward Sales and a 1,000-record
   incremental run each way, every Table request counted by a proxy (`bench/storage.py`, issue 21); with
   `BENCH_BASELINE=<commit>` the same measurement of that commit first, both printed. `BENCH_STORAGE=0` leaves it out.
6. Two BC companies, one Sales org (issue 22): each company's full synchronization of generated customers toward
   Sales on one stack with `BC_COMPANIES` set, and per company its requests per record (Table, BC, Dataverse), CPU
   and the accounts stamped with it (`bench/companies.py`; `BENCH_COMPANIES_CUSTOMERS` per company, default 2,000 x
   `BENCH_SCALE`, under a minute). `BENCH_COMPANIES=0` leaves it out.
7. Latency (issue 23, `bench/latency.py` `measure_both`): with notifications on, `BENCH_LATENCY_CHANGES` (200)
   changes each way, one a second, and p50/p95/max of the time until the other app shows each, with p95 beyond the
   services' own notification delay (BC 30 s, Dataverse 0.25 s); then the polling figure (notifications off, the
   stack's 5-minute poll, `BENCH_LATENCY_POLLING_CHANGES` (50) each way spread over one poll period). Adds about
   14 minutes (8 + 6, most of it the changes' own spacing, BC's batching and the poll). `BENCH_LATENCY=0` leaves it
   out; `BENCH_LATENCY_MODES=notifications` (or `polling`) runs one mode.
8. Console first paint (issue 24, `bench/console_paint.py`): the Couplings and Sync errors pages loaded in the system
   Chromium, with a small store (`BENCH_CONSOLE_BASELINE`, 100 couplings) and then `BENCH_CONSOLE_COUPLINGS`
   (100,000) couplings of CUSTOMER and `BENCH_CONSOLE_ERRORS` (10,000) sync errors seeded in Table Storage through
   the app's storage layer; per page first contentful paint, the time until the list's first row shows and the list
   call's own time, side by side, and the verdict against the 1 s goal. `BENCH_CONSOLE_LOADS` (5, the first a
   warm-up) loads per page; `BENCH_CONSOLE_COUPLINGS_READY` / `BENCH_CONSOLE_ERRORS_READY` change the selectors that
   say a page is ready. About 2 minutes, most of it the seeding. `BENCH_CONSOLE=0` leaves it out.

Settings: `BENCH_SCALE=0.1` a smaller full sync for a quick look; `BENCH_FULL_SYNC=0` leaves out the full syncs and
what runs on their stack; `BENCH_SYNC_CALLS` (200) Synchronize Now calls; `BENCH_LARGE=1` adds the
100,000-customer run toward Sales (`BENCH_CUSTOMERS` changes the count; about half an hour on two shared cores).
Figures are printed as a table and written to bench/results/latest.json with the machine they came from (the memory
samples over time go to its `series`, not the table).
"""

from __future__ import annotations

import json
import os
import platform
import time
import uuid
from pathlib import Path
from typing import Any

import requests

from bench.cold_start import measure_cold_start
from bench.companies import measure_two_companies
from bench.console_paint import measure_console_paint
from bench.full_sync import measure_full_sync, measure_large
from bench.incremental import measure_incremental
from bench.latency import measure_both as measure_latency
from bench.projection import projections
from bench.storage import side_by_side
from bench.synchronize_now import measure_synchronize_now
from local.emulators.business_central.app import BusinessCentralApp
from local.emulators.business_central.seed import COMPANY_ID
from local.emulators.dataverse.app import DataverseApp
from local.emulators.service import EmulatorService
from local.emulators.web import EmulatorHTTPServer, serve_in_thread
from local.stack.launcher import LocalStack

RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"
ACCOUNTS = 20_000
CHUNK = 1_000


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    return session


def measure_dataverse() -> dict[str, Any]:
    """Token checks are off here (in-process server): the figures are the emulator's own cost."""
    service = EmulatorService(DataverseApp(), None)
    server = EmulatorHTTPServer(("127.0.0.1", 0), service)
    serve_in_thread(server)
    api = f"http://127.0.0.1:{server.server_address[1]}/api/data/v9.2"
    session = _session()
    started = time.perf_counter()
    for start in range(0, ACCOUNTS, CHUNK):
        targets = [
            {
                "@odata.type": "Microsoft.Dynamics.CRM.account",
                "accountid": str(uuid.UUID(int=n + 1)),
                "name": f"Bench {n:06d}",
                "accountnumber": f"B{n:06d}",
            }
            for n in range(start, start + CHUNK)
        ]
        response = session.post(f"{api}/accounts/Microsoft.Dynamics.CRM.UpsertMultiple", json={"Targets": targets})
        response.raise_for_status()
    upsert_seconds = time.perf_counter() - started
    started = time.perf_counter()
    url: str | None = f"{api}/accounts?$select=name,accountnumber"
    read = 0
    while url:
        body = session.get(url, headers={"Prefer": "odata.maxpagesize=5000"}).json()
        read += len(body["value"])
        url = body.get("@odata.nextLink")
    read_seconds = time.perf_counter() - started
    page = session.get(f"{api}/accounts?$select=name", headers={"Prefer": "odata.track-changes"}).json()
    while "@odata.nextLink" in page:  # the first delta returns every row; its last page carries the delta link
        page = session.get(page["@odata.nextLink"]).json()
    link = page["@odata.deltaLink"]
    started = time.perf_counter()
    empty = session.get(link).json()
    delta_ms = (time.perf_counter() - started) * 1000
    who = f"{api}/WhoAmI"
    latencies = []
    for _ in range(201):
        started = time.perf_counter()
        session.get(who).raise_for_status()
        latencies.append((time.perf_counter() - started) * 1000)
    latencies.sort()
    server.shutdown()
    return {
        "dataverse.small_get_p50_ms": round(latencies[100], 2),
        "dataverse.small_get_p95_ms": round(latencies[190], 2),
        "dataverse.upsertMultiple.records_per_s": round(ACCOUNTS / upsert_seconds),
        "dataverse.upsertMultiple.1000_records_ms": round(upsert_seconds / (ACCOUNTS / CHUNK) * 1000, 1),
        "dataverse.paged_read.records_per_s": round(read / read_seconds),
        "dataverse.delta_nothing_changed_ms": round(delta_ms, 1),
        "dataverse.delta_nothing_changed_rows": len(empty["value"]),
    }


def measure_business_central() -> dict[str, Any]:
    """JSON $batch creates (100 per batch, BC's maximum) and paged reads, without token checks."""
    service = EmulatorService(BusinessCentralApp(), None)
    server = EmulatorHTTPServer(("127.0.0.1", 0), service)
    serve_in_thread(server)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    api = f"{base}/tenant/production/api/v2.0"
    session = _session()
    session.post(f"{base}/_admin/seed", json={"profile": "demo"}).raise_for_status()
    customers = 5_000
    started = time.perf_counter()
    for start in range(0, customers, 100):
        requests_ = [
            {
                "id": str(n),
                "method": "POST",
                "url": f"companies({COMPANY_ID})/customers",
                "headers": {"Content-Type": "application/json"},
                "body": {"id": str(uuid.UUID(int=n + 1)), "displayName": f"Bench {n:06d}"},
            }
            for n in range(start, start + 100)
        ]
        response = session.post(f"{api}/$batch", json={"requests": requests_})
        response.raise_for_status()
    batch_seconds = time.perf_counter() - started
    started = time.perf_counter()
    url: str | None = f"{api}/companies({COMPANY_ID})/customers?$select=number,displayName"
    read = 0
    while url:
        body = session.get(url, headers={"Prefer": "odata.maxpagesize=1000"}).json()
        read += len(body["value"])
        url = body.get("@odata.nextLink")
    read_seconds = time.perf_counter() - started
    server.shutdown()
    return {
        "bc.batch_create.records_per_s": round(customers / batch_seconds),
        "bc.batch_of_100_ms": round(batch_seconds / (customers / 100) * 1000, 1),
        "bc.paged_read.records_per_s": round(read / read_seconds),
    }


def after_full_sync(stack: LocalStack) -> dict[str, Any]:
    """On the stack of the full sync toward Sales (everything coupled): incremental runs, then Synchronize Now."""
    customers = int(10_000 * float(os.environ.get("BENCH_SCALE", "1")))
    figures = measure_incremental(stack, changed=min(customers, 1000))
    figures.update(measure_synchronize_now(stack, int(os.environ.get("BENCH_SYNC_CALLS", "200"))))
    return figures


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
    }
    for path, key, field in (("/proc/cpuinfo", "cpu", "model name"), ("/proc/meminfo", "memory", "MemTotal")):
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except OSError:
            continue
        info[key] = next((line.split(":", 1)[1].strip() for line in lines if line.startswith(field)), None)
    info["load_average_at_start"] = os.getloadavg()
    info["note"] = "cores shared with other test runs: times are upper bounds, records/s lower bounds"
    return info


def _cell(value: Any) -> str:
    if isinstance(value, dict):
        return " ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "-"
    return str(value)


def main() -> None:
    about = machine()
    figures = measure_dataverse()
    figures.update(measure_business_central())
    if os.environ.get("BENCH_FULL_SYNC", "1") != "0":  # the full sync through the whole stack takes minutes
        figures.update(measure_full_sync(float(os.environ.get("BENCH_SCALE", "1")), after_full_sync))
    if os.environ.get("BENCH_LARGE") == "1":
        figures.update(measure_large(int(os.environ.get("BENCH_CUSTOMERS", "100000"))))
    figures.update(projections(figures))
    figures.update(measure_cold_start())
    if os.environ.get("BENCH_STORAGE", "1") != "0":
        figures.update(side_by_side(os.environ.get("BENCH_BASELINE")))
    if os.environ.get("BENCH_COMPANIES", "1") != "0":
        figures.update(measure_two_companies())
    if os.environ.get("BENCH_LATENCY", "1") != "0":  # notifications on, then the poll (issue 23)
        figures.update(measure_latency())
    if os.environ.get("BENCH_CONSOLE", "1") != "0":  # the console's pages with 100,000 couplings (issue 24)
        figures.update(measure_console_paint())
    about["load_average_at_end"] = os.getloadavg()
    series = {k.removesuffix(".rss_series"): figures.pop(k) for k in list(figures) if k.endswith(".rss_series")}
    width = max(len(k) for k in figures)
    print(f"{'figure'.ljust(width)}  value")
    for name, value in figures.items():
        print(f"{name.ljust(width)}  {_cell(value)}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    columns = ["seconds", "records done", "worker RSS MB"]
    results = {"machine": about, "figures": figures, "series_columns": columns, "series": series}
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
