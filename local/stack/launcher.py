"""The local stack as one object: token authority, Azurite tables and the emulators, started in dependency order.

`make serve` runs it on the default ports (overridable by env) in the foreground; `make demo` runs it on free ports
so it never collides with a `make serve` in another terminal.

Every port is checked before anything starts, so a port in use is one sentence naming the service, the port and the
setting to change, instead of a child dying half-way (or, worse, the wait for its port being answered by whatever
else listens there). Stopping is idempotent and always finishes, whatever arrives meanwhile.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from local.emulators.identity.tokens import acquire_local_token
from local.stack.azurite import connection_string, start_azurite
from local.stack.processes import (
    REPO_ROOT,
    ChildProcess,
    cancellable,
    free_ports,
    port_in_use,
    start_python_module,
)

DEFAULT_PORTS = {
    "functions": 7071,
    "business_central": 7081,
    "dataverse": 7082,
    "authority": 7083,
    "azurite": 10002,
    "service_bus": 5672,
}
PORT_ENV = {
    "business_central": "BC_EMULATOR_PORT",
    "dataverse": "DATAVERSE_EMULATOR_PORT",
    "authority": "LOCAL_AUTHORITY_PORT",
    "azurite": "AZURITE_TABLE_PORT",
    "functions": "FUNCTIONS_PORT",
    "service_bus": "LOCAL_BROKER_PORT",
}
LOCAL_TENANT = "7e0c6b3a-0000-4000-8000-00000000de70"
LOCAL_FUNCTION_KEY = "local-function-key"  # the local host's key, never a real secret
LOCAL_CLIENT_ID = "00000000-0000-4000-8000-00000000c11e"


class PortInUseError(OSError):
    """A port of the stack is taken; the message is the one line `make serve` prints."""

    def __init__(self, service: str, port: int, reason: str = "is already in use") -> None:
        super().__init__(
            f"port {port} ({service}) {reason}: stop what listens there (another `make serve`?) "
            f"or choose another port with {PORT_ENV.get(service, service)}=<port>"
        )
        self.service, self.port = service, port


def configured_ports() -> dict[str, int]:
    """The default ports, each overridable by its environment variable (`PORT_ENV`); a value that is not a port is
    refused with the variable's name."""
    ports: dict[str, int] = {}
    for name, default in DEFAULT_PORTS.items():
        text = os.environ.get(PORT_ENV[name]) or str(default)
        if not text.isdigit() or not 0 < int(text) < 65536:
            raise ValueError(f"{PORT_ENV[name]}={text!r} is not a port number (1-65535)")
        ports[name] = int(text)
    return ports


QUIET_SCHEDULE = "0 0 0 1 1 *"  # once a year (New Year's midnight): a timer that never fires while a test runs
TIMER_SETTINGS = ("SYNC_SCHEDULE", "ITEM_AVAILABILITY_SCHEDULE", "SALES_DOCUMENTS_SCHEDULE", "ORDER_SYNC_SCHEDULE",
                  "INVOICE_SYNC_SCHEDULE", "NOTIFICATIONS_SCHEDULE")  # fmt: skip


def quiet_timers() -> dict[str, str]:
    """Host settings that keep every timer still: for runs that must not be raced by a timer's own run (a test
    that makes a conflict between two writes, a benchmark that measures one full synchronization)."""
    return dict.fromkeys(TIMER_SETTINGS, QUIET_SCHEDULE)


