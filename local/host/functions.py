"""The app's functions as the local host sees them: read from `app.get_functions()`, called like the Python worker.

Why from `get_functions()` and the binding objects: that is exactly what the Python worker indexes in Azure, so a
route, schedule or queue name the decorators did not record cannot work here either. Anything the host cannot honour
faithfully (another binding type, sessions, batches, an unresolved `%SETTING%`) stops start-up with the reason,
rather than running a function that would behave differently in Azure.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
import os
import threading
import time
import traceback
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

import azure.functions as func
from azure.functions.decorators.function_app import Function, FunctionRegister

from local.host.ncrontab import Schedule, ScheduleError, parse_schedule
from local.host.routes import RouteTemplate
from local.host.settings import HostConfig, HostConfigurationError, resolve

LOG = logging.getLogger("local.host")
HISTORY = 50  # invocations kept per function for GET /admin/functions/{name}
DEFAULT_SERVICE_BUS_CONNECTION = "AzureWebJobsServiceBus"  # the extension's default connection setting name


class _Trace(func._abc.TraceContext):
    @property
    def trace_state(self) -> str:
        return ""

    @property
    def trace_parent(self) -> str:
        return ""

    @property
    def attributes(self) -> dict[str, str]:
        return {}


class _NoException(func._abc.RpcException):
    @property
    def source(self) -> str:
        return ""

    @property
    def stack_trace(self) -> str:
        return ""

    @property
    def message(self) -> str:
        return ""


class _NoRetry(func._abc.RetryContext):
    """Service Bus and timer triggers have no worker-side retry here; the redelivery count is the retry."""

    @property
    def retry_count(self) -> int:
        return 0

    @property
    def max_retry_count(self) -> int:
        return 0

    @property
    def exception(self) -> func._abc.RpcException:
        return _NoException()


class InvocationContext(func.Context):
    """The `context` argument, for functions that declare one (the worker passes it by that parameter name)."""

    def __init__(self, invocation_id: str, function_name: str, function_directory: str) -> None:
        self._id, self._name, self._directory = invocation_id, function_name, function_directory
        self._local = threading.local()
        self._local.invocation_id = invocation_id

    @property
    def invocation_id(self) -> str:
        return self._id

    @property
    def thread_local_storage(self) -> Any:
        return self._local

    @property
    def function_name(self) -> str:
        return self._name

    @property
    def function_directory(self) -> str:
        return self._directory

    @property
    def trace_context(self) -> func._abc.TraceContext:
        return _Trace()

    @property
    def retry_context(self) -> func._abc.RetryContext:
        return _NoRetry()


@dataclass
class Invocation:
    id: str
    reason: str
    started: datetime
    status: str = "running"
    duration_ms: float | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "reason": self.reason, "started": self.started.isoformat(), "status": self.status,
                "durationMs": self.duration_ms, "error": self.error}  # fmt: skip


@dataclass
class Invoker:
    """Calls one user function with its trigger value (and `context`), logging as the Functions host does."""

    name: str
    function: Callable[..., Any]
    trigger_parameter: str
    wants_context: bool
    directory: str
    timeout: timedelta | None = None
    history: deque[Invocation] = field(default_factory=lambda: deque(maxlen=HISTORY))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def invoke(self, value: Any, reason: str, invocation_id: str | None = None) -> Any:
        invocation = Invocation(invocation_id or str(uuid.uuid4()), reason, datetime.now(UTC))
        with self.lock:
            self.history.append(invocation)
        LOG.info("Executing 'Functions.%s' (Reason='%s', Id=%s)", self.name, reason, invocation.id)
        arguments: dict[str, Any] = {self.trigger_parameter: value}
        if self.wants_context:
            arguments["context"] = InvocationContext(invocation.id, self.name, self.directory)
        started = time.monotonic()
        try:
            result = self.function(**arguments)
            if inspect.iscoroutine(result):
                result = asyncio.run(result)
        except (Exception, SystemExit) as error:  # sys.exit() in a function fails the invocation, not the host
            invocation.status, invocation.error = "failed", "".join(traceback.format_exception(error))
            self._finish(invocation, started, f"Failed, Id={invocation.id}")
            LOG.error("%s", invocation.error.rstrip())
            if isinstance(error, SystemExit):
                raise RuntimeError(f"the function called sys.exit({error.code!r})") from error
            raise
        invocation.status = "succeeded"
        self._finish(invocation, started, f"Succeeded, Id={invocation.id}")
        return result

    def _finish(self, invocation: Invocation, started: float, outcome: str) -> None:
        invocation.duration_ms = round((time.monotonic() - started) * 1000, 1)
        LOG.info("Executed 'Functions.%s' (%s, Duration=%sms)", self.name, outcome, invocation.duration_ms)
        if self.timeout is not None and invocation.duration_ms > self.timeout.total_seconds() * 1000:
            LOG.error("'Functions.%s' ran %sms, longer than host.json functionTimeout: Azure would have stopped it",
                      self.name, invocation.duration_ms)  # fmt: skip

    def recent(self) -> list[dict[str, Any]]:
        with self.lock:
            return [invocation.to_json() for invocation in self.history]


@dataclass(frozen=True)
class HttpFunction:
    name: str
    route: RouteTemplate
    methods: frozenset[str] | None  # None: every method
    auth_level: str  # anonymous | function | admin
    invoker: Invoker


@dataclass(frozen=True)
class TimerFunction:
    name: str
    schedule: Schedule
    run_on_startup: bool
    invoker: Invoker


@dataclass(frozen=True)
class QueueFunction:
    name: str
    queue_name: str
    connection: str
    invoker: Invoker


HostFunction = HttpFunction | TimerFunction | QueueFunction


def load_app(module_name: str) -> FunctionRegister:
    """Import the app module (its own imports may fail: that is the app's error, shown as is)."""
    module = importlib.import_module(module_name)
    candidates = [getattr(module, "app", None), *vars(module).values()]
    app = next((value for value in candidates if isinstance(value, FunctionRegister)), None)
    if app is None:
        raise HostConfigurationError(f"{module_name} defines no FunctionApp")
    return app


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def _invoker(function: Function, trigger_name: str, config: HostConfig, directory: str) -> Invoker:
    name = function.get_function_name() or "?"
    user = function.get_user_function()
    parameters = inspect.signature(user).parameters
    if trigger_name not in parameters:
        raise HostConfigurationError(f"{name}: the trigger parameter {trigger_name!r} is not a parameter")
    unbound = [p for p in parameters.values() if p.name not in (trigger_name, "context") and p.default is p.empty]
    if unbound:
        raise HostConfigurationError(f"{name}: parameters {[p.name for p in unbound]} are not bound to anything")
    return Invoker(name, user, trigger_name, "context" in parameters, directory, config.function_timeout)


def describe(function: Function, config: HostConfig, directory: str) -> HostFunction:
    name = function.get_function_name() or "?"
    trigger = function.get_trigger()
    if trigger is None:
        raise HostConfigurationError(f"{name}: no trigger")
    spec = {key: _plain(value) for key, value in trigger.get_dict_repr().items()}
    for binding in function.get_bindings():
        kind = _plain(binding.get_dict_repr().get("type"))
        if binding is not trigger and not (kind == "http" and spec["type"] == "httpTrigger"):
            raise HostConfigurationError(f"{name}: the local host does not support {kind!r} bindings")
    invoker = _invoker(function, str(spec["name"]), config, directory)
    where = f"function {name!r}"
    if spec["type"] == "httpTrigger":
        route = RouteTemplate.parse(resolve(str(spec.get("route") or name), where))
        methods = spec.get("methods")
        allowed = frozenset(str(_plain(m)).upper() for m in methods) if methods else None
        level = str(spec.get("authLevel") or "function").lower()
        return HttpFunction(name, route, allowed, level, invoker)
    if spec["type"] == "timerTrigger":
        try:
            schedule = parse_schedule(resolve(str(spec["schedule"]), where))
        except ScheduleError as error:
            raise HostConfigurationError(f"{where}: {error}") from error
        return TimerFunction(name, schedule, bool(spec.get("runOnStartup")), invoker)
    if spec["type"] == "serviceBusTrigger" and spec.get("queueName"):
        if spec.get("isSessionsEnabled") or str(spec.get("cardinality") or "one").lower() != "one":
            raise HostConfigurationError(f"{where}: sessions and batches (cardinality many) are not supported locally")
        connection = str(spec.get("connection") or DEFAULT_SERVICE_BUS_CONNECTION)
        return QueueFunction(name, resolve(str(spec["queueName"]), where), connection, invoker)
    raise HostConfigurationError(f"{where}: the local host does not support {spec['type']!r} triggers")


def is_disabled(name: str) -> bool:
    """`AzureWebJobs.<name>.Disabled`, the app setting that disables a function in Azure and in Core Tools."""
    return os.environ.get(f"AzureWebJobs.{name}.Disabled", "").strip().lower() in ("true", "1")


def build_functions(app: FunctionRegister, config: HostConfig, directory: str) -> list[HostFunction]:
    app.functions_bindings = None  # get_functions() refuses a second call on one app (a second in-process host)
    return [describe(f, config, directory) for f in app.get_functions() if not is_disabled(f.get_function_name() or "")]
