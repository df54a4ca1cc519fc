"""`make bench` (latency, issue 23): how long a change made in one app takes to show in the other, through the whole
local stack, with change notifications on and with the poll alone.

The stack: the demo's BC company plus `pool` generated customers per direction, an empty Sales org with the demo's
salespeople as users, and a full synchronization toward Sales of the mappings that carry customers, so every
customer is coupled to an account. Every timer is quiet but the incremental one (`SYNC_SCHEDULE`: the poll), whose
schedule is `BENCH_LATENCY_SCHEDULE` (default: the stack's own, every 5 minutes).

Then `changes` changes each way (`BENCH_LATENCY_CHANGES`, default 200), one every `BENCH_LATENCY_SPACING` seconds
(default 1): a BC customer's city (awaited in its Sales account) and a Sales account's city (awaited in its BC
customer, made by a Sales user of its own, not the app: see `Apps`), each a value of its own, each on a record with
no change of its own still on its way (the two directions use separate halves of the customers, so no change meets
another in a conflict). The target side is read every `BENCH_LATENCY_POLL_MS` ms (default 150; one filtered read
per side with changes on their way: the records modified since the oldest of them), and a change's latency is from
the moment its write returned to the first read that shows its value. A change not shown after
`BENCH_LATENCY_TIMEOUT` seconds (default: 3 x the poll period + 120) is counted `lost`. Printed per direction:
count, p50, p95, max (seconds), lost.

Two modes, run by `measure_latency(notifications=...)`:
- `polling` (notifications off): the figure is the poll's; the directions alternate.
- `notifications`: the stack's `NOTIFICATIONS_BC`, `NOTIFICATIONS_DATAVERSE` and `NOTIFICATION_BASE_URL` (the
  host's own URL, which the emulators post to) set, nothing else changes (the poll stays, as deployed). Once the
  stack is seeded and coupled, the notifications timer is fired through the host's admin API and the BC
  subscription on customers and a Dataverse step filtering on the city are checked (`register`) before the first
  change. The directions run one after the other, BC's first: the customer mapping's run is bidirectional, so a run
  woken by a Sales change would also carry BC changes still inside BC's batching delay and the BC figure would not
  be BC's notification path. The emulators keep their defaults unless told (`emulator_delays`): BC batches
  notifications for 30 s after the first change (api-facts A8; `BENCH_LATENCY_BC_DELAY` sets it), the Dataverse
  step posts 0.25 s after the commit (near-immediate, UNCONFIRMED; `BENCH_LATENCY_DATAVERSE_DELAY`). Also printed
  per direction: the delay in force and `p95_beyond_service_delay_s` = p95 minus it, our own time (the wake
  window, `NOTIFY_WAKE_WINDOW_SECONDS` of the host's environment, default 5; the queue; the run; the bench's read).

`measure_both` (`make bench`) runs both; see there for the polling default. Figures only: nothing here asserts a
time.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.companies import MAPPINGS, add_sales_users, create_customers
from bench.probe import COMPANY, bc_api, dataverse_api, host_root, run_timer, session
from local.emulators.business_central.seed import COMPANY_ID
from local.emulators.identity.tokens import acquire_local_token
from local.host.ncrontab import parse_schedule
from local.stack.launcher import LocalStack, quiet_timers

PREFIX = "latency"
SALES_USER_CLIENT_ID = "00000000-0000-4000-8000-0000000b0b23"  # the Sales user who makes the bench's Sales changes
CITY = "address1_city"  # the Sales field the changes write: a step must filter on it
BC_TO_SALES, SALES_TO_BC = "bc_to_sales", "sales_to_bc"
DEFAULT_SCHEDULE = "0 */5 * * * *"  # the stack's SYNC_SCHEDULE (local/stack/launcher.py)
DOCUMENTED_DELAY = {BC_TO_SALES: ("BENCH_LATENCY_BC_DELAY", 30.0), SALES_TO_BC: ("BENCH_LATENCY_DATAVERSE_DELAY", 0.0)}


@dataclass
class Change:
    """One change on its way: made in `direction`'s source app on the pair (`bc_id`, `dv_id`), shown once the target
    holds `value`."""

    direction: str
    bc_id: str
    dv_id: str
    value: str
    made: float  # time.monotonic() once the write returned
    since: datetime  # a few seconds before the write began: the target's reads ask for records modified since then
    shown: float | None = None
    wall: datetime | None = None  # the wall clock once the write returned (to compare with the host's invocations)


@dataclass(frozen=True)
class Options:
    changes: int
    spacing: float
    poll_seconds: float
    timeout: float
    schedule: str

    @classmethod
    def from_env(cls, changes: int | None = None, schedule: str | None = None, spacing: float | None = None) -> Options:
        chosen = schedule or os.environ.get("BENCH_LATENCY_SCHEDULE") or DEFAULT_SCHEDULE
        period = poll_period(chosen)
        timeout = float(os.environ.get("BENCH_LATENCY_TIMEOUT") or 3 * period + 120)
        return cls(
            changes if changes is not None else int(os.environ.get("BENCH_LATENCY_CHANGES", "200")),
            spacing if spacing is not None else float(os.environ.get("BENCH_LATENCY_SPACING", "1")),
            int(os.environ.get("BENCH_LATENCY_POLL_MS", "150")) / 1000,
            timeout,
            chosen,
        )


def poll_period(schedule: str) -> float:
    """The longest gap between two ticks of an NCRONTAB or TimeSpan schedule over the next hour (seconds)."""
    parsed = parse_schedule(schedule)
    moment, gaps = datetime.now(UTC).replace(microsecond=0), []
    for _ in range(50):
        following = parsed.next_after(moment)
        gaps.append((following - moment).total_seconds())
        moment = following
        if len(gaps) > 3 and sum(gaps) > 3600:
            break
    return max(gaps[1:] or gaps)


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    return values[max(0, math.ceil(fraction * len(values)) - 1)]


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Apps:
    """The bench's own reads and writes of both apps. Reads use the app identity's tokens; a Sales change is made by
    another identity (`SALES_USER_CLIENT_ID`, an application user of its own in the org), as a person's edit would
    be: the app's Dataverse webhook takes a change whose `InitiatingUserId` is the app's own user for its own write
    and wakes nothing (echo suppression), so changes made with the app's token would only ever cross with a run
    woken by something else. BC's notifications name no user, so BC changes keep the app's token."""

    def __init__(self, stack: LocalStack) -> None:
        self.bc, bc_root = bc_api(stack)
        self.bc_root = f"{bc_root}/{COMPANY}"
        self.dv, self.dv_root = dataverse_api(stack)
        self.user_dv = session()
        settings = stack.app_settings()
        token = acquire_local_token(
            stack.urls["authority"], stack.ca_file, SALES_USER_CLIENT_ID, stack.client_secret, stack.urls["dataverse"],
            settings["TENANT_ID"],
        )  # fmt: skip
        self.user_dv.headers["Authorization"] = f"Bearer {token}"

    def set_bc_city(self, bc_id: str, city: str) -> None:
        answer = self.bc.patch(
            f"{self.bc_root}/customers({bc_id})", json={"city": city}, headers={"If-Match": "*"}, timeout=60
        )
        answer.raise_for_status()

    def set_sales_city(self, dv_id: str, city: str) -> None:
        answer = self.user_dv.patch(
            f"{self.dv_root}/accounts({dv_id})", json={"address1_city": city}, headers={"If-Match": "*"}, timeout=60
        )
        answer.raise_for_status()

    def sales_cities(self, since: datetime) -> dict[str, str]:
        """Account id -> city of the accounts modified since `since`."""
        url = f"{self.dv_root}/accounts?$select=accountid,address1_city&$filter=modifiedon ge {_iso(since)}"
        rows = self.dv.get(url, headers={"Prefer": "odata.maxpagesize=5000"}, timeout=60).json()["value"]
        return {str(row["accountid"]): str(row.get("address1_city") or "") for row in rows}

    def bc_cities(self, since: datetime) -> dict[str, str]:
        """Customer id -> city of the customers modified since `since`."""
        url = f"{self.bc_root}/customers?$select=id,city&$filter=lastModifiedDateTime ge {_iso(since)}"
        rows = self.bc.get(url, timeout=60).json()["value"]
        return {str(row["id"]): str(row.get("city") or "") for row in rows}


def coupled_pairs(stack: LocalStack) -> list[tuple[str, str]]:
    """(BC customer id, Sales account id) of every coupled customer, through the app's coupling API."""
    apps, api = Apps(stack), session(stack.function_key)
    ids = [row["id"] for row in apps.bc.get(f"{apps.bc_root}/customers?$select=id", timeout=60).json()["value"]]
    pairs = []
    for bc_id in ids:
        answer = api.get(f"{stack.urls['functions']}/couplings/CUSTOMER", params={"bcId": bc_id}, timeout=60)
        if answer.status_code == 200:
            pairs.append((bc_id, str(answer.json()["dataverseId"])))
    return pairs


