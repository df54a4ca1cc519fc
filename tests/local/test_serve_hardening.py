"""`make serve` (python -m local.stack.serve) and `LocalStack` start, stop and restart cleanly (issue 18, part 4).

Why these exist: after a stop the stack could not start again for about 60 s (the broker port was probed without
SO_REUSEADDR while the last run's connections sat in TIME_WAIT); a second SIGTERM during the stop interrupted it and
left the emulators and Azurite running; and a port in use ended in tracebacks. Everything here runs real processes
on loopback ports; each wait has a generous timeout that only a hang or a leftover process reaches.

Processes are found through /proc: every child of `local.stack.serve` leads its own session (start_new_session), so a
process is the stack's when its parent is the serve process or its session is one a child leads.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from local.host.broker import start_broker
from local.stack.launcher import DEFAULT_PORTS, PORT_ENV, LocalStack
from local.stack.processes import REPO_ROOT, free_port, free_ports, wait_for_port

pytestmark = pytest.mark.integration

START_TIMEOUT = 90.0  # the whole stack on 2 shared cores; normally a few seconds
GONE_TIMEOUT = 30.0  # a stop takes the host's grace (4 s) plus a few hundred ms per child
TIME_WAIT = "06"  # the state column of /proc/net/tcp
HELD = ("functions", "dataverse", "business_central", "azurite", "authority", "service_bus")
RAW = ("authority", "service_bus")  # TLS and AMQP: a connection that says nothing is enough to be held open


def stack_ports() -> dict[str, int]:
    return dict(zip(DEFAULT_PORTS, free_ports(len(DEFAULT_PORTS)), strict=True))


def serve_env(ports: dict[str, int]) -> dict[str, str]:
    return {**os.environ, **{PORT_ENV[name]: str(port) for name, port in ports.items()}}


def stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, session id) of a live process, None when it is gone or a zombie."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text[text.rindex(")") + 2 :].split()
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[1]), int(fields[3])


def stack_processes(serve_pid: int) -> set[int]:
    """The serve process's children, and every process in a session one of them leads."""
    table = {int(name): info for name in os.listdir("/proc") if name.isdigit() and (info := stat(int(name)))}
    children = {pid for pid, (parent, _) in table.items() if parent == serve_pid}
    return children | {pid for pid, (_, session) in table.items() if session in children}


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def alive(pids: set[int]) -> set[int]:
    return {pid for pid in pids if stat(pid) is not None}


def eventually(probe: Callable[[], bool], timeout: float, message: Callable[[], str]) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise AssertionError(message())
        time.sleep(0.1)


@contextlib.contextmanager
def serving(ports: dict[str, int]) -> Iterator[subprocess.Popen[str]]:
    """`python -m local.stack.serve` in a new process group; whatever happens, nothing of it outlives the test."""
    process = subprocess.Popen(
        [sys.executable, "-m", "local.stack.serve"],
        cwd=REPO_ROOT,
        env=serve_env(ports),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        yield process
    finally:  # clean up after a failing test (the assertions are in the tests): an orphan is no longer serve's child
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        for pid in started_for(ports):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)


def started_for(ports: dict[str, int]) -> set[int]:
    """Live processes started with one of this test's ports on their command line (`--port N`, `--tablePort N`)."""
    wanted = {str(port) for port in ports.values()}
    found: set[int] = set()
    for name in os.listdir("/proc"):
        if not name.isdigit() or stat(int(name)) is None:
            continue
        with contextlib.suppress(OSError):
            words = Path(f"/proc/{name}/cmdline").read_bytes().decode(errors="replace").split("\0")
            if any(flag in ("--port", "--tablePort") and value in wanted for flag, value in itertools.pairwise(words)):
                found.add(int(name))
    return found


def test_a_double_sigterm_while_stopping_leaves_no_process_behind() -> None:
    ports = stack_ports()
    with serving(ports) as process:
        for port in ports.values():
            wait_for_port("127.0.0.1", port, START_TIMEOUT, None)
        stack = stack_processes(process.pid)
        assert len(stack) >= 5, stack  # authority, azurite, dataverse, business central, functions host
        os.kill(process.pid, signal.SIGTERM)
        time.sleep(0.3)  # the stop has begun: the host takes at least this long to end
        os.kill(process.pid, signal.SIGTERM)
        output, _ = process.communicate(timeout=GONE_TIMEOUT)
        eventually(lambda: not alive(stack), GONE_TIMEOUT, lambda: f"left running: {alive(stack)}\n{output}")
    assert process.returncode == 0, output
    assert "Traceback" not in output, output


