"""`make bench` (storage, issue 21): Table Storage requests and worker CPU per synchronized record, through the whole
local stack, with every Table request counted by a proxy in front of Azurite (`bench/table_counter.py`).

Two runs on one stack: a full synchronization toward Sales of generated data (`BENCH_STORAGE_SCALE`, else
`make bench`'s `BENCH_SCALE`, default 1: 10,000 customers, 10,000 contacts, 2,000 items, 26,000 records with the
items' unit groups and units, as the rest of `make bench`; 0.1 is the issue's 2,600-record run), then 1,000
customers (or all, when fewer) edited in BC and the CUSTOMER mapping run once (the timer's own `run_mapping`, through
`POST /api/mappings/CUSTOMER/synchronize`), then as many accounts edited in Sales and the mapping run again. For each:
Table requests per synchronized record, `$batch` requests and their operations, requests by kind, and the worker's
CPU seconds per 1,000 records (user + system of the local host process: it also runs the host's HTTP server and the
AMQP broker, so this is an upper bound of the worker's own).

`BENCH_PROFILE=1` samples the worker with py-spy during the full sync and prints where its CPU went (the innermost
frame's file, by group), the raw stacks left in a temporary file.

Side by side (`BENCH_BASELINE=<commit>`, or `python -m bench.storage --baseline <commit>`): the same measurement of
an earlier commit, run first from `git archive` of it in a temporary folder (this module and the counter copied in,
the virtualenv and node_modules linked), then of the working tree, one after the other on the same machine; both
printed. Targets (issue 21): at most 0.05 Table requests per record, at most 2.5 worker CPU-s per 1,000 records.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.full_sync import TO_SALES, TO_SALES_MAPPINGS, cpu_seconds
from bench.incremental import change_in_bc, change_in_sales, run_mapping
from bench.probe import session
from bench.table_counter import TableCounter

try:  # the tree since issue 21's `local/` wings
    from local.stack.azurite import connection_string
    from local.stack.launcher import LocalStack, quiet_timers
except ImportError:  # a baseline from before them (this module is copied into the baseline's tree)
    from local.azurite import connection_string  # type: ignore[import-not-found,no-redef]

    from local.stack import LocalStack, quiet_timers  # type: ignore[attr-defined,no-redef]

ROOT = Path(__file__).resolve().parent.parent
TARGET_REQUESTS = 0.05
TARGET_CPU = 2.5


def _records(counters: dict[str, int]) -> int:
    """Records synchronized: created, modified, unchanged or coupled by matching (a created record is also counted as
    coupled: once here)."""
    return (
        counters.get("inserted", 0)
        + counters.get("modified", 0)
        + counters.get("unchanged", 0)
        + max(0, counters.get("coupled", 0) - counters.get("inserted", 0))
    )


def _figures(
    prefix: str, counter: TableCounter, cpu: float, records: int, seconds: float, polling: dict[str, int] | None = None
) -> dict[str, Any]:
    """`polling`: the Table requests the bench's own review polls made (by kind), left out of the figures."""
    counts = counter.read().as_dict()
    for kind, count in (polling or {}).items():
        counts["requests"] -= count
        counts["by_kind"][kind] = counts["by_kind"].get(kind, 0) - count
    per = max(records, 1)
    settings = counts["by_kind"].get("GET Settings", 0)
    figures = {
        f"{prefix}.records": records,
        f"{prefix}.seconds": round(seconds, 1),
        f"{prefix}.table_requests": counts["requests"],
        f"{prefix}.table_requests_per_record": round(counts["requests"] / per, 4),
        f"{prefix}.table_requests_per_record_without_settings_reads": round((counts["requests"] - settings) / per, 4),
        f"{prefix}.table_batches": counts["batches"],
        f"{prefix}.table_operations_per_batch_mean_max": [
            counts["operations_per_batch_mean"],
            counts["operations_per_batch_max"],
        ],
        f"{prefix}.table_requests_by_kind": counts["by_kind"],
        f"{prefix}.worker_cpu_s_per_1000_records": round(cpu / per * 1000, 2),
    }
    if os.environ.get("BENCH_DETAIL"):
        figures[f"{prefix}.table_reads_by_partition"] = counts["reads_by_partition"]
        figures[f"{prefix}.table_batches_by_shape"] = counts["batches_by_shape"]
    return figures


