"""Start Azurite's Table service (the real Microsoft Storage emulator, from npm) for tests and `make serve`.

In-memory persistence and telemetry off: every test session starts from an empty account and leaves nothing on
disk. The account key below is Azurite's published development key; it works only against Azurite, which is the
only place the project ever uses a shared key.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from local.stack.processes import REPO_ROOT, ChildProcess, start_process

ACCOUNT = "devstoreaccount1"
DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def azurite_binary() -> Path:
    local_bin = REPO_ROOT / "node_modules" / ".bin" / "azurite-table"
    if local_bin.exists():
        return local_bin
    found = shutil.which("azurite-table")
    if found is None:
        raise FileNotFoundError("azurite-table not found: run `make setup` (npm ci) first")
    return Path(found)


def connection_string(host: str, port: int) -> str:
    return (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={DEV_KEY};"
        f"TableEndpoint=http://{host}:{port}/{ACCOUNT};"
    )


def start_azurite(port: int, host: str = "127.0.0.1", *, quiet: bool = True) -> ChildProcess:
    """In-memory persistence (Azurite refuses it together with --location, so no workspace is given)."""
    command = [
        str(azurite_binary()),
        "--tableHost",
        host,
        "--tablePort",
        str(port),
        "--inMemoryPersistence",
        "--disableTelemetry",
        "--skipApiVersionCheck",
        "--silent",
    ]
    return start_process("azurite", command, port=port, host=host, quiet=quiet)
