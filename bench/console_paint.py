"""`make bench` (console first paint, issue 24): do the Couplings and Sync errors pages still show quickly when Table
Storage holds 100,000 couplings of one mapping? The issue's goal: under 1 s to first paint. A benchmark, not a timed
test: it prints figures and a verdict, and asserts nothing about time.

Method. One local stack on free ports, timers quiet (as the browser tests run it: `tests/browser/conftest.py`), and
the system Chromium driven by Playwright. Table Storage (Azurite) is seeded through the app's own storage layer, so
the rows are exactly the app's: couplings of the CUSTOMER mapping with `TableCouplingStore.create_couplings` (a `bc:`
coupling row and a `dv:` index row each, 50 couplings to an entity group transaction, several transactions in
flight at once) and sync errors of CUSTOMER records with `TableSyncErrorStore.save_errors` (100 to a transaction).
The couplings look synchronized (both sides' versions, modified-on, last result, a values hash); their ids are
generated, so no BC customer or Sales account stands behind them: a page that reads the records themselves for a
listing would see them as missing.

Two stores in one run, one after the other on the same stack: a small one (the baseline, `BENCH_CONSOLE_BASELINE`
couplings, default 100, and as many errors at most), then the same store grown to `BENCH_CONSOLE_COUPLINGS`
(default 100,000) couplings and `BENCH_CONSOLE_ERRORS` (default 10,000) errors. For each store and page, the page is
loaded `BENCH_CONSOLE_LOADS` times (default 5; the first is a warm-up and left out), each in a fresh browser context
(no sessionStorage, as an admin opening the console), and read from the page itself:

- first contentful paint: `performance.getEntriesByType('paint')`, from navigation start;
- ready: from navigation start to the animation frame in which the page's ready selector is first laid out and
  visible (the first row of the list's first page), `performance.now()` there;
- the list call: the page's API request found in Resource Timing by a part of its URL (its whole time, and the
  server's share: request sent to first byte), when the page made one.

Each page is a `PageProbe`: route, ready selector, API URL part. The defaults are the paged lists of issue 24
(`table.coupling-list tbody tr` after `GET /api/couplings/CUSTOMER/list`, `table.error-list tbody tr` after
`GET /api/sync-errors`); `BENCH_CONSOLE_COUPLINGS_READY`, `BENCH_CONSOLE_ERRORS_READY`,
`BENCH_CONSOLE_COUPLINGS_API`, `BENCH_CONSOLE_ERRORS_API` (or the command line's options) change them, e.g. to
measure a tree whose pages are different. A ready selector that never shows (within `BENCH_CONSOLE_TIMEOUT` s,
default 60) is counted as a timeout, not a crash, and fails the verdict.

Verdict per page: "under 1 s" when the large store's median first contentful paint and median ready time (warm-up
left out) are both under 1,000 ms, else "over 1 s". The maxima are printed next to them. The cores are shared with
other runs: times are upper bounds.

Run alone: `.venv/bin/python -m bench.console_paint [--couplings N] [--errors N] [--loads N] ...`; in `make bench`
as its console section (`BENCH_CONSOLE=0` leaves it out).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, ConsoleMessage, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from local.stack.azurite import connection_string
from local.stack.launcher import LocalStack, quiet_timers
from shared.domain.coupling import Coupling, SideState, SyncResult
from shared.domain.records import RecordErrorEntry, Side
from shared.storage.couplings import TableCouplingStore
from shared.storage.sync_errors import TableSyncErrorStore
from shared.storage.tables import TableFactory

PREFIX = "console_paint"
MAPPING = "CUSTOMER"
GOAL_MS = 1000.0
COUPLINGS = 100_000
ERRORS = 10_000
BASELINE = 100
LOADS = 5
TIMEOUT_S = 60.0
SEED_CHUNK = 500  # couplings (or errors) handed to one seeding thread at a time
SEED_THREADS = 4  # transactions in flight at once: Azurite answers them one by one, this hides the round trips
VIEWPORT = {"width": 1366, "height": 768}  # as tests/browser/conftest.py
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SEEDED_ON = "2026-01-05T08:00:00.000000Z"
JOB = "bench-console-seed"


@dataclass(frozen=True)
class PageProbe:
    """One console page to measure: its hash route, the selector that says its list is shown, and a part of the
    URL of the API call that fills it (found in Resource Timing)."""

    name: str
    route: str
    ready: str
    api: str


def default_probes() -> list[PageProbe]:
    """The issue's two pages, each overridable from the environment (see the module docstring)."""
    env = os.environ.get
    return [
        PageProbe(
            "couplings",
            f"couplings?mapping={MAPPING}",
            env("BENCH_CONSOLE_COUPLINGS_READY") or "table.coupling-list tbody tr",
            env("BENCH_CONSOLE_COUPLINGS_API") or f"/api/couplings/{MAPPING}/list",
        ),
        PageProbe(
            "errors",
            "errors",
            env("BENCH_CONSOLE_ERRORS_READY") or "table.error-list tbody tr",
            env("BENCH_CONSOLE_ERRORS_API") or "/api/sync-errors",
        ),
    ]


