"""The OpenTelemetry pipeline behind `shared/telemetry.py`: configured once, lazily, from the environment.

Why lazy: the Functions host imports `function_app` on every cold start, and the distro (`azure-monitor-opentelemetry`:
SDK, exporters, instrumentations) is heavy and starts background threads. Nothing is imported here at module level;
the first helper call decides, once per process: `APPLICATIONINSIGHTS_CONNECTION_STRING` set -> the Azure Monitor
pipeline, else none at all (every helper is then a cheap no-op: tests, the local stack). `use_in_memory()` is the
test hook: the same instruments over in-memory exporters.

Choices (docs/operations.md, "Telemetry"):
- Entra ID: `APPLICATIONINSIGHTS_AUTHENTICATION_STRING=Authorization=AAD;ClientId=<identity>` (the setting the
  Functions host reads too) makes the exporter authenticate with that managed identity, so the resource can keep
  local (key) authentication disabled. The distro parses the same setting itself, but only when no `credential`
  argument is given and not with a trailing `;`, so we parse it and pass our MSAL-based credential.
- Logs: only the `bc_sales_sync` logger tree is exported (with dimensions); the host ships every log line anyway.
- No `requests`/`urllib`/`urllib3` instrumentation: it records full URLs, and OData query strings carry filter values
  (names, e-mails when matching). `telemetry.http_span` records method, host and path (ids) instead.
- No live metrics and no performance counters from the worker: the host and the platform provide both.
- The Azure SDKs quiet (`quiet_azure_sdk`, issue 21): their loggers at WARNING (the HTTP logging policy formats
  every request's headers at INFO) and no SDK tracing span per request (the distro's `azure_sdk` instrumentation
  made one span per Table Storage request, 0.3-0.7 ms each, ~90 % of a full sync's requests): off here, by the
  `AZURE_TRACING_ENABLED=false` app setting in infra, and whatever configured OpenTelemetry first (the Functions
  worker's own distro). `AZURE_TRACING_ENABLED=true` turns the spans back on for a diagnosis.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from typing import Any

CONNECTION_SETTING = "APPLICATIONINSIGHTS_CONNECTION_STRING"
AUTHENTICATION_SETTING = "APPLICATIONINSIGHTS_AUTHENTICATION_STRING"
NAME = "bc_sales_sync"  # tracer, meter, and the logger tree whose records (with their dimensions) are exported
# Metric names are a contract: the alerts in infra/ query them (docs/operations.md lists them with their dimensions).
RECORDS_SYNCED = "sync.records.synced"
RECORDS_FAILED = "sync.records.failed"
JOB_SUCCEEDED = "sync.job.succeeded"
JOB_FAILED = "sync.job.failed"
LAG_SECONDS = "sync.lag.seconds"
THROTTLED = "http.throttled"
THROTTLED_WAIT = "http.throttled.wait_seconds"
QUEUE_ACTIVE = "queue.messages.active"
QUEUE_DEAD_LETTERED = "queue.messages.dead_lettered"
LOG = logging.getLogger(f"{NAME}.telemetry")


@dataclass
class Pipeline:
    tracer: Any
    meter: Any
    providers: list[Any] = field(default_factory=list)  # what `flush()` flushes
    instruments: dict[str, Any] = field(default_factory=dict)


_lock = threading.Lock()
_decided = False
_pipeline: Pipeline | None = None


def active() -> Pipeline | None:
    """The pipeline, configured from the environment on the first call (thread-safe), or None when telemetry is off."""
    global _decided, _pipeline  # noqa: PLW0603 - configured once per process, like the composition root
    if not _decided:
        with _lock:
            if not _decided:
                _pipeline = _from_environment()
                _decided = True
    return _pipeline


def _from_environment() -> Pipeline | None:
    connection = os.environ.get(CONNECTION_SETTING, "").strip()
    if not connection:
        return None
    try:
        from opentelemetry import metrics, trace  # noqa: PLC0415

        if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):  # nobody configured OpenTelemetry yet
            from azure.monitor.opentelemetry import configure_azure_monitor  # noqa: PLC0415

            options: dict[str, Any] = {}
            credential = entra_credential(os.environ.get(AUTHENTICATION_SETTING, ""))
            if credential is not None:  # passing credential=None would switch the exporter's own lookup off
                options["credential"] = credential
            configure_azure_monitor(
                connection_string=connection,
                logger_name=NAME,
                enable_live_metrics=False,
                enable_performance_counters=False,
                instrumentation_options={
                    name: {"enabled": False} for name in ("requests", "urllib", "urllib3", "azure_sdk")
                },
                **options,
            )
        quiet_azure_sdk()
        if logging.getLogger(NAME).level == logging.NOTSET:  # job lines are INFO, whatever the worker's root level
            logging.getLogger(NAME).setLevel(logging.INFO)
        providers = [trace.get_tracer_provider(), metrics.get_meter_provider()]
        return instrumented(Pipeline(trace.get_tracer(NAME), metrics.get_meter(NAME), providers))
    except Exception as error:  # telemetry must never stop a sync
        LOG.warning("Application Insights telemetry is off: %s", type(error).__name__)
        return None


def quiet_azure_sdk() -> None:
    """The Azure SDKs' loggers at WARNING and their tracing spans off unless `AZURE_TRACING_ENABLED` asks for them
    (see the module docstring). Idempotent; called when telemetry is configured and when the first Table client
    factory is built, so it holds with telemetry off as well."""
    logging.getLogger("azure").setLevel(logging.WARNING)
    if os.environ.get("AZURE_TRACING_ENABLED", "").strip() == "":
        from azure.core.settings import settings  # noqa: PLC0415 - azure.core is loaded by every SDK client anyway

        settings.tracing_enabled = False


def entra_credential(authentication: str) -> Any:
    """Our managed-identity credential when the setting says `Authorization=AAD` (`ClientId=` names the
    user-assigned identity, else `AZURE_CLIENT_ID`), else None: the connection string alone authenticates."""
    pairs = (part.split("=", 1) for part in authentication.split(";") if "=" in part)
    values = {key.strip().lower(): value.strip() for key, value in pairs}
    if values.get("authorization", "").upper() != "AAD":
        return None
    from shared.connectors.credentials import ManagedIdentityCredential  # noqa: PLC0415

    return ManagedIdentityCredential(values.get("clientid") or os.environ.get("AZURE_CLIENT_ID") or None)


def instrumented(pipeline: Pipeline) -> Pipeline:
    """Create the instruments once per pipeline (OpenTelemetry keys instruments by name on a meter)."""
    meter = pipeline.meter
    pipeline.instruments = {
        RECORDS_SYNCED: meter.create_counter(RECORDS_SYNCED, "{record}", "Records written to the other app"),
        RECORDS_FAILED: meter.create_counter(RECORDS_FAILED, "{record}", "Records that failed in a job"),
        JOB_SUCCEEDED: meter.create_counter(JOB_SUCCEEDED, "{job}", "Sync jobs that finished"),
        JOB_FAILED: meter.create_counter(JOB_FAILED, "{job}", "Sync jobs that raised"),
        LAG_SECONDS: meter.create_histogram(LAG_SECONDS, "s", "Change modified-on to its write on the other side"),
        THROTTLED: meter.create_counter(THROTTLED, "{response}", "429 answers from Business Central or Dataverse"),
        THROTTLED_WAIT: meter.create_histogram(THROTTLED_WAIT, "s", "Waits after a 429 (Retry-After or back-off)"),
        QUEUE_ACTIVE: meter.create_gauge(QUEUE_ACTIVE, "{message}", "Active messages, read by /api/health"),
        QUEUE_DEAD_LETTERED: meter.create_gauge(QUEUE_DEAD_LETTERED, "{message}", "Dead letters, read by /api/health"),
    }
    return pipeline


@dataclass
class InMemoryTelemetry:
    spans: Any  # an InMemorySpanExporter: finished spans
    metrics: Any  # an InMemoryMetricReader: get_metrics_data()


def use_in_memory() -> InMemoryTelemetry:
    """Tests: the same instruments and spans, exported to memory instead of Application Insights. No global provider
    is replaced, so it can be installed again; `reset()` goes back to deciding from the environment."""
    global _decided, _pipeline
    from opentelemetry.sdk.metrics import MeterProvider  # noqa: PLC0415
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader  # noqa: PLC0415
    from opentelemetry.sdk.trace import TracerProvider  # noqa: PLC0415
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: PLC0415
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: PLC0415

    spans, reader = InMemorySpanExporter(), InMemoryMetricReader()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    meter_provider = MeterProvider(metric_readers=[reader])
    pipeline = Pipeline(tracer_provider.get_tracer(NAME), meter_provider.get_meter(NAME), [tracer_provider])
    with _lock:
        _pipeline, _decided = instrumented(pipeline), True
    return InMemoryTelemetry(spans, reader)


def reset() -> None:
    global _decided, _pipeline
    with _lock:
        _pipeline, _decided = None, False
