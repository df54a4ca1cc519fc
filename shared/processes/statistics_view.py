"""A customer's statistics as Sales has them now (`GET /api/customers/{customer}/statistics`): the figures of the
account's `nav_accountstatistics` row, read only, so the console can show them before and after "Update Account
Statistics" (`processes/customer_statistics_action.py`, which writes them).

The customer is named by its BC id or its number (`C00010`: what an admin knows); the answer carries the BC id the
update action takes. An uncoupled customer, or one whose account has no statistics row yet, is a normal answer
(`coupled: false` / `values: null`), not an error: there is simply nothing in Sales yet.
"""

from __future__ import annotations

import re
from typing import Any

from shared.domain.errors import NotFoundError
from shared.domain.statistics import CURRENCY, ENTITY_SET, VALUES
from shared.engine.context import SyncContext
from shared.ports import Row
from shared.processes.statistics import LINK, MAPPING

GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
CUSTOMER_SELECT = ["id", "number", "displayName"]


def customer_statistics(context: SyncContext, customer: str) -> dict[str, Any]:
    """The customer's coupling and its account's statistics row as Sales holds it (None where there is none)."""
    found = _customer(context, customer)
    bc_id = str(found["id"]).lower()
    answer: dict[str, Any] = {
        "bcId": bc_id,
        "number": found.get("number"),
        "name": found.get("displayName"),
        "coupled": False,
        "skipped": False,
        "accountId": None,
        "accountName": None,
        "statisticsId": None,
        "modifiedOn": None,
        "values": None,
    }
    coupling = context.couplings.find_by_bc_id(MAPPING, bc_id)
    if coupling is None:
        return answer
    answer.update(coupled=True, skipped=coupling.skipped, accountId=coupling.dataverse_id)
    account = context.dataverse.get_row("accounts", coupling.dataverse_id, ["name", f"_{LINK}_value"])
    if account is None:
        return answer
    answer["accountName"] = account.get("name")
    statistics_id = account.get(f"_{LINK}_value")
    if not statistics_id:
        return answer
    row = context.dataverse.get_row(ENTITY_SET, str(statistics_id), [*VALUES, f"_{CURRENCY}_value", "modifiedon"])
    answer["statisticsId"] = str(statistics_id)
    if row is not None:
        answer["modifiedOn"] = row.get("modifiedon")
        answer["values"] = {**{name: row.get(name) for name in VALUES}, CURRENCY: row.get(f"_{CURRENCY}_value")}
    return answer


def _customer(context: SyncContext, customer: str) -> Row:
    entity_set = context.mapping(MAPPING).bc_entity_set
    if GUID.fullmatch(customer):
        found = context.bc.get_entity(entity_set, customer.lower(), CUSTOMER_SELECT)
    else:  # a number (the route checked its form); quotes doubled all the same
        number = customer.replace("'", "''")
        pages = context.bc.list_changed_since(entity_set, None, CUSTOMER_SELECT, extra_filter=f"number eq '{number}'")
        found = next((row for page in pages for row in page.rows), None)
    if found is None:
        raise NotFoundError("customerNotFound", f"Business Central has no customer '{customer}'.", field="customer")
    return found
