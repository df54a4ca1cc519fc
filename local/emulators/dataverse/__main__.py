"""`python -m local.emulators.dataverse --port 7082`: the Dataverse Web API emulator on loopback."""

from __future__ import annotations

import sys

from local.emulators.cli import run_emulator
from local.emulators.dataverse.app import DataverseApp
from local.emulators.identity.tokens import TokenValidator, local_authority_settings
from local.emulators.service import EmulatorService


def build_service(host: str, port: int, *, auth: bool = True) -> EmulatorService:
    """The emulator's resource (token audience) is its own base URL, as a real org's is its URL."""
    authority_url, ca_file = local_authority_settings()
    validator = TokenValidator(authority_url, ca_file, f"http://{host}:{port}") if auth else None
    return EmulatorService(DataverseApp(), validator)


def main(argv: list[str] | None = None) -> int:
    return run_emulator(
        __doc__ or "",
        7082,
        build_service,
        lambda host, port: f"dataverse: listening on http://{host}:{port}/api/data/v9.2",
        argv,
    )


if __name__ == "__main__":
    sys.exit(main())
