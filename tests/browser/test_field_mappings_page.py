"""Field mappings in the console (BC's Integration Field Mapping List): a field disabled on the Mappings page and its
effect on the next sync (Synchronize Modified Records: the disabled field keeps Sales' value while another field of
the same edit arrives); direction offered only as narrowing, constants only where the field writes one, a refusal
shown with the field named; by keyboard, with no console error."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from local.emulators.business_central.seed import seeded_id as bc_seeded
from tests.browser.conftest import Console
from tests.browser.scenario import Scenario

pytestmark = pytest.mark.integration
PHONE = "phoneNumber → telephone1 (CUSTOMER)"


def open_fields(page: Page, mapping: str) -> None:
    """Opens the mapping's field mappings from the keyboard (the details' summary takes Enter)."""
    summary = page.locator(f'details[data-mapping="{mapping}"] > summary')
    summary.focus()
    page.keyboard.press("Enter")
    expect(page.locator(f'details[data-mapping="{mapping}"]')).to_have_attribute("open", "")


def test_a_field_disabled_on_the_page_is_not_written_by_the_next_sync(console: Console, scenario: Scenario) -> None:
    scenario.couple_customers()
    bc_id = bc_seeded("customer", "Trey Research")
    account = scenario.account_of("Trey Research")
    before = scenario.dataverse("GET", f"accounts({account})?$select=telephone1,address1_city")

    page = console.open("mappings")
    open_fields(page, "CUSTOMER")
    editor = page.locator('details[data-mapping="CUSTOMER"]')
    expect(editor.get_by_label(f"Direction: {PHONE}").locator("option")).to_have_count(3)  # both ways, or narrowed
    expect(editor.get_by_label("Direction: creditLimit → creditlimit (CUSTOMER)")).to_be_disabled()  # one way only
    expect(editor.locator("input[name=constant]")).to_have_count(0)  # no CUSTOMER field writes a constant
    enabled = editor.get_by_label(f"Enabled: {PHONE}")
    enabled.focus()
    page.keyboard.press("Space")
    expect(enabled).not_to_be_checked()
    page.get_by_role("button", name="Save field changes of CUSTOMER").focus()
    page.keyboard.press("Enter")

    expect(page.locator("#status")).to_contain_text(
        "CUSTOMER: field changes saved. Field overrides: phoneNumber>telephone1: disabled."
    )
    editor = page.locator('details[data-mapping="CUSTOMER"]')  # drawn again, still open, with the stored result
    expect(editor).to_have_attribute("open", "")
    expect(editor.get_by_label(f"Enabled: {PHONE}")).not_to_be_checked()
    expect(editor.locator("tr[data-field='phoneNumber>telephone1']")).to_have_class("muted")
    expect(editor.locator(".field-overrides")).to_have_text("Field overrides: phoneNumber>telephone1: disabled.")
    assert scenario.api("GET", "mappings/CUSTOMER")["overrides"] == {"fields": {"phoneNumber>telephone1": False}}
    console.screenshot("mappings-fields")

    scenario.bc("PATCH", f"customers({bc_id})", {"phoneNumber": "+1 404 555 0177", "city": "Savannah"})
    page.get_by_role("button", name="Synchronize modified records of CUSTOMER").click()
    expect(page.locator("#status")).to_contain_text("CUSTOMER: job")
    after = scenario.dataverse("GET", f"accounts({account})?$select=telephone1,address1_city")
    assert after["address1_city"] == "Savannah"  # the other field of the same edit arrives
    assert after["telephone1"] == before["telephone1"] != "+1 404 555 0177"  # the disabled one does not
    assert console.errors == []


def test_a_refused_field_change_is_shown_with_the_field_named(console: Console, scenario: Scenario) -> None:
    page = console.open("mappings")
    open_fields(page, "PLLINE-PRODPRICE")
    editor = page.locator('details[data-mapping="PLLINE-PRODPRICE"]')
    constant = editor.get_by_label("Constant: constant 1 → pricingmethodcode (PLLINE-PRODPRICE)")
    expect(constant).to_have_value("1")
    constant.fill("one")  # the constant is a number (1 = Currency Amount)
    editor.get_by_role("button", name="Save field changes of PLLINE-PRODPRICE").click()
    expect(page.locator("#alert")).to_contain_text("field fields.=>pricingmethodcode.constant")
    expect(editor.locator("tr[data-field='=>pricingmethodcode']")).to_have_attribute("aria-invalid", "true")
    assert scenario.api("GET", "mappings/PLLINE-PRODPRICE")["overrides"] == {}

    constant.fill("2")
    editor.get_by_role("button", name="Save field changes of PLLINE-PRODPRICE").click()
    expect(page.locator("#status")).to_contain_text("Field overrides: =>pricingmethodcode: constant 2.")
    stored = scenario.api("GET", "mappings/PLLINE-PRODPRICE")
    assert stored["overrides"] == {"fields": {"=>pricingmethodcode": {"constant": 2}}}
    assert next(f for f in stored["fields"] if f["key"] == "=>pricingmethodcode")["constant"] == 2
    # the browser logs the refused PATCH's 400 itself (the network, not the page's code): that one alone
    refused = [e for e in console.errors if "status of 400" in e and "/api/mappings/PLLINE-PRODPRICE" in e]
    assert len(refused) == 1 and console.errors == refused, console.errors
