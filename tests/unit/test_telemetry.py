"""Telemetry without a sync stack: off (and weightless) without settings, the real distro's pipeline with a connection
string, Entra authentication from the host's setting, and the HTTP client's 429 count, wait and dependency span."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.trace import SpanKind, StatusCode

from shared import telemetry, telemetry_setup
from shared.connectors.credentials import ManagedIdentityCredential
from shared.connectors.errors import ApiError
from tests.unit.test_http_retry import OK, Reply, ScriptedServer, client_for, running_server, server  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]


def points(memory: telemetry.InMemoryTelemetry, name: str) -> list[tuple[dict[str, Any], float]]:
    """Every data point of metric `name`: (attributes, value) - a histogram's value is its sum."""
    found: list[tuple[dict[str, Any], float]] = []
    data = memory.metrics.get_metrics_data()
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            for metric in (m for m in scope.metrics if m.name == name):
                for point in metric.data.data_points:
                    found.append((dict(point.attributes or {}), getattr(point, "value", getattr(point, "sum", 0))))
    return found


@pytest.fixture
def memory() -> Iterator[telemetry.InMemoryTelemetry]:
    recorded = telemetry.use_in_memory()
    try:
        yield recorded
    finally:
        telemetry.reset()


def _run(code: str, **env: str) -> dict[str, Any]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("APPLICATIONINSIGHTS_", "OTEL_"))}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120, cwd=ROOT,
        env={**clean, **env},
    )  # fmt: skip
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


NO_NETWORK = """
import json, logging, socket, sys
calls = []
def refuse(name):
    def call(*args, **kwargs):
        calls.append(name)
        raise OSError("network I/O")
    return call
socket.socket.connect = refuse("connect"); socket.socket.connect_ex = refuse("connect_ex")
socket.create_connection = refuse("create_connection"); socket.getaddrinfo = refuse("getaddrinfo")
import function_app
from shared import telemetry
with telemetry.job_span("incremental", "CUSTOMER", job_id="run-1", direction="toDataverse") as job:
    job.finish({"inserted": 2, "failed": 0})
telemetry.log_event(logging.getLogger("bc_sales_sync.test"), "hello", mapping="CUSTOMER", recordId="r-1")
telemetry.record_throttle("bc", 2.0)
with telemetry.http_span("bc", "GET", "https://example.invalid/x?$filter=a") as call:
    call.answered(200, 1)
telemetry.flush()
loaded = sorted(m for m in sys.modules if m.startswith(("opentelemetry", "azure.monitor", "azure.identity")))
print(json.dumps({"calls": calls, "loaded": loaded}))
"""


def test_without_app_insights_settings_the_app_imports_and_runs_telemetry_with_no_network_io() -> None:
    """Importing function_app and using every helper, with no APPLICATIONINSIGHTS_* setting: no socket is opened,
    no name resolved, and neither OpenTelemetry nor the Azure Monitor distro is even imported."""
    answer = _run(NO_NETWORK)
    assert answer == {"calls": [], "loaded": []}


CONFIGURED = """
import json, requests
from shared import telemetry, telemetry_setup
pipeline = telemetry_setup.active()
from opentelemetry import trace
with telemetry.job_span("incremental", "CUSTOMER", job_id="run-1") as job:
    job.finish({"inserted": 1})
print(json.dumps({
    "configured": pipeline is not None,
    "sdk": type(trace.get_tracer_provider()).__module__,
    "instruments": sorted(pipeline.instruments) if pipeline else [],
    "requestsInstrumented": hasattr(requests.Session.send, "__wrapped__"),
    "azureSdkSpans": __import__("azure.core.settings").core.settings.settings.tracing_enabled(),
    "azureLogLevel": __import__("logging").getLogger("azure").level,
}))
"""


def test_with_a_connection_string_the_distro_is_configured_once_on_first_use() -> None:
    """The real `configure_azure_monitor` accepts our options (a refused option would switch telemetry off silently),
    the SDK providers are global, and `requests` is left uninstrumented (its spans would carry OData query strings).
    The endpoint is a closed local port: whatever the exporter sends at exit goes nowhere."""
    answer = _run(
        CONFIGURED,
        APPLICATIONINSIGHTS_CONNECTION_STRING="InstrumentationKey=00000000-0000-4000-8000-000000000000;"
        "IngestionEndpoint=http://127.0.0.1:9/",
        APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL="true",
    )
    assert answer["configured"] is True
    assert answer["sdk"].startswith("opentelemetry.sdk.trace")
    assert {"sync.job.succeeded", "sync.records.synced", "sync.records.failed", "http.throttled"} <= set(
        answer["instruments"]
    )
    assert answer["requestsInstrumented"] is False
    assert answer["azureSdkSpans"] is False and answer["azureLogLevel"] == 30  # issue 21: no span, no log per request


