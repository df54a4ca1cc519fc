"""Stories of the Sync errors page's actions (issue 24), set up through the app's API and the emulators: a coupled
customer deleted in Business Central (its Sales account is left), and two customers whose currency lost its
coupling (two rows a retry resolves once the currency is coupled again), and more errors than a page shows."""

from __future__ import annotations

import uuid
from typing import Any

from azure.data.tables import TableServiceClient

from local.emulators.business_central.seed import seeded_id as bc_seeded
from local.stack.azurite import connection_string
from shared.domain.records import Side
from shared.storage.sync_errors import TableSyncErrorStore
from shared.storage.tables import SYNC_ERRORS, TableFactory
from tests.browser.scenario import DV_API, Scenario


def deleted_in_business_central(scenario: Scenario, customer: str) -> tuple[str, str]:
    """Customers coupled, then `customer` deleted in BC: its account is left in Sales. Returns (BC id, account)."""
    scenario.couple_customers()
    bc_id = bc_seeded("customer", customer)
    account = scenario.account_of(customer)
    scenario.bc("DELETE", f"customers({bc_id})")
    return bc_id, account


def sales_has(scenario: Scenario, entity_set: str, row_id: str) -> bool:
    headers = {"Authorization": f"Bearer {scenario.stack.token(scenario.stack.urls['dataverse'])}"}
    url = f"{scenario.stack.urls['dataverse']}{DV_API}/{entity_set}({row_id})"
    answer = scenario.session.get(url, headers=headers, timeout=30)
    if answer.status_code == 404:
        return False
    answer.raise_for_status()
    return True


def two_lookup_errors(scenario: Scenario, customers: tuple[str, str], currency: str) -> dict[str, Any]:
    """Both customers moved to `currency`, whose coupling was removed: the run records `lookupNotCoupled` for each.
    Returns the currency's coupling (coupling it again is the fix)."""
    scenario.couple_customers()
    currency_id = bc_seeded("currency", currency)
    coupling: dict[str, Any] = scenario.api("GET", f"couplings/CURRENCY?bcId={currency_id}")
    scenario.api("DELETE", f"couplings/CURRENCY/{currency_id}", expect=204)
    for customer in customers:
        scenario.bc("PATCH", f"customers({bc_seeded('customer', customer)})", {"currencyCode": currency})
    scenario.api("POST", "mappings/CUSTOMER/synchronize")
    return coupling


def more_errors(scenario: Scenario, mapping: str, count: int, *, guid_ids: bool = False) -> list[str]:
    """`count` more record errors of `mapping`, written straight into the app's SyncErrors table (found by its name:
    the app creates it with its first error), so a list runs over more than one page. Returns their ids (`guid_ids`:
    GUIDs of rows Sales does not have, so a retry of them reads and fails like a real one)."""
    connection = connection_string("127.0.0.1", scenario.stack.ports["azurite"])
    names = [t.name for t in TableServiceClient.from_connection_string(connection).list_tables()]
    [table] = [name for name in names if name.endswith(SYNC_ERRORS)]
    store = TableSyncErrorStore(TableFactory.from_connection_string(connection, prefix=table[: -len(SYNC_ERRORS)]))
    ids = [str(uuid.UUID(int=n + 1)) if guid_ids else f"page-{n:02d}" for n in range(count)]
    for record_id in ids:
        store.record_error(mapping, Side.DATAVERSE, record_id, "badValue", f"a made-up error of {record_id}")
    return ids
