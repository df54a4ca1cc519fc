"""`python -m local.host`: a local Azure Functions host for this app, since Core Tools cannot be installed here.

It runs the very same `function_app.app` the Python worker runs in Azure: it reads `local.settings.json` as
`func start` does (local/host/settings.py), indexes `app.get_functions()` (local/host/functions.py), serves the HTTP
routes under `/api/` with Azure's routing and key checks (local/host/http_server.py), fires timers on their NCRONTAB
schedules (local/host/timers.py) and delivers Service Bus messages with peek-lock semantics (local/host/queues.py).

Messages reach the queue two ways: in-process (`HostQueues.for_name("sync-jobs").send(...)`), and over AMQP from
the real azure-servicebus sender through `local/host/broker.py`, started on `--broker-port` (env `LOCAL_BROKER_PORT`,
default 5672) and advertised to the app as `ServiceBusConnection` (and each trigger's connection setting) unless the
environment already sets them. Queue state lives in memory: a restart starts with empty queues.

    python -m local.host [--port 7071] [--app function_app] [--settings local.settings.json]
                         [--script-root .] [--broker-port 5672 | --no-broker] [--verbose]
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

from local.host.admin import AdminApi
from local.host.chaos import Chaos
from local.host.functions import HttpFunction, QueueFunction, TimerFunction, build_functions, load_app
from local.host.http_server import BODY_LIMIT_SETTING, KeyCheck, LocalHostServer, Router, body_size_limit
from local.host.queues import HostQueues, QueueRunner
from local.host.settings import HostConfigurationError, export_values, load_host_json, load_local_settings
from local.host.timers import TimerRunner

__all__ = ["HostOptions", "HostQueues", "LocalHost", "main"]

LOG = logging.getLogger("local.host")
DEFAULT_PORT = 7071
DEFAULT_BROKER_PORT = 5672
SERVE_POLL_SECONDS = 0.1  # how soon `shutdown()` is noticed (the stdlib's 0.5 s made every stop half a second longer)
SHUTDOWN_GRACE_SECONDS = 4.0  # in-flight invocations get this long to finish (the child is SIGKILLed after 5 s)
KEY_SETTING = "LOCAL_FUNCTION_KEY"
SERVICE_BUS_SETTING = "ServiceBusConnection"


@dataclass(frozen=True)
class HostOptions:
    app: str = "function_app"
    port: int | None = None  # None: Host.LocalHttpPort from the settings file, else 7071
    bind: str = "127.0.0.1"
    settings: Path | None = None
    script_root: Path = field(default_factory=Path.cwd)
    broker_port: int | None = DEFAULT_BROKER_PORT  # None: no broker; 0: any free port


def _port_is_free(host: str, port: int) -> bool:
    """Would the broker's listener bind? Probed with SO_REUSEADDR, as proton's listener binds: without it the probe
    failed for about 60 s after a stop (connections of the previous run in TIME_WAIT), so `make serve` could not
    start again although the port was free for the listener."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
        return True


def broker_connection_string(port: int) -> str:
    """Same text as `RunningBroker.connection_string`; computed before the app is imported, so the app's settings
    see it even if it reads them early."""
    return (
        f"Endpoint=sb://localhost:{port};SharedAccessKeyName=RootManageSharedAccessKey;"
        "SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true"
    )


