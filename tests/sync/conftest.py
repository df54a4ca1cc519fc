"""A real sync stack for service tests: both emulators (demo data), Azurite storage with a fresh table prefix, and
the real connectors, wired into a `SyncContext` exactly as bootstrap will wire them."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from local.emulators.business_central.seed import COMPANY_NAME
from shared.connectors.business_central.client import BusinessCentralClient
from shared.connectors.dataverse.client import DataverseClient
from shared.connectors.http import HttpClient, RetryPolicy
from shared.domain.mapping import TableMapping
from shared.engine.context import SyncContext
from shared.mappings import CATALOG
from shared.storage.checkpoints import TableCheckpointStore
from shared.storage.couplings import TableCouplingStore
from shared.storage.jobs import TableJobLog
from shared.storage.match_log import TableMatchLog
from shared.storage.sync_errors import TableSyncErrorStore
from shared.storage.tables import TableFactory
from tests.conftest import BC_RESOURCE, TENANT, Authority, BusinessCentralHandle, EmulatorHandle


@dataclass
class SyncStack:
    context: SyncContext
    bc: BusinessCentralClient
    dataverse: DataverseClient
    bc_handle: BusinessCentralHandle
    dv_handle: EmulatorHandle
    mappings: dict[str, TableMapping]

    def use(self, *mappings: TableMapping) -> None:
        self.mappings.update({m.name: m for m in mappings})


def _no_sleep(seconds: float) -> None:
    """Tests never wait for real: retries still happen, their waits are recorded by the HTTP client."""


@pytest.fixture
def sync_stack(
    authority: Authority, azurite: str, bc_demo: str, business_central: BusinessCentralHandle, dataverse: EmulatorHandle
) -> SyncStack:
    dataverse.admin("POST", "seed", json={"profile": "demo"}).raise_for_status()
    policy = RetryPolicy(max_attempts=4, max_total_wait=5)
    bc_base = f"{business_central.base_url}/{TENANT}/production"
    bc = BusinessCentralClient(
        bc_base,
        None,
        COMPANY_NAME,
        http=HttpClient(bc_base, authority.token_provider(BC_RESOURCE), policy=policy, sleep=_no_sleep),
    )
    dv = DataverseClient(
        dataverse.base_url, authority.token_provider(dataverse.base_url), policy=policy, sleep=_no_sleep
    )
    tables = TableFactory.from_connection_string(azurite, prefix=f"t{uuid.uuid4().hex[:12]}")
    mappings: dict[str, TableMapping] = {}

    def mapping(name: str) -> TableMapping:
        if name in mappings:
            return mappings[name]
        from shared.mappings import get_mapping  # the catalog, when a test did not provide its own

        return get_mapping(name)

    context = SyncContext(
        bc=bc,
        dataverse=dv,
        couplings=TableCouplingStore(tables),
        checkpoints=TableCheckpointStore(tables),
        errors=TableSyncErrorStore(tables),
        jobs=TableJobLog(tables),
        mapping=mapping,
        catalog=CATALOG,  # as bootstrap gives it: the option mappings and write-in products found by declaration
        match_log=TableMatchLog(tables),  # as bootstrap gives it
    )
    return SyncStack(context, bc, dv, business_central, dataverse, mappings)


MappingFactory = Callable[..., TableMapping]
