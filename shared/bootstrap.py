"""The composition root: the only module that builds concrete adapters and hands them to the services.

Everything is built on first use, never at import: the Functions host imports `function_app.py` on every cold start,
and a cold start must not wait for tokens, tables or queues it may not need. Tests and the local host replace the
built services with `set_services()`.

Two lifetimes. `get_services()` is the process's: adapters built from the app settings once (connections, token
caches, table clients), never changed afterwards. `for_run()` (`run_services()`) is one invocation's (a timer tick,
a queue message, an HTTP request): it reads the stored setup and the mapping overrides once (one small `Settings`
query for both) and gives a `SyncContext` with that setup, a catalog snapshot, and a BC client for the setup's
company and page services. So an admin's change through `PATCH /api/setup` or a mapping override reaches every path
and every instance at its next invocation, without a restart, and no client is rewritten while another invocation
uses it. No cache beyond the invocation, but for the chunks of one full synchronization, which share one reading per
run and process (`for_run`'s `run_id`).

Several companies (issue 22, `BC_COMPANIES`, `domain/companies.py`): one `Services` per company, each built on first
use. The Dataverse client and the Service Bus queue are the deployment's, shared by every company (a company's jobs
go through its `CompanyJobQueue`, which adds its key to each message); the BC client (the company's environment and
company), the tables (`TABLE_PREFIX` + the company's key) and the stores on them, and the setup's defaults are the
company's. `get_services()` and `run_services()` without a company are the primary company's (key ""): today's.

Budgets (issue 22, item 7; `connectors/budget.py`): one `ScopeBudget` per scope (a BC environment, the Dataverse
org) and process, on the deployment's `ServiceBudgets` table, shared by the clients of every company on it. Each
company's BC client holds its company's ticket; the shared Dataverse client holds the primary's, and `for_run`
hands another company's invocation a copy of it (same session and tokens) holding that company's ticket, so every
request is counted for the company that sent it and its job entries report it (`TableJobLog`'s `report`).
"""

from __future__ import annotations

import copy
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from shared.domain.companies import FIELD as COMPANY_FIELD
from shared.domain.companies import Company, base_url_for, primary_company
from shared.domain.errors import InvalidInputError
from shared.engine.context import SyncContext
from shared.ports import JobQueue, QueueCounts, QuoteArchive, RunStore, SettingsStore, StorageProbe
from shared.settings import COMPANIES_SETTING, AuthMode, Settings

if TYPE_CHECKING:
    from shared.connectors.budget import ScopeBudget
    from shared.domain.jobs import JobMessage
    from shared.engine.setup import Setup
    from shared.services.full_sync.coordinator import FullSync

BC_RESOURCE = "https://api.businesscentral.dynamics.com"


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
    company: Company | None = None  # the company served (None: set by a test, the primary)


_services: dict[str, Services] = {}  # company key -> its services ("" the primary company: today's)
_companies: tuple[Company, ...] | None = None  # set by tests (`set_companies`); else the settings'
_lock = threading.RLock()
ANY_COMPANY = Company("", "", "")  # the one company of services set without settings (tests, the local host)


class UnknownCompany(InvalidInputError):
    """A company key no configured company has (a message sent before the configuration changed)."""

    def __init__(self, key: str) -> None:
        super().__init__("companyNotConfigured", f"No company with key {key!r} is configured.", field=COMPANY_FIELD)
        self.key = key


class CompanyJobQueue:
    """The deployment's queue as one company sends on it: every message it sends carries the company's key in its
    payload (`"company"`; `domain/jobs.py` reads it back), so the worker that takes it builds that company's
    services. Whatever a company's services send (the full synchronization's splits, chunks and throttled re-sends)
    goes through it, so no sender has to know its company."""

    def __init__(self, queue: JobQueue, key: str) -> None:
        self.queue, self.key = queue, key

    def send(self, messages: Sequence[JobMessage], *, delay: timedelta | None = None) -> None:
        from shared.domain.jobs import with_company

        self.queue.send([with_company(message, self.key) for message in messages], delay=delay)

    def ping(self) -> None:
        self.queue.ping()

    def message_counts(self) -> QueueCounts | None:
        return self.queue.message_counts()


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