class LocalHost:
    def __init__(self, options: HostOptions) -> None:
        self.options = options
        self.stopping = threading.Event()
        self.queues = HostQueues()
        self.timers: dict[str, TimerRunner] = {}
        self.receivers: list[QueueRunner] = []
        self.chaos: Chaos | None = None
        self.server: LocalHostServer | None = None
        self.broker: Any = None  # local.host.broker.RunningBroker, imported only when a queue needs it (proton)
        self.broker_connection: str | None = None
        self.broker_port = 0
        self.url = ""

    def start(self) -> None:
        """Read settings, import the app, bind, start the broker, timers and receivers; raises
        `HostConfigurationError` (nothing left running) when the app or its settings cannot work."""
        root = self.options.script_root
        if str(root) not in sys.path:
            sys.path.insert(0, str(root))  # as the worker does: the app imports from the script root
        settings = load_local_settings(self.options.settings, root)
        export_values(settings.values)
        config = load_host_json(root)
        if not os.environ.get(KEY_SETTING):
            os.environ[KEY_SETTING] = secrets.token_urlsafe(24)
            print(f"{KEY_SETTING} is not set; this run's key is {os.environ[KEY_SETTING]}", flush=True)
        exported = self._advertise_broker(SERVICE_BUS_SETTING)
        functions = build_functions(load_app(self.options.app), config, str(root))
        queue_functions = [f for f in functions if isinstance(f, QueueFunction)]
        if not queue_functions:
            for name in exported:
                os.environ.pop(name, None)
            self.broker_connection = None
        chaos = self.chaos = Chaos.from_environment()  # delivery faults for e2e tests (LOCAL_HOST_CHAOS); else None
        for queue_function in queue_functions:
            self.queues.declare(queue_function.queue_name)
            self._advertise_broker(queue_function.connection)
        port = self.options.port or settings.http_port or DEFAULT_PORT
        router = Router(
            [f for f in functions if isinstance(f, HttpFunction)],
            KeyCheck(os.environ[KEY_SETTING]),
            AdminApi(functions, self.timers, self.queues, self.status),
            config.route_prefix,
            settings.cors_origins,
            settings.cors_credentials,
        )
        max_body = body_size_limit(os.environ.get(BODY_LIMIT_SETTING))
        try:
            server = LocalHostServer((self.options.bind, port), router, max_body)
        except OSError as error:
            raise HostConfigurationError(f"cannot listen on {self.options.bind}:{port}: {error}") from error
        self.url = f"http://{self.options.bind}:{server.server_address[1]}"
        try:
            if self.broker_connection is not None:
                self._start_broker()
        except BaseException:
            server.server_close()
            raise
        for function in functions:
            if isinstance(function, TimerFunction):
                self.timers[function.name] = TimerRunner(function, self.stopping)
            elif isinstance(function, QueueFunction):
                queue = self.queues.get(function.queue_name)
                self.receivers.append(QueueRunner(function, queue, config, self.stopping, chaos))
        self.queues.make_running()
        # Requests that arrived since the bind wait in the backlog until here, when everything they can reach exists.
        self.server = server  # set only once served: `shutdown()` waits for a `serve_forever` that must have begun
        serve = threading.Thread(target=server.serve_forever, args=(SERVE_POLL_SECONDS,), name="local-host-http")
        serve.daemon = True
        serve.start()
        for runner in self._runners():
            runner.start()
        self._print_functions(functions, config.route_prefix)

    def _runners(self) -> list[TimerRunner | QueueRunner]:
        return [*self.timers.values(), *self.receivers]

    def _advertise_broker(self, setting: str) -> list[str]:
        """Point `setting` at the local broker unless the environment already names a Service Bus."""
        if self.options.broker_port is None:
            return []
        if self.broker_connection is None:
            port = self.options.broker_port
            if port == 0:
                with socket.socket() as probe:
                    probe.bind((self.options.bind, 0))
                    port = probe.getsockname()[1]
            self.broker_port = port
            self.broker_connection = broker_connection_string(port)
        if os.environ.get(setting) or os.environ.get(f"{setting}__fullyQualifiedNamespace"):
            if not self._reaches_broker(os.environ.get(setting) or ""):
                LOG.warning("%s is set: messages the app sends go there, not to this host's queues", setting)
            return []
        os.environ[setting] = self.broker_connection
        return [setting]

    def _reaches_broker(self, connection: str) -> bool:
        """True for an emulator connection string naming this host's broker (`sb://localhost:<port>`; the SDK's
        emulator default port is 5672), so a developer's own emulator setting need not be changed."""
        for part in connection.split(";"):
            key, _, value = part.partition("=")
            if key.strip().lower() == "endpoint":
                endpoint = urlsplit(value.strip())
                local = endpoint.hostname in ("localhost", "127.0.0.1")
                return local and (endpoint.port or DEFAULT_BROKER_PORT) == self.broker_port
        return False

    def _start_broker(self) -> None:
        port = self.broker_port
        if not _port_is_free(self.options.bind, port):
            raise HostConfigurationError(
                f"the local Service Bus broker cannot listen on port {port} (in use): "
                "set LOCAL_BROKER_PORT or --broker-port, or --no-broker"
            )
        from local.host.broker import start_broker  # noqa: PLC0415 - proton loads only when a queue trigger exists

        self.broker = start_broker(self.queues.queues, host=self.options.bind, port=port)

    def status(self) -> dict[str, Any]:
        return {
            "state": "Stopping" if self.stopping.is_set() else "Running",
            "url": self.url,
            "serviceBusConnection": self.broker_connection if self.broker is not None else None,
            "queues": sorted(self.queues.queues),
            "timers": sorted(self.timers),
            **({"chaos": dict(self.chaos.counts)} if self.chaos is not None else {}),
        }

    def _print_functions(self, functions: list[Any], prefix: str) -> None:
        lines = ["", "Functions:", ""]
        for function in functions:
            if isinstance(function, HttpFunction):
                methods = ",".join(sorted(function.methods)) if function.methods is not None else "*"
                path = "/".join(part for part in (prefix, function.route.template) if part)
                lines.append(f"        {function.name}: [{methods}] {self.url}/{path}")
            elif isinstance(function, TimerFunction):
                lines.append(f"        {function.name}: timerTrigger ({function.schedule.expression})")
            else:
                lines.append(f"        {function.name}: serviceBusTrigger (queue {function.queue_name})")
            lines.append("")
        if self.broker is not None:
            lines.append(f"Service Bus (local broker): {self.broker_connection}")
        lines.append(f"Host started: {self.url} (keys: x-functions-key header or ?code=; admin API under /admin)")
        print("\n".join(lines), flush=True)

    def stop(self) -> None:
        self.stopping.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        deadline = time.monotonic() + SHUTDOWN_GRACE_SECONDS
        for runner in self._runners():
            runner.join(deadline)
        if self.broker is not None:
            self.broker.stop()
        self.queues.stop_running()


