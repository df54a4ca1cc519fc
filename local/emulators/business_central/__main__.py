"""`python -m local.emulators.business_central --port 7081`: the Business Central emulator on loopback."""

from __future__ import annotations

import sys

from local.emulators.business_central.app import BC_RESOURCE, BusinessCentralApp
from local.emulators.cli import run_emulator
from local.emulators.identity.tokens import TokenValidator, local_authority_settings
from local.emulators.service import EmulatorService


def build_service(host: str = "127.0.0.1", port: int = 7081, *, auth: bool = True) -> EmulatorService:
    """Tokens must be for the BC resource, as for the real service (host and port do not change it)."""
    authority_url, ca_file = local_authority_settings()
    validator = TokenValidator(authority_url, ca_file, BC_RESOURCE) if auth else None
    return EmulatorService(BusinessCentralApp(), validator)


def main(argv: list[str] | None = None) -> int:
    return run_emulator(
        __doc__ or "",
        7081,
        build_service,
        lambda host, port: f"business central: listening on http://{host}:{port}/<tenant>/<environment>/api/v2.0",
        argv,
    )


if __name__ == "__main__":
    sys.exit(main())
