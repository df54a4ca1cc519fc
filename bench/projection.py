"""`make bench` (projection): how long a 100,000-customer initial load and a 1 % daily change would take under the
real service-protection limits, computed from the charged units the emulators counted per record.

Limits (docs: /work/shared/design/reference/api-facts.md, sections A11 and B10):

- Dataverse: 6,000 requests per 5-minute sliding window per user (application users included), and 20 minutes
  (1,200 s) of combined execution time per window [PAD api-limits.md]; a bulk message (UpsertMultiple, ...) counts as
  one request [B12];
- Business Central: 6,000 OData requests per 5-minute sliding window per principal, 5 requests processed at once
  (the rest queue) [BCD operational-limits-online.md]; every operation inside a `$batch` counts [A10].

For N records, with u_dv and u_bc the charged units per record, r_bc the HTTP requests per record to BC, F the
fixed units of one run (the reads of a tick), W = 300 s, L = 6,000 units per window:

    U_side        = F_side + N * u_side                            units charged on one side
    T_rate(side)  = U_side * W / L          = U_side / 20 s        sustained rate (the window's budget already used)
    T_burst(side) = max(0, U_side - L) * W / L                     a fresh window: the first 6,000 go at once
    T_conc(BC)    = N * r_bc * latency_bc / 5                      BC's 5 concurrent requests
    T_exec(DV)    = U_dv * e_dv * W / 1,200 s = U_dv * e_dv / 4    Dataverse's execution-time limit
    T             = max(T_rate(DV), T_rate(BC), T_conc(BC), T_exec(DV))     the slower side bounds the run

T_conc and T_exec depend on the real services' latency, which the emulators (about a millisecond) do not have:
T_conc is given at the emulators' measured latency, with the break-even latency above which it overtakes BC's rate
bound (latency* = 5 * W / L * u_bc / r_bc = 0.25 s * u_bc / r_bc); T_exec overtakes Dataverse's rate bound only if a
request executes longer than 1,200 s / 6,000 = 0.2 s on average, and only with more than 4 requests in flight (one
worker instance runs up to `maxConcurrentCalls` = 8 chunks at once). `local_s` is the time this machine's own
throughput (records/s measured here, two shared cores) would take, for comparison.
"""

from __future__ import annotations

from typing import Any

WINDOW_S = 300.0
DATAVERSE_REQUESTS_PER_WINDOW = 6_000  # api-facts B10
DATAVERSE_EXECUTION_S_PER_WINDOW = 1_200.0  # api-facts B10: 20 min per 5 min
BC_REQUESTS_PER_WINDOW = 6_000  # api-facts A11
BC_CONCURRENT = 5  # api-facts A11
INITIAL_LOAD = 100_000
DAILY_CHANGE = 1_000  # 1 % of 100,000 customers


def rate_seconds(units: float, per_window: int) -> float:
    return units * WINDOW_S / per_window


def burst_seconds(units: float, per_window: int) -> float:
    return max(0.0, units - per_window) * WINDOW_S / per_window


def project(
    records: int,
    dv_units_per_record: float,
    bc_units_per_record: float,
    bc_requests_per_record: float,
    bc_latency_s: float,
    fixed_dv_units: float = 0.0,
    fixed_bc_units: float = 0.0,
    records_per_s: float | None = None,
) -> dict[str, Any]:
    """The projected time of `records` records (see the module's docstring for the formula)."""
    dv_units = fixed_dv_units + records * dv_units_per_record
    bc_units = fixed_bc_units + records * bc_units_per_record
    bounds = {
        "dataverse_rate": rate_seconds(dv_units, DATAVERSE_REQUESTS_PER_WINDOW),
        "bc_rate": rate_seconds(bc_units, BC_REQUESTS_PER_WINDOW),
        "bc_concurrency": records * bc_requests_per_record * bc_latency_s / BC_CONCURRENT,
    }
    bounded_by = max(bounds, key=lambda k: bounds[k])
    burst = max(
        burst_seconds(dv_units, DATAVERSE_REQUESTS_PER_WINDOW),
        burst_seconds(bc_units, BC_REQUESTS_PER_WINDOW),
        bounds["bc_concurrency"],
    )
    break_even = 0.25 * bc_units_per_record / bc_requests_per_record if bc_requests_per_record else None
    figures: dict[str, Any] = {
        "records": records,
        "dataverse_units": round(dv_units),
        "bc_units": round(bc_units),
        **{f"{k}_s": round(v, 1) for k, v in bounds.items()},
        "bound_s": round(bounds[bounded_by], 1),
        "bound_min": round(bounds[bounded_by] / 60, 1),
        "bounded_by": bounded_by,
        "bound_with_fresh_window_s": round(burst, 1),
        "bc_concurrency_break_even_latency_s": round(break_even, 2) if break_even is not None else None,
    }
    if records_per_s:
        figures["local_s"] = round(records / records_per_s, 1)
    return figures


def _flat(prefix: str, values: dict[str, Any]) -> dict[str, Any]:
    return {f"{prefix}.{k}": v for k, v in values.items()}


def projections(figures: dict[str, Any]) -> dict[str, Any]:
    """Every projection the measured `figures` allow (a direction not measured is left out)."""
    page_s = 1000 / figures["bc.paged_read.records_per_s"] if figures.get("bc.paged_read.records_per_s") else 0.0
    batch_s = figures.get("bc.batch_of_100_ms", 0.0) / 1000
    out: dict[str, Any] = {
        "projection.bc_latency_read_page_s": round(page_s, 4),
        "projection.bc_latency_batch_of_100_s": round(batch_s, 4),
        "projection.dataverse_exec_break_even_s_per_request": DATAVERSE_EXECUTION_S_PER_WINDOW
        / DATAVERSE_REQUESTS_PER_WINDOW,
    }
    large = next((k.removesuffix(".status") for k in figures if k.startswith("full_sync.to_sales_")), None)
    loads = (("to_sales", large or "full_sync.to_sales", page_s), ("to_bc", "full_sync.to_bc", batch_s))
    for direction, source, latency in loads:
        if f"{source}.dataverse_charged_per_record" not in figures:
            continue
        out[f"projection.initial_100k.{direction}.measured_in"] = source
        out.update(_flat(f"projection.initial_100k.{direction}", project(
            INITIAL_LOAD, figures[f"{source}.dataverse_charged_per_record"], figures[f"{source}.bc_charged_per_record"],
            figures[f"{source}.bc_requests_per_record"], latency, records_per_s=figures.get(f"{source}.records_per_s"),
        )))  # fmt: skip
    tick = "incremental.steady"
    fixed = {
        "fixed_dv_units": figures.get(f"{tick}.dataverse_charged", 0),
        "fixed_bc_units": figures.get(f"{tick}.bc_charged", 0),
    }
    for changed, latency in (("changed_in_bc", page_s), ("changed_in_sales", batch_s)):
        source = f"incremental.{changed}"
        if f"{source}.dataverse_charged_per_record" not in figures:
            continue
        seconds = figures.get(f"{source}.seconds", 0.0)
        rate = figures[f"{source}.records"] / seconds if seconds else None
        out.update(_flat(f"projection.daily_1pct.{changed}", project(
            DAILY_CHANGE, figures[f"{source}.dataverse_charged_per_record"], figures[f"{source}.bc_charged_per_record"],
            figures[f"{source}.bc_requests_per_record"], latency, records_per_s=rate, **fixed,
        )))  # fmt: skip
    return out
