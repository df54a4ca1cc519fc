"""`python -m local.emulators.dataverse --port 7082`: the Dataverse Web API emulator on loopback."""

from __future__ import annotations

import argparse
import signal
import sys
from types import FrameType

from local.emulators.dataverse.app import DataverseApp
from local.emulators.service import EmulatorService
from local.emulators.tokens import TokenValidator, local_authority_settings
from local.emulators.web import EmulatorHTTPServer


def build_service(host: str, port: int, *, auth: bool = True) -> EmulatorService:
    """The emulator's resource (token audience) is its own base URL, as a real org's is its URL."""
    authority_url, ca_file = local_authority_settings()
    validator = TokenValidator(authority_url, ca_file, f"http://{host}:{port}") if auth else None
    return EmulatorService(DataverseApp(), validator)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7082)
    parser.add_argument("--seed", choices=["none", "demo"], default="none", help="seed data at start")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    service = build_service(args.host, args.port)
    if args.seed == "demo":
        service.app.seed("demo", {})
    server = EmulatorHTTPServer((args.host, args.port), service, verbose=args.verbose)

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    print(f"dataverse: listening on http://{args.host}:{args.port}/api/data/v9.2", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
