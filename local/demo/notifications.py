"""The demo's notifications chapter (issue 23): a change made in BC reaches Sales, and one made in Sales reaches BC, in
seconds, with nobody pressing Synchronize Now and no wait for the 5-minute poll.

Why one stack and not a second one: the demo's stack runs from the start with notifications configured
(`notification_env`: `NOTIFICATION_BASE_URL` = the host's own URL, `NOTIFICATIONS_BC` and `NOTIFICATIONS_DATAVERSE`
true) but with the notifications timer kept still (`NOTIFICATIONS_SCHEDULE` = never), so nothing is registered in
either app until this chapter, the last one, fires that timer through the local host's admin API. Until then BC
has no subscription and Sales no webhook: no notification can wake a run, and the earlier chapters (a conflict step
needs both sides changed before a sync) run as they always did. That costs the demo only this chapter's own seconds,
where a stack of its own would add a second start, seeding and coupling; and the chapter reuses the story's coupled
customers, the same two it synchronized by hand earlier.

What the chapter does, through the apps as a user and the app's own API:
- shortens the BC emulator's batching (BC waits 30 s after a change before it notifies, api-facts A8; the emulator's
  documented default) to `BATCH_SECONDS` through its admin knob (`POST /_admin/webhooks`), and says so;
- fires `notification_registrations` and checks that BC holds a subscription on the company's `customers` calling
  `/api/notifications/bc` and that Sales holds the app's webhook (service endpoint) with a step on `account`;
- changes a customer's phone in BC, then an account's city in Sales (as a Sales user, `SALES_USER_CLIENT_ID`);
  each time it reads the other app every `POLL_SECONDS` until the value shows, and reports the seconds from the
  write to that read, what the source app posted to the app, and the job that carried the change (the coupling's
  `lastJobId`), whose trigger must be `wake` (started by a notification). A change carried by a poll that happened
  to tick meanwhile (the stack's 5-minute timer) proves nothing: that direction is made again with another value,
  once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from local.demo.errors import StoryError
from local.emulators.business_central.seed import COMPANY_ID
from local.emulators.business_central.seed import seeded_id as bc_id
from local.emulators.identity.tokens import acquire_local_token
from local.stack.launcher import QUIET_SCHEDULE, LocalStack

if TYPE_CHECKING:
    from local.demo.story import Story

DOCUMENTED_BATCH_SECONDS = 30  # BC's batching of webhook notifications (api-facts A8; the emulator's default)
BATCH_SECONDS = 5  # the same, shortened for the demo
TIMER = "notification_registrations"
BC_CUSTOMER, SALES_CUSTOMER = "Trey Research", "Selangorian Ltd."
PHONES = ("+1 404 555 0190", "+1 404 555 0191", "+1 404 555 0192")
CITIES = ("Warwick", "Kenilworth", "Stratford-upon-Avon")
POLL_SECONDS = 0.25
TIMEOUT_SECONDS = 60.0  # far beyond batching + wake window + one run; the 5-minute poll is never waited for
ATTEMPTS = 2
BC_ROUTE, DATAVERSE_ROUTE = "/api/notifications/bc", "/api/notifications/dataverse"
# Who changes the account in Sales: not the app (a change the app's own user makes wakes nothing, by design:
# shared/services/notifications_dataverse.py), so another identity of the local authority, whose application user
# the Dataverse emulator makes on first sight, stands for a salesperson.
SALES_USER_CLIENT_ID = "00000000-0000-4000-8000-0000005a1e50"


def host_root(stack: LocalStack) -> str:
    """The host's URL without the route prefix: the admin API (`/admin/...`) and the app's public base URL."""
    return stack.urls["functions"].removesuffix("/api")


def notification_env(stack: LocalStack) -> dict[str, str]:
    """The host settings that switch both directions on (the module docstring says why the timer stays still)."""
    return {
        "NOTIFICATION_BASE_URL": host_root(stack),
        "NOTIFICATIONS_BC": "true",
        "NOTIFICATIONS_DATAVERSE": "true",
        "NOTIFICATIONS_SCHEDULE": QUIET_SCHEDULE,
    }


@dataclass(frozen=True)
class Crossing:
    """A change that crossed: which way, how long it took, and the job that carried it."""

    direction: str  # "BC -> Sales" or "Sales -> BC"
    record: str
    field: str
    value: str
    seconds: float
    job_id: str
    trigger: str
    posted: str  # what the source app posted to the app meanwhile


# -- registration ---------------------------------------------------------------------------------------------------
def shorten_batching(story: Story, seconds: float = BATCH_SECONDS) -> None:
    answer = story.session.post(
        f"{story.stack.urls['business_central']}/_admin/webhooks", json={"batchDelaySeconds": seconds}, timeout=30
    )
    if answer.status_code != 200 or answer.json().get("batchDelaySeconds") != seconds:
        raise StoryError(f"the BC emulator did not take the batching delay: {answer.status_code} {answer.text[:200]}")


def fire_registrations(story: Story) -> None:
    """Run the notifications timer now (the local host's admin API, `?wait=true`: answered when it is done)."""
    answer = story.session.post(
        f"{host_root(story.stack)}/admin/functions/{TIMER}?wait=true",
        headers={"x-functions-key": story.stack.function_key},
        timeout=120,
    )
    if answer.status_code != 200:
        raise StoryError(f"the {TIMER} timer failed: {answer.status_code} {answer.text[:300]}")


def bc_subscriptions(story: Story) -> list[dict[str, Any]]:
    """The environment's API v2.0 subscriptions, as BC lists them to the app identity."""
    url = f"{story.stack.app_settings()['BC_BASE_URL']}/api/v2.0/subscriptions"
    token = story.stack.token("https://api.businesscentral.dynamics.com")
    answer = story.session.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    answer.raise_for_status()
    return list(answer.json()["value"])


def customers_subscription(subscriptions: list[dict[str, Any]]) -> dict[str, Any]:
    """The subscription on the demo company's customers that calls the app's BC route."""
    wanted = f"companies({COMPANY_ID})/customers".lower()
    for subscription in subscriptions:
        if str(subscription["resource"]).lower().endswith(wanted) and BC_ROUTE in subscription["notificationUrl"]:
            return subscription
    raise StoryError(f"BC holds no subscription on the company's customers calling {BC_ROUTE}: {subscriptions}")


def sales_webhook(story: Story) -> tuple[dict[str, Any], list[str]]:
    """The app's webhook in Sales (a service endpoint calling the Dataverse route) and the tables its steps watch."""
    endpoints = story.dataverse("GET", "serviceendpoints?$select=serviceendpointid,name,url,contract")["value"]
    ours = [e for e in endpoints if e.get("contract") == 8 and str(e.get("url", "")).endswith(DATAVERSE_ROUTE)]
    if not ours:
        raise StoryError(f"Sales holds no webhook calling {DATAVERSE_ROUTE}: {endpoints}")
    endpoint = ours[0]
    steps = story.dataverse(
        "GET",
        "sdkmessageprocessingsteps?$select=name,_sdkmessagefilterid_value"
        f"&$filter=_eventhandler_value eq {endpoint['serviceendpointid']}",
    )["value"]
    tables = sorted({_table_of(story, str(step["_sdkmessagefilterid_value"])) for step in steps})
    if "account" not in tables:
        raise StoryError(f"the webhook has no step on account: {tables}")
    return endpoint, tables


def _table_of(story: Story, filter_id: str) -> str:
    row = story.dataverse("GET", f"sdkmessagefilters({filter_id})?$select=primaryobjecttypecode")
    return str(row["primaryobjecttypecode"])


def register(story: Story) -> None:
    story.step("Change notifications on: BC's webhook subscriptions and Sales' webhook, kept by the app's timer")
    shorten_batching(story)
    print(f"   BC's {DOCUMENTED_BATCH_SECONDS} s batching shortened to {BATCH_SECONDS} s for the demo")
    fire_registrations(story)
    subscriptions = bc_subscriptions(story)
    customers = customers_subscription(subscriptions)
    print(
        f"   BC: {len(subscriptions)} subscriptions (customers: {customers['notificationUrl']}, "
        f"expires {customers['expirationDateTime']})"
    )
    endpoint, tables = sales_webhook(story)
    print(f"   Sales: webhook '{endpoint['name']}' -> {endpoint['url']}, steps on {', '.join(tables)}")


# -- one crossing ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Change:
    """One direction's change: how to make it, how to read its target, and where to look for the app's notice."""

    direction: str
    record: str
    field: str
    values: tuple[str, ...]
    bc_id: str
    read_source: Callable[[], str]
    write: Callable[[str], None]
    read_target: Callable[[], str]
    posted: Callable[[int], str]  # what the source app posted since its log held `int` entries
    log_size: Callable[[], int]


def cross(story: Story, change: Change) -> Crossing:
    """Make `change`, wait for it on the other side, and find the job that carried it (see the module docstring)."""
    for _ in range(ATTEMPTS):
        before = _last_job(story, change.bc_id)
        value = next(v for v in change.values if v not in (change.read_source(), change.read_target()))
        log_size = change.log_size()
        change.write(value)
        made = time.monotonic()
        while change.read_target() != value:
            if time.monotonic() - made > TIMEOUT_SECONDS:
                raise StoryError(
                    f"{change.direction}: {change.record}'s {change.field} did not cross in {TIMEOUT_SECONDS:.0f} s"
                )
            time.sleep(POLL_SECONDS)
        seconds = round(time.monotonic() - made, 1)
        job_id = _new_job(story, change.bc_id, before)
        trigger = _job_trigger(story, job_id)
        if trigger == "wake":
            return Crossing(
                change.direction, change.record, change.field, value, seconds, job_id, trigger, change.posted(log_size)
            )
        print(f"   carried by a {trigger} run ({job_id}), not a notification: once more")
    raise StoryError(f"{change.direction}: no run started by a notification carried {change.record}'s change")


def _last_job(story: Story, bc_id_: str) -> str:
    return str(story.api("GET", f"couplings/CUSTOMER?bcId={bc_id_}")["dataverse"]["lastJobId"] or "")


def _new_job(story: Story, bc_id_: str, before: str) -> str:
    """The job the coupling names once it is not `before` (the run saves the coupling just after its write)."""
    deadline = time.monotonic() + 30
    while (job_id := _last_job(story, bc_id_)) == before:
        if time.monotonic() > deadline:
            raise StoryError("the coupling names no new job after the change crossed")
        time.sleep(POLL_SECONDS)
    return job_id


def _job_trigger(story: Story, job_id: str) -> str:
    """What started the job: its entry is recorded when the run ends, a moment after the coupling named it (the demo
    once read it in between and stopped on a 404), so a missing entry is waited for."""
    deadline = time.monotonic() + 30
    while True:
        answer = story.session.get(
            f"{story.stack.urls['functions']}/jobs/{job_id}",
            params={"mapping": "CUSTOMER", **({"company": story.company} if story.company else {})},
            headers={"x-functions-key": story.stack.function_key},
            timeout=60,
        )
        if answer.status_code != 404 or time.monotonic() > deadline:
            break
        time.sleep(POLL_SECONDS)
    if answer.status_code != 200:
        raise StoryError(f"GET /api/jobs/{job_id} answered {answer.status_code}: {answer.text}")
    return str(answer.json()["trigger"])


def bc_posts(story: Story) -> tuple[Callable[[], int], Callable[[int], str]]:
    """The BC emulator's deliveries to the app's BC route: their count, and a line of those since a count."""

    def deliveries() -> list[dict[str, Any]]:
        answer = story.session.get(f"{story.stack.urls['business_central']}/_admin/webhooks", timeout=30).json()
        return [d for d in answer["deliveries"] if BC_ROUTE in d["url"]]

    def since(count: int) -> str:
        fresh = deliveries()[count:]
        return "; ".join(f"{d['count']} notification(s) {'/'.join(d['changeTypes'])}, {d['status']}" for d in fresh)

    return lambda: len(deliveries()), since


def sales_posts(story: Story) -> tuple[Callable[[], int], Callable[[int], str]]:
    """The Dataverse emulator's webhook posts: their count, and a line of those since a count."""

    def posts() -> list[dict[str, Any]]:
        return list(story.session.get(f"{story.stack.urls['dataverse']}/_admin/webhooks", timeout=30).json()["posts"])

    def since(count: int) -> str:
        fresh = posts()[count:]
        return "; ".join(f"{p['message']} of {p['entity']}, {p['status']}" for p in fresh)

    return lambda: len(posts()), since


def bc_to_sales(story: Story) -> Change:
    customer_id = bc_id("customer", BC_CUSTOMER)
    account_id = str(story.api("GET", f"couplings/CUSTOMER?bcId={customer_id}")["dataverseId"])

    def write(value: str) -> None:
        current = story.bc("GET", f"customers({customer_id})")
        story.bc("PATCH", f"customers({customer_id})", {"phoneNumber": value}, etag=current["@odata.etag"])

    count, since = bc_posts(story)
    return Change(
        "BC -> Sales", BC_CUSTOMER, "phone", PHONES, customer_id,
        lambda: str(story.bc("GET", f"customers({customer_id})")["phoneNumber"]),
        write,
        lambda: str(story.dataverse("GET", f"accounts({account_id})?$select=telephone1")["telephone1"]),
        since, count,
    )  # fmt: skip


def as_sales_user(story: Story, path: str, body: dict[str, Any]) -> None:
    """A PATCH of the Sales Web API as `SALES_USER_CLIENT_ID`, not as the app."""
    stack, settings = story.stack, story.stack.app_settings()
    token = acquire_local_token(
        stack.urls["authority"], stack.ca_file, SALES_USER_CLIENT_ID, stack.client_secret, stack.urls["dataverse"],
        settings["TENANT_ID"],
    )  # fmt: skip
    answer = story.session.patch(
        f"{stack.urls['dataverse']}/api/data/v9.2/{path}",
        json=body,
        headers={"Authorization": f"Bearer {token}", "If-Match": "*"},
        timeout=30,
    )
    answer.raise_for_status()


def sales_to_bc(story: Story) -> Change:
    customer_id = bc_id("customer", SALES_CUSTOMER)
    account_id = str(story.api("GET", f"couplings/CUSTOMER?bcId={customer_id}")["dataverseId"])
    count, since = sales_posts(story)
    return Change(
        "Sales -> BC", SALES_CUSTOMER, "city", CITIES, customer_id,
        lambda: str(story.dataverse("GET", f"accounts({account_id})?$select=address1_city")["address1_city"]),
        lambda value: as_sales_user(story, f"accounts({account_id})", {"address1_city": value}),
        lambda: str(story.bc("GET", f"customers({customer_id})")["city"]),
        since, count,
    )  # fmt: skip


def notification_story(story: Story) -> list[Crossing]:
    """The chapter (the module docstring); returns both crossings, BC -> Sales first."""
    register(story)
    crossings: list[Crossing] = []
    for made_in, build in (("BC", bc_to_sales), ("Sales", sales_to_bc)):
        change = build(story)
        story.step(
            f"Changing {change.record}'s {change.field} in {made_in}: no Synchronize Now, no waiting for the poll"
        )
        crossing = cross(story, change)
        print(f"   {made_in} posted to the app: {crossing.posted or '(nothing)'}")
        print(
            f"   {crossing.direction} in {crossing.seconds} s: {crossing.field} = {crossing.value!r}, carried by job "
            f"{crossing.job_id} (trigger {crossing.trigger}: started by a notification)"
        )
        crossings.append(crossing)
    story.summary.setdefault("notifications", []).extend(
        [
            "; ".join(f"{c.direction} in {c.seconds} s" for c in crossings)
            + ", each run started by a notification (trigger wake), no Synchronize Now",
            f"BC's {DOCUMENTED_BATCH_SECONDS} s batching shortened to {BATCH_SECONDS} s for the demo",
        ]
    )
    return crossings
