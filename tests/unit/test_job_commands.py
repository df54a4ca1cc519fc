"""Queue commands: each kind's payload parsed once into a frozen, typed command, refused with a reason naming the
key at fault. The message bodies below are pinned as the app sends them today (and sent them before this parser
existed): a message already in the queue during a deployment must still run."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from azure.functions.servicebus import ServiceBusMessage as FunctionMessage

from shared.connectors.service_bus.messages import command_from_function_message, message_fields
from shared.domain.full_sync import LineChunk
from shared.domain.jobs import (
    FindDeleted,
    FullSyncChunk,
    InvalidJobMessage,
    JobKind,
    JobMessage,
    MatchCoupling,
    RunMapping,
    RunProcess,
    UncoupleAll,
    parse_command,
)
from shared.domain.records import ReviewLine
from shared.services.full_sync.messages import chunk_message, split_message

# Bodies exactly as they travel (compact JSON, sorted keys), one per shape the app has sent.
SPLIT = (
    '{"kind":"fullSyncChunk","messageId":"run-1/CUSTOMER/0","payload":{"attempt":0,"chunk":0,'
    '"mapping":"CUSTOMER","mode":"fullSynchronization","phase":0,"runId":"run-1"},"version":1}'
)
CHUNK = (
    '{"kind":"fullSyncChunk","messageId":"run-1/CUSTOMER/3/r1","payload":{"attempt":1,"chunk":3,'
    '"ids":["a1","a2"],"mapping":"CUSTOMER","mode":"coupleRecords","phase":1,"runId":"run-1","side":"dv"},'
    '"version":1}'
)
THROTTLED = (
    '{"kind":"fullSyncChunk","messageId":"run-1/CUSTOMER/3/t2","payload":{"attempt":0,"chunk":3,'
    '"ids":["a1"],"mapping":"CUSTOMER","mode":"fullSynchronization","phase":0,"runId":"run-1","side":"bc",'
    '"waits":2},"version":1}'
)
MAPPING_RUN = '{"kind":"mappingRun","messageId":"run/CUSTOMER/1","payload":{"mapping":"CUSTOMER"},"version":1}'
MATCH = (
    '{"kind":"matchCoupling","messageId":"match/CUSTOMER/1","payload":{"createIfNoMatch":true,'
    '"mapping":"CUSTOMER"},"version":1}'
)


PROCESS_RUN = (  # as a BC notification's wake sends it (`services/wake.process_wake_message`), for a named company
    '{"kind":"processRun","messageId":"wake/fab/postedInvoices/356913480","payload":{"company":"fab",'
    '"process":"postedInvoices"},"version":1}'
)


def test_todays_message_shapes_parse_into_their_commands() -> None:
    assert parse_command(JobMessage.from_json(SPLIT)) == FullSyncChunk("run-1/CUSTOMER/0", "run-1", "CUSTOMER", 0)
    chunk = parse_command(JobMessage.from_json(CHUNK))
    assert chunk == FullSyncChunk("run-1/CUSTOMER/3/r1", "run-1", "CUSTOMER", 3, attempt=1, phase=1)
    assert isinstance(chunk, FullSyncChunk) and not chunk.is_split
    assert chunk.payload["ids"] == ["a1", "a2"] and chunk.payload["side"] == "dv"
    throttled = parse_command(JobMessage.from_json(THROTTLED))
    assert isinstance(throttled, FullSyncChunk) and throttled.payload["waits"] == 2
    assert parse_command(JobMessage.from_json(MAPPING_RUN)) == RunMapping("run/CUSTOMER/1", "CUSTOMER")
    assert parse_command(JobMessage.from_json(MATCH)) == MatchCoupling("match/CUSTOMER/1", "CUSTOMER", True, None)
    assert parse_command(JobMessage.from_json(PROCESS_RUN)) == RunProcess(
        "wake/fab/postedInvoices/356913480", "postedInvoices", "fab"
    )


def test_a_process_run_is_sent_as_pinned_and_runs_only_a_known_process() -> None:
    from shared.services.wake import process_wake_message

    sent = process_wake_message("fab", "postedInvoices", datetime.fromtimestamp(356913480 * 5 + 1, tz=UTC))
    with_company_key = JobMessage(
        sent.message.kind, sent.message.message_id, {**sent.message.payload, "company": "fab"}
    )
    assert with_company_key.to_json() == PROCESS_RUN
    assert parse_command(JobMessage(JobKind.PROCESS_RUN, "p-1", {"process": "orderStatus", "x": 1})) == RunProcess(
        "p-1", "orderStatus"
    )
    with pytest.raises(ValueError, match="'statistics' is not a document process"):
        process_wake_message("", "statistics", datetime.now(UTC))


def _sent_by_a_full_sync() -> Iterator[JobMessage]:
    line = ReviewLine("CUSTOMER", "coupleRecords", attempt=2, phase=1, restarts=1)
    yield split_message(line, "run-9", dry_run=False)
    yield chunk_message(line, "run-9", LineChunk("CUSTOMER", 2, 1, 7, "bc", ("x1", "x2")), dry_run=True)


@pytest.mark.parametrize("job", list(_sent_by_a_full_sync()), ids=lambda j: j.message_id)
def test_what_a_full_sync_sends_parses_back_with_its_payload_kept_whole(job: JobMessage) -> None:
    command = parse_command(JobMessage.from_json(job.to_json()))
    assert isinstance(command, FullSyncChunk)
    assert (command.run_id, command.mapping, command.attempt) == ("run-9", "CUSTOMER", 2)
    assert command.message_id == job.message_id and dict(command.payload) == job.payload


def test_keys_a_kind_does_not_know_are_ignored_so_other_versions_messages_still_run() -> None:
    job = JobMessage(JobKind.MATCH_COUPLING, "m-1", {"mapping": "CONTACT", "fields": ["name"], "later": {"x": 1}})
    assert parse_command(job) == MatchCoupling("m-1", "CONTACT")


def test_commands_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        RunMapping("m-1", "CUSTOMER").mapping = "CONTACT"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kind", "payload", "reason"),
    [
        (JobKind.MAPPING_RUN, {}, "'mapping' must be a non-empty text, got None"),
        (JobKind.MAPPING_RUN, {"mapping": " "}, "'mapping' must be a non-empty text"),
        (JobKind.MAPPING_RUN, {"mapping": 7}, "'mapping' must be a non-empty text, got 7"),
        (JobKind.MATCH_COUPLING, {"mapping": "CUSTOMER", "createIfNoMatch": "yes"}, "'createIfNoMatch' must be"),
        (JobKind.MATCH_COUPLING, {"mapping": "CUSTOMER", "synchronizeAfter": 1}, "'synchronizeAfter' must be"),
        (JobKind.FULL_SYNC_CHUNK, {"mapping": "CUSTOMER", "chunk": 1}, "'runId' must be a non-empty text"),
        (JobKind.FULL_SYNC_CHUNK, {"runId": "r", "chunk": 1}, "'mapping' must be a non-empty text"),
        (JobKind.FULL_SYNC_CHUNK, {"runId": "r", "mapping": "CUSTOMER", "chunk": "3"}, "'chunk' must be a whole"),
        (JobKind.FULL_SYNC_CHUNK, {"runId": "r", "mapping": "CUSTOMER", "chunk": -1}, "'chunk' must be a whole"),
        (JobKind.FULL_SYNC_CHUNK, {"runId": "r", "mapping": "CUSTOMER", "chunk": True}, "'chunk' must be a whole"),
        (JobKind.FULL_SYNC_CHUNK, {"runId": "r", "mapping": "C", "attempt": 1.5}, "'attempt' must be a whole"),
        (JobKind.FULL_SYNC_CHUNK, {"runId": "r", "mapping": "C", "chunk": 1, "side": "x"}, "'side' must be one"),
        (JobKind.FULL_SYNC_CHUNK, {"runId": "r", "mapping": "C", "chunk": 1, "ids": "a,b"}, "'ids' must be a list"),
        (JobKind.FULL_SYNC_CHUNK, {"runId": "r", "mapping": "C", "chunk": 1, "ids": [1]}, "'ids' must be a list"),
        (JobKind.FULL_SYNC_CHUNK, {"runId": "r", "mapping": "C", "waits": "2"}, "'waits' must be a whole"),
        (JobKind.PROCESS_RUN, {}, "'process' must be a non-empty text, got None"),
        (JobKind.PROCESS_RUN, {"process": ""}, "'process' must be a non-empty text"),
        (JobKind.PROCESS_RUN, {"process": ["orderStatus"]}, "'process' must be a non-empty text"),
        (JobKind.PROCESS_RUN, {"process": "CUSTOMER"}, "'process' must be one of postedInvoices, orderStatus, got"),
        (JobKind.PROCESS_RUN, {"process": "orderstatus"}, "'process' must be one of postedInvoices, orderStatus"),
        (JobKind.PROCESS_RUN, {"process": "orderStatus", "company": "a b"}, "'company' must be a company key"),
        (JobKind.UNCOUPLE_ALL, {}, "'mapping' must be a non-empty text, got None"),
        (JobKind.UNCOUPLE_ALL, {"mapping": "CUSTOMER", "queuedOn": 5}, "'queuedOn' must be a text, got 5"),
        (JobKind.FIND_DELETED, {}, "'mapping' must be a non-empty text, got None"),
        (JobKind.FIND_DELETED, {"mapping": " "}, "'mapping' must be a non-empty text"),
        (JobKind.FIND_DELETED, {"mapping": "CUSTOMER", "queuedOn": None}, "'queuedOn' must be a text, got None"),
        (JobKind.FIND_DELETED, {"mapping": "CUSTOMER", "company": "a-b"}, "'company' must be a company key"),
    ],
)
def test_a_payload_its_kind_cannot_run_is_refused_naming_the_key(
    kind: JobKind, payload: dict[str, object], reason: str
) -> None:
    with pytest.raises(InvalidJobMessage, match=f"{kind.value} job 'j-1': {reason}".replace("(", r"\(")):
        parse_command(JobMessage(kind, "j-1", payload))


def test_the_adapter_parses_a_delivered_message_into_its_command_once() -> None:
    job = JobMessage.from_json(MAPPING_RUN)
    fields = message_fields(job)
    message = FunctionMessage(
        body=fields["body"].encode(),
        message_id=job.message_id,
        content_type=fields["content_type"],
        application_properties=fields["application_properties"],
        user_properties=fields["application_properties"],
    )
    assert command_from_function_message(message) == RunMapping("run/CUSTOMER/1", "CUSTOMER")


def test_an_uncouple_all_job_carries_its_mapping_queued_time_and_company() -> None:
    body = '{"kind":"uncoupleAll","messageId":"uncoupleAll-1","payload":{"company":"sbx","mapping":"CUSTOMER",' \
        '"queuedOn":"2026-12-07T08:00:00.000000Z"},"version":1}'  # fmt: skip
    assert parse_command(JobMessage.from_json(body)) == UncoupleAll(
        "uncoupleAll-1", "CUSTOMER", "2026-12-07T08:00:00.000000Z", "sbx"
    )
    plain = JobMessage(JobKind.UNCOUPLE_ALL, "u-2", {"mapping": "CONTACT"})
    assert parse_command(plain) == UncoupleAll("u-2", "CONTACT")


def test_a_find_deleted_job_carries_its_mapping_queued_time_and_company() -> None:
    body = '{"kind":"findDeleted","messageId":"findDeleted-1","payload":{"company":"sbx","mapping":"CUSTOMER",' \
        '"queuedOn":"2026-12-07T08:00:00.000000Z"},"version":1}'  # fmt: skip
    assert parse_command(JobMessage.from_json(body)) == FindDeleted(
        "findDeleted-1", "CUSTOMER", "2026-12-07T08:00:00.000000Z", "sbx"
    )
    plain = JobMessage(JobKind.FIND_DELETED, "f-2", {"mapping": "CONTACT", "unknownLater": 1})
    assert parse_command(plain) == FindDeleted("f-2", "CONTACT")