def _configure_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    formatter = logging.Formatter("[%(asctime)s.%(msecs)03dZ] %(message)s", "%Y-%m-%dT%H:%M:%S")
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=[handler], force=True)
    for noisy in ("azure", "uamqp", "urllib3", "msal", "local.host.broker"):
        logging.getLogger(noisy).setLevel(logging.INFO if verbose else logging.WARNING)


def parse_args(argv: list[str] | None) -> tuple[HostOptions, bool]:
    parser = argparse.ArgumentParser(prog="python -m local.host", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, help="HTTP port (default: Host.LocalHttpPort, else 7071)")
    parser.add_argument("--bind", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--app", default="function_app", help="module defining the FunctionApp (default function_app)")
    parser.add_argument("--settings", type=Path, help="settings file (default local.settings.json, else .example)")
    parser.add_argument("--script-root", type=Path, default=Path.cwd(), help="folder with host.json (default: cwd)")
    broker = parser.add_mutually_exclusive_group()
    default_broker = int(os.environ.get("LOCAL_BROKER_PORT") or DEFAULT_BROKER_PORT)
    broker.add_argument("--broker-port", type=int, default=default_broker, help="AMQP port, 0 for any free port")
    broker.add_argument("--no-broker", action="store_true", help="queues in-process only (no AMQP)")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    options = HostOptions(
        app=args.app,
        port=args.port,
        bind=args.bind,
        settings=args.settings,
        script_root=args.script_root.resolve(),
        broker_port=None if args.no_broker else args.broker_port,
    )
    return options, args.verbose


def main(argv: list[str] | None = None) -> int:
    options, verbose = parse_args(argv)
    _configure_logging(verbose)
    received: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        """Only records: a handler that set a `threading.Event` could deadlock on the lock `Event.wait` holds in
        this very thread, and a second signal during `host.stop()` must not interrupt the stop."""
        received.append(signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)  # also when started in the background (SIGINT ignored by default)
    host = LocalHost(options)
    try:
        host.start()
    except (HostConfigurationError, OSError) as error:
        print(f"local host: cannot start: {error}", file=sys.stderr, flush=True)
        host.stop()
        return 1
    while not received:
        time.sleep(0.1)
    print("Stopping the host...", flush=True)
    host.stop()
    return 0

