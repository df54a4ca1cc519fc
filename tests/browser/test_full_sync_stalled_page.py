"""A stalled full-sync line in the console: the Full sync page shows it (in words, not only by colour), says so once
in the live region, offers to restart it, and follows the restarted line until the run finishes."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from local.stack.azurite import connection_string
from shared.domain.records import LineStatus, ReviewLine, SyncRun
from shared.domain.watermarks import format_instant
from shared.storage.runs import TableRunStore
from shared.storage.tables import TableFactory
from tests.browser.conftest import Console
from tests.browser.scenario import Scenario

pytestmark = pytest.mark.integration


def stalled_run(console: Console) -> str:
    """A run whose UNIT GROUP line started 40 minutes ago and last progressed 20 minutes ago (its messages lost)."""
    storage = connection_string("127.0.0.1", console.stack.ports["azurite"])
    runs = TableRunStore(TableFactory.from_connection_string(storage))
    now = datetime.now(UTC)
    started, progressed = format_instant(now - timedelta(minutes=40)), format_instant(now - timedelta(minutes=20))
    run_id = f"fs-{uuid.uuid4()}"
    line = ReviewLine("UNIT GROUP", "fullSynchronization")
    runs.create_run(SyncRun(run_id, started, "running", ("UNIT GROUP",)), [line])
    _, (line,) = runs.get_run(run_id)
    running = replace(line, status=LineStatus.RUNNING, started_on=started, progressed_on=progressed, stores_chunks=True)
    runs.update_line(run_id, running)
    return run_id


def test_a_stalled_line_is_shown_and_restarted_from_the_full_sync_page(console: Console, scenario: Scenario) -> None:
    run_id = stalled_run(console)
    page = console.open("full-sync")
    page.get_by_label("Run id").fill(run_id)
    page.get_by_role("button", name="Show run").click()

    row = page.locator('table.review tbody tr[data-mapping="UNIT GROUP"]')
    expect(row).to_have_attribute("data-status", "stalled")
    expect(row).to_contain_text("no progress since")
    expect(page.locator("#run-status")).to_have_text("running")
    expect(page.locator("#status")).to_contain_text(f"Stalled in run {run_id}: UNIT GROUP.")
    restart = page.get_by_role("button", name="Restart stalled lines")
    expect(restart).to_be_enabled()
    console.screenshot("full-sync-stalled")

    restart.focus()
    page.keyboard.press("Enter")  # reachable and usable from the keyboard
    expect(page.locator("#run-status")).to_have_text("finished", timeout=60_000)
    expect(row).to_have_attribute("data-status", "finished")
    expect(row).to_contain_text("1/1 chunks")  # 9 unit groups: one chunk of 200
    expect(page.get_by_role("button", name="Restart failed lines")).to_be_disabled()
    review = scenario.api("GET", f"full-sync/{run_id}")
    assert review["lines"][0]["counters"]["coupled"] == 9 and review["lines"][0]["status"] == "finished"
    assert console.errors == []
