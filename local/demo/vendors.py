"""The demo's vendors: VENDOR, the mapping added as issue 21's worked example of "how to add a mapping"
(shared/mappings/vendors.py), shown through the app's HTTP API as an admin meets it: a vendor made in BC becomes an
account of type Vendor in Sales, a vendor account made in Sales becomes a vendor in BC, a change in Sales reaches BC
on the mapping's run, and CUSTOMER leaves the vendor accounts alone. Shared with the end-to-end test
(tests/e2e/test_vendor_through_host.py), so `make demo` shows what that test checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from local.demo.errors import StoryError

if TYPE_CHECKING:
    from local.demo.story import Story

VENDOR_TYPE = 11  # account.customertypecode Vendor: what VENDOR's Dataverse filter admits
FROM_BC = "Fabrikam Supplies"
FROM_SALES = "Northwind Traders"
NEW_PHONE = "+1 404 555 0151"


@dataclass(frozen=True)
class VendorPairs:
    """The two coupled pairs the story made: (BC vendor id, Sales account id) each."""

    from_bc: tuple[str, str]
    from_sales: tuple[str, str]


def vendor_story(story: Story) -> VendorPairs:
    story.step(f"Creating the BC vendor '{FROM_BC}' in Sales")
    vendor = story.bc("POST", "vendors", {"displayName": FROM_BC, "city": "Atlanta", "currencyCode": "EUR"})
    coupling = story.api("POST", "records/VENDOR/create-in-dataverse", {"bcId": vendor["id"]}, expect=201)
    account = story.dataverse("GET", f"accounts({coupling['dataverseId']})?$select=name,customertypecode")
    if account["customertypecode"] != VENDOR_TYPE:
        raise StoryError(f"the account made from vendor {vendor['number']} is of type {account['customertypecode']}")
    print(f"   vendor {vendor['number']} -> account '{account['name']}' of type Vendor ({VENDOR_TYPE}), coupled")
    story.summary["created"].append(f"{FROM_BC}: vendor {vendor['number']} -> account of type Vendor in Sales")

    story.step(f"Creating a vendor in BC from the Sales vendor account '{FROM_SALES}'")
    supplier = story.dataverse(
        "POST", "accounts", {"name": FROM_SALES, "address1_city": "Redmond", "customertypecode": VENDOR_TYPE}
    )
    made = story.api("POST", "records/VENDOR/create-in-business-central", {"dataverseId": supplier["accountid"]}, 201)
    created = story.bc("GET", f"vendors({made['bcId']})")
    print(f"   vendor {created['number']} '{created['displayName']}' created in BC and coupled")
    story.summary["created"].append(f"{FROM_SALES}: vendor {created['number']} in BC")

    story.step(f"Changing {FROM_BC}' phone in Sales, then synchronizing VENDOR")
    story.dataverse("PATCH", f"accounts({coupling['dataverseId']})", {"telephone1": NEW_PHONE})
    job = story.api("POST", "mappings/VENDOR/synchronize")
    phone = story.bc("GET", f"vendors({vendor['id']})")["phoneNumber"]
    if phone != NEW_PHONE:
        raise StoryError(f"the vendor's phone is {phone!r} after the VENDOR run {job['jobId']}")
    print(f"   job {job['jobId']}: {job['counters']}; BC's vendor phone is now {phone}")
    story.summary["synchronized"].append(f"{FROM_BC} -> BC (VENDOR run): phone")

    for account_id in (coupling["dataverseId"], supplier["accountid"]):  # CUSTOMER's filter: type Customer only
        story.api("GET", f"couplings/CUSTOMER?dataverseId={account_id}", expect=404)
    print("   CUSTOMER has neither vendor account: its Dataverse filter admits accounts of type Customer only")
    return VendorPairs((vendor["id"], coupling["dataverseId"]), (made["bcId"], supplier["accountid"]))
