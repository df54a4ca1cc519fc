"""The Function App's bindings as the Functions host will read them, and the OpenAPI document that describes them."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import azure.functions as func
import pytest

from shared.triggers.openapi import document
from tests.functions.conftest import FUNCTIONS  # get_functions() may be called once per app (it registers)

# The notification routes check their own secret (issue 23): Dataverse cannot send a function key
ANONYMOUS = {"health", "openapi_document", "bc_notification_handshake", "bc_notifications", "notifications_dataverse"}


def trigger(name: str) -> Any:
    return FUNCTIONS[name].get_trigger()


def http_functions() -> dict[str, Any]:
    return {name: f for name, f in FUNCTIONS.items() if trigger(name).type == "httpTrigger"}


def test_every_http_function_requires_a_key_except_health_and_the_document() -> None:
    for name in http_functions():
        expected = func.AuthLevel.ANONYMOUS if name in ANONYMOUS else func.AuthLevel.FUNCTION
        assert trigger(name).auth_level == expected, name


def test_the_openapi_document_lists_exactly_the_registered_routes() -> None:
    registered = {
        (f"/api/{trigger(name).route}", method.value.lower())
        for name in http_functions()
        for method in trigger(name).methods
    }
    paths = document()["paths"]
    documented = {(path, method) for path, operations in paths.items() for method in operations}
    assert documented == registered
    operation_ids = {op["operationId"] for ops in paths.values() for op in ops.values()}
    assert operation_ids == set(http_functions())
    for path, operations in paths.items():
        for operation in operations.values():
            expects_key = operation["operationId"] not in ANONYMOUS
            assert bool(operation["security"]) == expects_key, path


@pytest.mark.parametrize(
    ("name", "route", "methods"),
    [
        ("create_coupling", "couplings", {"POST"}),
        ("find_coupling", "couplings/{mapping}", {"GET"}),
        ("delete_coupling", "couplings/{mapping}/{bcId}", {"DELETE"}),
        ("match_couplings", "couplings/{mapping}/match", {"POST"}),
        ("match_criteria", "couplings/{mapping}/match-criteria", {"GET"}),
        ("start_match_job", "couplings/{mapping}/match-jobs", {"POST"}),
        ("match_job_log", "couplings/{mapping}/match-jobs/{jobId}/log", {"GET"}),
        ("synchronize_now", "synchronize", {"POST"}),
        ("create_in_dataverse", "records/{mapping}/create-in-dataverse", {"POST"}),
        ("create_in_business_central", "records/{mapping}/create-in-business-central", {"POST"}),
        ("list_mappings", "mappings", {"GET"}),
        ("patch_mapping", "mappings/{name}", {"PATCH"}),
        ("retry_sync_errors", "sync-errors/retry", {"POST"}),
        ("restore_deleted_records", "sync-errors/restore-records", {"POST"}),
        ("remove_error_couplings", "sync-errors/remove-coupling", {"POST"}),
        ("get_job", "jobs/{jobId}", {"GET"}),
    ],
)
def test_http_routes_of_the_contract(name: str, route: str, methods: set[str]) -> None:
    assert trigger(name).route == route
    assert {m.value for m in trigger(name).methods} == methods


def test_timer_schedule_and_queue_come_from_app_settings() -> None:
    timer = trigger("incremental_sync")
    assert timer.type == "timerTrigger" and timer.schedule == "%SYNC_SCHEDULE%" and not timer.run_on_startup
    queue = trigger("sync_job")
    assert queue.type == "serviceBusTrigger"
    assert (queue.queue_name, queue.connection) == ("%SYNC_JOBS_QUEUE%", "ServiceBusConnection")


def test_importing_the_app_loads_no_sdk_client_or_settings() -> None:
    """Cold start: importing function_app must not import the Service Bus SDK, MSAL, requests or the tables SDK."""
    code = (
        "import sys, function_app; heavy = [m for m in ('azure.servicebus', 'msal', 'requests', "
        "'azure.data.tables') if m in sys.modules]; print(','.join(heavy))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert result.stdout.strip() == ""
