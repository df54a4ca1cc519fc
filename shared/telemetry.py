"""What the app calls for telemetry: a span per sync job, structured log lines, metrics, HTTP dependency spans.

Everything here is a cheap no-op until `telemetry_setup` configured a pipeline (only when
`APPLICATIONINSIGHTS_CONNECTION_STRING` is set), and nothing heavy is imported at module level, so services and
connectors may call it freely (the import rule allows `shared.telemetry*` to services, like `logging`).

Only ids, mapping names, codes and counters go into a dimension: never record data, exception texts or secrets.
Dimension and metric names are a contract with the alerts (docs/operations.md, "Telemetry").
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import time
import types
from collections.abc import Iterator, Mapping
from typing import Any

from shared.telemetry_setup import (
    JOB_FAILED,
    JOB_SUCCEEDED,
    LAG_SECONDS,
    NAME,
    QUEUE_ACTIVE,
    QUEUE_DEAD_LETTERED,
    RECORDS_FAILED,
    RECORDS_SYNCED,
    THROTTLED,
    THROTTLED_WAIT,
    InMemoryTelemetry,
    Pipeline,
    active,
    reset,
    use_in_memory,
)

__all__ = [
    "InMemoryTelemetry",
    "error_code",
    "flush",
    "http_span",
    "job_span",
    "log_event",
    "record_lag",
    "record_queue",
    "record_throttle",
    "reset",
    "use_in_memory",
]

# counters that mean "a record was written to the other app", whatever the job's own counter names
SYNCED_COUNTERS = ("inserted", "modified", "created", "updated", "status_changed", "processed")
_RESERVED = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
_dimensions: contextvars.ContextVar[Mapping[str, object]] = contextvars.ContextVar(
    "sync_job", default=types.MappingProxyType({})
)


def flush(timeout_millis: int = 5000) -> None:
    """Export what is buffered now: a timer's instance may be frozen right after it returns, before the next export
    interval, and a lost `sync.job.succeeded` point would fire the "no successful job" alert falsely."""
    pipeline = active()
    for provider in pipeline.providers if pipeline else []:
        with contextlib.suppress(Exception):
            provider.force_flush(timeout_millis)


# -- helpers the app calls -----------------------------------------------------------------------------------------
def error_code(error: BaseException) -> str:
    """A code safe to record: a `SyncError`'s code, else the exception's class name, never its text."""
    code = getattr(error, "code", None)
    return code if isinstance(code, str) and code else type(error).__name__


def _plain(value: object) -> str | int | float | bool:
    if isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple | set | frozenset):
        return ",".join(str(item) for item in value)[:2000]
    return str(value)


def log_event(logger: logging.Logger, message: str, *, level: int = logging.INFO, **dimensions: object) -> None:
    """One log line whose dimensions (plus those of the job it runs in) become Application Insights
    customDimensions: the distro exports a record's `extra` attributes as such (flat keys, plain values; a nested
    `custom_dimensions` dict is the retired OpenCensus form and would be dropped). They are repeated in the text
    for the console and the host's own log stream. Pass ids, codes and counters only."""
    active()  # the first use configures the exporter, so this record already reaches it
    if not logger.isEnabledFor(level):
        return
    given = {**_dimensions.get(), **{k: v for k, v in dimensions.items() if v is not None}}
    extra = {(f"{key}_" if key in _RESERVED else key): _plain(value) for key, value in given.items()}
    rendered = " ".join(f"{key}={value}" for key, value in extra.items())
    logger.log(level, "%s %s", message, rendered, extra=extra)


class JobSpan:
    """The running job: `finish(counters)` before the block ends puts the counters on the span and the metrics."""

    def __init__(self, dimensions: dict[str, str]) -> None:
        self.dimensions = dimensions
        self.counters: dict[str, int] = {}

    def finish(self, counters: Mapping[str, object]) -> None:
        self.counters = {k: v for k, v in counters.items() if isinstance(v, int) and not isinstance(v, bool)}


@contextlib.contextmanager
def job_span(
    kind: str, mapping: str, *, job_id: str = "", run_id: str = "", direction: str = "", trigger: str = ""
) -> Iterator[JobSpan]:
    """A span around one sync job (its HTTP calls become children), the metrics at its end, and a log line with the
    job's custom dimensions: `jobKind`, `mapping`, `jobId`, `runId`, `direction`, `trigger` (what started a mapping
    run: poll, wake, queue, now), the counters, `status`, `durationSeconds` (and `errorCode` when it raised; the
    exception itself propagates unchanged)."""
    given = {
        "jobKind": kind,
        "mapping": mapping,
        "jobId": job_id,
        "runId": run_id,
        "direction": direction,
        "trigger": trigger,
    }
    job = JobSpan({key: value for key, value in given.items() if value})
    pipeline = active()
    token = _dimensions.set({**_dimensions.get(), **job.dimensions})
    started = time.monotonic()
    opened = (
        pipeline.tracer.start_as_current_span(
            f"sync {kind} {mapping}", attributes=job.dimensions, record_exception=False, set_status_on_exception=False
        )
        if pipeline
        else contextlib.nullcontext()
    )
    try:
        with opened as span:
            try:
                yield job
            except Exception as error:
                _close(pipeline, span, job, started, error)
                raise
            _close(pipeline, span, job, started, None)
    finally:
        _dimensions.reset(token)


