"""The full-sync review's overrides in the console (BC's Full Synch. Review before Start): plan a run without
starting it, change a line's recommendation in its labelled select (by keyboard), start it, and the run uses it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Console
from tests.browser.scenario import Scenario

pytestmark = pytest.mark.integration
LEAF = "PLLINE-PRODPRICE"  # no mapping waits for it: leaving it out changes nothing else of the run


def test_a_recommendation_changed_before_start_is_the_one_the_run_uses(console: Console, scenario: Scenario) -> None:
    scenario.api("POST", "couplings/SALESPEOPLE/match", {})
    page = console.open("full-sync")
    page.get_by_role("button", name="Plan for review").click()

    expect(page.locator("#run-status")).to_have_text("planned")
    run_id = page.get_by_label("Run id").input_value()
    planned = {line["mapping"]: line for line in scenario.api("GET", f"full-sync/{run_id}")["lines"]}
    assert planned[LEAF]["recommendation"] == "fullSynchronization"
    expect(page.locator("#status")).to_contain_text(f"Full synchronization {run_id} planned")
    select = page.get_by_label(f"Recommendation for {LEAF}")
    expect(select).to_have_value("fullSynchronization")
    select.focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")  # the third choice: No records
    expect(select).to_have_value("noRecords")
    page.wait_for_timeout(1500)  # a poll would redraw the table: a planned run is not polled, the choice stays
    expect(page.get_by_label(f"Recommendation for {LEAF}")).to_have_value("noRecords")
    console.screenshot("full-sync-overrides")

    page.get_by_role("button", name="Start planned run").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#status")).to_contain_text(f"Run {run_id} started with {LEAF} → noRecords")
    expect(page.locator("#run-status")).to_have_text("finished", timeout=120_000)
    row = page.locator(f'table.review tbody tr[data-mapping="{LEAF}"]')
    expect(row.locator("td").first).to_have_text("noRecords")
    expect(row).to_contain_text("no chunks")
    review = {line["mapping"]: line for line in scenario.api("GET", f"full-sync/{run_id}")["lines"]}
    assert review[LEAF]["recommendation"] == "noRecords" and review[LEAF]["chunks"]["total"] == 0
    assert not any(review[LEAF]["counters"].values())
    others = [name for name in review if name != LEAF]
    assert all(review[name]["recommendation"] == planned[name]["recommendation"] for name in others)
    assert console.errors == []
