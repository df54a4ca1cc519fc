"""The stories of the Couplings page's list (issue 24), set up through the app's API and the emulators: the demo's
customers coupled and in step, then three of them changed in Business Central, one of those also in Sales since
the last synchronization (the one a selection must leave, not overwrite)."""

from __future__ import annotations

from typing import Any

from tests.browser.scenario import Scenario


def couplings_of(scenario: Scenario, mapping: str) -> list[dict[str, Any]]:
    """Every coupling of the mapping, page by page as the console reads them."""
    found: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        query = f"top=1000&continuationToken={token}" if token else "top=1000"
        page = scenario.api("GET", f"couplings/{mapping}/list?{query}")
        found += page["value"]
        token = page["continuationToken"]
        if token is None:
            return found


def three_changed_one_also_in_sales(scenario: Scenario) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(the three couplings changed in BC, in list order; the one whose Sales account changed too)."""
    scenario.couple_customers()
    three = couplings_of(scenario, "CUSTOMER")[:3]
    for n, coupling in enumerate(three):
        scenario.bc("PATCH", f"customers({coupling['bcId']})", {"city": f"Selected city {n}"})
    changed = three[2]
    scenario.dataverse("PATCH", f"accounts({changed['dataverseId']})", {"address1_city": "Changed in Sales"})
    return three, changed


def sales_city(scenario: Scenario, account: str) -> str:
    return str(scenario.dataverse("GET", f"accounts({account})?$select=address1_city")["address1_city"])