def _changed_run(stack: LocalStack, counter: TableCounter, pid: int, prefix: str, edit: Any, count: int) -> Any:
    edited = edit(stack, count, f"City {prefix[-5:]}")
    counter.reset()
    cpu, started = cpu_seconds(pid), time.perf_counter()
    job = run_mapping(stack, "CUSTOMER")
    figures = _figures(
        prefix, counter, cpu_seconds(pid) - cpu, _records(job["counters"]), time.perf_counter() - started
    )
    figures[f"{prefix}.edited"] = edited
    figures[f"{prefix}.counters"] = {k: v for k, v in job["counters"].items() if v}
    return figures


PROFILE_GROUPS = (  # a sample goes to the first group one of its frames' files belongs to (py-spy's short paths)
    ("Table Storage SDK (azure-data-tables, azure-core, their HTTP)", ("tables/", "core/")),
    ("BC and Dataverse connectors (their HTTP)", ("shared/connectors/",)),
    ("thread pools (starting, handing over, joining)", ("concurrent/futures/",)),
    ("the app's own code (values, comparing, services, storage keys)", ("shared/",)),
    ("local host, broker and queue (not in Azure)", ("local/", "proton/")),
)


def profile_shares(path: Path) -> dict[str, float]:
    """py-spy's raw stacks shared out by `PROFILE_GROUPS`, in percent of the samples."""
    shares: dict[str, int] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        files = re.findall(r"\(([^():]+):\d+\)", stack)
        group = next((name for name, parts in PROFILE_GROUPS if any(f.startswith(parts) for f in files)), "other")
        shares[group] = shares.get(group, 0) + int(count)
    total = sum(shares.values()) or 1
    return {name: round(100 * n / total, 1) for name, n in sorted(shares.items(), key=lambda kv: -kv[1])}


def _start_profile(pid: int) -> tuple[subprocess.Popen[bytes], Path] | None:
    """`BENCH_PROFILE=1`: py-spy samples the worker (the local host process) during the full sync, raw stacks."""
    if not os.environ.get("BENCH_PROFILE"):
        return None
    out = Path(tempfile.gettempdir()) / f"bench-profile-{pid}.txt"
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or "py-spy"
    command = [spy, "record", "--pid", str(pid), "--rate", "200", "--format", "raw", "--nonblocking", "-o", str(out)]
    log = out.with_suffix(".log").open("wb")  # py-spy's own messages: why a profile is missing
    return subprocess.Popen(command, stdout=log, stderr=log), out


def _stop_profile(profiler: tuple[subprocess.Popen[bytes], Path]) -> dict[str, float]:
    """Stop py-spy and share its samples out by the innermost frame's file (`PROFILE_GROUPS`), in percent."""
    process, out = profiler
    process.send_signal(signal.SIGINT)
    process.wait(timeout=120)
    print(f"profile: {out}", file=sys.stderr)
    if not out.exists():  # py-spy gave up (see its log): the figures stand without the profile
        print(f"no profile written; py-spy said: {out.with_suffix('.log').read_text(errors='replace')[-500:]}")
        return {}
    return profile_shares(out)