# -- seeding -------------------------------------------------------------------------------------------------------
def bc_id(n: int) -> str:
    """Deterministic and distinct per n (a BC SystemId is a GUID)."""
    return str(uuid.UUID(int=(0xBC << 120) | n))


def dataverse_id(n: int) -> str:
    return str(uuid.UUID(int=(0xD5 << 120) | n))


def synchronized_coupling(n: int) -> Coupling:
    """A coupling as a finished synchronization leaves it: both sides' versions and modified-on, success, a hash."""
    bc = SideState(modified_on=SEEDED_ON, version=f'W/"JzQ0O0Jl{n:08d}Jyc="', last_result=SyncResult.SUCCESS,
                   last_job_id=JOB)  # fmt: skip
    dataverse = SideState(modified_on=SEEDED_ON, version=str(1_000_000 + n), last_result=SyncResult.SUCCESS,
                          last_job_id=JOB)  # fmt: skip
    return Coupling(
        mapping=MAPPING,
        bc_id=bc_id(n),
        dataverse_id=dataverse_id(n),
        bc=bc,
        dataverse=dataverse,
        values_hash=hashlib.sha256(f"bench {n}".encode()).hexdigest(),
        coupled_on=SEEDED_ON,
    )


def record_error(n: int) -> RecordErrorEntry:
    """The last error of coupled customer n, as the sync records it (BC refused the update)."""
    return RecordErrorEntry(
        mapping=MAPPING,
        side=Side.BC,
        record_id=bc_id(n),
        code="bcRejectedUpdate",
        message=f"Business Central refused the update of customer B{n:06d}: Post Code must have a value.",
        count=1 + n % 3,
        first_seen=SEEDED_ON,
        last_seen=SEEDED_ON,
        skipped=n % 3 == 2,
    )


def _in_parallel(numbers: range, write: Callable[[range], int]) -> int:
    """`write` over `numbers` in chunks of `SEED_CHUNK`, `SEED_THREADS` at once; the rows written in all."""
    chunks = [numbers[start : start + SEED_CHUNK] for start in range(0, len(numbers), SEED_CHUNK)]
    with ThreadPoolExecutor(max_workers=SEED_THREADS) as pool:
        return sum(pool.map(write, chunks))


def seed_couplings(tables: TableFactory, numbers: range) -> int:
    """Couplings `numbers` of CUSTOMER through the app's store; every one must be new (a None is a taken id)."""
    store = TableCouplingStore(tables)

    def write(chunk: range) -> int:
        created = store.create_couplings([synchronized_coupling(n) for n in chunk])
        if any(c is None for c in created):
            raise RuntimeError(f"couplings {chunk.start}..{chunk.stop - 1}: some were coupled already")
        return len(created)

    return _in_parallel(numbers, write)


def seed_errors(tables: TableFactory, numbers: range) -> int:
    """Errors of coupled customers `numbers` through the app's store (new entries: created, 100 a transaction)."""
    store = TableSyncErrorStore(tables)

    def write(chunk: range) -> int:
        saved = store.save_errors([record_error(n) for n in chunk])
        if any(e is None for e in saved):
            raise RuntimeError(f"errors {chunk.start}..{chunk.stop - 1}: some existed already")
        return len(saved)

    return _in_parallel(numbers, write)


