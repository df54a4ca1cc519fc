"""The local stack as one object: token authority, Azurite tables and the emulators, started in dependency order.

`make serve` runs it on the default ports (overridable by env) in the foreground; `make demo` runs it on free ports
so it never collides with a `make serve` in another terminal.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from local.azurite import connection_string, start_azurite
from local.emulators.tokens import acquire_local_token
from local.processes import REPO_ROOT, ChildProcess, free_port, start_python_module

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


def configured_ports() -> dict[str, int]:
    return {name: int(os.environ.get(PORT_ENV[name], default)) for name, default in DEFAULT_PORTS.items()}


@dataclass
class LocalStack:
    ports: dict[str, int]
    cert_dir: Path = field(default_factory=lambda: REPO_ROOT / ".local" / "identity")
    quiet: bool = True
    children: list[ChildProcess] = field(default_factory=list)
    host_env: dict[str, str] = field(default_factory=dict)  # extra settings for the Functions host (e.g. chaos)

    @classmethod
    def on_free_ports(cls, cert_dir: Path | None = None) -> LocalStack:
        ports = {name: free_port() for name in DEFAULT_PORTS}
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
            "LOCAL_FUNCTION_KEY": self.function_key,
            "LOCAL_CURRENCY": "USD",
        }

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

    def start(self) -> None:
        try:
            self.children.append(
                start_python_module(
                    "authority",
                    "local.emulators.identity",
                    port=self.ports["authority"],
                    args=["--cert-dir", str(self.cert_dir)],
                    env=self.env(),
                    quiet=self.quiet,
                )
            )
            self.children.append(start_azurite(self.ports["azurite"], quiet=self.quiet))
            self.children.append(
                start_python_module(
                    "dataverse",
                    "local.emulators.dataverse",
                    port=self.ports["dataverse"],
                    env=self.env(),
                    quiet=self.quiet,
                )
            )
            self.children.append(
                start_python_module(
                    "business_central",
                    "local.emulators.business_central",
                    port=self.ports["business_central"],
                    env=self.env(),
                    quiet=self.quiet,
                )
            )
            self.children.append(
                start_python_module(
                    "functions",
                    "local.host",
                    port=self.ports["functions"],
                    args=["--broker-port", str(self.ports["service_bus"])],
                    env={**self.env(), **self.app_settings(), **self.host_env},
                    quiet=self.quiet,
                )
            )
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for child in reversed(self.children):
            child.stop()
        self.children.clear()
