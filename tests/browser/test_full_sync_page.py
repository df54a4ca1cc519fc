"""Full sync in the console: start a run, watch its review lines update until every line has finished, then the Jobs
page shows the run's work (recent jobs, nothing dead-lettered)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Console
from tests.browser.scenario import Scenario

pytestmark = pytest.mark.integration


def test_start_a_full_sync_and_watch_it_finish(console: Console, scenario: Scenario) -> None:
    scenario.api("POST", "couplings/SALESPEOPLE/match", {})  # as the demo: the admin couples the basics first
    page = console.open("full-sync")
    page.get_by_role("button", name="Start full synchronization").click()

    status = page.locator("#run-status")
    expect(status).to_have_text("finished", timeout=90_000)  # polled by the page, never reloaded
    run_id = page.get_by_label("Run id").input_value()
    review = scenario.api("GET", f"full-sync/{run_id}")
    assert review["status"] == "finished"
    rows = page.locator("table.review tbody tr")
    expect(rows).to_have_count(len(review["lines"]))
    for line in review["lines"]:
        row = page.locator(f'table.review tbody tr[data-mapping="{line["mapping"]}"]')
        expect(row).to_have_attribute("data-status", "finished")
        chunks = line["chunks"]
        if not chunks["total"]:  # a noRecords line plans no chunks
            expect(row).to_contain_text("no chunks")
            continue
        expect(row.locator("progress")).to_have_attribute("value", str(chunks["done"]))
        expect(row).to_contain_text(f"{chunks['done']}/{chunks['total']} chunks")
    customers = page.locator('table.review tbody tr[data-mapping="CUSTOMER"]')
    inserted = next(line for line in review["lines"] if line["mapping"] == "CUSTOMER")["counters"]["inserted"]
    expect(customers.locator("td.number").first).to_have_text(str(inserted))
    expect(page.locator("#status")).to_contain_text(f"Run {run_id} finished")
    expect(page.get_by_role("button", name="Restart failed lines")).to_be_disabled()
    console.screenshot("full-sync")

    page.reload()  # the run id survives in sessionStorage: the review is shown again
    expect(page.locator("#run-status")).to_have_text("finished")

    page.get_by_role("link", name="Jobs").click()
    expect(page.get_by_role("heading", name="Recent jobs of CUSTOMER")).to_be_visible()
    expect(page.locator("tr[data-job]").first).to_be_visible()
    expect(page.get_by_text("No failed lines: nothing dead-lettered in this run.")).to_be_visible()
    expect(page.get_by_role("button", name="Replay failed lines")).to_be_disabled()
    console.screenshot("jobs")
    assert console.errors == []
