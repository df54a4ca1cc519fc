"""Call the registered functions with real `azure.functions.HttpRequest`s, over the real sync stack."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import azure.functions as func
import pytest

import function_app
from local.emulators.business_central.seed import COMPANY_NAME
from local.fakes.queue import InMemoryJobQueue
from shared.bootstrap import Services, set_services
from shared.storage.archive import TableQuoteArchive
from shared.storage.runs import TableRunStore
from shared.storage.settings import TableSettingsStore
from shared.storage.tables import TableFactory
from tests.sync.conftest import SyncStack, sync_stack  # noqa: F401 - the fixture, shared

FUNCTIONS: dict[str, Any] = {str(f.get_function_name()): f for f in function_app.app.get_functions()}


@dataclass
class Api:
    stack: SyncStack
    services: Services

    def call(
        self,
        name: str,
        method: str = "GET",
        body: Any = None,
        route: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
        request = func.HttpRequest(
            method,
            f"http://localhost/api/{name}",
            headers={"content-type": "application/json", **(headers or {})},
            params=params or {},
            route_params=route or {},
            body=data,
        )
        response = FUNCTIONS[name].get_user_function()(request)
        payload = response.get_body()
        return response.status_code, json.loads(payload) if payload else None


@pytest.fixture
def api(sync_stack: SyncStack, azurite: str) -> Iterator[Api]:  # noqa: F811 - the imported fixture
    tables = TableFactory.from_connection_string(azurite, prefix=f"a{uuid.uuid4().hex[:12]}")
    settings_store = TableSettingsStore(tables)
    services = Services(
        None, sync_stack.context, settings_store, InMemoryJobQueue(), TableRunStore(tables), TableQuoteArchive(tables)
    )
    services.environment = {"BC_COMPANY": COMPANY_NAME}
    set_services(services)
    try:
        yield Api(sync_stack, services)
    finally:
        set_services(None)
