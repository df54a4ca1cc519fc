"""Start and stop the local stack's child processes (emulators, token authority, Azurite).

Shared by the pytest fixtures, `make serve` and `make demo`, so every entry point starts the very same servers the
same way: on a chosen port, waiting until the port accepts connections, and stopped by the child's own process group
(never by name, so a developer's other servers are never touched).

A start can be cancelled (`cancellable`): `make serve` asks for it when a signal arrives while children are still
starting, and the wait for a port then ends with `StartCancelled` instead of the signal handler raising into
whatever the main thread was doing (which could leave a child started but not yet recorded, so never stopped).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
EXIT_POLL_SECONDS = 0.02


class StartCancelled(Exception):
    """A stop was asked for while a child was still starting; what had started is stopped by the caller."""


class ChildExitedError(RuntimeError):
    """A child ended before it listened on its port (its own output says why)."""


def _never() -> bool:
    return False


_CANCELLED: ContextVar[Callable[[], bool]] = ContextVar("start_cancelled", default=_never)


@contextlib.contextmanager
def cancellable(cancelled: Callable[[], bool]) -> Iterator[None]:
    """Within this block, every start (and wait for a port) ends with `StartCancelled` once `cancelled()` is true."""
    token = _CANCELLED.set(cancelled)
    try:
        yield
    finally:
        _CANCELLED.reset(token)


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """Would a listener fail to bind host:port? Probed with SO_REUSEADDR, as every listener of the stack binds
    (Python's HTTP servers, proton's broker, Node's Azurite): connections of a previous run that linger in TIME_WAIT
    must not count as "in use", or a restart would wait about 60 s for nothing."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
        return False


def exit_code(process: subprocess.Popen[bytes]) -> int | None:
    """The child's exit code (negative: the signal that ended it), or None while it runs; found without reaping it:
    until it is reaped its PID, and so its process group id, cannot be given to another process, so
    `ChildProcess.stop()` can still signal what is left of the group safely."""
    if process.returncode is not None:
        return process.returncode
    try:
        result = os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:  # reaped by someone else
        return process.poll()
    if result is None:
        return None
    return result.si_status if result.si_code == os.CLD_EXITED else -result.si_status


def free_port(host: str = "127.0.0.1") -> int:
    """Ask the OS for a free TCP port (bind to 0); a tiny race remains, acceptable on a developer machine."""
    return free_ports(1, host)[0]


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """`count` distinct free TCP ports, each socket held until all are chosen: asked one at a time and released at
    once, the OS may hand the same port out twice (a CI run started two emulators of one stack on one port)."""
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind((host, 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def wait_for_port(
    host: str, port: int, timeout: float, process: subprocess.Popen[bytes] | None = None, *, name: str | None = None
) -> None:
    """Block until host:port accepts a TCP connection; fail fast if the child already died or the start is cancelled."""
    deadline = time.monotonic() + timeout
    what = name or (str(process.args) if process is not None else "a server")
    while time.monotonic() < deadline:
        if _CANCELLED.get()():
            raise StartCancelled(f"stopped while {what} was starting")
        if process is not None and (code := exit_code(process)) is not None:
            raise ChildExitedError(f"{what} exited with code {code} before listening on {host}:{port}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"{what}: nothing listening on {host}:{port} after {timeout:.0f}s")


@dataclass
class ChildProcess:
    """A started child with the port it listens on; `stop()` ends it and its children by process group."""

    name: str
    process: subprocess.Popen[bytes]
    host: str
    port: int

    def exited(self) -> bool:
        return exit_code(self.process) is not None

    def stop(self, timeout: float = 5.0, *, force: bool = False) -> None:
        """End the child's whole process group: SIGTERM (SIGKILL when `force`), SIGKILL after `timeout`, and SIGKILL
        to what outlives the leader (a wrapper's children) before the leader is reaped. Idempotent: a second call, or a
        call after the child died, only finishes what is left."""
        if self.process.returncode is None:  # not reaped yet: the group id is still this child's
            self._signal_group(signal.SIGKILL if force else signal.SIGTERM)
            if not self._wait_exited(timeout):
                self._signal_group(signal.SIGKILL)
                self._wait_exited(timeout)
            self._signal_group(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=timeout)

    def _signal_group(self, number: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):  # the group is gone (or only a zombie is left)
            os.killpg(self.process.pid, number)

    def _wait_exited(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.exited():
            if time.monotonic() >= deadline:
                return False
            time.sleep(EXIT_POLL_SECONDS)
        return True


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
    """Start `command` in its own process group and wait until it listens on host:port (stopped again on failure)."""
    if _CANCELLED.get()():
        raise StartCancelled(f"stopped before {name} started")
    child_env = dict(os.environ)
    child_env.update(env or {})
    child_env.setdefault("PYTHONPATH", str(REPO_ROOT))
    output = subprocess.DEVNULL if quiet else None
    process = subprocess.Popen(
        list(command), cwd=REPO_ROOT, env=child_env, stdout=output, stderr=output, start_new_session=True
    )
    child = ChildProcess(name=name, process=process, host=host, port=port)
    try:
        wait_for_port(host, port, timeout, process, name=name)
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
