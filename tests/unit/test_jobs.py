"""Job messages: the wire format is a contract with messages already in the queue, so it is pinned here."""

from __future__ import annotations

import json

import pytest
from azure.functions.servicebus import ServiceBusMessage as FunctionMessage

from shared.connectors.service_bus.messages import job_from_function_message
from shared.domain.jobs import (
    MAX_MESSAGE_ID_LENGTH,
    SCHEMA_VERSION,
    InvalidJobMessage,
    JobKind,
    JobMessage,
    chunk_message_id,
)


def test_round_trip_keeps_every_field() -> None:
    job = JobMessage(JobKind.FULL_SYNC_CHUNK, "run-1/CUSTOMER/3", {"mapping": "CUSTOMER", "page": "next-link"})
    assert JobMessage.from_json(job.to_json()) == job
    assert JobMessage.from_json(job.to_json().encode("utf-8")) == job


def test_wire_format_is_stable_compact_json_with_sorted_keys() -> None:
    job = JobMessage(JobKind.MAPPING_RUN, "m-1", {"b": 1, "a": 2})
    assert job.to_json() == '{"kind":"mappingRun","messageId":"m-1","payload":{"a":2,"b":1},"version":1}'


def test_chunk_message_id_is_deterministic() -> None:
    first = chunk_message_id("run-7", "CONTACT", 2)
    assert first == chunk_message_id("run-7", "CONTACT", 2) == "run-7/CONTACT/2"
    assert first != chunk_message_id("run-7", "CONTACT", 3)
    assert first != chunk_message_id("run-8", "CONTACT", 2)


def test_the_same_work_gives_the_same_body() -> None:
    """Duplicate detection keys on the id; an identical body too means a resend is byte-for-byte the same."""
    one = JobMessage(JobKind.MATCH_COUPLING, "match/CUSTOMER/1", {"fields": ["name"], "createIfNoMatch": True})
    two = JobMessage(JobKind.MATCH_COUPLING, "match/CUSTOMER/1", {"createIfNoMatch": True, "fields": ["name"]})
    assert one.to_json() == two.to_json()


def test_kind_may_be_given_as_its_wire_value() -> None:
    job = JobMessage("mappingRun", "m-1")  # type: ignore[arg-type]
    assert job.kind is JobKind.MAPPING_RUN


def test_payload_defaults_to_an_empty_object() -> None:
    text = json.dumps({"kind": "mappingRun", "version": SCHEMA_VERSION, "messageId": "m-1"})
    assert JobMessage.from_json(text).payload == {}


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"\xff\xfe\x00",
        b"[]",
        b'"a string"',
        b"42",
        b"{}",
        b'{"kind":"mappingRun","version":1}',
        b'{"kind":"mappingRun","messageId":"m-1"}',
        b'{"kind":"unknownKind","version":1,"messageId":"m-1"}',
        b'{"kind":null,"version":1,"messageId":"m-1"}',
        b'{"kind":"mappingRun","version":2,"messageId":"m-1"}',
        b'{"kind":"mappingRun","version":0,"messageId":"m-1"}',
        b'{"kind":"mappingRun","version":"1","messageId":"m-1"}',
        b'{"kind":"mappingRun","version":1.5,"messageId":"m-1"}',
        b'{"kind":"mappingRun","version":true,"messageId":"m-1"}',
        b'{"kind":"mappingRun","version":1,"messageId":7}',
        b'{"kind":"mappingRun","version":1,"messageId":""}',
        b'{"kind":"mappingRun","version":1,"messageId":"m-1","payload":[]}',
        b'{"kind":"mappingRun","version":1,"messageId":"m-1","payload":"x"}',
    ],
    ids=lambda body: body.decode("utf-8", "replace")[:40] or "empty",
)
def test_junk_is_an_invalid_job_message(body: bytes) -> None:
    with pytest.raises(InvalidJobMessage):
        JobMessage.from_json(body)


def test_invalid_job_message_is_a_value_error() -> None:
    """Callers that only know `ValueError` still treat junk as bad input, never as a transient failure."""
    assert issubclass(InvalidJobMessage, ValueError)


def test_message_ids_service_bus_would_refuse_are_refused_when_built() -> None:
    with pytest.raises(InvalidJobMessage):
        JobMessage(JobKind.MAPPING_RUN, "x" * (MAX_MESSAGE_ID_LENGTH + 1))
    with pytest.raises(InvalidJobMessage):
        JobMessage(JobKind.MAPPING_RUN, "  ")
    with pytest.raises(InvalidJobMessage):
        JobMessage("noSuchKind", "m-1")  # type: ignore[arg-type]
    assert JobMessage(JobKind.MAPPING_RUN, "x" * MAX_MESSAGE_ID_LENGTH).message_id


# -- what the queue trigger receives (a real azure.functions.ServiceBusMessage) ----------------------------------
JOB = JobMessage(JobKind.MAPPING_RUN, "mapping/CUSTOMER/1", {"mapping": "CUSTOMER"})


def function_message(
    body: bytes, content_type: str | None = "application/json", **properties: object
) -> FunctionMessage:
    props = {"kind": "mappingRun", "version": 1, **properties}
    return FunctionMessage(
        body=body, message_id="m", content_type=content_type, application_properties=props, user_properties=props
    )


def test_a_function_message_decodes_to_its_job() -> None:
    assert job_from_function_message(function_message(JOB.to_json().encode())) == JOB
    assert job_from_function_message(function_message(JOB.to_json().encode(), content_type=None)) == JOB
    assert job_from_function_message(function_message(JOB.to_json().encode(), "application/json; charset=utf-8"))


@pytest.mark.parametrize(
    "message",
    [
        function_message(b"{not json"),
        function_message(JOB.to_json().encode(), content_type="text/plain"),
        function_message(JOB.to_json().encode(), kind="fullSyncChunk"),
        function_message(JOB.to_json().encode(), version=2),
    ],
    ids=["junk-body", "content-type", "kind-contradicts-body", "version-contradicts-body"],
)
def test_junk_function_messages_are_invalid(message: FunctionMessage) -> None:
    with pytest.raises(InvalidJobMessage):
        job_from_function_message(message)
