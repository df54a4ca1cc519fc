"""The `JobQueue.send` contract, run against both implementations so the fake cannot drift from the real thing.

`in-memory` is `InMemoryJobQueue` itself. `service-bus` is the real adapter and the real azure-servicebus SDK over
AMQP to `local/host/broker.py`, which files what it accepts into an `InMemoryJobQueue`; that store is where both cases
are observed, with one fake clock shared by sender and store so scheduled times can be checked exactly.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from local.fakes.queue import InMemoryJobQueue, to_function_message
from local.stack.processes import free_port
from shared.connectors.service_bus.messages import job_from_function_message
from shared.connectors.service_bus.queue import ServiceBusJobQueue
from shared.domain.jobs import JobKind, JobMessage, chunk_message_id
from shared.ports import JobQueue

if TYPE_CHECKING:
    from local.host.broker import RunningBroker

QUEUE = "sync-jobs"
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass
class Harness:
    queue: JobQueue
    store: InMemoryJobQueue
    clock: FakeClock

    def received_jobs(self, max_messages: int = 1000) -> list[JobMessage]:
        locked = self.store.receive(max_messages)
        return [job_from_function_message(to_function_message(message)) for message in locked]


@dataclass
class ServiceBusSide:
    broker: RunningBroker
    adapter: ServiceBusJobQueue
    clock: FakeClock


@pytest.fixture(scope="module")
def service_bus() -> Iterator[ServiceBusSide]:
    """One broker and one adapter (one AMQP connection) for the module: a connection costs ~0.5 s."""
    from local.host.broker import start_broker

    running = start_broker({}, port=free_port())
    clock = FakeClock()
    adapter = ServiceBusJobQueue(QUEUE, connection_string=running.connection_string, clock=clock)
    try:
        yield ServiceBusSide(running, adapter, clock)
    finally:
        adapter.close()
        running.stop()


@pytest.fixture(params=["in-memory", "service-bus"])
def harness(request: pytest.FixtureRequest) -> Harness:
    if request.param == "in-memory":
        clock = FakeClock()
        store = InMemoryJobQueue(clock=clock)
        return Harness(store, store, clock)
    side: ServiceBusSide = request.getfixturevalue("service_bus")
    side.clock.now = START
    store = InMemoryJobQueue(clock=side.clock)
    side.broker.handler.queues = {QUEUE: store}  # a fresh queue per test, behind the same broker
    return Harness(side.adapter, store, side.clock)


def job(number: int, *, pad: int = 0, kind: JobKind = JobKind.FULL_SYNC_CHUNK) -> JobMessage:
    payload = {"mapping": "CUSTOMER", "chunk": number, "filler": "x" * pad}
    return JobMessage(kind, chunk_message_id("run-1", "CUSTOMER", number), payload)


def test_a_sent_job_arrives_intact(harness: Harness) -> None:
    sent = JobMessage(JobKind.MATCH_COUPLING, "match/CUSTOMER/1", {"fields": ["name", "city"], "create": True})
    harness.queue.send([sent])
    assert harness.received_jobs() == [sent]


def test_jobs_arrive_in_the_order_sent(harness: Harness) -> None:
    sent = [job(number) for number in range(5)]
    harness.queue.send(sent)
    assert harness.received_jobs() == sent


def test_an_empty_send_does_nothing(harness: Harness) -> None:
    harness.queue.send([])
    assert harness.store.active_messages() == []


def test_a_repeated_send_leaves_one_message(harness: Harness) -> None:
    harness.queue.send([job(1), job(2)])
    harness.queue.send([job(1)])  # a retried producer, or a redelivered job that fans out again
    harness.clock.advance(timedelta(minutes=9))
    harness.queue.send([job(2)])
    assert [message.message_id for message in harness.store.active_messages()] == [job(1).message_id, job(2).message_id]


def test_a_duplicate_within_one_send_leaves_one_message(harness: Harness) -> None:
    harness.queue.send([job(1), job(1), job(2)])
    assert harness.received_jobs() == [job(1), job(2)]


def test_the_same_id_is_accepted_again_after_the_duplicate_window(harness: Harness) -> None:
    harness.queue.send([job(1)])
    harness.clock.advance(timedelta(minutes=10))
    harness.queue.send([job(1)])
    assert len(harness.store.active_messages()) == 2


def test_a_delayed_send_is_scheduled_and_appears_when_due(harness: Harness) -> None:
    harness.queue.send([job(1)], delay=timedelta(minutes=5))
    assert harness.store.active_messages() == []
    assert harness.store.receive() == []
    [(envelope, due)] = harness.store.scheduled_messages()
    assert envelope.message_id == job(1).message_id
    assert due == START + timedelta(minutes=5)  # whole seconds: AMQP timestamps carry milliseconds

    harness.clock.advance(timedelta(minutes=4, seconds=59))
    assert harness.store.receive() == []
    harness.clock.advance(timedelta(seconds=1))
    [delivered] = harness.store.receive()
    assert delivered.scheduled_enqueue_time == due
    assert job_from_function_message(to_function_message(delivered)) == job(1)


def test_a_delayed_repeat_of_a_sent_job_is_dropped(harness: Harness) -> None:
    """Duplicate detection applies to scheduled messages too: a delayed retry must carry a new id."""
    harness.queue.send([job(1)])
    harness.queue.send([job(1)], delay=timedelta(minutes=1))
    assert harness.store.scheduled_messages() == []
    assert len(harness.store.active_messages()) == 1


def test_many_large_jobs_all_arrive_once_in_order(harness: Harness) -> None:
    """60 jobs of ~10 KB are ~600 KB: more than one 256 KB Service Bus batch."""
    sent = [job(number, pad=10_000) for number in range(60)]
    harness.queue.send(sent)
    assert harness.received_jobs() == sent


def test_many_large_delayed_jobs_are_all_scheduled(harness: Harness) -> None:
    sent = [job(number, pad=10_000) for number in range(40)]
    harness.queue.send(sent, delay=timedelta(seconds=30))
    assert len(harness.store.scheduled_messages()) == 40
    harness.clock.advance(timedelta(seconds=30))
    assert harness.received_jobs() == sent
