"""The demo's second BC company (issue 22): one deployment serving two BC companies against one Sales org.

The stack of `make demo` runs with `BC_COMPANIES` listing the demo company `CRONUS USA, Inc.` (the primary: key "",
today's tables) and `Fabrikam, Inc.` in the same environment (key `fab`, its own tables), both seeded by the BC
emulator's `companies` profile (`local/emulators/business_central/seed.py`; it also seeds a sandbox company the demo
does not configure). With several companies configured every call about a company's data names its company
(`?company=`), so the rest of the story passes the primary's (`Story.company`).

This chapter shows, through the app's HTTP API and the Dataverse org as a user reads it: a call without `company` is
refused with 400 naming `company`; Fabrikam's customers reach Sales with `?company=fab` (its salespeople and
currencies coupled first, then match-based coupling that creates an account where none matches), each account
stamped with Fabrikam's own `bcbi_company` row; "Trey Research", a customer of both companies, is two accounts, one
per company; and each company's couplings are its own (CRONUS has no coupling of Fabrikam's customer).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from local.demo.errors import StoryError
from local.emulators.business_central.seed import (
    COMPANY_ID,
    COMPANY_NAME,
    FABRIKAM_CUSTOMERS,
    FABRIKAM_ID,
    FABRIKAM_NAME,
    PRODUCTION,
    scoped_ids,
)

if TYPE_CHECKING:
    from local.demo.story import Story

SECOND_KEY = "fab"
PRIMARY = {"environment": PRODUCTION, "company": COMPANY_NAME}  # BC_BASE_URL's environment and BC_COMPANY: key ""
SECOND = {"environment": PRODUCTION, "company": FABRIKAM_NAME, "key": SECOND_KEY}
DEMO_COMPANIES = [PRIMARY, SECOND]  # the stack's BC_COMPANIES
PRIMARY_NAME = f"{PRODUCTION}/{COMPANY_NAME}"  # how the story names the primary in `?company=` (key "" cannot be)
SHARED_NAME = "Trey Research"  # a customer of both companies
fabrikam_id = scoped_ids(f"{PRODUCTION}/{FABRIKAM_NAME}")


def served_companies() -> str:
    """The companies the demo's stack serves, as its summary names them."""
    names = [
        f"{c['company']} (" + (f"key {c['key']}" if c.get("key") else 'the primary, key ""') + ")"
        for c in DEMO_COMPANIES
    ]
    return f"{len(names)} BC companies: " + " and ".join(names)


def company_rows(story: Story) -> dict[str, str]:
    """Sales' `bcbi_company` rows by the BC company id they stand for (`bcbi_externalid`, lower case)."""
    rows = story.dataverse("GET", "bcbi_companies?$select=bcbi_companyid,bcbi_externalid,bcbi_name")["value"]
    return {str(row["bcbi_externalid"]).lower(): str(row["bcbi_companyid"]) for row in rows}


def _account(story: Story, account_id: str) -> dict[str, Any]:
    return dict(story.dataverse("GET", f"accounts({account_id})?$select=name,address1_city,_bcbi_companyid_value"))


def company_story(story: Story) -> None:
    story.step(f"A second BC company: '{FABRIKAM_NAME}' (key {SECOND_KEY}) in the same environment and Sales org")
    trey = fabrikam_id("customer", SHARED_NAME)
    refused = story.api("GET", f"couplings/CUSTOMER?bcId={trey}", company="", expect=400)["error"]
    if refused.get("field") != "company":
        raise StoryError(f"the call without company was refused naming {refused.get('field')!r}: {refused}")
    print(f"   without ?company=: 400 {refused['code']} naming '{refused['field']}': {refused['message']}")
    story.summary["companies"].append(f"a call without company: 400 {refused['code']} naming 'company'")

    story.step(f"{FABRIKAM_NAME}: its salespeople and currencies, then its customers to Sales (?company={SECOND_KEY})")
    for mapping in ("SALESPEOPLE", "CURRENCY"):
        report = story.api("POST", f"couplings/{mapping}/match", {}, company=SECOND_KEY)
        print(f"   {mapping}: {len(report['coupled'])} coupled, {len(report['created'])} created in Sales")
    report = story.api("POST", "couplings/CUSTOMER/match", {"createIfNoMatch": True}, company=SECOND_KEY)
    if report["failed"] or len(report["coupled"]) + len(report["created"]) != len(FABRIKAM_CUSTOMERS):
        raise StoryError(f"{FABRIKAM_NAME}'s customers did not all reach Sales: {report}")
    print(f"   CUSTOMER: {len(report['coupled'])} coupled, {len(report['created'])} created in Sales")

    rows = company_rows(story)
    own, primary = rows.get(FABRIKAM_ID.lower()), rows.get(COMPANY_ID.lower())
    if own is None or primary is None:
        raise StoryError(f"Sales has no bcbi_company row of each company: {rows}")
    for name, *_ in FABRIKAM_CUSTOMERS:
        coupling = story.api("GET", f"couplings/CUSTOMER?bcId={fabrikam_id('customer', name)}", company=SECOND_KEY)
        account = _account(story, coupling["dataverseId"])
        if account["_bcbi_companyid_value"] != own:
            raise StoryError(f"the account of {FABRIKAM_NAME}'s '{name}' is stamped {account['_bcbi_companyid_value']}")
        print(f"   account '{account['name']}' ({account['address1_city']}): bcbi_companyid = {FABRIKAM_NAME} ({own})")
    story.summary["companies"].append(
        f"{FABRIKAM_NAME}: {len(FABRIKAM_CUSTOMERS)} customers -> accounts stamped with its bcbi_company row"
    )

    story.step(f"'{SHARED_NAME}' is a customer of both companies: two accounts in Sales, one per company")
    shared = story.dataverse(
        "GET", f"accounts?$select=name,address1_city,_bcbi_companyid_value&$filter=name eq '{SHARED_NAME}'"
    )["value"]
    names = {own: FABRIKAM_NAME, primary: COMPANY_NAME}
    for account in shared:
        stamp = account["_bcbi_companyid_value"]
        print(f"   account {account['accountid']} ({account['address1_city']}): {names.get(stamp, stamp)}")
    if sorted(str(a["_bcbi_companyid_value"]) for a in shared) != sorted([own, primary]):
        raise StoryError(f"expected one '{SHARED_NAME}' account per company, got {shared}")
    story.api("GET", f"couplings/CUSTOMER?bcId={trey}", company=PRIMARY_NAME, expect=404)
    print(
        f"   {COMPANY_NAME} has no coupling of {FABRIKAM_NAME}'s '{SHARED_NAME}': each company's couplings are its own"
    )
    story.summary["companies"].append(f"{SHARED_NAME}: two accounts, one stamped per company")