def prepare(stack: LocalStack, per_direction: int) -> list[tuple[str, str]]:
    """The demo company and `per_direction` x 2 generated customers, an empty Sales org with the salespeople's
    users, and a full synchronization toward Sales: returns the coupled (BC id, Sales id) pairs."""
    admin = session()
    seeds = (("business_central", {"profile": "demo"}), ("dataverse", {"profile": "bench", "counts": {}}))
    for side, body in seeds:
        admin.post(f"{stack.urls[side]}/_admin/seed", json=body, timeout=600).raise_for_status()
    add_sales_users(stack)
    create_customers(stack, COMPANY_ID, 2 * per_direction, f"latency-{uuid.uuid4().hex[:6]}")
    api, url = session(stack.function_key), f"{stack.urls['functions']}/full-sync"
    answer = api.post(url, json={"mappings": MAPPINGS}, timeout=600)
    answer.raise_for_status()
    review = answer.json()
    while review["status"] not in ("finished", "failed"):
        time.sleep(1)
        review = api.get(f"{url}/{review['runId']}", timeout=60).json()
    if review["status"] != "finished":
        raise RuntimeError(f"the bench's full synchronization did not finish: {review}")
    return coupled_pairs(stack)


def emulator_delays(stack: LocalStack) -> dict[str, float]:
    """Each emulator's notification delay as it stands (`/_admin/webhooks`), after setting it from
    `BENCH_LATENCY_BC_DELAY` / `BENCH_LATENCY_DATAVERSE_DELAY` when given (unset: the emulators' defaults, BC's
    documented 30 s batching and Dataverse's near-immediate post): direction -> seconds."""
    admin, delays = session(), {}
    sides = ((BC_TO_SALES, "business_central", "batchDelaySeconds"), (SALES_TO_BC, "dataverse", "delaySeconds"))
    for direction, side, field in sides:
        url, chosen = f"{stack.urls[side]}/_admin/webhooks", os.environ.get(DOCUMENTED_DELAY[direction][0])
        if chosen:
            admin.post(url, json={field: float(chosen)}, timeout=60).raise_for_status()
        body = admin.get(url, timeout=60).json()
        delays[direction] = float(body[field] if side == "business_central" else body["config"][field])
    return delays


