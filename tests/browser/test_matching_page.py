"""Match-based coupling in the console (issue 24): a match dry run, then a run with its log. The criteria are edited
by keyboard only, the preview lists what a run would couple and leave, the queued job runs to its end while the page
polls it, and the log shows the coupled records with their Sales rows and the unmatched ones with their reasons."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from local.emulators.business_central.seed import seeded_id as bc_seeded
from local.emulators.dataverse.seed import seeded_id as dv_seeded
from tests.browser.conftest import Console
from tests.browser.scenario import Scenario

pytestmark = pytest.mark.integration


def test_a_match_dry_run_then_a_run_with_its_log(console: Console, scenario: Scenario) -> None:
    for mapping in ("SALESPEOPLE", "CURRENCY"):  # a customer's lookups are coupled before it can be
        scenario.api("POST", f"couplings/{mapping}/match", {})
    duplicate = str(uuid.uuid4())  # a second "Trey Research" typed in Sales: that record cannot be matched
    scenario.dataverse("POST", "accounts", {"accountid": duplicate, "name": "Trey Research", "customertypecode": 3})

    page = console.open("matching")
    expect(page).to_have_title("Match-based coupling · bc-sales-sync admin console")
    expect(page.get_by_label("Mapping")).to_have_value("CUSTOMER")
    criteria = page.locator("table.match-criteria")
    use_name = criteria.get_by_label("Use displayName for matching")
    expect(use_name).to_be_checked()  # the mapping's own criterion

    # keyboard only: the name at priority 2, case-sensitive (the demo's names are typed alike in both apps)
    priority = criteria.get_by_label("Priority of displayName")
    priority.focus()
    page.keyboard.press("Control+A")
    page.keyboard.type("2")
    page.keyboard.press("Tab")
    expect(criteria.get_by_label("Case-sensitive matching of displayName")).to_be_focused()
    page.keyboard.press("Space")
    expect(criteria.get_by_label("Case-sensitive matching of displayName")).to_be_checked()
    expect(page.get_by_label("Create in Sales when no match is found")).not_to_be_checked()

    page.get_by_role("button", name="Preview (dry run)").focus()
    page.keyboard.press("Enter")
    preview = page.locator("table.match-preview")
    expect(preview.locator("tbody tr")).to_have_count(6)  # the six demo customers, none coupled yet
    cannon = preview.locator(f'tr[data-bc-id="{bc_seeded("customer", "The Cannon Group PLC")}"]')
    expect(cannon).to_contain_text("Coupled")
    expect(cannon).to_contain_text("priority 2")
    trey = preview.locator(f'tr[data-bc-id="{bc_seeded("customer", "Trey Research")}"]')
    expect(trey).to_contain_text("Trey Research")  # the record's name, with its id
    expect(trey).to_contain_text("Several matches (2)")
    expect(page.locator(".preview-summary")).to_contain_text("A run would couple 3, create 0 and leave 3 uncoupled")
    page.locator("#preview-heading").evaluate("heading => heading.scrollIntoView()")
    console.screenshot("matching-preview")
    scenario.api("GET", "couplings/CUSTOMER?bcId=" + bc_seeded("customer", "The Cannon Group PLC"), expect=404)

    page.get_by_role("button", name="Start").focus()
    page.keyboard.press("Enter")
    expect(page.locator(".job-progress .badge")).to_have_text("finished", timeout=60_000)
    log = page.locator("table.match-log")
    expect(log.locator("tbody tr")).to_have_count(6)
    cannon_row = log.locator(f'tr[data-bc-id="{bc_seeded("customer", "The Cannon Group PLC")}"]')
    expect(cannon_row).to_contain_text("The Cannon Group PLC")
    expect(cannon_row).to_contain_text("Coupled")
    expect(cannon_row).to_contain_text(dv_seeded("account", "The Cannon Group PLC"))
    expect(log.locator(f'tr[data-bc-id="{bc_seeded("customer", "Trey Research")}"]')).to_contain_text(
        "Several matches (2)"
    )
    expect(log.locator(f'tr[data-bc-id="{bc_seeded("customer", "Adatum Corporation")}"]')).to_contain_text("No match")

    page.get_by_label("Show").select_option("unmatched")  # the log filtered by outcome
    expect(log.locator("tbody tr")).to_have_count(3)
    expect(log.locator('tbody tr[data-outcome="unmatched"]')).to_have_count(3)
    expect(page.get_by_role("button", name="Next page")).to_be_disabled()
    page.locator("#job-heading").evaluate("heading => heading.scrollIntoView()")
    console.screenshot("matching-log")
    coupled = scenario.api("GET", "couplings/CUSTOMER?bcId=" + bc_seeded("customer", "The Cannon Group PLC"))
    assert coupled["dataverseId"] == dv_seeded("account", "The Cannon Group PLC")
    assert console.errors == []