def test_a_table_client_factory_quiets_the_azure_sdk_even_with_telemetry_off() -> None:
    answer = _run(
        "import json, logging\n"
        "from azure.core.settings import settings\n"
        "from shared.storage.tables import TableFactory\n"
        "TableFactory.from_connection_string('UseDevelopmentStorage=true')\n"
        "print(json.dumps({'spans': settings.tracing_enabled(), 'level': logging.getLogger('azure').level}))\n"
    )
    assert answer == {"spans": False, "level": 30}


@pytest.mark.parametrize(
    ("setting", "client_id"),
    [
        ("Authorization=AAD;ClientId=1a2b3c4d-0000-4000-8000-000000000001", "1a2b3c4d-0000-4000-8000-000000000001"),
        ("ClientId=1a2b3c4d-0000-4000-8000-000000000002;authorization=aad;", "1a2b3c4d-0000-4000-8000-000000000002"),
    ],
)
def test_entra_authentication_uses_the_named_managed_identity(setting: str, client_id: str) -> None:
    credential = telemetry_setup.entra_credential(setting)
    assert isinstance(credential, ManagedIdentityCredential) and credential.client_id == client_id


@pytest.mark.parametrize("setting", ["", "Authorization=Key", "garbage"])
def test_without_aad_in_the_setting_the_connection_string_alone_authenticates(setting: str) -> None:
    assert telemetry_setup.entra_credential(setting) is None


def test_telemetry_modules_import_only_the_standard_library_and_themselves_at_module_level() -> None:
    """What keeps the cold start light: the heavy imports are all inside functions."""
    import ast

    for name in ("telemetry.py", "telemetry_setup.py"):
        tree = ast.parse((ROOT / "shared" / name).read_text(encoding="utf-8"))
        top = {
            alias.name if isinstance(node, ast.Import) else str(node.module)
            for node in tree.body
            if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in node.names
        }
        foreign = {m for m in top if m.split(".")[0] not in sys.stdlib_module_names and m != "__future__"}
        assert foreign <= {"shared.telemetry_setup"}, (name, foreign)


def test_a_429_is_counted_with_its_wait_and_the_call_is_one_dependency_span(
    server: ScriptedServer,  # noqa: F811 - the fixture
    memory: telemetry.InMemoryTelemetry,
) -> None:
    server.script(Reply(429, {"error": {"code": "TooManyRequests"}}, {"Retry-After": "3"}), OK)
    client, waits = client_for(server)
    client.service = "dataverse"
    client.request("GET", "/accounts", params={"$filter": "emailaddress1 eq 'someone@example.com'"})
    assert waits == [3.0]
    assert points(memory, "http.throttled") == [({"service": "dataverse"}, 1)]
    assert points(memory, "http.throttled.wait_seconds") == [({"service": "dataverse"}, 3.0)]
    (span,) = memory.spans.get_finished_spans()
    attributes = dict(span.attributes or {})
    assert span.kind is SpanKind.CLIENT and attributes["http.response.status_code"] == 200
    assert attributes["attempts"] == 2 and attributes["service"] == "dataverse"
    assert attributes["url.full"] == f"{server.url}/accounts"  # the query (a filter value) is never recorded
    assert "someone@example.com" not in json.dumps(attributes)


def test_a_429_given_up_on_counts_without_a_wait_and_fails_the_span(
    server: ScriptedServer,  # noqa: F811 - the fixture
    memory: telemetry.InMemoryTelemetry,
) -> None:
    server.script(*[Reply(429, {"error": {"code": "TooManyRequests"}}, {"Retry-After": "1"})] * 2)
    client, _ = client_for(server, max_attempts=2)
    client.service = "bc"
    with pytest.raises(ApiError):
        client.request("GET", "/customers")
    assert points(memory, "http.throttled") == [({"service": "bc"}, 2)]
    assert points(memory, "http.throttled.wait_seconds") == [({"service": "bc"}, 1.0)]  # only the retried one
    (span,) = memory.spans.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR and span.status.description == "TooManyRequests"
    assert dict(span.attributes or {})["http.response.status_code"] == 429
