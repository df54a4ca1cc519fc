"""The mappings page with notifications on (issue 23): a mapping whose last poll (the `incremental_sync` timer, run
through the host's admin API) applied a change no notification woke a run for shows "Notifications missed" with the
count per side; the others show nothing. On a stack of its own (this module's `console_stack`), whose settings turn
notifications on with a 1-second expected delay, so a change made 1.5 s before the poll is one they missed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from bench.probe import run_timer
from local.emulators.business_central.seed import seeded_id
from local.stack.launcher import LocalStack, quiet_timers
from tests.browser.conftest import Console
from tests.browser.scenario import Scenario

pytestmark = pytest.mark.integration
NOTIFICATIONS_ON = {
    "NOTIFICATIONS_BC": "true",
    "NOTIFICATIONS_DATAVERSE": "true",
    "NOTIFY_WAKE_WINDOW_SECONDS": "1",
    "NOTIFY_BC_DELAY_SECONDS": "0",
    "NOTIFY_DATAVERSE_DELAY_SECONDS": "0",
    "NOTIFY_MISSED_MARGIN_SECONDS": "0",
}


@pytest.fixture(scope="module")
def console_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    stack = LocalStack.on_free_ports(cert_dir=Path(tmp_path_factory.mktemp("identity")))
    stack.host_env.update(quiet_timers())  # the test runs the poll itself
    stack.host_env.update({**NOTIFICATIONS_ON, "NOTIFICATION_BASE_URL": stack.urls["functions"].removesuffix("/api")})
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


def test_a_mapping_whose_last_poll_missed_notifications_says_so(console: Console, scenario: Scenario) -> None:
    scenario.couple_customers()
    assert run_timer(scenario.stack, "incremental_sync")["ok"]  # every mapping read once: a first read never counts
    scenario.bc("PATCH", f"customers({seeded_id('customer', 'Trey Research')})", {"city": "Missed City"})
    time.sleep(1.5)  # older than the expected notification delay (1 s here)
    assert run_timer(scenario.stack, "incremental_sync")["ok"]
    (job,) = scenario.api("GET", "jobs?mapping=CUSTOMER&limit=1")["value"]
    assert (job["trigger"], job["missedBySide"]) == ("poll", {"bc": 1}), job

    page = console.open("mappings")
    customer = page.locator('tr[data-mapping="CUSTOMER"]')
    expect(customer).to_contain_text("Notifications missed: 1 (BC 1)")
    expect(page.locator('tr[data-mapping="CONTACT"]')).to_contain_text("Enabled")
    expect(page.locator('tr[data-mapping="CONTACT"]')).not_to_contain_text("Notifications missed")
    assert console.errors == []
