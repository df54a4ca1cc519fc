"""Session fixtures: the real local parts (Azurite, the token authority, the emulators) on free ports.

Each is started once per test session as a child process, exactly as `make serve` starts them, and stopped by its
own PID at the end. Tests reset emulator state through `/_admin/reset` rather than restarting processes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from local.emulators.identity.tokens import acquire_local_token
from local.stack.azurite import connection_string, start_azurite
from local.stack.processes import free_port, start_python_module

CLIENT_ID = "11111111-2222-3333-4444-555555555555"
CLIENT_SECRET = "test-secret"
TENANT = "7e0c6b3a-0000-4000-8000-00000000a11c"


@dataclass(frozen=True)
class Authority:
    url: str
    ca_file: Path

    def token(self, resource: str, client_id: str = CLIENT_ID) -> str:
        return acquire_local_token(self.url, self.ca_file, client_id, CLIENT_SECRET, resource, TENANT)

    def token_provider(self, resource: str, client_id: str = CLIENT_ID) -> LocalTokenProvider:
        return LocalTokenProvider(self, resource, client_id)

    def env(self) -> dict[str, str]:
        return {
            "LOCAL_AUTHORITY_URL": self.url,
            "LOCAL_AUTHORITY_CA_FILE": str(self.ca_file),
            "LOCAL_CLIENT_SECRET": CLIENT_SECRET,
        }


class LocalTokenProvider:
    """A `TokenProvider` (shared/connectors/http.py) for tests: MSAL against the local authority, cached until
    invalidated, counting how often it fetched."""

    def __init__(self, authority: Authority, resource: str, client_id: str) -> None:
        self.authority, self.resource, self.client_id = authority, resource, client_id
        self._token: str | None = None
        self.fetches = 0

    def get_token(self) -> str:
        if self._token is None:
            self._token = self.authority.token(self.resource, self.client_id)
            self.fetches += 1
        return self._token

    def invalidate(self) -> None:
        self._token = None


@pytest.fixture(scope="session")
def azurite() -> Iterator[str]:
    """A connection string to a fresh, in-memory Azurite Table service."""
    port = free_port()
    child = start_azurite(port)
    try:
        yield connection_string("127.0.0.1", port)
    finally:
        child.stop()


@pytest.fixture(scope="session")
def authority(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Authority]:
    cert_dir = tmp_path_factory.mktemp("identity")
    port = free_port()
    child = start_python_module(
        "identity",
        "local.emulators.identity",
        port=port,
        args=["--cert-dir", str(cert_dir)],
        env={"LOCAL_CLIENT_SECRET": CLIENT_SECRET},
    )
    try:
        yield Authority(f"https://127.0.0.1:{port}", cert_dir / "authority.crt")
    finally:
        child.stop()


def plain_session() -> requests.Session:
    """A session that ignores the machine's proxy and CA environment (loopback only, explicit trust)."""
    session = requests.Session()
    session.trust_env = False
    return session


@dataclass
class EmulatorHandle:
    base_url: str
    resource: str
    session: requests.Session

    def admin(self, method: str, path: str, **kwargs: object) -> requests.Response:
        return self.session.request(method, f"{self.base_url}/_admin/{path}", **kwargs)  # type: ignore[arg-type]

    def reset(self) -> None:
        response = self.admin("POST", "reset")
        response.raise_for_status()

    def stats(self) -> dict[str, object]:
        body: dict[str, object] = self.admin("GET", "stats").json()
        return body


@pytest.fixture(scope="session")
def dataverse_server(authority: Authority) -> Iterator[EmulatorHandle]:
    port = free_port()
    env = {**authority.env(), "PYTHONHASHSEED": os.environ.get("PYTHONHASHSEED", "0")}
    child = start_python_module("dataverse", "local.emulators.dataverse", port=port, env=env)
    base = f"http://127.0.0.1:{port}"
    session = plain_session()
    session.headers["Authorization"] = f"Bearer {authority.token(base)}"
    try:
        yield EmulatorHandle(base, base, session)
    finally:
        child.stop()


@pytest.fixture
def dataverse(dataverse_server: EmulatorHandle) -> EmulatorHandle:
    """The Dataverse emulator, reset to empty for this test."""
    dataverse_server.reset()
    return dataverse_server


BC_RESOURCE = "https://api.businesscentral.dynamics.com"


@dataclass
class BusinessCentralHandle(EmulatorHandle):
    """The BC emulator plus the URLs a test needs: the API root and the demo company's root."""

    api_root: str = ""

    def company_root(self, company_id: str) -> str:
        return f"{self.api_root}/companies({company_id})"


@pytest.fixture(scope="session")
def business_central_server(authority: Authority) -> Iterator[BusinessCentralHandle]:
    port = free_port()
    child = start_python_module("business_central", "local.emulators.business_central", port=port, env=authority.env())
    base = f"http://127.0.0.1:{port}"
    session = plain_session()
    session.headers["Authorization"] = f"Bearer {authority.token(BC_RESOURCE)}"
    try:
        yield BusinessCentralHandle(base, BC_RESOURCE, session, api_root=f"{base}/{TENANT}/production/api/v2.0")
    finally:
        child.stop()


@pytest.fixture
def business_central(business_central_server: BusinessCentralHandle) -> BusinessCentralHandle:
    """The BC emulator, reset to empty (no company) for this test; seed the demo company with `seed_demo`."""
    business_central_server.reset()
    return business_central_server


@pytest.fixture
def bc_demo(business_central: BusinessCentralHandle) -> str:
    """Seed the demo company; returns the company root URL (`.../api/v2.0/companies(<id>)`)."""
    from local.emulators.business_central.seed import COMPANY_ID

    response = business_central.admin("POST", "seed", json={"profile": "demo"})
    assert response.status_code == 200, response.text
    return business_central.company_root(COMPANY_ID)