def measure_storage(scale: float | None = None) -> dict[str, Any]:
    if scale is None:
        scale = float(os.environ.get("BENCH_STORAGE_SCALE") or os.environ.get("BENCH_SCALE") or "1")
    counts = {k: max(1, int(v * scale)) for k, v in TO_SALES.items()}
    os.environ.update(quiet_timers())
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as certs:
        stack = LocalStack.on_free_ports(cert_dir=Path(certs))
        stack.quiet = not os.environ.get("BENCH_LOGS")  # BENCH_LOGS=1: the stack's own logs on stderr
        counter = TableCounter(stack.ports["azurite"]).start()
        stack.host_env["AzureWebJobsStorage"] = connection_string("127.0.0.1", counter.port)
        stack.start()
        try:
            admin = session()
            body = {"profile": "bench", "counts": counts}
            admin.post(f"{stack.urls['business_central']}/_admin/seed", json=body, timeout=600).raise_for_status()
            admin.post(f"{stack.urls['dataverse']}/_admin/seed", json={"profile": "bench", "counts": {}}, timeout=600)
            api = session(stack.function_key)
            pid = next(child for child in stack.children if child.name == "functions").process.pid
            counter.reset()
            profiler = _start_profile(pid)
            cpu, started = cpu_seconds(pid), time.perf_counter()
            review = api.post(
                f"{stack.urls['functions']}/full-sync", json={"mappings": TO_SALES_MAPPINGS}, timeout=600
            ).json()
            url = f"{stack.urls['functions']}/full-sync/{review['runId']}"
            polls = 0
            while review["status"] not in ("finished", "failed"):
                time.sleep(2)
                review = api.get(url, timeout=60).json()
                polls += 1
            seconds, cpu = time.perf_counter() - started, cpu_seconds(pid) - cpu
            if profiler is not None:
                figures["storage.full_sync.profile_share_pct"] = _stop_profile(profiler)
            during = counter.read()
            counter.reset()  # what one poll of the review costs, left out of the figures (the bench's, not the sync's)
            api.get(url, timeout=60).raise_for_status()
            polling = {kind: count * polls for kind, count in counter.read().by_kind.items()}
            counter.restore(during)
            totals: dict[str, int] = {}
            for line in review["lines"]:
                for key, value in line["counters"].items():
                    totals[key] = totals.get(key, 0) + int(value)
            figures.update(_figures("storage.full_sync", counter, cpu, _records(totals), seconds, polling))
            figures["storage.full_sync.review_polls_left_out"] = polls
            figures["storage.full_sync.status"] = review["status"]
            figures["storage.full_sync.counters"] = {k: v for k, v in totals.items() if v}
            changed = min(counts["customers"], 1000)
            figures.update(_changed_run(stack, counter, pid, "storage.incremental_bc", change_in_bc, changed))
            run_mapping(stack, "CUSTOMER")  # the echoes of its writes to Sales
            figures.update(_changed_run(stack, counter, pid, "storage.incremental_sales", change_in_sales, changed))
        finally:
            stack.stop()
            counter.stop()
    return figures


def measure_baseline(commit: str, scale: float | None = None) -> dict[str, Any]:
    """The same measurement on `commit`: its tree from `git archive`, with this module and the counter copied in."""
    with tempfile.TemporaryDirectory(prefix="bench-baseline-") as folder:
        tree = Path(folder)
        archive = subprocess.run(["git", "archive", commit], cwd=ROOT, check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
        for name in ("storage.py", "table_counter.py"):
            shutil.copy(ROOT / "bench" / name, tree / "bench" / name)
        for name in (".venv", "node_modules"):
            (tree / name).symlink_to((ROOT / name).resolve())
        output = tree / "figures.json"
        env = {**os.environ, "PYTHONPATH": str(tree)}
        if scale is not None:
            env["BENCH_STORAGE_SCALE"] = str(scale)
        subprocess.run([sys.executable, "-m", "bench.storage", "--json", str(output)], cwd=tree, env=env, check=True)
        figures: dict[str, Any] = json.loads(output.read_text(encoding="utf-8"))
        return figures


def side_by_side(baseline: str | None, scale: float | None = None) -> dict[str, Any]:
    """This tree's figures, and with a baseline commit its figures too (`storage.<figure>` and `baseline.<figure>`)."""
    figures: dict[str, Any] = {}
    if baseline:
        figures.update(
            {f"baseline.{k.removeprefix('storage.')}": v for k, v in measure_baseline(baseline, scale).items()}
        )
        figures["baseline.commit"] = baseline
    figures.update(measure_storage(scale))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=os.environ.get("BENCH_BASELINE"), help="a commit to measure first")
    parser.add_argument("--json", help="write the figures of this tree alone to this file (used for the baseline)")
    args = parser.parse_args()
    if args.json:
        Path(args.json).write_text(json.dumps(measure_storage()), encoding="utf-8")
        return
    figures = side_by_side(args.baseline)
    width = max(len(k) for k in figures)
    for name, value in figures.items():
        print(f"{name.ljust(width)}  {value}")


if __name__ == "__main__":
    main()
