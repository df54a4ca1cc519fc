"""The one Table Storage client factory: which account, which credential, which table names.

Why account keys only against Azurite: a shared key is a secret that grants everything on the account, so in Azure
the app authenticates with its managed identity (`from_account_url` + a `TokenCredential`) and no key exists in
configuration. Azurite's published development key is harmless, so the local stack and the tests use a connection
string. Anything else handed to `from_connection_string` is refused loudly rather than silently working.

Tables are created on first use (idempotent), not at import or construction, so building the factory does no I/O
and a cold start only pays for the tables a trigger actually touches. An optional name prefix isolates tests
(`t1a2b3cCouplings`) on one shared Azurite.
"""

from __future__ import annotations

import re
import threading
from typing import Any

import requests
from azure.core.credentials import TokenCredential
from azure.core.exceptions import AzureError, ResourceNotFoundError
from azure.core.pipeline.transport import RequestsTransport
from azure.data.tables import TableClient, TableEntity, TableServiceClient

from shared.domain.errors import FatalError, TransientError
from shared.telemetry_setup import quiet_azure_sdk

COUPLINGS = "Couplings"
CHECKPOINTS = "Checkpoints"
SYNC_RUNS = "SyncRuns"
SYNC_JOBS = "SyncJobs"
SYNC_ERRORS = "SyncErrors"
SETTINGS = "Settings"
QUOTE_ARCHIVE = "QuoteArchive"
DATAVERSE_ENDPOINTS = "DataverseEndpoints"  # the deployment's Dataverse webhook (`storage/dataverse_endpoints.py`)
BC_SUBSCRIPTIONS = "BcSubscriptions"  # the company's BC webhook subscriptions (issue 23: storage/bc_subscriptions.py)
MATCH_LOG = "MatchLog"  # the coupling logs of match-based coupling jobs (issue 24: storage/match_log.py)
TABLE_NAMES = (
    COUPLINGS,
    CHECKPOINTS,
    SYNC_RUNS,
    SYNC_JOBS,
    SYNC_ERRORS,
    SETTINGS,
    QUOTE_ARCHIVE,
    BC_SUBSCRIPTIONS,
    DATAVERSE_ENDPOINTS,
    MATCH_LOG,
)
SERVICE_BUDGETS = "ServiceBudgets"  # the deployment's request budgets (`storage/budgets.py`), shared by its companies
# Tables of the deployment, not of a company: made by the app on first use (not in the company migration or the
# infrastructure's per-company list).
DEPLOYMENT_TABLES = (SERVICE_BUDGETS,)

AZURITE_ACCOUNT = "devstoreaccount1"
_PREFIX = re.compile(r"^([A-Za-z][A-Za-z0-9]{0,29})?$")


class TableFactory:
    """Hands out one `TableClient` per table, creating the table the first time it is asked for.

    Azure SDK clients are thread-safe, so one factory (and its clients) serves every thread of the host.
    """

    def __init__(self, service: TableServiceClient, *, prefix: str = "") -> None:
        if not _PREFIX.match(prefix):
            raise ValueError(f"table prefix {prefix!r}: a letter then up to 29 letters or digits")
        quiet_azure_sdk()  # no request log line and no tracing span per Table request (issue 21)
        self._service = service
        self.prefix = prefix
        self._tables: dict[str, TableClient] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_connection_string(cls, connection_string: str, *, prefix: str = "") -> TableFactory:
        """Azurite only (`UseDevelopmentStorage=true` or account `devstoreaccount1`); see the module docstring."""
        if not is_azurite_connection_string(connection_string):
            raise FatalError(
                "accountKeyRefused",
                "storage connection strings (account keys) are accepted only for Azurite; in Azure use "
                "TableFactory.from_account_url with the app's managed identity",
                field="connectionString",
            )
        return cls(TableServiceClient.from_connection_string(connection_string, transport=_transport()), prefix=prefix)

    @classmethod
    def from_account_url(cls, account_url: str, credential: TokenCredential, *, prefix: str = "") -> TableFactory:
        """Managed identity (or any `TokenCredential`) against `https://<account>.table.core.windows.net`; the
        caller builds the credential, so this module never imports azure.identity."""
        if not hasattr(credential, "get_token"):
            raise TypeError("credential must be a TokenCredential (an object with get_token)")
        service = TableServiceClient(endpoint=account_url, credential=credential, transport=_transport())
        return cls(service, prefix=prefix)

    def table_name(self, name: str) -> str:
        if name not in TABLE_NAMES and name not in DEPLOYMENT_TABLES:
            known = ", ".join((*TABLE_NAMES, *DEPLOYMENT_TABLES))
            raise ValueError(f"unknown table {name!r}; the tables are {known}")
        return f"{self.prefix}{name}"

    def table(self, name: str) -> TableClient:
        """The client of table `name` (one of `TABLE_NAMES` or `DEPLOYMENT_TABLES`), creating the table if it does not
        exist yet."""
        full_name = self.table_name(name)
        with self._lock:
            client = self._tables.get(full_name)
            if client is None:
                client = self._service.create_table_if_not_exists(full_name)
                self._tables[full_name] = client
            return client

    def ping(self) -> None:
        """`StorageProbe` (`/api/health`): one query for a partition no one writes, in the job log's table, with the
        reach and rights the app works with (a missing table still proves the account answered). One quick attempt,
        not the SDK's retries: a health probe must answer while an outage lasts, not wait it out."""
        client = self._service.get_table_client(self.table_name(SYNC_JOBS))
        try:
            rows = client.query_entities(
                "PartitionKey eq '~health'", results_per_page=1, retry_total=0, connection_timeout=5, read_timeout=10
            )
            next(iter(rows), None)
        except ResourceNotFoundError:
            return
        except AzureError as error:
            raise TransientError("StorageUnavailable", f"Table Storage: {type(error).__name__}") from error


def _transport() -> RequestsTransport:
    """The SDK's own transport over a session that ignores the machine's environment (`trust_env=False`), as every
    HTTP session of the app does (docs/architecture.md, "HTTP"): no proxy or CA bundle sneaks in, and no `.netrc`
    lookup on disk for every request (about 5 % of the worker's CPU in a full sync, issue 21)."""
    session = requests.Session()
    session.trust_env = False
    return RequestsTransport(session=session, session_owner=False)


def is_azurite_connection_string(connection_string: str) -> bool:
    settings = parse_connection_string(connection_string)
    if settings.get("usedevelopmentstorage", "").lower() == "true":
        return True
    return settings.get("accountname") == AZURITE_ACCOUNT


def parse_connection_string(connection_string: str) -> dict[str, str]:
    """`Key=Value;` pairs with lower-cased keys (values keep their case; a key's value may itself contain `=`)."""
    pairs = (part.split("=", 1) for part in connection_string.split(";") if part.strip())
    return {key.strip().lower(): value.strip() for key, value in (pair for pair in pairs if len(pair) == 2)}


def etag_of(entity: TableEntity) -> str:
    etag: Any = entity.metadata["etag"]
    return str(etag)
