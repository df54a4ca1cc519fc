"""The Service Bus adapter's own promises (lazy import, emulator-only keys, message fields, batches, errors), with
the real SDK against `local/host/broker.py`, and the in-memory queue's peek-lock semantics the local host relies on."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from azure.functions.servicebus import ServiceBusMessage as FunctionMessage
from azure.servicebus import exceptions as sb

from local.fakes.queue import InMemoryJobQueue, MessageLockLost, to_function_message
from local.stack.processes import REPO_ROOT, free_port
from shared.connectors.service_bus.messages import job_from_function_message, to_service_bus_message
from shared.connectors.service_bus.queue import ServiceBusJobQueue, domain_error, is_development_emulator
from shared.domain.errors import ErrorKind, FatalError, SyncError
from shared.domain.jobs import JobKind, JobMessage

if TYPE_CHECKING:
    from local.host.broker import RunningBroker

EMULATOR = "Endpoint=sb://localhost:5672;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=k;"
AZURE = "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=k"
CONTENT = "application/json"
JOB = JobMessage(JobKind.MAPPING_RUN, "mapping/CUSTOMER/2026-01-05T09:00", {"mapping": "CUSTOMER"})


@pytest.fixture(scope="module")
def broker() -> Iterator[RunningBroker]:
    from local.host.broker import start_broker

    running = start_broker({}, port=free_port())
    yield running
    running.stop()


@pytest.fixture
def store(broker: RunningBroker) -> InMemoryJobQueue:
    broker.handler.queues = {"sync-jobs": (queue := InMemoryJobQueue())}
    broker.handler.transfers.clear()
    return queue


@pytest.fixture
def adapter(broker: RunningBroker, store: InMemoryJobQueue) -> Iterator[ServiceBusJobQueue]:
    queue = ServiceBusJobQueue(
        "sync-jobs", connection_string=broker.connection_string, client_options={"retry_total": 0}
    )
    yield queue
    queue.close()


# -- construction -------------------------------------------------------------------------------------------------
def test_importing_the_adapter_does_not_import_the_sdk() -> None:
    """The Functions host imports the app on every cold start; the SDK may load only when a job is sent."""
    code = (
        "import sys, shared.connectors.service_bus.queue as q\n"
        f"q.ServiceBusJobQueue('sync-jobs', connection_string={EMULATOR + 'UseDevelopmentEmulator=true'!r})\n"
        "print(sorted(name for name in sys.modules if name.startswith('azure.servicebus')))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("connection_string", "emulator"),
    [
        (EMULATOR + "UseDevelopmentEmulator=true", True),
        (EMULATOR + "usedevelopmentemulator=true;", True),
        (EMULATOR + "UseDevelopmentEmulator=True", False),  # the SDK compares the value exactly
        (EMULATOR + "UseDevelopmentEmulator=false", False),
        (EMULATOR, False),
        (AZURE, False),
    ],
)
def test_emulator_detection_reads_the_string_as_the_sdk_does(connection_string: str, emulator: bool) -> None:
    from azure.servicebus._base_handler import _parse_conn_str

    assert is_development_emulator(connection_string) is emulator
    assert _parse_conn_str(connection_string)[6] is emulator


@pytest.mark.parametrize(
    "kwargs",
    [
        {"connection_string": AZURE},
        {"connection_string": EMULATOR + "UseDevelopmentEmulator=True"},
        {"connection_string": EMULATOR + "UseDevelopmentEmulator=true", "fully_qualified_namespace": "ns"},
        {"fully_qualified_namespace": "ns.servicebus.windows.net"},
        {},
    ],
    ids=["azure-key", "emulator-wrong-case", "both", "no-credential", "nothing"],
)
def test_keys_are_refused_outside_the_emulator_and_identity_is_required(kwargs: dict[str, str]) -> None:
    with pytest.raises(FatalError) as caught:
        ServiceBusJobQueue("sync-jobs", **kwargs)  # type: ignore[arg-type]
    assert caught.value.code == "QueueConfiguration"


def test_namespace_and_credential_are_accepted_without_connecting() -> None:
    ServiceBusJobQueue("sync-jobs", fully_qualified_namespace="ns.example", credential=object()).close()  # type: ignore[arg-type]


# -- messages -----------------------------------------------------------------------------------------------------
def test_the_sdk_message_carries_id_type_subject_and_properties() -> None:
    message = to_service_bus_message(JOB)
    assert (message.message_id, message.content_type, message.subject) == (JOB.message_id, CONTENT, "mappingRun")
    assert message.application_properties == {"kind": "mappingRun", "version": 1}
    assert b"".join(message.body) == JOB.to_json().encode("utf-8")


def test_the_fields_survive_the_wire(adapter: ServiceBusJobQueue, store: InMemoryJobQueue) -> None:
    adapter.send([JOB])
    [envelope] = store.active_messages()
    assert (envelope.message_id, envelope.content_type, envelope.subject) == (JOB.message_id, CONTENT, "mappingRun")
    assert envelope.application_properties == {"kind": "mappingRun", "version": 1}
    assert JobMessage.from_json(envelope.body) == JOB


def test_large_sends_are_split_into_batches(adapter: ServiceBusJobQueue, broker: RunningBroker) -> None:
    """The SDK sizes batches by the link's max-message-size (256 KB, Standard tier, announced by the broker)."""
    jobs = [JobMessage(JobKind.FULL_SYNC_CHUNK, f"run/ITEM/{n}", {"rows": "r" * 10_000}) for n in range(60)]
    adapter.send(jobs)
    counts = [count for count, _ in broker.handler.transfers]
    assert sum(counts) == 60 and len(counts) >= 3
    assert all(size <= 256 * 1024 for _, size in broker.handler.transfers)


