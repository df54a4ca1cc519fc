"""Field overrides through the OpenAPI document: each documented example body of `PATCH /api/mappings/{name}` is
valid by the document's request schema, taken by the route and stored as `GET` then shows it; bodies the schema
refuses are refused by the route with a 400 naming the field; a rule the schema cannot say (narrowing, constants
only where BC writes one) is a documented rule code naming `fields.<key>.<attribute>`.

And the full-sync review's overrides at start: `POST /api/full-sync/{runId}/start` with `recommendations` changes
a planned run's lines, then starts it with them."""

from __future__ import annotations

from typing import Any

import jsonschema_rs  # the validator schemathesis brings (requirements-dev)
import pytest

from shared.bootstrap import for_run
from shared.domain.mapping import Direction
from shared.mappings import CATALOG
from tests.functions.conftest import Api

pytestmark = pytest.mark.integration
PHONE = "phoneNumber>telephone1"


def operation(api: Api, path: str, method: str) -> dict[str, Any]:
    status, document = api.call("openapi_document")
    assert status == 200
    return dict(document["paths"][path][method])


def request_schema(api: Api, path: str, method: str) -> dict[str, Any]:
    return dict(operation(api, path, method)["requestBody"]["content"]["application/json"]["schema"])


def owner(example: dict[str, Any]) -> str:
    """The first catalog mapping that has every field key of the example."""
    keys = set(example["fields"])
    return next(name for name, m in CATALOG.items() if keys <= {f.key for f in m.fields})


def patch(api: Api, name: str, body: Any) -> tuple[int, Any]:
    return api.call("patch_mapping", "PATCH", body, route={"name": name})


def test_every_documented_example_is_valid_taken_stored_and_shown(api: Api) -> None:
    schema = request_schema(api, "/api/mappings/{name}", "patch")
    validator = jsonschema_rs.validator_for(schema)
    examples = schema["examples"]
    assert any(isinstance(v, bool) for e in examples for v in e["fields"].values())  # the short form
    assert any(isinstance(v, dict) for e in examples for v in e["fields"].values())  # the object form
    for example in examples:
        assert validator.is_valid(example), example
        name = owner(example)
        status, answer = patch(api, name, example)
        assert status == 200, answer
        status, shown = api.call("get_mapping", route={"name": name})
        assert status == 200 and shown["overrides"]["fields"] == answer["overrides"]["fields"]
        by_key = {f["key"]: f for f in shown["fields"]}
        for key, given in example["fields"].items():
            change = {"enabled": given} if isinstance(given, bool) else given
            for attribute, value in change.items():
                assert by_key[key][attribute] == value, (key, attribute)
        api.call("reset_mapping", "POST", route={"name": name})


def test_what_is_stored_is_short_when_only_switched_and_the_object_otherwise(api: Api) -> None:
    status, answer = patch(api, "CUSTOMER", {"fields": {PHONE: {"enabled": False}, "city>address1_city": True}})
    assert status == 200 and answer["overrides"]["fields"] == {PHONE: False, "city>address1_city": True}
    body = {"fields": {PHONE: {"direction": "fromDataverse", "enabled": True}}}
    status, answer = patch(api, "CUSTOMER", body)
    assert status == 200 and answer["overrides"]["fields"] == {PHONE: {"enabled": True, "direction": "fromDataverse"}}
    assert api.services.settings_store.get_settings("mapping")[0]["CUSTOMER"]["fields"] == answer["overrides"]["fields"]
    by_key = {f["key"]: f for f in answer["fields"]}
    assert by_key[PHONE]["direction"] == "fromDataverse"
    assert by_key[PHONE]["directions"] == ["toDataverse", "fromDataverse", "bidirectional"]
    running = {f.key: f for f in for_run(api.services).context.mapping("CUSTOMER").fields}  # what the next run uses
    assert running[PHONE].direction is Direction.FROM_DATAVERSE and running[PHONE].enabled


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({PHONE: "no"}, f"fields.{PHONE}"),
        ({PHONE: {}}, f"fields.{PHONE}"),
        ({PHONE: {"enabled": "yes"}}, f"fields.{PHONE}.enabled"),
        ({PHONE: {"direction": "sideways"}}, f"fields.{PHONE}.direction"),
        ({PHONE: {"constant": None}}, f"fields.{PHONE}.constant"),
        ({PHONE: {"constant": "x" * 101}}, f"fields.{PHONE}.constant"),
        ({PHONE: {"transform": "upper"}}, f"fields.{PHONE}"),
    ],
)
def test_a_body_the_schema_refuses_is_a_400_naming_the_field(api: Api, fields: Any, field: str) -> None:
    body = {"fields": fields}
    assert not jsonschema_rs.validator_for(request_schema(api, "/api/mappings/{name}", "patch")).is_valid(body)
    status, answer = patch(api, "CUSTOMER", body)
    assert (status, answer["error"]["code"], answer["error"]["field"]) == (400, "invalidValue", field), answer
    assert api.call("get_mapping", route={"name": "CUSTOMER"})[1]["overrides"] == {}  # nothing stored


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"creditLimit>creditlimit": {"direction": "bidirectional"}}, "fields.creditLimit>creditlimit.direction"),
        ({"creditLimit>creditlimit": {"direction": "fromDataverse"}}, "fields.creditLimit>creditlimit.direction"),
        ({PHONE: {"constant": "555"}}, f"fields.{PHONE}.constant"),
        ({"nope>nope": False}, "fields.nope>nope"),
    ],
)
def test_a_rule_the_schema_cannot_say_is_a_documented_400_naming_the_field(api: Api, fields: Any, field: str) -> None:
    body = {"fields": fields}
    assert jsonschema_rs.validator_for(request_schema(api, "/api/mappings/{name}", "patch")).is_valid(body)
    status, answer = patch(api, "CUSTOMER", body)
    assert (status, answer["error"]["field"]) == (400, field), answer
    assert answer["error"]["code"] in operation(api, "/api/mappings/{name}", "patch")["x-rule-codes"]


