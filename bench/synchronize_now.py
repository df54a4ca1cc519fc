"""`make bench` (Synchronize Now): the latency a user waits for after pressing Synchronize Now on a coupled record.

`POST /api/synchronize {"mapping": "CUSTOMER", "bcId": ..., "direction": "toDataverse"}` through the local host,
on a customer the full sync toward Sales coupled: `WARM_UP` calls first (tokens, connections, lookups cached), then
`CALLS` timed calls one after another, from the client's side (HTTP round trip included). Also the requests each
call costs on both sides (emulator statistics over the timed calls).
"""

from __future__ import annotations

import math
import time
from typing import Any

from bench.probe import COMPANY, SHORT, Meter, bc_api, session
from local.stack.launcher import LocalStack

WARM_UP = 20
CALLS = 200


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    return sorted_values[max(0, math.ceil(fraction * len(sorted_values)) - 1)]


def measure_synchronize_now(stack: LocalStack, calls: int = CALLS) -> dict[str, Any]:
    http, api = bc_api(stack)
    bc_id = http.get(f"{api}/{COMPANY}/customers?$select=id&$top=1", timeout=60).json()["value"][0]["id"]
    host = session(stack.function_key)
    url = f"{stack.urls['functions']}/synchronize"
    body = {"mapping": "CUSTOMER", "bcId": bc_id, "direction": "toDataverse"}
    for _ in range(WARM_UP):
        host.post(url, json=body, timeout=60).raise_for_status()
    meter = Meter(stack)
    meter.reset()
    latencies: list[float] = []
    outcomes: dict[str, int] = {}
    for _ in range(calls):
        started = time.perf_counter()
        answer = host.post(url, json=body, timeout=60)
        latencies.append((time.perf_counter() - started) * 1000)
        answer.raise_for_status()
        outcome = answer.json()["outcome"]
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    usage = meter.read()
    latencies.sort()
    figures: dict[str, Any] = {
        "synchronize_now.calls": calls,
        "synchronize_now.p50_ms": round(percentile(latencies, 0.5), 1),
        "synchronize_now.p95_ms": round(percentile(latencies, 0.95), 1),
        "synchronize_now.max_ms": round(latencies[-1], 1),
        "synchronize_now.outcomes": outcomes,
    }
    for side, one in usage.items():
        figures[f"synchronize_now.{SHORT[side]}_requests_per_call"] = round(one.requests / calls, 2)
    return figures