def test_one_connection_serves_many_sends(
    adapter: ServiceBusJobQueue, broker: RunningBroker, store: InMemoryJobQueue
) -> None:
    before = broker.handler.connections
    for n in range(3):
        adapter.send([JobMessage(JobKind.MAPPING_RUN, f"m-{n}")])
    assert broker.handler.connections - before == 1
    assert len(store.active_messages()) == 3


# -- errors -------------------------------------------------------------------------------------------------------
def test_a_missing_queue_is_fatal(broker: RunningBroker) -> None:
    queue = ServiceBusJobQueue("no-such-queue", connection_string=broker.connection_string)
    with pytest.raises(FatalError) as caught:
        queue.send([JOB])
    queue.close()
    assert caught.value.code == "QueueNotFound"


def test_an_unreachable_namespace_is_transient() -> None:
    connection = (
        f"Endpoint=sb://localhost:{free_port()};SharedAccessKeyName=a;SharedAccessKey=k;UseDevelopmentEmulator=true"
    )
    queue = ServiceBusJobQueue("sync-jobs", connection_string=connection, client_options={"retry_total": 0})
    with pytest.raises(SyncError) as caught:
        queue.send([JOB])
    assert caught.value.kind is ErrorKind.TRANSIENT


@pytest.mark.parametrize(
    ("error", "kind", "code"),
    [
        (sb.ServiceBusConnectionError(message="x"), ErrorKind.TRANSIENT, "ServiceBusUnavailable"),
        (sb.ServiceBusCommunicationError(message="x"), ErrorKind.TRANSIENT, "ServiceBusUnavailable"),
        (sb.OperationTimeoutError(message="x"), ErrorKind.TRANSIENT, "ServiceBusTimeout"),
        (sb.ServiceBusServerBusyError(message="x"), ErrorKind.TRANSIENT, "ServiceBusBusy"),
        (sb.ServiceBusQuotaExceededError(message="x"), ErrorKind.TRANSIENT, "QueueQuotaExceeded"),
        (sb.ServiceBusError(message="x"), ErrorKind.TRANSIENT, "ServiceBusError"),
        (sb.ServiceBusAuthenticationError(message="x"), ErrorKind.FATAL, "ServiceBusUnauthorized"),
        (sb.ServiceBusAuthorizationError(message="x"), ErrorKind.FATAL, "ServiceBusUnauthorized"),
        (sb.MessagingEntityNotFoundError(message="x"), ErrorKind.FATAL, "QueueNotFound"),
        (sb.MessagingEntityDisabledError(message="x"), ErrorKind.FATAL, "QueueDisabled"),
        (sb.MessageSizeExceededError(message="x"), ErrorKind.FATAL, "JobMessageTooLarge"),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else str(value),
)
def test_sdk_errors_map_to_domain_kinds(error: Exception, kind: ErrorKind, code: str) -> None:
    mapped = domain_error(error)
    assert (mapped.kind, mapped.code) == (kind, code)


# -- the in-memory queue's Service Bus semantics (what the local host delivers with) ------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def local_queue(clock: Clock) -> InMemoryJobQueue:
    queue = InMemoryJobQueue(clock=clock, lock_duration=timedelta(seconds=30), max_delivery_count=3)
    queue.send([JOB])
    return queue


def test_a_locked_message_is_not_delivered_twice_and_complete_removes_it(local_queue: InMemoryJobQueue) -> None:
    [locked] = local_queue.receive(10)
    assert locked.delivery_count == 1
    assert local_queue.receive(10) == []
    local_queue.complete(locked.lock_token)
    assert local_queue.active_messages() == [] and local_queue.dead_letters() == []


def test_abandon_redelivers_with_a_higher_delivery_count(local_queue: InMemoryJobQueue) -> None:
    local_queue.abandon(local_queue.receive()[0].lock_token)
    [again] = local_queue.receive()
    assert again.delivery_count == 2


def test_an_expired_lock_redelivers_and_its_token_is_lost(local_queue: InMemoryJobQueue, clock: Clock) -> None:
    [first] = local_queue.receive()
    clock.now += timedelta(seconds=29)
    assert local_queue.renew_lock(first.lock_token) == clock.now + timedelta(seconds=30)
    clock.now += timedelta(seconds=30)
    [second] = local_queue.receive()
    assert second.delivery_count == 2 and second.lock_token != first.lock_token
    with pytest.raises(MessageLockLost):
        local_queue.complete(first.lock_token)


def test_dead_letter_keeps_reason_and_description(local_queue: InMemoryJobQueue) -> None:
    [locked] = local_queue.receive()
    local_queue.dead_letter(locked.lock_token, "InvalidJobMessage", "version 2 is not supported")
    [dead] = local_queue.dead_letters()
    assert (dead.reason, dead.description, dead.envelope.message_id) == (
        "InvalidJobMessage",
        "version 2 is not supported",
        JOB.message_id,
    )
    assert local_queue.receive() == []


def test_deliveries_beyond_the_maximum_dead_letter_the_message(local_queue: InMemoryJobQueue, clock: Clock) -> None:
    local_queue.abandon(local_queue.receive()[0].lock_token)
    local_queue.abandon(local_queue.receive()[0].lock_token)
    local_queue.receive()  # third delivery, then the function crashes: the lock expires
    clock.now += timedelta(minutes=1)
    assert local_queue.receive() == []
    [dead] = local_queue.dead_letters()
    assert (dead.reason, dead.delivery_count) == ("MaxDeliveryCountExceeded", 3)


def test_a_delivery_becomes_the_real_function_message(local_queue: InMemoryJobQueue) -> None:
    [locked] = local_queue.receive()
    message = to_function_message(locked)
    assert isinstance(message, FunctionMessage)
    assert (message.message_id, message.delivery_count, message.lock_token) == (JOB.message_id, 1, locked.lock_token)
    assert (message.content_type, message.subject, message.sequence_number) == ("application/json", "mappingRun", 1)
    assert message.locked_until == locked.locked_until and message.enqueued_time_utc == locked.enqueued_time
    assert job_from_function_message(message) == JOB


def test_receive_waits_for_a_message_sent_from_another_thread() -> None:
    queue = InMemoryJobQueue()
    threading.Timer(0.05, queue.send, args=([JOB],)).start()
    [locked] = queue.receive(max_wait_time=5)
    assert locked.envelope.message_id == JOB.message_id


def test_concurrent_senders_and_receivers_lose_and_repeat_nothing() -> None:
    queue = InMemoryJobQueue()
    ids = [f"job-{n}" for n in range(400)]
    got: list[str] = []

    def consume() -> None:
        while batch := queue.receive(7, max_wait_time=0.3):
            for locked in batch:
                got.append(locked.envelope.message_id)
                queue.complete(locked.lock_token)

    workers = [threading.Thread(target=consume) for _ in range(4)]
    workers += [
        threading.Thread(target=queue.send, args=([JobMessage(JobKind.MAPPING_RUN, i) for i in ids[n::4] * 2],))
        for n in range(4)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(10)
    assert sorted(got) == sorted(ids)