def build_services(settings: Settings, company: Company | None = None, shared: Services | None = None) -> Services:
    """The services of `company` (None: the primary, today's), on the adapters of `shared` (the primary company's
    services: its Dataverse client, its queue and its BC token provider) when given, else on new ones."""
    from shared.connectors.budget import METER
    from shared.connectors.business_central.client import BusinessCentralClient
    from shared.connectors.business_central.entity_sources import sources_from_settings
    from shared.connectors.credentials import ManagedIdentityCredential
    from shared.connectors.dataverse.client import DataverseClient
    from shared.connectors.service_bus.queue import ServiceBusJobQueue
    from shared.domain.budgets import scope_of_bc, scope_of_dataverse
    from shared.mappings import CATALOG, get_mapping
    from shared.storage.archive import TableQuoteArchive
    from shared.storage.checkpoints import TableCheckpointStore
    from shared.storage.couplings import TableCouplingStore
    from shared.storage.jobs import TableJobLog
    from shared.storage.match_log import TableMatchLog
    from shared.storage.runs import TableRunStore
    from shared.storage.settings import TableSettingsStore
    from shared.storage.sync_errors import TableSyncErrorStore
    from shared.storage.tables import TableFactory

    company = company or settings.company("") or primary_company(settings.bc_base_url, settings.bc_company)
    prefix = settings.table_prefix + company.key
    credential = ManagedIdentityCredential(settings.managed_identity_client_id)
    if settings.storage_connection:
        tables = TableFactory.from_connection_string(settings.storage_connection, prefix=prefix)
    else:
        tables = TableFactory.from_account_url(settings.storage_account_url or "", credential, prefix=prefix)
    queue: JobQueue
    if shared is not None:
        queue = CompanyJobQueue(shared.queue, company.key) if company.key else shared.queue
    elif settings.service_bus_connection:
        queue = ServiceBusJobQueue(settings.sync_jobs_queue, connection_string=settings.service_bus_connection)
    else:
        queue = ServiceBusJobQueue(
            settings.sync_jobs_queue, fully_qualified_namespace=settings.service_bus_namespace, credential=credential
        )
    # The primary company is today's, exactly: BC_BASE_URL and BC_COMPANY as set, the app settings as they are.
    primary = company.is_primary
    bc_url = settings.bc_base_url if primary else base_url_for(settings.bc_base_url, company.environment)
    bc_company = settings.bc_company if primary else company.company
    shared_http = getattr(shared.context.bc, "http", None) if shared is not None else None
    bc_tokens = getattr(shared_http, "tokens", None) or _token_provider(settings, BC_RESOURCE)
    if shared is not None:
        dataverse = shared.context.dataverse
    else:
        dataverse = DataverseClient(settings.dataverse_url, _token_provider(settings, settings.dataverse_url))
        dataverse_budget = _scope_budget(settings, scope_of_dataverse(settings.dataverse_url), "dataverse")
        dataverse.http.budget = dataverse_budget.for_company(company.key)
    bc_client = BusinessCentralClient(bc_url, bc_tokens, bc_company, sources=sources_from_settings(os.environ))
    bc_client.http.budget = _scope_budget(settings, scope_of_bc(bc_url), "bc").for_company(company.key)
    key = company.key
    # The setup's defaults: the app settings, with the company's BC company and environment.
    environment = dict(os.environ) if primary else {**os.environ, "BC_COMPANY": bc_company, "BC_BASE_URL": bc_url}
    settings_store = TableSettingsStore(tables)
    context = SyncContext(
        bc=bc_client,
        dataverse=dataverse,
        couplings=TableCouplingStore(tables),
        checkpoints=TableCheckpointStore(tables),
        errors=TableSyncErrorStore(tables),
        jobs=TableJobLog(tables, report=lambda: METER.take(key)),
        mapping=get_mapping,  # the catalog: each run applies the stored overrides to it (`for_run`)
        catalog=CATALOG,  # the mappings as declared: what the engine finds by kind (it never imports the catalog)
        local_currency=settings.local_currency,
        bulk_size=settings.bulk_size,
        match_log=TableMatchLog(tables),
    )
    return Services(
        settings,
        context,
        settings_store,
        queue,
        TableRunStore(tables),
        TableQuoteArchive(tables),
        environment,
        storage=tables,
        company=company,
    )


_budgets: dict[tuple[str, str], ScopeBudget] = {}  # (table prefix, scope) -> the process's budget of the scope
_metered: dict[tuple[str, int], Any] = {}  # (company key, id of the shared Dataverse client) -> the company's copy


def _scope_budget(settings: Settings, scope: str, service: str) -> ScopeBudget:
    """The process's budget of `scope` ("bc" or "dataverse" limits), built once per deployment table prefix; no
    I/O (the ledger's table is created on the first reservation)."""
    from shared.connectors.budget import ScopeBudget
    from shared.storage.budgets import TableBudgetLedger
    from shared.storage.tables import TableFactory

    with _lock:
        found = _budgets.get((settings.table_prefix, scope))
        if found is None:
            if settings.storage_connection:
                tables = TableFactory.from_connection_string(settings.storage_connection, prefix=settings.table_prefix)
            else:
                from shared.connectors.credentials import ManagedIdentityCredential

                credential = ManagedIdentityCredential(settings.managed_identity_client_id)
                url = settings.storage_account_url or ""
                tables = TableFactory.from_account_url(url, credential, prefix=settings.table_prefix)
            budgets = settings.budgets
            limits = budgets.bc_limits() if service == "bc" else budgets.dataverse_limits()
            found = ScopeBudget(scope, limits, TableBudgetLedger(tables), max_wait=float(budgets.max_wait_seconds))
            _budgets[(settings.table_prefix, scope)] = found
        return found


