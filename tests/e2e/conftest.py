"""The whole local stack (token authority, Azurite, both emulators, the Functions host running function_app), once
per session on free ports, as `make serve` runs it; tests talk to the API over HTTP like an admin would."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from local.stack.launcher import LocalStack, quiet_timers


def seeded_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """A stack of its own, both emulators seeded with the demo data: the session's, and the fuzzer's (whose random
    writes, such as mapping overrides and couplings, must not reach the tests that follow it)."""
    stack = LocalStack.on_free_ports(cert_dir=Path(tmp_path_factory.mktemp("identity")))
    stack.host_env.update(quiet_timers())  # no timer run races a test's own writes and runs
    stack.start()
    session = requests.Session()
    session.trust_env = False
    for name in ("business_central", "dataverse"):
        session.post(f"{stack.urls[name]}/_admin/seed", json={"profile": "demo"}, timeout=30).raise_for_status()
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    yield from seeded_stack(tmp_path_factory)


def client(stack: LocalStack | None = None) -> requests.Session:
    """A session to the stack's API: with its function key, or none (what a caller without one gets)."""
    session = requests.Session()
    session.trust_env = False
    if stack is not None:
        session.headers["x-functions-key"] = stack.function_key
    return session


@pytest.fixture(scope="session")
def api(local_stack: LocalStack) -> requests.Session:
    return client(local_stack)


@pytest.fixture(scope="session")
def keyless(local_stack: LocalStack) -> requests.Session:
    """No function key (what the fuzzer adds its key to)."""
    return client()
