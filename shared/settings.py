"""The app's settings: one frozen object read from the environment once (app settings in Azure, `local.settings.json`
locally). Every missing or malformed value is named in one error, so a misconfigured deployment is fixed in one go.

No secret is ever part of a message or a repr: secrets are kept out of `__repr__` and never logged.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum

from shared.domain import budgets as budget_rules
from shared.domain.companies import Company, derived_key, environment_of, key_problems, primary_company
from shared.domain.errors import FatalError
from shared.domain.full_sync import DEFAULT_STALL_MINUTES
from shared.domain.notification_watch import NotificationWatch
from shared.domain.records import Side

FULL_SYNC_STALL_SETTING = "FULL_SYNC_STALL_MINUTES"  # minutes without progress before a running line is stalled
MAX_STALL_MINUTES = 24 * 60
FULL_SYNC_CHUNK_SETTING = "FULL_SYNC_CHUNK_RECORDS"  # records per full-sync chunk (`services/full_sync/coordinator`)
MAX_CHUNK_RECORDS = 5000  # a chunk's ids travel in its message (256 KB on Service Bus Standard) and its chunk row
COMPANIES_SETTING = "BC_COMPANIES"  # JSON: [{"environment", "company", "key"?}, ...] (domain/companies.py)
# Service-protection budgets (domain/budgets.py): setting -> (default, lowest, highest)
BUDGET_SETTINGS: dict[str, tuple[int, int, int]] = {
    "BC_BUDGET_REQUESTS": (budget_rules.BC_REQUESTS, 1, 1_000_000),
    "BC_BUDGET_CONCURRENCY": (budget_rules.BC_CONCURRENCY, 1, 1000),
    "DATAVERSE_BUDGET_REQUESTS": (budget_rules.DATAVERSE_REQUESTS, 1, 1_000_000),
    "DATAVERSE_BUDGET_CONCURRENCY": (budget_rules.DATAVERSE_CONCURRENCY, 1, 1000),
    "BUDGET_MARGIN_PERCENT": (budget_rules.DEFAULT_MARGIN_PERCENT, 1, 100),
    "BUDGET_WINDOW_SECONDS": (int(budget_rules.WINDOW_SECONDS), 1, 3600),
    "BUDGET_SLICES": (budget_rules.DEFAULT_SLICES, 1, 60),
    "BUDGET_BLOCK": (budget_rules.DEFAULT_BLOCK, 1, 1000),
    "BUDGET_MAX_WAIT_SECONDS": (60, 0, 600),
}

# Notifications (issue 23): off unless NOTIFICATION_BASE_URL is set and the side's switch is true.
NOTIFICATION_BASE_URL = "NOTIFICATION_BASE_URL"
NOTIFICATION_SWITCHES = {Side.BC: "NOTIFICATIONS_BC", Side.DATAVERSE: "NOTIFICATIONS_DATAVERSE"}
# seconds: setting -> (default, lowest, highest). A side's expected delay = its service's delay + the wake window + the
# margin (`domain/notification_watch.py`): a poll applying a change older than that counts it as a missed notification.
NOTIFICATION_SECONDS: dict[str, tuple[int, int, int]] = {
    "NOTIFY_WAKE_WINDOW_SECONDS": (5, 1, 300),
    "NOTIFY_BC_DELAY_SECONDS": (30, 0, 3600),  # BC batches notifications for up to 30 s (api-facts A8)
    "NOTIFY_DATAVERSE_DELAY_SECONDS": (5, 0, 3600),  # an asynchronous step posts within seconds (UNCONFIRMED)
    "NOTIFY_MISSED_MARGIN_SECONDS": (60, 0, 3600),  # the woken run's own time: queue, reads, clock skew
}
NOTIFY_DELAYS = {Side.BC: "NOTIFY_BC_DELAY_SECONDS", Side.DATAVERSE: "NOTIFY_DATAVERSE_DELAY_SECONDS"}


class AuthMode(StrEnum):
    SECRET = "secret"  # noqa: S105 - a mode name: client id + secret (Key Vault reference in Azure)
    CERTIFICATE = "certificate"  # client id + PEM private key and certificate (Key Vault reference)
    MANAGED_IDENTITY = "managedIdentity"  # federated: not for BC/Dataverse app registrations, kept for completeness


@dataclass(frozen=True)
class BudgetSettings:
    """The service-protection budgets (`BUDGET_SETTINGS`; docs/operations.md "Service-protection budgets"): the
    defaults are the documented limits, of which `margin_percent` is used, so a deployment that sets nothing is
    budgeted to 90 % of them."""

    bc_requests: int = budget_rules.BC_REQUESTS
    bc_concurrency: int = budget_rules.BC_CONCURRENCY
    dataverse_requests: int = budget_rules.DATAVERSE_REQUESTS
    dataverse_concurrency: int = budget_rules.DATAVERSE_CONCURRENCY
    margin_percent: int = budget_rules.DEFAULT_MARGIN_PERCENT
    window_seconds: int = int(budget_rules.WINDOW_SECONDS)
    slices: int = budget_rules.DEFAULT_SLICES
    block: int = budget_rules.DEFAULT_BLOCK
    max_wait_seconds: int = 60

    @classmethod
    def from_env(cls, env: Mapping[str, str], problems: list[str] | None = None) -> BudgetSettings:
        """Each `BUDGET_SETTINGS` value, its default when missing; a malformed one is named in `problems` (and
        takes its default)."""
        values: list[int] = []
        for name, (default, lowest, highest) in BUDGET_SETTINGS.items():
            raw = str(env.get(name, "") or "").strip()
            if raw and not (raw.isdigit() and lowest <= int(raw) <= highest):
                if problems is not None:
                    problems.append(f"{name} must be a whole number from {lowest} to {highest}")
                raw = ""
            values.append(int(raw) if raw else default)
        return cls(*values)

    def _limits(self, requests: int, concurrency: int) -> budget_rules.Limits:
        return budget_rules.Limits(
            requests, concurrency, float(self.window_seconds), self.margin_percent, self.slices, self.block
        )

    def bc_limits(self) -> budget_rules.Limits:
        return self._limits(self.bc_requests, self.bc_concurrency)

    def dataverse_limits(self) -> budget_rules.Limits:
        return self._limits(self.dataverse_requests, self.dataverse_concurrency)


class SettingsError(FatalError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalidSettings", "App settings are missing or invalid: " + "; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Settings:
    bc_base_url: str  # https://api.businesscentral.dynamics.com/v2.0/<tenant>/<environment>
    bc_company: str  # company name or id
    dataverse_url: str  # https://<org>.crm.dynamics.com
    tenant_id: str
    client_id: str
    auth_mode: AuthMode
    client_secret: str | None = field(default=None, repr=False)
    client_certificate: str | None = field(default=None, repr=False)
    authority_host: str = "https://login.microsoftonline.com"
    authority_ca_file: str | None = None  # the local authority's self-signed certificate (local only)
    storage_connection: str | None = field(default=None, repr=False)  # Azurite only
    storage_account_url: str | None = None  # Azure: https://<account>.table.core.windows.net
    managed_identity_client_id: str | None = None  # the user-assigned identity for Storage and Service Bus
    service_bus_connection: str | None = field(default=None, repr=False)  # development emulator only
    service_bus_namespace: str | None = None  # Azure: <namespace>.servicebus.windows.net
    sync_jobs_queue: str = "sync-jobs"
    local_currency: str = "USD"
    table_prefix: str = ""
    bulk_size: int = 500
    full_sync_stall_minutes: int = DEFAULT_STALL_MINUTES  # see `domain.full_sync.DEFAULT_STALL_AFTER` for why 15
    # The companies served (BC_COMPANIES); left empty, today's one: BC_BASE_URL's environment and BC_COMPANY, key "".
    companies: tuple[Company, ...] = ()
    budgets: BudgetSettings = field(default_factory=BudgetSettings)
    notification_watch: NotificationWatch | None = None  # the notified sides (issue 23); None: notifications off

    def __post_init__(self) -> None:
        if not self.companies:
            object.__setattr__(self, "companies", (primary_company(self.bc_base_url, self.bc_company),))

    def company(self, key: str) -> Company | None:
        """The configured company of storage key `key`, None when none has it."""
        return next((c for c in self.companies if c.key == key), None)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        source = os.environ if env is None else env
        problems: list[str] = []

        def need(name: str) -> str:
            value = (source.get(name) or "").strip()
            if not value:
                problems.append(f"{name} is required")
            return value

        def optional(name: str) -> str | None:
            value = (source.get(name) or "").strip()
            return value or None

        mode_text = source.get("AUTH_MODE", AuthMode.SECRET.value)
        try:
            mode = AuthMode(mode_text)
        except ValueError:
            problems.append(f"AUTH_MODE must be one of {', '.join(m.value for m in AuthMode)}")
            mode = AuthMode.SECRET
        values = {
            "bc_base_url": need("BC_BASE_URL").rstrip("/"),
            "bc_company": need("BC_COMPANY"),
            "dataverse_url": need("DATAVERSE_URL").rstrip("/"),
            "tenant_id": need("TENANT_ID"),
            "client_id": need("CLIENT_ID"),
        }
        secret, certificate = optional("CLIENT_SECRET"), optional("CLIENT_CERTIFICATE")
        if mode is AuthMode.SECRET and not secret:
            problems.append("CLIENT_SECRET is required when AUTH_MODE is secret")
        if mode is AuthMode.CERTIFICATE and not certificate:
            problems.append("CLIENT_CERTIFICATE is required when AUTH_MODE is certificate")
        storage = optional("AzureWebJobsStorage")
        account_url = optional("STORAGE_ACCOUNT_URL") or optional("AzureWebJobsStorage__tableServiceUri")
        if not storage and not account_url:
            problems.append("AzureWebJobsStorage (Azurite) or STORAGE_ACCOUNT_URL (managed identity) is required")
        bulk = source.get("BULK_SIZE", "500")
        if not bulk.isdigit() or not 1 <= int(bulk) <= 1000:
            problems.append("BULK_SIZE must be a whole number from 1 to 1000")
        stall = (source.get(FULL_SYNC_STALL_SETTING) or "").strip()
        if stall and not (stall.isdigit() and 1 <= int(stall) <= MAX_STALL_MINUTES):
            problems.append(f"{FULL_SYNC_STALL_SETTING} must be a whole number from 1 to {MAX_STALL_MINUTES}")
        chunk = (source.get(FULL_SYNC_CHUNK_SETTING) or "").strip()
        if chunk and not (chunk.isdigit() and 1 <= int(chunk) <= MAX_CHUNK_RECORDS):
            problems.append(f"{FULL_SYNC_CHUNK_SETTING} must be a whole number from 1 to {MAX_CHUNK_RECORDS}")
        companies = parse_companies(
            source.get(COMPANIES_SETTING),
            values["bc_base_url"],
            values["bc_company"],
            source.get("TABLE_PREFIX", ""),
            problems,
        )
        budgets = BudgetSettings.from_env(source, problems)
        watch = notification_watch(source, problems)
        if problems:
            raise SettingsError(problems)
        return cls(
            **values,
            auth_mode=mode,
            client_secret=secret,
            client_certificate=certificate,
            authority_host=(optional("AUTHORITY_HOST") or "https://login.microsoftonline.com").rstrip("/"),
            authority_ca_file=optional("AUTHORITY_CA_FILE"),
            storage_connection=storage,
            storage_account_url=account_url,
            managed_identity_client_id=optional("AZURE_CLIENT_ID"),
            service_bus_connection=optional("ServiceBusConnection"),
            service_bus_namespace=optional("ServiceBusConnection__fullyQualifiedNamespace"),
            sync_jobs_queue=source.get("SYNC_JOBS_QUEUE", "sync-jobs"),
            local_currency=source.get("LOCAL_CURRENCY", "USD"),
            table_prefix=source.get("TABLE_PREFIX", ""),
            bulk_size=int(bulk),
            full_sync_stall_minutes=full_sync_stall_minutes(source),
            companies=companies,
            budgets=budgets,
            notification_watch=watch,
        )


def parse_companies(
    raw: str | None, base_url: str, bc_company: str, table_prefix: str, problems: list[str]
) -> tuple[Company, ...]:
    """`BC_COMPANIES` (see `domain/companies.py`): absent or blank, today's one company (key ""); else each entry,
    the one equal to BC_BASE_URL's environment and BC_COMPANY with key "" (its tables are today's), every other with
    its `key` or a derived one. What is wrong is added to `problems`, each named; () when anything is."""
    if raw is None or not raw.strip():
        return (primary_company(base_url, bc_company),) if base_url and bc_company else ()
    try:
        entries = json.loads(raw)
    except ValueError:
        problems.append(f"{COMPANIES_SETTING} must be a JSON array of {{environment, company, key?}} objects")
        return ()
    if not isinstance(entries, list) or not entries:
        problems.append(f"{COMPANIES_SETTING} must be a non-empty JSON array of {{environment, company, key?}} objects")
        return ()
    primary = (environment_of(base_url).lower(), bc_company.lower())
    companies: list[Company] = []
    count = len(problems)
    for index, entry in enumerate(entries):
        where = f"{COMPANIES_SETTING}[{index}]"
        if not isinstance(entry, dict):
            problems.append(f"{where} must be an object with environment, company and optionally key")
            continue
        unknown = sorted(set(entry) - {"environment", "company", "key"})
        if unknown:
            problems.append(f"{where} has an unknown field {unknown[0]!r}")
        fields = {}
        for name in ("environment", "company"):
            value = entry.get(name)
            if not isinstance(value, str) or not value.strip():
                problems.append(f"{where}.{name} is required (a non-empty text)")
            fields[name] = value.strip() if isinstance(value, str) else ""
        key = entry.get("key")
        if key is not None and (not isinstance(key, str) or not key.strip()):
            problems.append(f"{where}.key must be a non-empty text when given")
            key = None
        environment, company = fields["environment"], fields["company"]
        if (environment.lower(), company.lower()) == primary:
            if key is not None:
                problems.append(
                    f"{where} is BC_BASE_URL's environment and BC_COMPANY: its key is \"\" (today's "
                    "tables); leave its key out"
                )
            key = ""
        elif key is None:
            key = derived_key(environment, company)
        companies.append(Company(environment, company, key.strip()))
    if len(problems) > count:
        return ()
    problems.extend(key_problems(companies, table_prefix))
    return tuple(companies) if len(problems) == count else ()


def full_sync_stall_minutes(env: Mapping[str, str]) -> int:
    """`FULL_SYNC_STALL_MINUTES` from the app settings, or the default when it is missing or not a whole number from
    1 to a day (`Settings.from_env` names a bad value; readers of the raw environment fall back)."""
    raw = str(env.get(FULL_SYNC_STALL_SETTING, "") or "").strip()
    return int(raw) if raw.isdigit() and 1 <= int(raw) <= MAX_STALL_MINUTES else DEFAULT_STALL_MINUTES


def full_sync_chunk_records(env: Mapping[str, str]) -> int | None:
    """`FULL_SYNC_CHUNK_RECORDS` from the app settings, or None (the engine's default) when it is missing or not a
    whole number from 1 to `MAX_CHUNK_RECORDS` (`Settings.from_env` names a bad value)."""
    raw = str(env.get(FULL_SYNC_CHUNK_SETTING, "") or "").strip()
    return int(raw) if raw.isdigit() and 1 <= int(raw) <= MAX_CHUNK_RECORDS else None


# -- change notifications, as each side reads them (issue 23) ----------------------------------------------------
NOTIFICATIONS_SCHEDULE = "NOTIFICATIONS_SCHEDULE"  # the registrations timer (a binding expression; every 30 minutes)


def _notification_values(env: Mapping[str, str]) -> tuple[str, bool, bool, int]:
    """(base URL, BC on, Dataverse on, wake window seconds): one reading for both sides, by the rules
    `notification_watch` checks. A malformed value is named at start-up there (`Settings.from_env`); read here it
    takes its default (a switch: off), so a function reading the raw app settings never fails on it."""
    base = str(env.get(NOTIFICATION_BASE_URL, "") or "").strip().rstrip("/")
    if not base.startswith(("https://", "http://")):
        base = ""
    switches = {
        side: str(env.get(name, "") or "").strip().lower() == "true" for side, name in NOTIFICATION_SWITCHES.items()
    }
    default, lowest, highest = NOTIFICATION_SECONDS["NOTIFY_WAKE_WINDOW_SECONDS"]
    raw = str(env.get("NOTIFY_WAKE_WINDOW_SECONDS", "") or "").strip()
    window = int(raw) if raw.isdigit() and lowest <= int(raw) <= highest else default
    return base, switches[Side.BC], switches[Side.DATAVERSE], window


@dataclass(frozen=True)
class SideNotificationSettings:
    """What one side of the notifications reads (`_notification_values`), per invocation from the app settings a
    company's services carry (`Services.environment`), so a test or a changed app setting needs no rebuilt object:
    `enabled` is the side's switch. Active only when switched on and the app has a public URL to be called at."""

    base_url: str = ""
    enabled: bool = False
    wake_window_seconds: int = NOTIFICATION_SECONDS["NOTIFY_WAKE_WINDOW_SECONDS"][0]

    @property
    def active(self) -> bool:
        return self.enabled and bool(self.base_url)


@dataclass(frozen=True)
class DataverseNotificationSettings(SideNotificationSettings):
    """The Dataverse webhook's (`triggers/notifications_dataverse.py`)."""

    @property
    def notification_url(self) -> str:
        return f"{self.base_url}/api/notifications/dataverse"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> DataverseNotificationSettings:
        base, _, dataverse, window = _notification_values(env)
        return cls(base, dataverse, window)


@dataclass(frozen=True)
class BcNotificationSettings(SideNotificationSettings):
    """BC's subscriptions and route (`services/notifications_bc.py`, `triggers/notifications_bc.py`)."""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> BcNotificationSettings:
        base, bc, _, window = _notification_values(env)
        return cls(base, bc, window)


def notification_watch(env: Mapping[str, str], problems: list[str] | None = None) -> NotificationWatch | None:
    """The sides whose notifications are on (`NOTIFICATIONS_BC`, `NOTIFICATIONS_DATAVERSE`: true or false, and
    `NOTIFICATION_BASE_URL` set), each with its expected delay (`NOTIFICATION_SECONDS`); None when no side is on. A
    malformed value is added to `problems` (`Settings.from_env` names it) and read as its default (a switch: off), so
    readers of the raw environment (the timer, the health route) never fail on it."""
    found: list[str] = []
    seconds = {}
    for name, (default, lowest, highest) in NOTIFICATION_SECONDS.items():
        raw = str(env.get(name, "") or "").strip()
        if raw and not (raw.isdigit() and lowest <= int(raw) <= highest):
            found.append(f"{name} must be a whole number of seconds from {lowest} to {highest}")
        seconds[name] = int(raw) if raw.isdigit() and lowest <= int(raw) <= highest else default
    on: list[Side] = []
    for side, name in NOTIFICATION_SWITCHES.items():
        raw = str(env.get(name, "") or "").strip().lower()
        if raw not in ("", "true", "false"):
            found.append(f"{name} must be true or false")
        if raw == "true":
            on.append(side)
    base = str(env.get(NOTIFICATION_BASE_URL, "") or "").strip()
    if base and not base.startswith(("https://", "http://")):
        found.append(f"{NOTIFICATION_BASE_URL} must be the app's public base URL (https://...)")
    if problems is not None:
        problems.extend(found)
    if not base or not on:
        return None
    shared = seconds["NOTIFY_WAKE_WINDOW_SECONDS"] + seconds["NOTIFY_MISSED_MARGIN_SECONDS"]
    return NotificationWatch({side: timedelta(seconds=seconds[NOTIFY_DELAYS[side]] + shared) for side in on})