# -- the browser ---------------------------------------------------------------------------------------------------
READY_JS = """(selector) => {
  const element = document.querySelector(selector);
  if (!element) return false;
  const box = element.getBoundingClientRect();
  const style = window.getComputedStyle(element);
  if (box.width === 0 || box.height === 0 || style.visibility === "hidden") return false;
  return performance.now();
}"""
FCP_JS = """() => {
  const entry = performance.getEntriesByType("paint").find((e) => e.name === "first-contentful-paint");
  return entry ? entry.startTime : false;
}"""
API_JS = """(part) => {
  const entry = performance.getEntriesByType("resource").find((e) => e.name.includes(part));
  if (!entry) return null;
  return { start: entry.startTime, end: entry.responseEnd, total: entry.responseEnd - entry.startTime,
           server: entry.responseStart - entry.requestStart, bytes: entry.encodedBodySize };
}"""


def chromium_path() -> str:
    """`CHROMIUM_PATH`, else `chromium` on the PATH (the system Chromium, as the browser tests use)."""
    found = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium")
    if not found:
        raise RuntimeError("No Chromium: install it (`make setup` does: apt-get install chromium) or set CHROMIUM_PATH")
    return found


@dataclass
class Load:
    """One load of one page (times in ms from navigation start; None: not seen)."""

    fcp: float | None
    ready: float | None
    api: dict[str, float] | None
    console_errors: list[str]


def load_once(browser: Browser, url: str, probe: PageProbe, timeout_s: float) -> Load:
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    try:
        page = context.new_page()
        page.on("console", on_console)
        page.on("pageerror", lambda error: errors.append(f"uncaught: {error}"))
        page.goto(url, wait_until="commit", timeout=timeout_s * 1000)
        ready: float | None
        try:
            handle = page.wait_for_function(READY_JS, arg=probe.ready, polling="raf", timeout=timeout_s * 1000)
            ready = float(handle.json_value())
        except PlaywrightTimeout:
            ready = None
        try:  # painted by now unless the page showed nothing at all
            fcp: float | None = float(page.wait_for_function(FCP_JS, timeout=5000).json_value())
        except PlaywrightTimeout:
            fcp = None
        api = None
        if ready is not None:  # the list's call has ended before its first row shows; its entry may lag a little
            try:
                found = f"() => ({API_JS})({json.dumps(probe.api)}) !== null"
                page.wait_for_function(found, timeout=2000)
                api = page.evaluate(API_JS, probe.api)
            except PlaywrightTimeout:  # the page made no such call (a probe of another tree's page)
                api = None
        return Load(fcp, ready, api, errors)
    except PlaywrightTimeout:
        return Load(None, None, None, errors)
    finally:
        context.close()


