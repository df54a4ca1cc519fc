"""`make bench` (incremental): what the incremental timer costs once a full sync has coupled everything.

Run on the stack of the full sync toward Sales (`full_sync.run_direction(after=...)`), through the host:

1. the `incremental_sync` timer once right after the full sync (`after_full_sync`: what settles), then once more
   with nothing changed (`nothing_changed`), then every mapping the timer runs (enabled, on `SYNC_SCHEDULE`) one at a
   time through `POST /api/mappings/{name}/synchronize` (the timer's own `run_mapping`), emulator statistics reset in
   between: HTTP requests, charged units and writes per side. Target: at most one read per side per mapping and no
   write; a mapping above it is listed in `...above_target` with the entity sets it asked;
2. the same in the steady state (`steady`), after one edit on each side absorbed by two ticks. The seeded records
   were all modified within a few seconds, more than the 2,000 versions a checkpoint remembers of its overlap window,
   so right after the load each tick reads them again; since couplings record the ETags they synchronized
   (`shared/engine/candidates.py`), those pairs are passed over without a read of the other side, and both
   figures should be the same;
3. `changed` customers (1,000, or all when fewer) edited in BC, the CUSTOMER mapping run, then as many Sales accounts
   edited and the mapping run again: requests and charged units per changed record beyond the steady
   nothing-changed run of that mapping; the 1 % daily change projection (`bench/projection.py`) uses them.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from bench.probe import COMPANY, SHORT, Meter, Usage, bc_api, dataverse_api, run_timer, session
from local.stack.launcher import LocalStack

TIMER = "incremental_sync"
SCHEDULE = "SYNC_SCHEDULE"
CUSTOMER = "CUSTOMER"


def _flat(prefix: str, usage: dict[str, Usage]) -> dict[str, Any]:
    return {f"{prefix}.{SHORT[side]}_{k}": v for side, one in usage.items() for k, v in one.as_dict().items()}


def scheduled_mappings(stack: LocalStack) -> list[str]:
    """The mappings the incremental timer runs, in its order (the catalog's, overrides applied)."""
    answer = session(stack.function_key).get(f"{stack.urls['functions']}/mappings", timeout=60)
    answer.raise_for_status()
    return [m["name"] for m in answer.json()["value"] if m["enabled"] and m.get("schedule") == SCHEDULE]


def run_mapping(stack: LocalStack, name: str) -> dict[str, Any]:
    """The mapping's job; a mapping the engine cannot run (409, e.g. option mappings) gives `{"notRunnable": code}`
    (the timer logs and skips it the same way)."""
    answer = session(stack.function_key).post(f"{stack.urls['functions']}/mappings/{name}/synchronize", timeout=600)
    if answer.status_code == 409:
        return {"notRunnable": answer.json()["error"]["code"], "counters": {}}
    answer.raise_for_status()
    job: dict[str, Any] = answer.json()
    return job


def _timer(stack: LocalStack, meter: Meter, prefix: str) -> dict[str, Any]:
    meter.reset()
    started = time.perf_counter()
    record = run_timer(stack, TIMER)
    figures = {f"{prefix}.seconds": round(time.perf_counter() - started, 2), f"{prefix}.ok": record["ok"]}
    figures.update(_flat(prefix, meter.read()))
    return figures


def per_mapping(stack: LocalStack, meter: Meter) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Requests and writes per side of each scheduled mapping with nothing changed, and those above target."""
    rows: dict[str, dict[str, Any]] = {}
    above: list[str] = []
    for name in scheduled_mappings(stack):
        meter.reset()
        job = run_mapping(stack, name)
        usage = meter.read()
        rows[name] = {f"{SHORT[side]}_{k}": v for side, one in usage.items() for k, v in one.as_dict().items()}
        rows[name]["records_written"] = sum(job["counters"].get(k, 0) for k in ("inserted", "modified", "deleted"))
        rows[name]["records_read_unchanged"] = job["counters"].get("unchanged", 0)
        if "notRunnable" in job:
            rows[name] = {"not_runnable": job["notRunnable"]}
        if any(one.requests > 1 or one.writes for one in usage.values()):
            above.append(name)  # which entity sets it asked, to tell why
            rows[name].update({f"{SHORT[side]}_asked": meter.raw(side)["byEntitySet"] for side in usage})
    return rows, above


def change_in_bc(stack: LocalStack, count: int, city: str) -> int:
    """Set the city of `count` BC customers (JSON $batch, 100 per batch); returns how many were edited."""
    http, api = bc_api(stack)
    ids = [
        row["id"] for row in http.get(f"{api}/{COMPANY}/customers?$select=id&$top={count}", timeout=60).json()["value"]
    ]
    for start in range(0, len(ids), 100):
        batch = [
            {"id": str(n), "method": "PATCH", "url": f"{COMPANY}/customers({cid})",
             "headers": {"Content-Type": "application/json", "If-Match": "*"}, "body": {"city": city}}
            for n, cid in enumerate(ids[start : start + 100])
        ]  # fmt: skip
        answer = http.post(f"{api}/$batch", json={"requests": batch}, timeout=120)
        answer.raise_for_status()
        failed = [r for r in answer.json()["responses"] if r["status"] >= 300]
        if failed:
            raise RuntimeError(f"BC refused the bench's edits: {failed[:2]}")
    return len(ids)


def change_in_sales(stack: LocalStack, count: int, city: str) -> int:
    """Set the city of `count` Sales accounts (one UpdateMultiple); returns how many were edited."""
    http, api = dataverse_api(stack)
    rows = http.get(f"{api}/accounts?$select=accountid&$top={count}", timeout=60).json()["value"]
    targets = [
        {"@odata.type": "Microsoft.Dynamics.CRM.account", "accountid": row["accountid"], "address1_city": city}
        for row in rows
    ]
    http.post(f"{api}/accounts/Microsoft.Dynamics.CRM.UpdateMultiple", json={"Targets": targets}, timeout=120)
    return len(rows)


def changed_run(stack: LocalStack, meter: Meter, prefix: str, edited: int, base: dict[str, int]) -> dict[str, Any]:
    """Run CUSTOMER after `edited` records changed; per changed record beyond the nothing-changed run (`base`)."""
    meter.reset()
    started = time.perf_counter()
    job = run_mapping(stack, CUSTOMER)
    seconds = time.perf_counter() - started
    usage = meter.read()
    if os.environ.get("BENCH_DETAIL"):
        for side in usage:
            print(prefix, side, "by entity set:", meter.raw(side)["byEntitySet"], file=sys.stderr)
    figures: dict[str, Any] = {f"{prefix}.records": edited, f"{prefix}.modified": job["counters"]["modified"],
                               f"{prefix}.seconds": round(seconds, 2)}  # fmt: skip
    for side, one in usage.items():
        for kind, value in (("requests", one.requests), ("charged", one.charged)):
            extra = value - base.get(f"{SHORT[side]}_{kind}", 0)
            figures[f"{prefix}.{SHORT[side]}_{kind}_per_record"] = round(extra / max(edited, 1), 4)
    return figures


def _sweep(stack: LocalStack, meter: Meter, prefix: str) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    rows, above = per_mapping(stack, meter)
    figures: dict[str, Any] = {f"{prefix}.mappings": len(rows)}
    figures.update({f"{prefix}.{name}": row for name, row in rows.items()})
    figures[f"{prefix}.above_target"] = above
    return figures, rows


def measure_incremental(stack: LocalStack, changed: int) -> dict[str, Any]:
    meter = Meter(stack)
    figures = _timer(stack, meter, "incremental.after_full_sync")
    figures.update(_timer(stack, meter, "incremental.nothing_changed"))
    figures.update(_sweep(stack, meter, "incremental.nothing_changed")[0])
    # A live system keeps changing: one edit on each side moves the watermarks past the bulk-loaded records (all
    # modified within seconds, more than a checkpoint remembers: see the module's docstring), then two ticks absorb
    # the edits and the echoes of their writes.
    change_in_bc(stack, 1, "Tacoma")
    change_in_sales(stack, 1, "Spokane")
    for _ in range(2):
        run_timer(stack, TIMER)
    figures.update(_timer(stack, meter, "incremental.steady"))
    sweep, rows = _sweep(stack, meter, "incremental.steady")
    figures.update(sweep)
    base = rows.get(CUSTOMER, {})
    edited = change_in_bc(stack, changed, "Olympia")
    figures.update(changed_run(stack, meter, "incremental.changed_in_bc", edited, base))
    run_mapping(stack, CUSTOMER)  # the echoes of its writes to Sales
    edited = change_in_sales(stack, changed, "Yakima")
    figures.update(changed_run(stack, meter, "incremental.changed_in_sales", edited, base))
    return figures
