"""The command line both emulators share: `--host`, `--port`, `--seed <profile>`, `--verbose`; SIGTERM/SIGINT stop it.

`--seed` takes `none` or one of the emulator's seed profiles (`demo` on both; the BC emulator also `companies`: two
companies in environment `production` and one in `sandbox`, see business_central/seed.py)."""

from __future__ import annotations

import argparse
import signal
from collections.abc import Callable
from types import FrameType

from local.emulators.service import EmulatorService
from local.emulators.web import EmulatorHTTPServer


def run_emulator(
    description: str,
    default_port: int,
    build_service: Callable[[str, int], EmulatorService],
    banner: Callable[[str, int], str],
    argv: list[str] | None = None,
) -> int:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=default_port)
    parser.add_argument("--seed", default="none", help="seed data at start: none or a seed profile (default none)")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    service = build_service(args.host, args.port)
    if args.seed != "none":
        profiles = [profile for profile in service.app.seed_profiles if profile != "bench"]  # bench needs counts
        if args.seed not in profiles:
            parser.error(f"--seed takes none or one of {', '.join(profiles)}")
        service.app.seed(args.seed, {})
    server = EmulatorHTTPServer((args.host, args.port), service, verbose=args.verbose)

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    # SIGINT too: a shell without job control starts background children with SIGINT ignored
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(banner(args.host, args.port), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
