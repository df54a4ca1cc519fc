"""`make serve`: the local stack in the foreground, on the default ports; Ctrl-C stops every child process.

Why the signal handler only records the signal: it used to raise KeyboardInterrupt, so a second SIGINT/SIGTERM
arriving while the stack was stopping interrupted the stop and left the emulators and Azurite running (each child runs
in its own process group, so the terminal's Ctrl-C never reaches them). Now the main loop and the start notice the
signal themselves; once the stop begins further signals are ignored, so it runs to its end. SIGHUP too, so closing the
terminal stops the children rather than orphaning them.

A port in use, or a child that cannot start, is one line on stderr naming the service, the port and what to do,
and the exit code is 1; no traceback.
"""

from __future__ import annotations

import signal
import sys
import time
from types import FrameType

from local.stack.launcher import LocalStack, configured_ports
from local.stack.processes import StartCancelled

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
POLL_SECONDS = 0.2


def main() -> int:
    received: list[int] = []

    def record(signum: int, frame: FrameType | None) -> None:
        received.append(signum)

    # SIGINT too: a shell without job control starts background children with SIGINT ignored
    for number in STOP_SIGNALS:
        signal.signal(number, record)
    try:
        stack = LocalStack(configured_ports(), quiet=False)
    except ValueError as error:
        print(f"local stack: {error}", file=sys.stderr, flush=True)
        return 1
    try:
        try:
            stack.start(cancelled=lambda: bool(received))
        except StartCancelled:
            return 0
        except (OSError, RuntimeError) as error:  # a port in use, a child that died or never listened
            print(f"local stack: {error}", file=sys.stderr, flush=True)
            return 1
        print("\nlocal stack is up:", flush=True)
        for name, url in stack.urls.items():
            print(f"  {name:<12} {url}", flush=True)
        print(f"  {'ca file':<12} {stack.ca_file}", flush=True)
        print(f"  {'console':<12} {stack.urls['functions']}/console?code={stack.function_key}", flush=True)
        print("Ctrl-C stops everything.", flush=True)
        while not received:
            ended = [child.name for child in stack.children if child.exited()]
            if ended:
                print(f"local stack: {', '.join(ended)} exited; stopping the stack", file=sys.stderr, flush=True)
                return 1
            time.sleep(POLL_SECONDS)
        print("stopping the local stack...", flush=True)
        return 0
    finally:
        # From here on signals are ignored, not recorded: the stop runs to its end, and a late one cannot kill this
        # process during interpreter shutdown (Python restores the default action for handlers it installed).
        for number in STOP_SIGNALS:
            signal.signal(number, signal.SIG_IGN)
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