def _metered_dataverse(services: Services, dataverse: Any) -> Any:
    """The shared Dataverse client as `services`' company sends on it: itself for the company whose ticket it holds
    (the primary's), else a copy sharing its session and tokens that holds the company's ticket (made once)."""
    http = getattr(dataverse, "http", None)
    ticket = getattr(http, "budget", None)
    key = services.company.key if services.company is not None else ""
    if http is None or ticket is None or getattr(ticket, "company", key) == key:
        return dataverse
    with _lock:
        found = _metered.get((key, id(dataverse)))
        if found is None:
            own_http = copy.copy(http)
            own_http.budget = ticket.budget.for_company(key)
            found = copy.copy(dataverse)
            found.http = own_http
            _metered[(key, id(dataverse))] = found
        return found


def companies() -> tuple[Company, ...]:
    """The companies this deployment serves (`BC_COMPANIES`, else today's one), in their configured order."""
    with _lock:
        return _configured()


def _configured() -> tuple[Company, ...]:
    if _companies is not None:
        return _companies
    primary = _services.get("") or _build_primary()
    return primary.settings.companies if primary.settings is not None else (ANY_COMPANY,)


def _build_primary() -> Services:
    services = _services.get("")
    if services is None:
        services = _services[""] = build_services(Settings.from_env())
    return services


def get_services(company_key: str = "") -> Services:
    """The process's services of the company of key `company_key` ("" the primary: today's), built on first use;
    `UnknownCompany` when no configured company has that key."""
    with _lock:
        services = _services.get(company_key)
        if services is None:
            if company_key == "":
                return _build_primary()
            company = next((c for c in _configured() if c.key == company_key), None)
            if company is None:
                raise UnknownCompany(company_key)
            primary = _build_primary()
            if primary.settings is None:  # set by a test without settings: it sets every company's services
                raise UnknownCompany(company_key)
            services = _services[company_key] = build_services(primary.settings, company, primary)
        return services


def for_run(services: Services, run_id: str | None = None) -> Services:
    """One invocation's services: the setup and the mapping overrides read once (one query), the context built on
    them (see the module docstring). The process's adapters are shared, not copied: only the BC client differs, and
    only when the setup names another company or other page services (a new client on the same connection).

    `run_id`: the invocation is a chunk of that full-synchronization run, whose chunks share one reading of the
    settings per process (`engine/run_cache.py`: the first chunk's, at most `LIFETIME` old), as they share the
    other facts read once per run; so a run's chunks see one configuration, and a change reaches a running full
    synchronization within that lifetime and every other invocation at once."""
    from shared.connectors.budget import METER
    from shared.engine.run_cache import RUN_CACHE
    from shared.engine.setup import read_setup
    from shared.services.catalog import CatalogSnapshot

    METER.reset(services.company.key if services.company is not None else "")  # the job entries count from here
    store = services.settings_store
    read = store.get_all_settings
    stored = read() if run_id is None else RUN_CACHE.get(run_id, SETTINGS_READ, read)
    view = _StoredSettings(stored)
    setup = read_setup(view, services.environment)
    base = services.context
    bc = _bc_for(base.bc, setup, services.environment)
    context = replace(
        base,
        bc=bc,
        dataverse=_company_dataverse(services, _metered_dataverse(services, base.dataverse), bc, setup),
        mapping=CatalogSnapshot.read(view, base.mapping),
        setup=setup,
        archive=services.archive,
    )
    return replace(services, context=context)


_scopes: dict[tuple[str, str, str], tuple[str, str | None]] = {}  # (key, BC company id, model) -> (row, team)
_scope_lock = threading.Lock()