def _close(pipeline: Pipeline | None, span: Any, job: JobSpan, started: float, error: Exception | None) -> None:
    outcome: dict[str, object] = {**job.counters, "status": "failed" if error else "finished"}
    outcome["durationSeconds"] = round(time.monotonic() - started, 3)
    if error is not None:
        outcome["errorCode"] = error_code(error)
    mapping = job.dimensions.get("mapping", "")
    if pipeline is not None:
        from opentelemetry.trace import Status, StatusCode  # noqa: PLC0415

        span.set_attributes({key: _plain(value) for key, value in outcome.items()})
        if error is not None:
            span.set_status(Status(StatusCode.ERROR, error_code(error)))
        tools, labels = pipeline.instruments, {"mapping": mapping, "jobKind": job.dimensions["jobKind"]}
        tools[RECORDS_SYNCED].add(sum(job.counters.get(name, 0) for name in SYNCED_COUNTERS), labels)
        tools[RECORDS_FAILED].add(job.counters.get("failed", 0), labels)
        tools[JOB_FAILED if error else JOB_SUCCEEDED].add(1, labels)
    level = logging.WARNING if error else logging.INFO
    log_event(logging.getLogger(f"{NAME}.jobs"), f"sync job {outcome['status']}", level=level, **outcome)


def record_throttle(service: str, wait_seconds: float) -> None:
    """A 429 from `service` (`bc` or `dataverse`); `wait_seconds` is the wait before the retry (0 when not retried)."""
    pipeline = active()
    if pipeline is not None:
        pipeline.instruments[THROTTLED].add(1, {"service": service})
        if wait_seconds > 0:
            pipeline.instruments[THROTTLED_WAIT].record(wait_seconds, {"service": service})


def record_lag(mapping: str, direction: str, trigger: str, seconds: float) -> None:
    """One record written to the other app `seconds` after its change's modified-on (issue 23: the latency a user
    sees), by a run of `mapping` started by `trigger` (`RunTrigger`), `direction` `toDataverse` or `fromDataverse`."""
    pipeline = active()
    if pipeline is not None:
        labels = {"mapping": mapping, "direction": direction, "trigger": trigger}
        pipeline.instruments[LAG_SECONDS].record(max(seconds, 0.0), labels)


def record_queue(queue: str, active_messages: int | None, dead_lettered: int | None) -> None:
    """The queue's depth as read by `/api/health` (where the queue can tell: not on the development emulator)."""
    pipeline = active()
    for name, value in ((QUEUE_ACTIVE, active_messages), (QUEUE_DEAD_LETTERED, dead_lettered)):
        if pipeline is not None and value is not None:
            pipeline.instruments[name].set(value, {"queue": queue})


class HttpCall:
    """The caller's handle on an `http_span`: `answered()` records the final status and the attempts it took."""

    def __init__(self, span: Any) -> None:
        self.span = span

    def answered(self, status: int, attempts: int) -> None:
        if self.span is not None:
            self.span.set_attributes({"http.response.status_code": status, "attempts": attempts})


@contextlib.contextmanager
def http_span(service: str, method: str, url: str) -> Iterator[HttpCall]:
    """A dependency span for one call to BC or Dataverse, retries included: method, host and path, never the query
    string (OData filters carry record values) nor user info."""
    pipeline = active()
    if pipeline is None:
        yield HttpCall(None)
        return
    from urllib.parse import urlsplit  # noqa: PLC0415

    from opentelemetry.trace import SpanKind, Status, StatusCode  # noqa: PLC0415

    parts = urlsplit(url)
    host = f"{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}"
    attributes = {
        "http.request.method": method,
        "server.address": parts.hostname or "",
        "url.full": f"{parts.scheme}://{host}{parts.path}",
        "service": service,
    }
    with pipeline.tracer.start_as_current_span(
        f"{method} {service}",
        kind=SpanKind.CLIENT,
        attributes=attributes,
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield HttpCall(span)
        except Exception as error:
            status = getattr(error, "status", None)
            if isinstance(status, int):
                span.set_attribute("http.response.status_code", status)
            span.set_status(Status(StatusCode.ERROR, error_code(error)))
            raise
