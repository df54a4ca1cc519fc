"""`make serve` (python -m local.stack.serve) brings every part up on its ports, and Ctrl-C (SIGINT) stops them all."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from local.stack.launcher import PORT_ENV
from local.stack.processes import REPO_ROOT, free_ports, wait_for_port

pytestmark = pytest.mark.integration


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_serve_starts_the_stack_and_sigint_stops_every_child() -> None:
    names = ("authority", "dataverse", "business_central", "azurite", "functions", "service_bus")
    ports = dict(zip(names, free_ports(len(names)), strict=True))
    env = {**os.environ, **{PORT_ENV[name]: str(port) for name, port in ports.items()}}
    process = subprocess.Popen(
        [sys.executable, "-m", "local.stack.serve"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        for port in ports.values():
            wait_for_port("127.0.0.1", port, 60, None)
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0
    assert f"https://127.0.0.1:{ports['authority']}" in output
    assert f"http://127.0.0.1:{ports['dataverse']}" in output
    assert f"http://127.0.0.1:{ports['business_central']}" in output
    deadline = time.monotonic() + 10
    while any(listening(port) for port in ports.values()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(listening(port) for port in ports.values())
