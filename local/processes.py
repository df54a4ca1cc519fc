"""Start and stop the local stack's child processes (emulators, token authority, Azurite).

Shared by the pytest fixtures, `make serve` and `make demo`, so every entry point starts the very same servers the
same way: on a chosen port, waiting until the port accepts connections, and stopped by the child's own PID (never by
name, so a developer's other servers are never touched).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def free_port(host: str = "127.0.0.1") -> int:
    """Ask the OS for a free TCP port (bind to 0); a tiny race remains, acceptable on a developer machine."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(host: str, port: int, timeout: float, process: subprocess.Popen[bytes] | None = None) -> None:
    """Block until host:port accepts a TCP connection; fail fast if the child already died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process {process.args!r} exited with {process.returncode} before listening")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout:.0f}s")


@dataclass
class ChildProcess:
    """A started child with the port it listens on; `stop()` ends it and its children by process group."""

    name: str
    process: subprocess.Popen[bytes]
    host: str
    port: int

    def stop(self, timeout: float = 5.0) -> None:
        if self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=timeout)


def start_process(
    name: str,
    command: Sequence[str],
    *,
    port: int,
    host: str = "127.0.0.1",
    env: Mapping[str, str] | None = None,
    quiet: bool = True,
    timeout: float = 30.0,
) -> ChildProcess:
    """Start `command` in its own process group and wait until it listens on host:port."""
    child_env = dict(os.environ)
    child_env.update(env or {})
    child_env.setdefault("PYTHONPATH", str(REPO_ROOT))
    output = subprocess.DEVNULL if quiet else None
    process = subprocess.Popen(
        list(command), cwd=REPO_ROOT, env=child_env, stdout=output, stderr=output, start_new_session=True
    )
    child = ChildProcess(name=name, process=process, host=host, port=port)
    try:
        wait_for_port(host, port, timeout, process)
    except BaseException:
        child.stop()
        raise
    return child


def start_python_module(
    name: str,
    module: str,
    *,
    port: int,
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    quiet: bool = True,
) -> ChildProcess:
    """Run `python -m module --port N args...` with this interpreter (the project's venv)."""
    command = [sys.executable, "-m", module, "--port", str(port), *args]
    return start_process(name, command, port=port, env=env, quiet=quiet)