@dataclass
class LocalStack:
    ports: dict[str, int]
    cert_dir: Path = field(default_factory=lambda: REPO_ROOT / ".local" / "identity")
    quiet: bool = True
    children: list[ChildProcess] = field(default_factory=list)
    host_env: dict[str, str] = field(default_factory=dict)  # extra settings for the Functions host (e.g. chaos)
    # The BC companies the app serves (`BC_COMPANIES` entries: environment, company, key?); empty: today's one company,
    # unless the environment sets BC_COMPANIES (`make serve` with several companies).
    companies: list[dict[str, str]] = field(default_factory=list)

    @classmethod
    def on_free_ports(cls, cert_dir: Path | None = None) -> LocalStack:
        ports = dict(zip(DEFAULT_PORTS, free_ports(len(DEFAULT_PORTS)), strict=True))
        return cls(ports, cert_dir or REPO_ROOT / ".local" / "identity")

    @property
    def client_secret(self) -> str:
        return os.environ.get("LOCAL_CLIENT_SECRET", "local-dev-secret")

    @property
    def urls(self) -> dict[str, str]:
        return {
            "authority": f"https://127.0.0.1:{self.ports['authority']}",
            "dataverse": f"http://127.0.0.1:{self.ports['dataverse']}",
            "business_central": f"http://127.0.0.1:{self.ports['business_central']}",
            "azurite": f"http://127.0.0.1:{self.ports['azurite']}/devstoreaccount1",
            "functions": f"http://127.0.0.1:{self.ports['functions']}/api",
        }

    @property
    def ca_file(self) -> Path:
        return self.cert_dir / "authority.crt"

    @property
    def function_key(self) -> str:
        return os.environ.get("LOCAL_FUNCTION_KEY", LOCAL_FUNCTION_KEY)

    def app_settings(self) -> dict[str, str]:
        """The Function App's settings against the local stack (what `shared/settings.py` reads), as App Settings
        would hold them in Azure. Environment variables win over local.settings.json in the local host."""
        return {
            "BC_BASE_URL": f"{self.urls['business_central']}/{LOCAL_TENANT}/production",
            "BC_COMPANY": os.environ.get("BC_COMPANY", "CRONUS USA, Inc."),
            "DATAVERSE_URL": self.urls["dataverse"],
            "TENANT_ID": LOCAL_TENANT,
            "CLIENT_ID": LOCAL_CLIENT_ID,
            "CLIENT_SECRET": self.client_secret,
            "AUTH_MODE": "secret",
            "AUTHORITY_HOST": self.urls["authority"],
            "AUTHORITY_CA_FILE": str(self.ca_file),
            "SYNC_JOBS_QUEUE": "sync-jobs",
            "SYNC_SCHEDULE": os.environ.get("SYNC_SCHEDULE", "0 */5 * * * *"),
            "ITEM_AVAILABILITY_SCHEDULE": os.environ.get("ITEM_AVAILABILITY_SCHEDULE", "0 */15 * * * *"),
            "SALES_DOCUMENTS_SCHEDULE": os.environ.get("SALES_DOCUMENTS_SCHEDULE", "0 */5 * * * *"),
            "ORDER_SYNC_SCHEDULE": os.environ.get("ORDER_SYNC_SCHEDULE", "0 */5 * * * *"),
            "INVOICE_SYNC_SCHEDULE": os.environ.get("INVOICE_SYNC_SCHEDULE", "0 */15 * * * *"),
            "NOTIFICATIONS_SCHEDULE": os.environ.get("NOTIFICATIONS_SCHEDULE", "0 */30 * * * *"),
            "LOCAL_FUNCTION_KEY": self.function_key,
            "LOCAL_CURRENCY": "USD",
            **self._companies_setting(),
        }

    def _companies_setting(self) -> dict[str, str]:
        """`BC_COMPANIES` when the stack serves several companies (`companies`, else the environment's); absent
        otherwise, so a single-company stack runs exactly as before issue 22 (nothing stamped in Sales)."""
        if self.companies:
            return {"BC_COMPANIES": json.dumps(self.companies)}
        configured = os.environ.get("BC_COMPANIES", "")
        return {"BC_COMPANIES": configured} if configured.strip() else {}

    def token(self, resource: str) -> str:
        """An app-only token from the local authority for `resource` (a test or the demo calling an emulator as the
        app does); one place, so every caller asks the same way."""
        settings = self.app_settings()
        return acquire_local_token(
            self.urls["authority"], self.ca_file, settings["CLIENT_ID"], settings["CLIENT_SECRET"], resource,
            settings["TENANT_ID"],
        )  # fmt: skip

    def env(self) -> dict[str, str]:
        """What every local process (emulators, the Functions host) needs to find the others."""
        return {
            "LOCAL_AUTHORITY_URL": self.urls["authority"],
            "LOCAL_AUTHORITY_CA_FILE": str(self.ca_file),
            "LOCAL_CLIENT_SECRET": self.client_secret,
            "DATAVERSE_URL": self.urls["dataverse"],
            "BC_EMULATOR_URL": self.urls["business_central"],
            "AzureWebJobsStorage": connection_string("127.0.0.1", self.ports["azurite"]),
        }

    def check_ports(self) -> None:
        """Raise `PortInUseError` for the first port that is taken (or given to two services)."""
        seen: dict[int, str] = {}
        for name, port in self.ports.items():
            if port in seen:
                raise PortInUseError(name, port, f"is also the port of {seen[port]}")
            seen[port] = name
            if port_in_use(port):
                raise PortInUseError(name, port)

    def start(self, cancelled: Callable[[], bool] | None = None) -> None:
        """Start every part in dependency order, after `check_ports()`. While `cancelled()` is true a start ends with
        `StartCancelled` (`make serve` got a signal); on any failure what was started is stopped again."""
        self.check_ports()
        starters: list[Callable[[], ChildProcess]] = [
            lambda: start_python_module(
                "authority",
                "local.emulators.identity",
                port=self.ports["authority"],
                args=["--cert-dir", str(self.cert_dir)],
                env=self.env(),
                quiet=self.quiet,
            ),
            lambda: start_azurite(self.ports["azurite"], quiet=self.quiet),
            lambda: start_python_module(
                "dataverse", "local.emulators.dataverse", port=self.ports["dataverse"], env=self.env(), quiet=self.quiet
            ),
            lambda: start_python_module(
                "business_central",
                "local.emulators.business_central",
                port=self.ports["business_central"],
                env=self.env(),
                quiet=self.quiet,
            ),
            lambda: start_python_module(
                "functions",
                "local.host",
                port=self.ports["functions"],
                args=["--broker-port", str(self.ports["service_bus"])],
                env={**self.env(), **self.app_settings(), **self.host_env},
                quiet=self.quiet,
            ),
        ]
        try:
            with cancellable(cancelled or (lambda: False)):
                for start_child in starters:
                    self.children.append(start_child())
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop every child, last started first. Idempotent, and it finishes even when a KeyboardInterrupt arrives
        meanwhile (the demo keeps Python's default SIGINT handler): the child being stopped is then killed at once,
        the others too, and the interrupt is raised again only once every child is gone."""
        interrupted: KeyboardInterrupt | None = None
        while self.children:
            try:
                self.children[-1].stop(force=interrupted is not None)
            except KeyboardInterrupt as error:
                interrupted = error
                continue
            self.children.pop()
        if interrupted is not None:
            raise interrupted
