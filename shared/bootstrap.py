"""The composition root: the only module that builds concrete adapters and hands them to the services.

Everything is built on first use, never at import: the Functions host imports `function_app.py` on every cold start,
and a cold start must not wait for tokens, tables or queues it may not need. Tests and the local host replace the
built services with `set_services()`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shared.domain.mapping import TableMapping
from shared.ports import JobQueue, QuoteArchive, RunStore, SettingsStore, StorageProbe
from shared.services.context import SyncContext
from shared.settings import AuthMode, Settings

if TYPE_CHECKING:
    from shared.services.setup import Setup

BC_RESOURCE = "https://api.businesscentral.dynamics.com"
MAPPING_PARTITION = "mapping"


@dataclass
class Services:
    settings: Settings | None
    context: SyncContext
    settings_store: SettingsStore
    queue: JobQueue
    runs: RunStore
    archive: QuoteArchive
    environment: Mapping[str, str] = field(default_factory=dict)  # app settings: the setup's defaults
    storage: StorageProbe | None = None  # `/api/health`: the Table Storage account


_services: Services | None = None
_lock = threading.Lock()


def mapping_resolver(store: SettingsStore) -> Callable[[str], TableMapping]:
    """The catalog with the administrator's stored overrides (read at each lookup: one small table read)."""
    from shared.mappings import get_mapping, with_overrides

    def resolve(name: str) -> TableMapping:
        mapping = get_mapping(name)
        overrides, _ = store.get_settings(MAPPING_PARTITION)
        own = overrides.get(name)
        return with_overrides(mapping, own) if isinstance(own, dict) and own else mapping

    return resolve


def _token_provider(settings: Settings, resource: str) -> Any:
    from shared.connectors.auth import CertificateTokenProvider, ClientSecretTokenProvider, TokenSession

    local = "login.microsoftonline.com" not in settings.authority_host
    options: dict[str, Any] = {"authority_host": settings.authority_host}
    if local:  # the local authority: self-signed TLS, unknown to MSAL's instance discovery
        options.update(instance_discovery=False, http_client=TokenSession(verify=settings.authority_ca_file or True))
    if settings.auth_mode is AuthMode.CERTIFICATE:
        return CertificateTokenProvider.from_pem_bundle(
            settings.tenant_id, settings.client_id, settings.client_certificate or "", resource, **options
        )
    return ClientSecretTokenProvider(
        settings.tenant_id, settings.client_id, settings.client_secret or "", resource, **options
    )


def build_services(settings: Settings) -> Services:
    from shared.connectors.business_central import BusinessCentralClient
    from shared.connectors.credentials import ManagedIdentityCredential
    from shared.connectors.dataverse import DataverseClient
    from shared.connectors.entity_sources import sources_from_settings
    from shared.queue import ServiceBusJobQueue
    from shared.storage.archive import TableQuoteArchive
    from shared.storage.checkpoints import TableCheckpointStore
    from shared.storage.couplings import TableCouplingStore
    from shared.storage.jobs import TableJobLog
    from shared.storage.runs import TableRunStore
    from shared.storage.settings import TableSettingsStore
    from shared.storage.sync_errors import TableSyncErrorStore
    from shared.storage.tables import TableFactory

    credential = ManagedIdentityCredential(settings.managed_identity_client_id)
    if settings.storage_connection:
        tables = TableFactory.from_connection_string(settings.storage_connection, prefix=settings.table_prefix)
    else:
        tables = TableFactory.from_account_url(
            settings.storage_account_url or "", credential, prefix=settings.table_prefix
        )
    if settings.service_bus_connection:
        queue = ServiceBusJobQueue(settings.sync_jobs_queue, connection_string=settings.service_bus_connection)
    else:
        queue = ServiceBusJobQueue(
            settings.sync_jobs_queue, fully_qualified_namespace=settings.service_bus_namespace, credential=credential
        )
    settings_store = TableSettingsStore(tables)
    context = SyncContext(
        bc=BusinessCentralClient(
            settings.bc_base_url,
            _token_provider(settings, BC_RESOURCE),
            settings.bc_company,
            sources=sources_from_settings(os.environ),
        ),
        dataverse=DataverseClient(settings.dataverse_url, _token_provider(settings, settings.dataverse_url)),
        couplings=TableCouplingStore(tables),
        checkpoints=TableCheckpointStore(tables),
        errors=TableSyncErrorStore(tables),
        jobs=TableJobLog(tables),
        mapping=mapping_resolver(settings_store),
        local_currency=settings.local_currency,
        bulk_size=settings.bulk_size,
        setup_values=lambda: _setup_values(settings_store),
    )
    return Services(
        settings,
        context,
        settings_store,
        queue,
        TableRunStore(tables),
        TableQuoteArchive(tables),
        dict(os.environ),
        storage=tables,
    )


def _setup_values(store: SettingsStore) -> dict[str, Any]:
    """The effective setup for the engine's mapping behaviours (the write-in product), read at each use."""
    from shared.services.setup import read_setup

    return read_setup(store, os.environ).values


def get_services() -> Services:
    global _services  # noqa: PLW0603 - the one lazily built composition root of the process
    with _lock:
        if _services is None:
            _services = build_services(Settings.from_env())
        return _services


def current_setup(services: Services) -> Setup:
    """The effective setup (one small table read), with its BC company and page service names applied to the BC
    client, so a PATCH on any instance reaches every instance at its next call."""
    from shared.connectors.business_central import BusinessCentralClient
    from shared.connectors.entity_sources import sources_from_settings
    from shared.services.setup import read_setup

    setup = read_setup(services.settings_store, services.environment)
    bc = services.context.bc
    if isinstance(bc, BusinessCentralClient):
        if setup["bcCompany"]:
            bc.company = str(setup["bcCompany"])
        services_text = ",".join(f"{entity}={name}" for entity, name in dict(setup["pageServices"]).items())
        bc.sources = sources_from_settings({**services.environment, "BC_PAGE_SERVICES": services_text})
    return setup


def check_page_services(names: Mapping[str, str]) -> None:
    """Every key must be a page-backed entity of the connector's registry (400 naming the entity otherwise)."""
    from shared.connectors.entity_sources import DEFAULT_SOURCES
    from shared.domain.errors import InvalidInputError

    pages = sorted(s.entity for s in DEFAULT_SOURCES if s.is_page)
    for entity in names:
        if entity not in pages:
            raise InvalidInputError(
                "invalidValue", f"'{entity}' is not a page-backed entity (one of {', '.join(pages)}).",
                field=f"pageServices.{entity}",
            )


def token_getters(services: Services) -> dict[str, Callable[[], object] | None]:
    """For `/api/health`: "obtain a token" of the BC and Dataverse clients' own providers (the very path a sync
    takes), or None for a client that sends no token (an in-memory fake)."""
    getters: dict[str, Callable[[], object] | None] = {}
    for app, client in (("businessCentral", services.context.bc), ("dataverse", services.context.dataverse)):
        http = getattr(client, "http", None)
        tokens = getattr(http, "tokens", None) if http is not None else None
        getters[app] = tokens.get_token if tokens is not None else None
    return getters


def set_services(services: Services | None) -> None:
    """Replace (or with None, forget) the built services: tests and the local host use it."""
    global _services  # noqa: PLW0603
    with _lock:
        _services = services