def _company_dataverse(services: Services, dataverse: Any, bc: Any, setup: Setup) -> Any:
    """The company's view of the shared Dataverse org (`connectors/dataverse/company_scope.py`: reads "this company
    or empty", writes stamped with its `bcbi_company` row, the Team model's owner) once several companies are
    configured (`BC_COMPANIES` set, even with one entry) or the setup chooses the Team ownership model (its owners
    are the company's team, which only the view writes: without it the Team model would write no owner at all);
    otherwise the deployment writes no company, as before issue 22. The company's `bcbi_company` row (and in the Team
    model its business unit and team) is found or made on the company's first invocation in the process, like BC's
    CDS Company, then remembered."""
    if not services.environment.get(COMPANIES_SETTING) and setup.ownership_model != "team":
        return dataverse
    from shared.connectors.dataverse.company_scope import CompanyScopedDataverse
    from shared.services.company_rows import ensure_company_row, ensure_owning_team

    bc_id, bc_name = bc.company_identity()
    model = setup.ownership_model
    memo = (services.company.key if services.company else "", bc_id, model)
    with _scope_lock:
        if memo not in _scopes:
            row = ensure_company_row(dataverse, bc_id, bc_name)
            team = ensure_owning_team(dataverse, row, bc_name) if model == "team" else None
            _scopes[memo] = (row, team)
        row, team = _scopes[memo]
    return CompanyScopedDataverse(dataverse, row, "team" if model == "team" else "person", team)


def run_services(run_id: str | None = None, company_key: str = "") -> Services:
    """`for_run(get_services(company_key), run_id)`: what a trigger calls once per invocation before it runs
    anything."""
    return for_run(get_services(company_key), run_id)


SETTINGS_READ = "settings"  # the run cache's key of a run's settings (`for_run`)


def full_sync_for(services: Services) -> FullSync:
    """The full synchronization over one invocation's services (`for_run`), with the stall limit and the chunk size
    of the settings (`FULL_SYNC_STALL_MINUTES`, `FULL_SYNC_CHUNK_RECORDS`): what the routes, the timer and the health
    check read runs and lines with."""
    from datetime import timedelta

    from shared.services.full_sync.coordinator import FullSync
    from shared.settings import full_sync_chunk_records, full_sync_stall_minutes

    stall_after = timedelta(minutes=full_sync_stall_minutes(services.environment))
    full = FullSync(services.context, services.runs, services.queue, stall_after=stall_after)
    if (chunk := full_sync_chunk_records(services.environment)) is not None:
        full.chunk_records = chunk
    return full


class _StoredSettings:
    """The settings as one read found them (`SettingsStore.get_all_settings`): read-only, a copy per call."""

    def __init__(self, stored: Mapping[str, tuple[dict[str, Any], str | None]]) -> None:
        self._stored = stored

    def get_settings(self, partition: str) -> tuple[dict[str, Any], str | None]:
        values, etag = self._stored.get(partition, ({}, None))
        return copy.deepcopy(values), etag

    def get_all_settings(self) -> dict[str, tuple[dict[str, Any], str | None]]:
        return {partition: self.get_settings(partition) for partition in self._stored}

    def update_settings(self, partition: str, values: Mapping[str, Any], etag: str | None) -> str:
        raise NotImplementedError("a run's settings are read-only: save through the settings store")


def _bc_for(bc: Any, setup: Setup, environment: Mapping[str, str]) -> Any:
    """The BC client for the setup's company (when it names one) and, when the setup overrides them, its page
    services on top of the app settings; the same client when neither differs."""
    from shared.connectors.business_central.client import BusinessCentralClient
    from shared.connectors.business_central.entity_sources import sources_from_settings

    if not isinstance(bc, BusinessCentralClient):  # an in-memory fake: nothing to address
        return bc
    company = str(setup["bcCompany"]) or None
    sources = None
    if setup.sources["pageServices"] == "override":
        services_text = ",".join(f"{entity}={name}" for entity, name in dict(setup["pageServices"]).items())
        sources = sources_from_settings({**environment, "BC_PAGE_SERVICES": services_text})
    return bc.configured(company=company, sources=sources)


def check_page_services(names: Mapping[str, str]) -> None:
    """Every key must be a page-backed entity of the connector's registry (400 naming the entity otherwise)."""
    from shared.connectors.business_central.entity_sources import DEFAULT_SOURCES
    from shared.domain.errors import InvalidInputError

    pages = sorted(s.entity for s in DEFAULT_SOURCES if s.is_page)
    for entity in names:
        if entity not in pages:
            raise InvalidInputError(
                "invalidValue",
                f"'{entity}' is not a page-backed entity (one of {', '.join(pages)}).",
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


def set_services(services: Services | None, company_key: str = "") -> None:
    """Replace the built services of the company of key `company_key` (the primary by default), or with None forget
    every company's services and the companies set by `set_companies`: tests and the local host use it."""
    global _companies  # noqa: PLW0603
    with _lock:
        if services is None:
            _services.clear()
            _scopes.clear()
            _budgets.clear()
            _metered.clear()
            _companies = None
        else:
            _services[company_key] = services


def set_companies(configured: Sequence[Company] | None) -> None:
    """Tests: the companies served, instead of the settings' (None: the settings' again)."""
    global _companies  # noqa: PLW0603
    with _lock:
        _companies = tuple(configured) if configured is not None else None
