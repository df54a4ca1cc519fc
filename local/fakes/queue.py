"""`InMemoryJobQueue`: the `JobQueue` port with Service Bus semantics, for unit tests and the local Functions host.

Why semantics and not just a list: the queue-triggered code is only correct if it survives what Service Bus does to
it (a repeated send dropped by duplicate detection, a scheduled retry that is not visible before its time, a crash
that makes the message come back once its lock expires, poison messages dead-lettered after `max_delivery_count`).
A list would let code pass locally that loses or repeats work in Azure. Time comes from an injectable clock, so
tests move it instead of sleeping. `local/host/broker.py` feeds the same store from the real SDK over AMQP.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.functions.servicebus import ServiceBusMessage as FunctionMessage

from shared.connectors.service_bus.messages import message_fields
from shared.domain.jobs import JobMessage
from shared.ports import QueueCounts

DEFAULT_DUPLICATE_WINDOW = timedelta(minutes=10)
DEFAULT_LOCK_DURATION = timedelta(minutes=1)  # Service Bus's default LockDuration (PT1M)
DEFAULT_MAX_DELIVERY_COUNT = 10
DEAD_LETTER_SUBQUEUE = "$deadletterqueue"  # the path suffix Service Bus (and a Functions trigger) use for it
MAX_DELIVERY_COUNT_EXCEEDED = "MaxDeliveryCountExceeded"  # the reason Service Bus itself writes
POLL_SECONDS = 0.02


class MessageLockLost(Exception):
    """Settling with a lock that expired or was never given (Service Bus: `MessageLockLostError`): the message
    has been, or will be, delivered again, so the work must be idempotent."""


@dataclass(frozen=True)
class Envelope:
    """What Service Bus keeps of a sent message."""

    body: bytes
    message_id: str
    content_type: str | None = None
    subject: str | None = None
    correlation_id: str | None = None
    application_properties: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of_job(cls, job: JobMessage) -> Envelope:
        fields = message_fields(job)
        return cls(
            body=fields["body"].encode("utf-8"),
            message_id=fields["message_id"],
            content_type=fields["content_type"],
            subject=fields["subject"],
            application_properties=dict(fields["application_properties"]),
        )


@dataclass(frozen=True)
class LockedMessage:
    """A peek-locked delivery: settle it with its `lock_token` before `locked_until`."""

    envelope: Envelope
    lock_token: str
    delivery_count: int
    locked_until: datetime
    sequence_number: int
    enqueued_time: datetime
    scheduled_enqueue_time: datetime | None = None


@dataclass(frozen=True)
class DeadLetter:
    envelope: Envelope
    reason: str
    description: str
    delivery_count: int
    sequence_number: int
    dead_lettered_at: datetime


@dataclass
class _Entry:
    envelope: Envelope
    sequence_number: int
    enqueued_time: datetime  # when it became (or becomes, if scheduled) visible
    scheduled_enqueue_time: datetime | None
    delivery_count: int = 0
    lock_token: str | None = None
    locked_until: datetime | None = None


def utc_now() -> datetime:
    return datetime.now(UTC)


class InMemoryJobQueue:
    """Thread-safe: the local host's receive loop and the functions sending follow-up jobs share one instance."""

    def __init__(
        self,
        *,
        duplicate_window: timedelta = DEFAULT_DUPLICATE_WINDOW,
        lock_duration: timedelta = DEFAULT_LOCK_DURATION,
        max_delivery_count: int = DEFAULT_MAX_DELIVERY_COUNT,
        clock: Callable[[], datetime] = utc_now,
        queue_name: str = "sync-jobs",
    ) -> None:
        self.duplicate_window = duplicate_window
        self.lock_duration = lock_duration
        self.max_delivery_count = max_delivery_count
        self.queue_name = queue_name
        self._clock = clock
        self._entries: dict[int, _Entry] = {}
        self._seen: dict[str, datetime] = {}  # message id -> when accepted, for duplicate detection
        self._dead: list[DeadLetter] = []
        self._sequence = itertools.count(1)
        self._changed = threading.Condition(threading.RLock())
        self._dead_letter_queue: InMemoryJobQueue | None = None

    def dead_letter_subqueue(self) -> InMemoryJobQueue:
        """`<queue>/$deadletterqueue` as a queue of its own, for a function triggered by it: from now on every
        dead-lettered message is also delivered there, carrying `DeadLetterReason` and `DeadLetterErrorDescription`
        as application properties (as Service Bus sets them), and completing it there removes it from
        `dead_letters()`. Its messages are never dead-lettered again (Service Bus has no DLQ of a DLQ)."""
        with self._changed:
            if self._dead_letter_queue is None:
                self._dead_letter_queue = InMemoryJobQueue(
                    duplicate_window=timedelta(0),
                    lock_duration=self.lock_duration,
                    max_delivery_count=10**9,
                    clock=lambda: self._clock(),  # noqa: PLW0108 (follows a clock swapped later)
                    queue_name=f"{self.queue_name}/{DEAD_LETTER_SUBQUEUE}",
                )
            return self._dead_letter_queue

    # -- sending (the port) ---------------------------------------------------------------------------------
    def send(self, messages: Sequence[JobMessage], *, delay: timedelta | None = None) -> None:
        at = self._clock() + delay if delay is not None else None
        for job in messages:
            self.enqueue(Envelope.of_job(job), scheduled_enqueue_time=at)

    def enqueue(self, envelope: Envelope, *, scheduled_enqueue_time: datetime | None = None) -> int | None:
        """Accept one message; returns its sequence number, or None when duplicate detection dropped it (as
        Service Bus does: the sender sees success either way)."""
        with self._changed:
            now = self._clock()
            self._forget_old_ids(now)
            if envelope.message_id in self._seen:
                return None
            self._seen[envelope.message_id] = now
            number = next(self._sequence)
            visible = max(now, scheduled_enqueue_time) if scheduled_enqueue_time else now
            self._entries[number] = _Entry(envelope, number, visible, scheduled_enqueue_time)
            self._changed.notify_all()
            return number

    # -- receiving with peek-lock ---------------------------------------------------------------------------
    def receive(
        self, max_messages: int = 1, lock_duration: timedelta | None = None, *, max_wait_time: float = 0.0
    ) -> list[LockedMessage]:
        """Lock up to `max_messages` visible messages, oldest first; wait up to `max_wait_time` seconds (real
        time) for one to appear. Each delivery counts: the first delivery has `delivery_count` 1."""
        deadline = time.monotonic() + max_wait_time
        with self._changed:
            while True:
                locked = self._lock_visible(max_messages, lock_duration or self.lock_duration)
                remaining = deadline - time.monotonic()
                if locked or remaining <= 0:
                    return locked
                # A scheduled message or an expiring lock changes nothing a notify would signal: poll the clock.
                self._changed.wait(min(remaining, POLL_SECONDS))

    def complete(self, lock_token: str) -> None:
        with self._changed:
            del self._entries[self._locked(lock_token).sequence_number]

    def abandon(self, lock_token: str) -> None:
        """Give the message back now; it is delivered again, or dead-lettered once its deliveries are used up."""
        with self._changed:
            self._release(self._locked(lock_token), self._clock())
            self._changed.notify_all()

    def dead_letter(self, lock_token: str, reason: str, description: str = "") -> None:
        with self._changed:
            entry = self._locked(lock_token)
            self._move_to_dead_letters(entry, reason, description, self._clock())

    def renew_lock(self, lock_token: str) -> datetime:
        with self._changed:
            entry = self._locked(lock_token)
            entry.locked_until = self._clock() + self.lock_duration
            return entry.locked_until

    # -- looking ------------------------------------------------------------------------------------------
    def ping(self) -> None:
        """Always reachable: it lives in this process."""

    def message_counts(self) -> QueueCounts:
        """Service Bus's runtime properties: active (visible or locked), dead-lettered, scheduled."""
        return QueueCounts(len(self.active_messages()), len(self.dead_letters()), len(self.scheduled_messages()))

    def dead_letters(self) -> list[DeadLetter]:
        with self._changed:
            self._expire_locks(self._clock())
            if self._dead_letter_queue is None:
                return list(self._dead)
            kept = {envelope.message_id for envelope in self._dead_letter_queue.active_messages()}
            return [dead for dead in self._dead if dead.envelope.message_id in kept]

    def active_messages(self) -> list[Envelope]:
        """Messages visible now or locked (Service Bus's active count), oldest first; not the scheduled ones."""
        with self._changed:
            now = self._clock()
            self._expire_locks(now)
            return [entry.envelope for entry in self._sorted() if entry.enqueued_time <= now]

    def scheduled_messages(self) -> list[tuple[Envelope, datetime]]:
        with self._changed:
            now = self._clock()
            return [(e.envelope, e.enqueued_time) for e in self._sorted() if e.enqueued_time > now]

    # -- internals (caller holds the lock) --------------------------------------------------------------------
    def _sorted(self) -> list[_Entry]:
        return [self._entries[number] for number in sorted(self._entries)]

    def _lock_visible(self, max_messages: int, lock_duration: timedelta) -> list[LockedMessage]:
        now = self._clock()
        self._expire_locks(now)
        locked: list[LockedMessage] = []
        for entry in self._sorted():
            if len(locked) >= max_messages:
                break
            if entry.lock_token is not None or entry.enqueued_time > now:
                continue
            entry.delivery_count += 1
            entry.lock_token, entry.locked_until = str(uuid.uuid4()), now + lock_duration
            locked.append(
                LockedMessage(
                    entry.envelope,
                    entry.lock_token,
                    entry.delivery_count,
                    entry.locked_until,
                    entry.sequence_number,
                    entry.enqueued_time,
                    entry.scheduled_enqueue_time,
                )
            )
        return locked

    def _locked(self, lock_token: str) -> _Entry:
        self._expire_locks(self._clock())
        for entry in self._entries.values():
            if entry.lock_token == lock_token:
                return entry
        raise MessageLockLost(f"lock {lock_token} expired or unknown; the message is delivered again")

    def _expire_locks(self, now: datetime) -> None:
        for entry in list(self._entries.values()):
            if entry.locked_until is not None and entry.locked_until <= now:
                self._release(entry, now)

    def _release(self, entry: _Entry, now: datetime) -> None:
        if entry.delivery_count >= self.max_delivery_count:
            description = f"Message could not be consumed after {entry.delivery_count} delivery attempts."
            self._move_to_dead_letters(entry, MAX_DELIVERY_COUNT_EXCEEDED, description, now)
        else:
            entry.lock_token = entry.locked_until = None

    def _move_to_dead_letters(self, entry: _Entry, reason: str, description: str, now: datetime) -> None:
        del self._entries[entry.sequence_number]
        self._dead.append(
            DeadLetter(entry.envelope, reason, description, entry.delivery_count, entry.sequence_number, now)
        )
        if self._dead_letter_queue is not None:
            why = {"DeadLetterReason": reason, "DeadLetterErrorDescription": description}
            properties = {**entry.envelope.application_properties, **why}
            self._dead_letter_queue.enqueue(replace(entry.envelope, application_properties=properties))

    def _forget_old_ids(self, now: datetime) -> None:
        """Ids are kept in the order accepted, so the expired ones are at the front: stop at the first live one."""
        while self._seen:
            message_id, seen_at = next(iter(self._seen.items()))
            if now - seen_at < self.duplicate_window:
                return
            del self._seen[message_id]