def _median(values: Sequence[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def _max(values: Sequence[float]) -> float | None:
    return round(max(values), 1) if values else None


def summarize(loads: Sequence[Load]) -> dict[str, Any]:
    """The loads after the first (the warm-up: the host's first calls, Chromium's caches)."""
    measured = loads[1:] if len(loads) > 1 else loads
    fcp = [x.fcp for x in measured if x.fcp is not None]
    ready = [x.ready for x in measured if x.ready is not None]
    apis = [x.api for x in measured if x.api is not None]
    return {
        "loads_measured": len(measured),
        "fcp_ms_median": _median(fcp),
        "fcp_ms_max": _max(fcp),
        "ready_ms_median": _median(ready),
        "ready_ms_max": _max(ready),
        "ready_timeouts": sum(1 for x in measured if x.ready is None),
        "api_ms_median": _median([a["total"] for a in apis]),
        "api_server_ms_median": _median([a["server"] for a in apis]),
        "api_started_ms_median": _median([a["start"] for a in apis]),
        "api_bytes": int(apis[-1]["bytes"]) if apis else None,
        "console_errors": sum(len(x.console_errors) for x in loads),
    }


def measure_pages(
    browser: Browser, stack: LocalStack, probes: Sequence[PageProbe], loads: int, timeout_s: float
) -> dict[str, dict[str, Any]]:
    base = f"{stack.urls['functions']}/console?code={stack.function_key}#/"
    results: dict[str, dict[str, Any]] = {}
    for probe in probes:
        runs = [load_once(browser, base + probe.route, probe, timeout_s) for _ in range(max(1, loads))]
        results[probe.name] = summarize(runs)
        seen = [e for run in runs for e in run.console_errors]
        if seen:
            print(f"{PREFIX}: {probe.name}: browser console errors, first: {seen[0][:300]}", file=sys.stderr)
    return results


# -- the run -------------------------------------------------------------------------------------------------------
def verdict(summary: dict[str, Any]) -> str:
    fcp, ready = summary["fcp_ms_median"], summary["ready_ms_median"]
    if summary["ready_timeouts"] or fcp is None or ready is None:
        return "over 1 s (the list never showed)"
    worst = max(fcp, ready)
    return f"under 1 s ({worst:.0f} ms)" if worst < GOAL_MS else f"over 1 s ({worst:.0f} ms)"


def measure_on(
    stack: LocalStack,
    couplings: int,
    errors: int,
    *,
    baseline: int = BASELINE,
    loads: int = LOADS,
    probes: Sequence[PageProbe] | None = None,
    timeout_s: float = TIMEOUT_S,
) -> dict[str, Any]:
    """Both stores on a running stack whose app tables are empty: seed the baseline, measure, grow, measure.

    Run in a thread of its own: Playwright's sync API refuses to start where an asyncio loop runs, and in one pytest
    process the browser tests' session-wide Playwright leaves one running in the main thread (the smoke test failed
    after them in `make test`)."""
    with ThreadPoolExecutor(max_workers=1) as own_thread:
        return own_thread.submit(
            _measure_on, stack, couplings, errors, baseline=baseline, loads=loads, probes=probes, timeout_s=timeout_s
        ).result()


def _measure_on(
    stack: LocalStack,
    couplings: int,
    errors: int,
    *,
    baseline: int,
    loads: int,
    probes: Sequence[PageProbe] | None,
    timeout_s: float,
) -> dict[str, Any]:
    probes = list(probes or default_probes())
    tables = TableFactory.from_connection_string(connection_string("127.0.0.1", stack.ports["azurite"]))
    small_couplings, small_errors = min(baseline, couplings), min(baseline, errors)
    figures: dict[str, Any] = {f"{PREFIX}.loads_per_page": loads, f"{PREFIX}.warm_up_loads_left_out": 1}
    for probe in probes:
        figures[f"{PREFIX}.{probe.name}.probe"] = {"route": probe.route, "ready": probe.ready, "api": probe.api}
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        try:
            phases = (("baseline", 0, small_couplings, 0, small_errors), ("large", small_couplings, couplings,
                      small_errors, errors))  # fmt: skip
            for phase, c_from, c_to, e_from, e_to in phases:
                started = time.perf_counter()
                written = seed_couplings(tables, range(c_from, c_to))
                seconds = time.perf_counter() - started
                figures[f"{PREFIX}.{phase}.seed_couplings_seconds"] = round(seconds, 1)
                if written:
                    figures[f"{PREFIX}.{phase}.seed_couplings_per_s"] = round(written / max(seconds, 1e-6))
                started = time.perf_counter()
                seed_errors(tables, range(e_from, e_to))
                figures[f"{PREFIX}.{phase}.seed_errors_seconds"] = round(time.perf_counter() - started, 1)
                figures[f"{PREFIX}.{phase}.couplings"] = c_to
                figures[f"{PREFIX}.{phase}.errors"] = e_to
                for page, summary in measure_pages(browser, stack, probes, loads, timeout_s).items():
                    for key, value in summary.items():
                        figures[f"{PREFIX}.{phase}.{page}.{key}"] = value
                    if phase == "large":
                        figures[f"{PREFIX}.verdict.{page}"] = verdict(summary)
        finally:
            browser.close()
    return figures


def measure_console_paint(
    couplings: int | None = None,
    errors: int | None = None,
    *,
    baseline: int | None = None,
    loads: int | None = None,
    probes: Sequence[PageProbe] | None = None,
) -> dict[str, Any]:
    """`make bench`'s section: a stack of its own, both stores measured, the side-by-side table printed."""
    env = os.environ.get
    couplings = couplings if couplings is not None else int(env("BENCH_CONSOLE_COUPLINGS") or COUPLINGS)
    errors = errors if errors is not None else int(env("BENCH_CONSOLE_ERRORS") or ERRORS)
    baseline = baseline if baseline is not None else int(env("BENCH_CONSOLE_BASELINE") or BASELINE)
    loads = loads if loads is not None else int(env("BENCH_CONSOLE_LOADS") or LOADS)
    timeout_s = float(env("BENCH_CONSOLE_TIMEOUT") or TIMEOUT_S)
    with tempfile.TemporaryDirectory() as certs:
        stack = LocalStack.on_free_ports(cert_dir=Path(certs))
        stack.quiet = not env("BENCH_LOGS")
        stack.host_env.update(quiet_timers())  # no timer run touches the couplings while the pages load
        stack.start()
        try:
            figures = measure_on(
                stack, couplings, errors, baseline=baseline, loads=loads, probes=probes, timeout_s=timeout_s
            )
        finally:
            stack.stop()
    print(side_by_side_table(figures), flush=True)
    return figures


ROWS = (  # (label, figure) of the side-by-side table, per page
    ("first contentful paint, median ms", "fcp_ms_median"),
    ("first contentful paint, max ms", "fcp_ms_max"),
    ("list shown (ready), median ms", "ready_ms_median"),
    ("list shown (ready), max ms", "ready_ms_max"),
    ("ready selector never shown", "ready_timeouts"),
    ("list call, median ms", "api_ms_median"),
    ("list call, server share, median ms", "api_server_ms_median"),
    ("list call started at, median ms", "api_started_ms_median"),
    ("list call body bytes", "api_bytes"),
    ("browser console errors", "console_errors"),
)


def side_by_side_table(figures: dict[str, Any]) -> str:
    """Baseline and large store in two columns, per page, then the seeding times and the verdicts."""
    pages = sorted({k.split(".")[2] for k in figures if k.startswith(f"{PREFIX}.large.") and k.count(".") == 3})
    small, large = figures.get(f"{PREFIX}.baseline.couplings"), figures.get(f"{PREFIX}.large.couplings")
    header = (f"{small} couplings / {figures.get(f'{PREFIX}.baseline.errors')} errors",
              f"{large} couplings / {figures.get(f'{PREFIX}.large.errors')} errors")  # fmt: skip
    label_width = max([len(f"{page}: {label}") for page in pages for label, _ in ROWS] or [0])
    width = max(len(h) for h in header) + 2
    lines = [f"issue 24, console first paint (goal: under {GOAL_MS:.0f} ms)"]
    lines.append(f"{'page: figure'.ljust(label_width)}  {header[0].rjust(width)}  {header[1].rjust(width)}")
    for page in pages:
        for label, key in ROWS:
            cells = [str(figures.get(f"{PREFIX}.{phase}.{page}.{key}", "-")) for phase in ("baseline", "large")]
            lines.append(f"{f'{page}: {label}'.ljust(label_width)}  {cells[0].rjust(width)}  {cells[1].rjust(width)}")
    for phase in ("baseline", "large"):
        seeded = figures.get(f"{PREFIX}.{phase}.seed_couplings_seconds")
        rate = figures.get(f"{PREFIX}.{phase}.seed_couplings_per_s", "-")
        errors_s = figures.get(f"{PREFIX}.{phase}.seed_errors_seconds")
        lines.append(f"seeding ({phase}): couplings {seeded} s ({rate}/s), errors {errors_s} s")
    for page in pages:
        lines.append(f"verdict, {page}: {figures.get(f'{PREFIX}.verdict.{page}')}")
    return "\n".join(lines)


def main() -> None:
    defaults = {p.name: p for p in default_probes()}
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--couplings", type=int, help=f"couplings of the large store (default {COUPLINGS})")
    parser.add_argument("--errors", type=int, help=f"sync errors of the large store (default {ERRORS})")
    parser.add_argument("--baseline", type=int, help=f"couplings (and at most errors) of the small store ({BASELINE})")
    parser.add_argument("--loads", type=int, help=f"loads per page and store, the first a warm-up ({LOADS})")
    for name, probe in defaults.items():
        parser.add_argument(f"--{name}-ready", default=probe.ready, help=f"ready selector ({probe.ready})")
        parser.add_argument(f"--{name}-api", default=probe.api, help=f"API URL part ({probe.api})")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    options = vars(args)
    probes = [
        PageProbe(name, probe.route, options[f"{name}_ready"], options[f"{name}_api"])
        for name, probe in defaults.items()
    ]
    figures = measure_console_paint(args.couplings, args.errors, baseline=args.baseline, loads=args.loads,
                                    probes=probes)  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