def register(stack: LocalStack) -> dict[str, int]:
    """Fire the notifications timer (as its schedule would) and check what it registered: BC subscriptions on the
    customers of our company and an enabled Dataverse step on account. Raises when either is missing: a bench that
    silently measured the poll would say nothing true."""
    record = run_timer(stack, "notification_registrations")
    if not record["ok"]:
        raise RuntimeError(f"the notifications timer failed: {record}")
    apps = Apps(stack)
    subscriptions = apps.bc.get(f"{apps.bc_root.rsplit('/', 1)[0]}/subscriptions", timeout=60).json()["value"]
    on_customers = [s for s in subscriptions if str(s.get("resource", "")).endswith("/customers")]
    steps_url = f"{apps.dv_root}/sdkmessageprocessingsteps?$select=name,statecode,filteringattributes"
    steps = apps.dv.get(steps_url, timeout=60).json()["value"]
    on_accounts = [s for s in steps if s.get("statecode") == 0 and CITY in str(s.get("filteringattributes") or "")]
    if not on_customers or not on_accounts:
        raise RuntimeError(f"no notification registration: BC {subscriptions}, Dataverse steps {steps}")
    return {"bc_subscriptions": len(subscriptions), "dataverse_steps": len(steps)}


def run_changes(
    apps: Apps,
    pairs: list[tuple[str, str]],
    options: Options,
    tag: str,
    directions: tuple[str, ...] = (BC_TO_SALES, SALES_TO_BC),
) -> list[Change]:
    """Make the changes of `directions` (alternating when both, spaced) while reading the targets; returns every
    change made."""
    half = len(pairs) // 2
    free = {BC_TO_SALES: deque(pairs[:half]), SALES_TO_BC: deque(pairs[half : 2 * half])}
    made = {direction: 0 for direction in directions}
    on_way: list[Change] = []
    done: list[Change] = []
    turn, next_at = BC_TO_SALES, time.monotonic()
    while any(count < options.changes for count in made.values()) or on_way:
        now = time.monotonic()
        wanted = [d for d in (turn, _other(turn)) if d in made and made[d] < options.changes and free[d]]
        if now >= next_at and wanted:
            direction = wanted[0]
            bc_id, dv_id = free[direction].popleft()
            value = f"Lat {tag} {direction[:2]}{made[direction]}"
            started = datetime.now(UTC)
            if direction == BC_TO_SALES:
                apps.set_bc_city(bc_id, value)
            else:
                apps.set_sales_city(dv_id, value)
            since = started - timedelta(seconds=5)
            on_way.append(Change(direction, bc_id, dv_id, value, time.monotonic(), since, wall=datetime.now(UTC)))
            made[direction] += 1
            turn, next_at = _other(direction), now + options.spacing
        _read_targets(apps, on_way)
        for change in [c for c in on_way if c.shown is not None or time.monotonic() - c.made > options.timeout]:
            on_way.remove(change)
            done.append(change)
            free[change.direction].append((change.bc_id, change.dv_id))  # its record is free for another change
        time.sleep(options.poll_seconds)
    return done