def to_function_message(locked: LockedMessage, queue_name: str = "sync-jobs") -> FunctionMessage:
    """The object the Functions host would pass to a queue-triggered function for this delivery, so local runs
    and tests call the real handlers with the real type (application properties also as the legacy
    `user_properties`, subject also as the legacy `label`, as the host fills both)."""
    envelope = locked.envelope
    properties = dict(envelope.application_properties)
    return FunctionMessage(
        body=envelope.body,
        message_id=envelope.message_id,
        content_type=envelope.content_type,
        correlation_id=envelope.correlation_id,
        subject=envelope.subject,
        label=envelope.subject,
        application_properties=properties,
        user_properties=dict(properties),
        delivery_count=locked.delivery_count,
        lock_token=locked.lock_token,
        locked_until=locked.locked_until,
        sequence_number=locked.sequence_number,
        enqueued_time_utc=locked.enqueued_time,
        scheduled_enqueue_time_utc=locked.scheduled_enqueue_time,
        to=queue_name,
        dead_letter_reason=properties.get("DeadLetterReason"),
        dead_letter_error_description=properties.get("DeadLetterErrorDescription"),
    )


__all__ = [
    "DEAD_LETTER_SUBQUEUE",
    "DEFAULT_DUPLICATE_WINDOW",
    "DEFAULT_LOCK_DURATION",
    "DEFAULT_MAX_DELIVERY_COUNT",
    "MAX_DELIVERY_COUNT_EXCEEDED",
    "DeadLetter",
    "Envelope",
    "InMemoryJobQueue",
    "LockedMessage",
    "MessageLockLost",
    "to_function_message",
    "utc_now",
]
