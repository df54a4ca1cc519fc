"""Telemetry of a real sync job (BC and Dataverse emulators over HTTP, Azurite), read back from in-memory exporters:
the job's span with its custom dimensions and its HTTP calls as children, the metrics with the mapping dimension,
the structured log line, and no secret anywhere."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.trace import SpanKind

from shared import telemetry
from shared.domain.errors import SyncError
from shared.domain.records import RunTrigger
from shared.domain.watermarks import parse_instant
from shared.engine.mapping_run import run_mapping
from tests.conftest import CLIENT_SECRET
from tests.sync.conftest import SyncStack
from tests.sync.mappings_for_tests import currency_mapping, customer_mapping
from tests.sync.test_incremental import bc_customer, couple_currencies, patch_account, patch_bc_customer
from tests.unit.test_telemetry import points

pytestmark = pytest.mark.integration


@pytest.fixture
def memory() -> Iterator[telemetry.InMemoryTelemetry]:
    recorded = telemetry.use_in_memory()
    try:
        yield recorded
    finally:
        telemetry.reset()


@pytest.fixture
def customers(sync_stack: SyncStack) -> SyncStack:
    sync_stack.use(currency_mapping(), customer_mapping())
    couple_currencies(sync_stack)
    return sync_stack


def test_a_sync_job_is_one_span_with_its_dimensions_and_counters(
    customers: SyncStack, memory: telemetry.InMemoryTelemetry
) -> None:
    job = run_mapping(customers.context, "CUSTOMER")
    assert job.counters.inserted == 10
    spans = memory.spans.get_finished_spans()
    (job_span,) = [s for s in spans if (s.attributes or {}).get("jobKind") == "incremental"]
    attributes = dict(job_span.attributes or {})
    assert attributes["mapping"] == "CUSTOMER" and attributes["jobId"] == job.job_id
    assert attributes["direction"] == "bidirectional" and attributes["status"] == "finished"
    assert attributes["trigger"] == "now"  # what started the run (issue 23): here the caller, as Synchronize does
    assert {name: attributes[name] for name in job.counters.as_dict()} == job.counters.as_dict()
    calls = [s for s in spans if s.kind is SpanKind.CLIENT]
    assert calls, "the job's HTTP calls are traced"
    assert all(s.parent is not None and s.parent.span_id == job_span.context.span_id for s in calls)
    assert all(s.context.trace_id == job_span.context.trace_id for s in calls)  # one trace per job
    assert {dict(s.attributes or {})["service"] for s in calls} == {"bc", "dataverse"}
    assert not any("?" in str(dict(s.attributes or {})["url.full"]) for s in calls)


def test_the_job_metrics_carry_the_mapping(customers: SyncStack, memory: telemetry.InMemoryTelemetry) -> None:
    run_mapping(customers.context, "CUSTOMER")
    labels = {"mapping": "CUSTOMER", "jobKind": "incremental"}
    assert points(memory, "sync.records.synced") == [(labels, 10)]
    assert points(memory, "sync.records.failed") == [(labels, 0)]
    assert points(memory, "sync.job.succeeded") == [(labels, 1)]
    assert points(memory, "sync.job.failed") == []
    assert points(memory, "sync.lag.seconds") == []  # the first run copies what exists: no change's latency


def test_the_lag_is_each_written_record_latency_from_its_modified_on_each_way(
    customers: SyncStack, memory: telemetry.InMemoryTelemetry
) -> None:
    """Issue 23: `sync.lag.seconds` is a histogram of the time from the change's modified-on (the source record's)
    to its write on the other side, one value per written record, by mapping, direction and trigger."""
    stack = customers
    run_mapping(stack.context, "CUSTOMER")
    patch_bc_customer(stack, "C00030", {"city": "Savannah"})
    patch_bc_customer(stack, "C00040", {"city": "Macon"})
    changed = parse_instant(bc_customer(stack, "C00040")["lastModifiedDateTime"])
    time.sleep(1.2)  # a latency of at least a second, so a value from the wrong clock or instant shows
    run_mapping(stack.context, "CUSTOMER", trigger=RunTrigger.POLL)
    written = stack.context.clock()
    (lag,) = _histograms(memory, "sync.lag.seconds")
    assert lag[0] == {"mapping": "CUSTOMER", "direction": "toDataverse", "trigger": "poll"}
    assert lag[1] == 2  # one value per written record
    assert 1.2 <= lag[3] <= (written - changed).total_seconds() + 0.5  # the largest: the older change's latency
    coupling = stack.context.couplings.find_by_bc_id("CUSTOMER", bc_customer(stack, "C00030")["id"])
    assert coupling is not None
    patch_account(stack, coupling.dataverse_id, {"telephone1": "+1 404 555 0199"})
    run_mapping(stack.context, "CUSTOMER", trigger=RunTrigger.WAKE)
    by_labels = {
        tuple(sorted(labels.items())): count for labels, count, _, _ in _histograms(memory, "sync.lag.seconds")
    }
    back = {"mapping": "CUSTOMER", "direction": "fromDataverse", "trigger": "wake"}
    assert by_labels[tuple(sorted(back.items()))] == 1


def _histograms(memory: telemetry.InMemoryTelemetry, name: str) -> list[tuple[dict[str, Any], int, float, float]]:
    """Every histogram point of `name`: (attributes, count, min, max)."""
    found = []
    data = memory.metrics.get_metrics_data()
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            for metric in (m for m in scope.metrics if m.name == name):
                for point in metric.data.data_points:
                    found.append((dict(point.attributes or {}), point.count, point.min, point.max))
    return found


def test_a_job_that_raises_is_counted_failed_with_its_code_only(
    customers: SyncStack, memory: telemetry.InMemoryTelemetry, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise SyncError("storageDown", "the table answered: account key=not-for-logs")

    customers.context.checkpoints.find_checkpoint = broken  # type: ignore[method-assign]
    with caplog.at_level(logging.INFO), pytest.raises(SyncError):
        run_mapping(customers.context, "CUSTOMER")
    labels = {"mapping": "CUSTOMER", "jobKind": "incremental"}
    assert points(memory, "sync.job.failed") == [(labels, 1)] and points(memory, "sync.job.succeeded") == []
    (span,) = [s for s in memory.spans.get_finished_spans() if (s.attributes or {}).get("jobKind")]
    assert dict(span.attributes or {})["errorCode"] == "storageDown" and span.status.description == "storageDown"
    assert not span.events  # no exception event: its text could carry anything
    (line,) = [r for r in caplog.records if r.name == "bc_sales_sync.jobs"]
    assert line.levelno == logging.WARNING and line.__dict__["errorCode"] == "storageDown"
    assert "not-for-logs" not in _everything(caplog.records, memory)


def test_the_job_log_line_has_the_custom_dimensions_and_no_secret_is_recorded_anywhere(
    customers: SyncStack, memory: telemetry.InMemoryTelemetry, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        job = run_mapping(customers.context, "CUSTOMER")
    (line,) = [r for r in caplog.records if r.name == "bc_sales_sync.jobs"]
    dimensions = line.__dict__
    assert (dimensions["mapping"], dimensions["jobId"]) == ("CUSTOMER", job.job_id)
    assert dimensions["jobKind"] == "incremental"
    assert (dimensions["direction"], dimensions["inserted"], dimensions["status"]) == ("bidirectional", 10, "finished")
    recorded = _everything(caplog.records, memory)
    tokens = [customers.bc.http.tokens, customers.dataverse.http.tokens]
    secrets = [CLIENT_SECRET, *(str(getattr(provider, "_token", "") or "") for provider in tokens)]
    assert all(len(secret) > 8 for secret in secrets)  # the tokens were obtained, so the check means something
    for secret in secrets:
        assert secret not in recorded


def _everything(records: list[logging.LogRecord], memory: telemetry.InMemoryTelemetry) -> str:
    """Every log record (message and attributes), span (attributes, events, status) and metric point, as text."""
    texts = [json.dumps({k: str(v) for k, v in vars(r).items()}) + r.getMessage() for r in records]
    for span in memory.spans.get_finished_spans():
        texts.append(json.dumps({k: str(v) for k, v in (span.attributes or {}).items()}))
        texts += [f"{event.name} {dict(event.attributes or {})}" for event in span.events]
        texts.append(f"{span.name} {span.status.description}")
    texts.append(memory.metrics.get_metrics_data().to_json())
    return "\n".join(texts)