def _other(direction: str) -> str:
    return SALES_TO_BC if direction == BC_TO_SALES else BC_TO_SALES


def _read_targets(apps: Apps, on_way: list[Change]) -> None:
    """One read of each target side with changes on their way; marks those whose value shows."""
    for direction in (BC_TO_SALES, SALES_TO_BC):
        waiting = [c for c in on_way if c.direction == direction and c.shown is None]
        if not waiting:
            continue
        since = min(c.since for c in waiting)
        seen_at = time.monotonic()
        found = apps.sales_cities(since) if direction == BC_TO_SALES else apps.bc_cities(since)
        for change in waiting:
            target = change.dv_id if direction == BC_TO_SALES else change.bc_id
            if found.get(target) == change.value:
                change.shown = seen_at


def notification_posts(stack: LocalStack, function: str) -> list[datetime]:
    """When the host began each of its last invocations of `function` that succeeded (its admin API keeps 50)."""
    url = f"{host_root(stack)}/admin/functions/{function}"
    record = session(stack.function_key).get(url, timeout=60).json()
    starts = [datetime.fromisoformat(i["started"]) for i in record["invocations"] if i["status"] == "succeeded"]
    return sorted(moment if moment.tzinfo else moment.replace(tzinfo=UTC) for moment in starts)


def run_durations(stack: LocalStack) -> dict[str, float]:
    """The host's last 50 queue-triggered runs (`sync_job`: after 200 changes, the woken incremental runs; in a tiny
    run the full synchronization's chunks too): p50 and max of their duration, so the run's share of our own time is
    seen apart from the wake window's."""
    record = session(stack.function_key).get(f"{host_root(stack)}/admin/functions/sync_job", timeout=60).json()
    durations = sorted(float(i["durationMs"]) for i in record["invocations"] if i.get("durationMs") is not None)
    if not durations:
        return {}
    return {"run_p50_ms": round(percentile(durations, 0.5), 1), "run_max_ms": round(durations[-1], 1)}


def after_notification(changes: list[Change], posts: list[datetime], key: str) -> dict[str, Any]:
    """BC's batching makes "p95 minus 30 s" say little of our own time (a change made late in a batch waits less
    than 30 s, so a slow run can hide under it): here each BC change's time from the first notification post the
    host received after its write to its value showing in Sales, p50/p95/max. A change written in the last tick
    before a post (the emulator collects every 0.05 s) may ride the next post: then this counts BC's 30 s as ours,
    never the other way round. A change shown before any post after it (a run woken by an earlier post, starting at
    its window's end, carried it) is not counted."""
    ours = []
    for change in changes:
        if change.direction != BC_TO_SALES or change.shown is None or change.wall is None:
            continue
        shown_at = change.wall + timedelta(seconds=change.shown - change.made)
        post = next((moment for moment in posts if moment >= change.wall), None)
        if post is not None and post <= shown_at:
            ours.append((shown_at - post).total_seconds())
    ours.sort()
    if not ours:
        return {f"{key}.after_notification_changes": 0}
    return {
        f"{key}.after_notification_changes": len(ours),
        f"{key}.after_notification_p50_s": round(percentile(ours, 0.5), 2),
        f"{key}.after_notification_p95_s": round(percentile(ours, 0.95), 2),
        f"{key}.after_notification_max_s": round(ours[-1], 2),
    }


def figures_of(changes: list[Change], mode: str, delays: dict[str, float] | None) -> dict[str, Any]:
    """Per direction: count, lost, p50/p95/max; with `delays` (notifications on) p95 minus the service's delay."""
    figures: dict[str, Any] = {}
    for direction in (BC_TO_SALES, SALES_TO_BC):
        mine = [c for c in changes if c.direction == direction]
        shown = sorted(c.shown - c.made for c in mine if c.shown is not None)
        key = f"{PREFIX}.{mode}.{direction}"
        figures[f"{key}.changes"] = len(mine)
        figures[f"{key}.lost"] = len(mine) - len(shown)
        if shown:
            figures[f"{key}.p50_s"] = round(percentile(shown, 0.5), 2)
            figures[f"{key}.p95_s"] = round(percentile(shown, 0.95), 2)
            figures[f"{key}.max_s"] = round(shown[-1], 2)
            if delays is not None:
                figures[f"{key}.p95_beyond_service_delay_s"] = round(percentile(shown, 0.95) - delays[direction], 2)
    return figures