# -- the full-sync review's overrides at start ---------------------------------------------------------------------


def plan(api: Api, names: list[str]) -> dict[str, Any]:
    status, review = api.call("start_full_sync", "POST", {"mappings": names, "start": False})
    assert status == 202 and review["status"] == "planned", review
    return dict(review)


def start(api: Api, run_id: str, body: Any = None, params: dict[str, str] | None = None) -> tuple[int, Any]:
    return api.call("run_planned_full_sync", "POST", body, route={"runId": run_id}, params=params)


def test_a_planned_runs_recommendations_change_at_start_and_the_run_uses_them(api: Api) -> None:
    review = plan(api, ["UNIT GROUP", "CURRENCY"])
    planned = {line["mapping"]: line["recommendation"] for line in review["lines"]}
    assert planned["UNIT GROUP"] == "fullSynchronization"
    body = {"recommendations": {"UNIT GROUP": "noRecords"}}
    assert jsonschema_rs.validator_for(request_schema(api, "/api/full-sync/{runId}/start", "post")).is_valid(body)
    status, started = start(api, review["runId"], body)
    assert status == 202 and started["status"] in ("running", "finished"), started
    lines = {line["mapping"]: line for line in started["lines"]}
    assert lines["UNIT GROUP"]["recommendation"] == "noRecords"
    assert lines["UNIT GROUP"]["status"] == "finished" and lines["UNIT GROUP"]["chunks"]["total"] == 0  # nothing to do
    assert lines["CURRENCY"]["recommendation"] == planned["CURRENCY"]  # the others as planned
    _, stored = api.services.runs.get_run(review["runId"])
    assert {line.mapping: line.recommendation for line in stored}["UNIT GROUP"] == "noRecords"


def test_a_dry_copy_takes_the_overrides_and_the_planned_run_stays_as_planned(api: Api) -> None:
    review = plan(api, ["UNIT GROUP"])
    status, copy = start(api, review["runId"], {"recommendations": {"UNIT GROUP": "noRecords"}}, {"dryRun": "true"})
    assert status == 202 and copy["dryRun"] and copy["runId"] != review["runId"], copy
    assert copy["lines"][0]["recommendation"] == "noRecords"
    run, lines = api.services.runs.get_run(review["runId"])
    assert run.status == "planned" and lines[0].recommendation == "fullSynchronization"


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"recommendations": {"UNIT GROUP": "sometimes"}}, "invalidValue", "recommendations.UNIT GROUP"),
        ({"recommendations": {"CUSTOMER": "noRecords"}}, "notInRun", "recommendations.CUSTOMER"),
        ({"recommendations": {"UNIT GROUP": "dependencyNotSatisfied"}}, "invalidValue", "recommendations.UNIT GROUP"),
        ({"recommendations": ["UNIT GROUP"]}, "invalidValue", "recommendations"),
        ({"recommendations": {"UNIT GROUP": 1}}, "invalidValue", "recommendations"),
        ({"lines": {}}, "unknownField", "lines"),
    ],
)
def test_a_bad_override_at_start_is_a_400_naming_it_and_the_run_stays_planned(
    api: Api, body: Any, code: str, field: str
) -> None:
    review = plan(api, ["UNIT GROUP"])
    status, answer = start(api, review["runId"], body)
    assert (status, answer["error"]["code"], answer["error"]["field"]) == (400, code, field), answer
    run, lines = api.services.runs.get_run(review["runId"])
    assert run.status == "planned" and lines[0].recommendation == "fullSynchronization"


def test_a_run_no_longer_planned_takes_no_override(api: Api) -> None:
    review = plan(api, ["UNIT GROUP"])
    assert start(api, review["runId"])[0] == 202
    status, answer = start(api, review["runId"], {"recommendations": {"UNIT GROUP": "noRecords"}})
    assert (status, answer["error"]["code"], answer["error"]["field"]) == (400, "alreadyStarted", "runId")
    assert api.services.runs.get_run(review["runId"])[1][0].recommendation == "fullSynchronization"
