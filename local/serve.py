"""`make serve`: the local stack in the foreground, on the default ports; Ctrl-C stops every child process."""

from __future__ import annotations

import signal
import sys
import time
from types import FrameType

from local.stack import LocalStack, configured_ports


def main() -> int:
    stack = LocalStack(configured_ports(), quiet=False)

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    # SIGINT too: a shell without job control starts background children with SIGINT ignored
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        stack.start()
        print("\nlocal stack is up:", flush=True)
        for name, url in stack.urls.items():
            print(f"  {name:<12} {url}", flush=True)
        print(f"  {'ca file':<12} {stack.ca_file}", flush=True)
        print(f"  {'console':<12} {stack.urls['functions']}/console?code={stack.function_key}", flush=True)
        print("Ctrl-C stops everything.", flush=True)
        while all(child.process.poll() is None for child in stack.children):
            time.sleep(0.5)
        print("a child process exited; stopping the stack", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