def measure_latency(
    changes: int | None = None,
    *,
    notifications: bool = False,
    schedule: str | None = None,
    spacing: float | None = None,
) -> dict[str, Any]:
    """Both directions' latency on a stack of its own (see the module docstring)."""
    options = Options.from_env(changes, schedule, spacing)
    mode = "notifications" if notifications else "polling"
    per_direction = max(2, min(options.changes, int(os.environ.get("BENCH_LATENCY_CUSTOMERS", "100"))))
    with tempfile.TemporaryDirectory() as certs:
        stack = LocalStack.on_free_ports(cert_dir=Path(certs))
        stack.quiet = not os.environ.get("BENCH_LOGS")
        stack.host_env.update(quiet_timers())  # the poll alone: no other timer writes meanwhile
        stack.host_env["SYNC_SCHEDULE"] = options.schedule
        if notifications:  # what turns notifications on in a deployment: the host's own public URL
            stack.host_env.update(dict.fromkeys(("NOTIFICATIONS_BC", "NOTIFICATIONS_DATAVERSE"), "true"))
            stack.host_env["NOTIFICATION_BASE_URL"] = host_root(stack)
        stack.start()
        try:
            pairs = prepare(stack, per_direction)
            delays = emulator_delays(stack)
            registered: dict[str, float] = dict(register(stack)) if notifications else {}
            started = time.monotonic()
            apps, tag, posts = Apps(stack), uuid.uuid4().hex[:5], []
            if notifications:  # one direction after the other: see the module docstring
                made = run_changes(apps, pairs, options, tag, (BC_TO_SALES,))
                posts = notification_posts(stack, "bc_notifications")  # before the next 200 make it forget them
                made += run_changes(apps, pairs, options, tag, (SALES_TO_BC,))
                registered.update(run_durations(stack))
            else:
                made = run_changes(apps, pairs, options, tag)
            seconds = time.monotonic() - started
        finally:
            stack.stop()
    figures = {
        f"{PREFIX}.{mode}.schedule": options.schedule,
        f"{PREFIX}.{mode}.poll_period_s": poll_period(options.schedule),
        f"{PREFIX}.{mode}.spacing_s": options.spacing,
        f"{PREFIX}.{mode}.coupled_customers": len(pairs),
        f"{PREFIX}.{mode}.seconds": round(seconds, 1),
    }
    figures.update({f"{PREFIX}.{mode}.{name}": value for name, value in registered.items()})
    if notifications:
        figures[f"{PREFIX}.{mode}.wake_window_s"] = int(os.environ.get("NOTIFY_WAKE_WINDOW_SECONDS") or 5)
        figures.update({f"{PREFIX}.{mode}.{d}.service_delay_s": delay for d, delay in delays.items()})
    figures.update(figures_of(made, mode, delays if notifications else None))
    if notifications:
        figures.update(after_notification(made, posts, f"{PREFIX}.{mode}.{BC_TO_SALES}"))
    return figures


def measure_both() -> dict[str, Any]:
    """`make bench`'s section: notifications on (`BENCH_LATENCY_CHANGES` each way, default 200, spaced
    `BENCH_LATENCY_SPACING`), then the polling figure (`BENCH_LATENCY_POLLING_CHANGES` each way, default 50, spaced
    so that the changes span one poll period: each change then meets the poll at a uniformly spread moment of its
    cycle, which is what p50/p95 of the poll mean; more changes would only lengthen the run). `BENCH_LATENCY_MODES`
    (default `notifications,polling`) chooses either or both."""
    modes = [m.strip() for m in os.environ.get("BENCH_LATENCY_MODES", "notifications,polling").split(",") if m.strip()]
    figures: dict[str, Any] = {}
    if "notifications" in modes:
        figures.update(measure_latency(notifications=True))
    if "polling" in modes:
        changes = int(os.environ.get("BENCH_LATENCY_POLLING_CHANGES", "50"))
        period = poll_period(os.environ.get("BENCH_LATENCY_SCHEDULE") or DEFAULT_SCHEDULE)
        figures.update(measure_latency(changes, spacing=period / (2 * changes)))
    return figures


if __name__ == "__main__":
    for name, value in measure_both().items():
        print(f"{name:<60} {value}")
