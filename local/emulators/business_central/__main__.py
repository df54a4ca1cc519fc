"""`python -m local.emulators.business_central --port 7081`: the Business Central emulator on loopback."""

from __future__ import annotations

import argparse
import signal
import sys
from types import FrameType

from local.emulators.business_central.app import BC_RESOURCE, BusinessCentralApp
from local.emulators.service import EmulatorService
from local.emulators.tokens import TokenValidator, local_authority_settings
from local.emulators.web import EmulatorHTTPServer


def build_service(*, auth: bool = True) -> EmulatorService:
    """Tokens must be for the BC resource, as for the real service."""
    authority_url, ca_file = local_authority_settings()
    validator = TokenValidator(authority_url, ca_file, BC_RESOURCE) if auth else None
    return EmulatorService(BusinessCentralApp(), validator)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7081)
    parser.add_argument("--seed", choices=["none", "demo"], default="none", help="seed data at start")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    service = build_service()
    if args.seed == "demo":
        service.app.seed("demo", {})
    server = EmulatorHTTPServer((args.host, args.port), service, verbose=args.verbose)

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"business central: listening on http://{args.host}:{args.port}/<tenant>/<environment>/api/v2.0", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