def test_signals_arriving_while_the_stack_starts_stop_it_all() -> None:
    """A storm of SIGINT/SIGTERM from the moment the first child listens: the start ends, and so does every child
    started so far, however many signals land during that stop."""
    ports = stack_ports()
    with serving(ports) as process:
        wait_for_port("127.0.0.1", ports["authority"], START_TIMEOUT, None)
        seen: set[int] = set()
        for round_number in range(60):
            seen |= stack_processes(process.pid)
            if process.poll() is not None:
                break
            os.kill(process.pid, signal.SIGINT if round_number % 2 else signal.SIGTERM)
            time.sleep(0.05)
        output, _ = process.communicate(timeout=GONE_TIMEOUT)
        assert seen, "no child was seen starting"
        eventually(lambda: not alive(seen), GONE_TIMEOUT, lambda: f"left running: {alive(seen)}\n{output}")
    assert process.returncode == 0, output
    assert "Traceback" not in output, output


@pytest.mark.parametrize("service", list(DEFAULT_PORTS))
def test_a_port_in_use_is_one_clear_line_and_a_failure(service: str) -> None:
    ports = stack_ports()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", ports[service]))
        squatter.listen()
        with serving(ports) as process:
            output, _ = process.communicate(timeout=START_TIMEOUT)
    assert process.returncode not in (0, None)
    assert "Traceback" not in output, output
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    assert str(ports[service]) in lines[0] and service in lines[0] and PORT_ENV[service] in lines[0], lines[0]
    assert "in use" in lines[0]
    others = [port for name, port in ports.items() if name != service]
    assert not [port for port in others if listening(port)], "a part of the stack was left running"


def time_wait_ports() -> set[int]:
    """Local ports with a connection in TIME_WAIT (IPv4 loopback is all the stack uses)."""
    found: set[int] = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == TIME_WAIT:
            found.add(int(fields[1].rsplit(":", 1)[1], 16))
    return found


def test_the_stack_starts_again_at_once_on_the_same_ports(tmp_path: Path) -> None:
    """Connections left open across the stop and closed after it leave the servers' side in TIME_WAIT, as a
    developer's browser, the demo or a Service Bus client do; the next start on the same ports must not care."""
    ports = stack_ports()
    first = LocalStack(dict(ports), cert_dir=tmp_path)
    first.start()
    held: list[socket.socket] = []
    try:
        for name in HELD:
            sock = socket.create_connection(("127.0.0.1", ports[name]), timeout=10)
            if name not in RAW:  # one whole HTTP exchange: nothing left unread on either side
                sock.sendall(f"GET /x HTTP/1.1\r\nHost: 127.0.0.1:{ports[name]}\r\n\r\n".encode())
                drain_one_answer(sock)
            held.append(sock)
    finally:
        first.stop()
    for sock in held:  # the servers closed first; closing now leaves their side in TIME_WAIT
        with contextlib.suppress(OSError):
            while sock.recv(65536):
                pass
        sock.close()
    lingering = {name for name in HELD if ports[name] in time_wait_ports()}
    assert lingering == set(HELD), f"the test did not leave TIME_WAIT on every port: only {lingering}"
    second = LocalStack(dict(ports), cert_dir=tmp_path)
    started = time.monotonic()
    try:
        second.start()
        status = requests.get(
            f"http://127.0.0.1:{ports['functions']}/admin/host/status",
            headers={"x-functions-key": second.function_key},
            timeout=10,
        )
        assert (
            status.status_code == 200 and f"localhost:{ports['service_bus']}" in status.json()["serviceBusConnection"]
        )
    finally:
        second.stop()
    assert time.monotonic() - started < START_TIMEOUT


def drain_one_answer(sock: socket.socket) -> None:
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        assert chunk, "the server closed before answering"
        buffer += chunk
    head, _, body = buffer.partition(b"\r\n\r\n")
    length = next(
        (int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")),
        0,
    )
    while len(body) < length:
        body += sock.recv(65536)


def test_a_stopped_broker_releases_its_port_in_process() -> None:
    """proton's `Container.stop()` alone left the listener and its connections open, so a broker could not start
    again on its port in the same process (a test or the host restarting it)."""
    port = free_port()
    first = start_broker({}, port=port)
    client = socket.create_connection(("127.0.0.1", port), timeout=10)
    first.stop()
    try:
        assert not first.thread.is_alive()
        while client.recv(65536):  # the broker ends the connection (its AMQP header may come first)
            pass
    finally:
        client.close()
    second = start_broker({}, port=port)
    second.stop()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        with pytest.raises(OSError, match="cannot listen on"):
            start_broker({}, port=squatter.getsockname()[1])
