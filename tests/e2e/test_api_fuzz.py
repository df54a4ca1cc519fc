"""The OpenAPI document is tested against the app, and the app against its document (schemathesis, through the local
host): no 500; every answer's status documented for its operation, its Content-Type documented, its body matching
the documented schema (`status_code_conformance`, `content_type_conformance`, `response_schema_conformance`);
invalid input refused (`negative_data_rejection`); and input the document allows accepted (see `keeps_its_rules`).
Bounded examples per operation so it fits in `make test`; `FUZZ_EXAMPLES=500 make test` fuzzes deeper on demand."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    is_unexpected_http_status_case,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

import function_app
from local.stack.launcher import LOCAL_FUNCTION_KEY, LocalStack
from shared.triggers.openapi import document
from tests.e2e.conftest import client, seeded_stack

pytestmark = pytest.mark.integration
# The document lists the routes registered so far: function_app registers every blueprint, so it is loaded first.
assert function_app.app is not None
# The key goes through schemathesis's own auth (the document's `functionKey` scheme), not a session default: then
# a negative case that leaves the key out really goes without it, and a 401 is what it must get.
FUZZ_CONFIG = SchemathesisConfig.from_dict(
    {"auth": {"openapi": {"functionKey": {"api_key": os.environ.get("LOCAL_FUNCTION_KEY", LOCAL_FUNCTION_KEY)}}}}
)
DOCUMENT = document()
schema = schemathesis.openapi.from_dict(DOCUMENT, config=FUZZ_CONFIG)
RULES: dict[str, set[str]] = {
    op["operationId"]: set(op.get("x-rule-codes", [])) for ops in DOCUMENT["paths"].values() for op in ops.values()
}
# Azure Functions answers 404 (not 405) for a method a route does not declare, and so does the local host
# (Azure/azure-functions-host#10098): the platform's behaviour, not this app's, so that check is left out.
# `positive_data_acceptance` is replaced by `keeps_its_rules`, which knows the rules the document lists.
EXCLUDED = [unsupported_method, positive_data_acceptance]
CONFORMANCE = (status_code_conformance, content_type_conformance, response_schema_conformance)


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """The fuzzer gets a stack of its own: its random writes (mapping overrides, couplings, records) made a later
    test of the shared session stack fail at random (a UNIT GROUP match answering 422 in CI)."""
    yield from seeded_stack(tmp_path_factory)


@pytest.fixture(scope="module")
def keyless(local_stack: LocalStack) -> requests.Session:
    return client()


@pytest.fixture(scope="module")
def api(local_stack: LocalStack) -> requests.Session:
    return client(local_stack)


def keeps_its_rules(case: schemathesis.Case, response: Any) -> None:  # type: ignore[type-arg]
    """Input the document allows must be accepted, except for the rules it lists (`x-rule-codes`): JSON Schema cannot
    say "one of bcId and dataverseId" or "a filter this table takes", so such a request may get a 400 with one of
    those codes. Any other 400 (or a 413/415) for schema-valid input is a shape the document promises and the code
    refuses: the document or the code is wrong."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or is_unexpected_http_status_case(case):
        return
    sent = f"{response.request.method} {response.request.url} {str(response.request.body)[:300]}"
    assert response.status_code not in (413, 415), f"schema-valid input refused: {response.text[:300]}\n{sent}"
    if response.status_code == 400:
        code = response.json()["error"]["code"]
        allowed = RULES[case.operation.definition.raw["operationId"]]
        assert code in allowed, f"schema-valid input refused ({code}, rules {allowed}): {response.text[:300]}\n{sent}"


@schema.parametrize()
@settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "12")), deadline=None, suppress_health_check=list(HealthCheck)
)
def test_the_api_never_fails_and_keeps_its_document(
    case: schemathesis.Case,  # type: ignore[type-arg]
    local_stack: LocalStack,
    keyless: requests.Session,
) -> None:
    base = local_stack.urls["functions"].removesuffix("/api")
    response = case.call(base_url=base, session=keyless)
    assert response.status_code < 500 or response.status_code in (502, 503), response.text[:500]
    case.validate_response(response, excluded_checks=EXCLUDED)
    keeps_its_rules(case, response)


def test_the_conformance_checks_run_on_every_operation() -> None:
    """The three response-conformance checks are on for every operation (schemathesis defaults, left on here)."""
    assert not set(CONFORMANCE) & set(EXCLUDED)
    results = list(schema.get_all_operations())
    operations = [result.ok() for result in results if isinstance(result, Ok)]
    assert len(operations) == len(results) == len(RULES)  # every operation of the document is valid and fuzzed
    for operation in operations:
        checks = schema.config.checks_config_for(operation=operation, phase=None)
        assert all(checks.get_by_name(name=check.__name__).enabled for check in CONFORMANCE), operation.label


def test_a_function_route_without_the_key_is_refused(local_stack: LocalStack, keyless: requests.Session) -> None:
    assert keyless.get(f"{local_stack.urls['functions']}/mappings", timeout=30).status_code == 401
    assert keyless.get(f"{local_stack.urls['functions']}/health", timeout=30).status_code == 200


def test_the_fuzzer_reached_every_operation(local_stack: LocalStack, api: requests.Session) -> None:
    """Runs after the fuzz test (file order): every HTTP function the host runs is in the document and was really
    called through the host, so a route missing from the document cannot shrink the fuzz without failing here."""
    host = local_stack.urls["functions"].removesuffix("/api")
    http_functions = {
        f["name"] for f in api.get(f"{host}/admin/functions", timeout=30).json() if f["trigger"] == "httpTrigger"
    }
    documented_ids = {op["operationId"] for ops in DOCUMENT["paths"].values() for op in ops.values()}
    assert http_functions == documented_ids
    for operation_id in http_functions:
        answer = api.get(f"{host}/admin/functions/{operation_id}", timeout=30).json()
        assert answer["invocations"], f"{operation_id} was never called"
