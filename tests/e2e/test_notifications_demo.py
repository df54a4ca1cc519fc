"""The notifications chapter of `make demo` (local/demo/notifications.py) on a stack of its own: configured for
notifications from the start (`notification_env`), every timer still (so no poll can carry a change: only a
notification can), seeded with the demo data and the customers coupled as in the demo.

Before the chapter nothing is registered and the coupling steps' writes notify nothing (what lets the demo's other
chapters run unchanged); the chapter then registers both sides, and a BC change reaches Sales and a Sales change
reaches BC, each carried by a run whose job entry says `wake`, BC's no sooner than its (shortened) batching. A
change a poll carried first (the demo's stack keeps its 5-minute timer) is made again, and the second one counts."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import requests

from local.demo.notifications import (
    BATCH_SECONDS,
    BC_CUSTOMER,
    SALES_CUSTOMER,
    Crossing,
    bc_subscriptions,
    bc_to_sales,
    cross,
    host_root,
    notification_env,
    notification_story,
)
from local.demo.story import Story
from local.emulators.business_central.seed import seeded_id
from local.stack.launcher import LocalStack, quiet_timers

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    stack = LocalStack.on_free_ports(cert_dir=Path(tmp_path_factory.mktemp("identity")))
    stack.host_env.update(quiet_timers())
    stack.host_env.update(notification_env(stack))
    stack.start()
    try:
        session = requests.Session()
        session.trust_env = False
        for name in ("business_central", "dataverse"):
            session.post(f"{stack.urls[name]}/_admin/seed", json={"profile": "demo"}, timeout=30).raise_for_status()
        demo = Story(stack)
        for mapping in ("SALESPEOPLE", "CURRENCY", "CUSTOMER"):
            report = demo.api("POST", f"couplings/{mapping}/match", {})
            assert not report["failed"], (mapping, report)
        yield demo
    finally:
        stack.stop()


def _admin(story: Story, side: str) -> dict[str, object]:
    return dict(story.session.get(f"{story.stack.urls[side]}/_admin/webhooks", timeout=30).json())


@pytest.fixture(scope="module")
def before(story: Story) -> dict[str, object]:
    """What both apps hold and sent before the chapter (after the coupling steps wrote in both)."""
    endpoints = story.dataverse("GET", "serviceendpoints?$select=name")["value"]
    return {
        "subscriptions": bc_subscriptions(story),
        "endpoints": endpoints,
        "bc": _admin(story, "business_central")["deliveries"],
        "dataverse": _admin(story, "dataverse")["posts"],
    }


@pytest.fixture(scope="module")
def crossings(story: Story, before: dict[str, object]) -> list[Crossing]:
    return notification_story(story)


def test_nothing_is_registered_or_notified_before_the_chapter(before: dict[str, object]) -> None:
    assert before == {"subscriptions": [], "endpoints": [], "bc": [], "dataverse": []}


def test_a_change_crosses_each_way_in_a_run_a_notification_started(story: Story, crossings: list[Crossing]) -> None:
    assert [c.direction for c in crossings] == ["BC -> Sales", "Sales -> BC"]
    assert all(c.trigger == "wake" for c in crossings), crossings
    to_sales, to_bc = crossings
    coupling = story.api("GET", f"couplings/CUSTOMER?bcId={seeded_id('customer', BC_CUSTOMER)}")
    account = story.dataverse("GET", f"accounts({coupling['dataverseId']})?$select=telephone1")
    assert account["telephone1"] == to_sales.value
    assert story.bc("GET", f"customers({seeded_id('customer', SALES_CUSTOMER)})")["city"] == to_bc.value
    job = story.api("GET", f"jobs/{to_bc.job_id}")
    assert (job["trigger"], job["mapping"]) == ("wake", "CUSTOMER")


def test_bc_notifies_after_its_batching_and_sales_posts_the_update(crossings: list[Crossing]) -> None:
    to_sales, to_bc = crossings
    assert to_sales.seconds >= BATCH_SECONDS  # the shortened batching still holds the notification back
    assert to_sales.posted.endswith("202") and "updated" in to_sales.posted, to_sales.posted
    assert "Update of account, 202" in to_bc.posted, to_bc.posted
    assert to_bc.seconds < 30, to_bc  # the account's own post, the wake window and one run: no poll (timers still)


def test_the_summary_says_the_seconds_and_the_shortened_batching(story: Story, crossings: list[Crossing]) -> None:
    lines = story.summary["notifications"]
    assert f"BC -> Sales in {crossings[0].seconds} s; Sales -> BC in {crossings[1].seconds} s" in lines[0]
    assert "trigger wake" in lines[0]
    assert lines[1] == f"BC's 30 s batching shortened to {BATCH_SECONDS} s for the demo"


def test_a_change_a_poll_carried_is_made_again(
    story: Story, crossings: list[Crossing], capsys: pytest.CaptureFixture[str]
) -> None:
    change = bc_to_sales(story)
    polled: list[str] = []

    def write_then_poll(value: str) -> None:
        """The first write is followed at once by the poll (the incremental timer), long before BC notifies."""
        change.write(value)
        if not polled:
            polled.append(value)
            answer = story.session.post(
                f"{host_root(story.stack)}/admin/functions/incremental_sync?wait=true",
                headers={"x-functions-key": story.stack.function_key},
                timeout=120,
            )
            assert answer.status_code == 200, answer.text

    crossing = cross(story, replace(change, write=write_then_poll))
    assert "carried by a poll run" in capsys.readouterr().out
    assert (crossing.trigger, len(polled)) == ("wake", 1)
    assert crossing.value != polled[0]
