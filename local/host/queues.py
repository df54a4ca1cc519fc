"""Service Bus delivery in the local host: peek-lock, complete on success, abandon on failure, dead-letter at 10.

Why this shape: it is what the Functions Service Bus extension does with `autoCompleteMessages: true` (our
host.json), and the queue-triggered code is only right if it survives it: a failure comes straight back with
`delivery_count` one higher, the tenth failure goes to the dead-letter queue, a long run keeps its lock (renewed
up to `maxAutoLockRenewalDuration`), and up to `maxConcurrentCalls` messages run at once. The semantics live in
`InMemoryJobQueue` (shared with the unit tests and fed by `local/host/broker.py` from the real SDK); this module only
drives it the way the extension does.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from datetime import UTC, datetime
from queue import Empty, SimpleQueue
from typing import Any, ClassVar

from local.fakes.queue import (
    DEAD_LETTER_SUBQUEUE,
    DEFAULT_MAX_DELIVERY_COUNT,
    Envelope,
    InMemoryJobQueue,
    LockedMessage,
    MessageLockLost,
    to_function_message,
)
from local.host.chaos import Chaos, DeliveryPlan, WorkerCrashed, crash_point
from local.host.functions import QueueFunction
from local.host.settings import HostConfig

LOG = logging.getLogger("local.host")
RECEIVE_WAIT_SECONDS = 0.25  # how long a worker waits for a message before checking whether the host stops
RENEW_CHECK_SECONDS = 1.0


class HostQueues:
    """The host's queues by name, one `InMemoryJobQueue` each (max delivery count 10, Service Bus's default).

    The mapping is live: `local/host/broker.py` resolves queue names through it, so a queue declared later is reachable
    over AMQP too. In-process senders use `HostQueues.for_name(name)` (the queues of the host running in this
    process); as in Service Bus, a name nobody declared does not exist.
    """

    _running: ClassVar[HostQueues | None] = None

    def __init__(self, max_delivery_count: int = DEFAULT_MAX_DELIVERY_COUNT) -> None:
        self.max_delivery_count = max_delivery_count
        self.queues: dict[str, InMemoryJobQueue] = {}
        self._lock = threading.Lock()

    def declare(self, name: str) -> InMemoryJobQueue:
        """A queue by name; `<queue>/$deadletterqueue` is that queue's dead-letter subqueue (a trigger may read it)."""
        main, _, sub = name.partition("/")
        if sub == DEAD_LETTER_SUBQUEUE:
            dead = self.declare(main).dead_letter_subqueue()
            with self._lock:
                self.queues[name] = dead
            return dead
        with self._lock:
            if name not in self.queues:
                self.queues[name] = InMemoryJobQueue(max_delivery_count=self.max_delivery_count, queue_name=name)
            return self.queues[name]

    def get(self, name: str) -> InMemoryJobQueue:
        try:
            return self.queues[name]
        except KeyError:
            raise LookupError(f"no queue {name!r} in the local host (known: {sorted(self.queues)})") from None

    def make_running(self) -> None:
        HostQueues._running = self

    def stop_running(self) -> None:
        if HostQueues._running is self:
            HostQueues._running = None

    @classmethod
    def running(cls) -> HostQueues:
        if cls._running is None:
            raise LookupError("no local Functions host is running in this process")
        return cls._running

    @classmethod
    def for_name(cls, name: str) -> InMemoryJobQueue:
        return cls.running().get(name)


def _body(body: bytes) -> dict[str, Any]:
    try:
        return {"body": body.decode("utf-8")}
    except UnicodeDecodeError:
        return {"bodyBase64": base64.b64encode(body).decode("ascii")}


def _envelope_json(envelope: Envelope) -> dict[str, Any]:
    return {"messageId": envelope.message_id, "contentType": envelope.content_type, "subject": envelope.subject,
            "correlationId": envelope.correlation_id, "applicationProperties": dict(envelope.application_properties),
            **_body(envelope.body)}  # fmt: skip


def queue_snapshot(name: str, queue: InMemoryJobQueue) -> dict[str, Any]:
    """What `GET /admin/queues/{name}` shows: active (visible or locked), scheduled and dead-lettered messages."""
    active = [_envelope_json(envelope) for envelope in queue.active_messages()]
    scheduled = [
        {**_envelope_json(envelope), "scheduledEnqueueTime": at.isoformat()}
        for envelope, at in queue.scheduled_messages()
    ]
    dead = [
        {**_envelope_json(d.envelope), "deadLetterReason": d.reason, "deadLetterErrorDescription": d.description,
         "deliveryCount": d.delivery_count, "sequenceNumber": d.sequence_number,
         "deadLetteredAt": d.dead_lettered_at.isoformat()}
        for d in queue.dead_letters()
    ]  # fmt: skip
    return {
        "name": name,
        "maxDeliveryCount": queue.max_delivery_count,
        "counts": {"active": len(active), "scheduled": len(scheduled), "deadLettered": len(dead)},
        "active": active,
        "scheduled": scheduled,
        "deadLettered": dead,
    }


def envelope_from_admin(payload: dict[str, Any], message_id: str) -> tuple[Envelope, datetime | None]:
    """An admin request body (`{"input": ..., "messageId"?, "contentType"?, "subject"?, "applicationProperties"?,
    "scheduledEnqueueTime"?}`) as a message; a non-string input is sent as its JSON text."""
    data = payload.get("input", "")
    text = data if isinstance(data, str) else json.dumps(data)
    default_type = None if isinstance(data, str) else "application/json"
    at = payload.get("scheduledEnqueueTime")
    envelope = Envelope(
        body=text.encode("utf-8"),
        message_id=str(payload.get("messageId") or message_id),
        content_type=payload.get("contentType", default_type),
        subject=payload.get("subject"),
        correlation_id=payload.get("correlationId"),
        application_properties=dict(payload.get("applicationProperties") or {}),
    )
    when = datetime.fromisoformat(at) if at else None
    return envelope, when.replace(tzinfo=UTC) if when is not None and when.tzinfo is None else when


class QueueRunner:
    """Receives one queue's messages for one function and runs up to `max_concurrent_calls` of them at once.

    One receiver thread polls the queue (only when a worker is free, so no message sits locked in a local buffer,
    as with `prefetchCount: 0`) and renews the locks of running messages; daemon workers run the function, so a
    stuck function never keeps the process from exiting.
    """

    def __init__(
        self,
        function: QueueFunction,
        queue: InMemoryJobQueue,
        config: HostConfig,
        stopping: threading.Event,
        chaos: Chaos | None = None,
    ) -> None:
        self.function, self.queue, self.config, self.stopping = function, queue, config, stopping
        self.chaos = chaos
        self.workers = config.max_concurrent_calls
        self._slots = threading.BoundedSemaphore(self.workers)
        self._work: SimpleQueue[LockedMessage] = SimpleQueue()
        self._held: dict[str, tuple[float, float]] = {}  # lock token -> (received, last renewed), monotonic
        self._held_lock = threading.Lock()
        name = function.name
        self.threads = [threading.Thread(target=self._receive, name=f"receive-{name}", daemon=True)]
        self.threads += [
            threading.Thread(target=self._run_worker, name=f"queue-{name}-{n}", daemon=True)
            for n in range(self.workers)
        ]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def join(self, deadline: float) -> None:
        """Wait (until `deadline`) for the receiver to stop and the running invocations to end."""
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _receive(self) -> None:
        renewed_at = time.monotonic()
        check_every = min(RENEW_CHECK_SECONDS, self.queue.lock_duration.total_seconds() / 4)
        while not self.stopping.is_set():
            if time.monotonic() - renewed_at >= check_every:
                self._renew_locks()
                renewed_at = time.monotonic()
            if not self._slots.acquire(timeout=min(RECEIVE_WAIT_SECONDS, check_every)):
                continue
            received = self.queue.receive(1, max_wait_time=min(RECEIVE_WAIT_SECONDS, check_every))
            if received:
                now = time.monotonic()
                with self._held_lock:
                    self._held[received[0].lock_token] = (now, now)
                self._work.put(received[0])
            else:
                self._slots.release()

    def _run_worker(self) -> None:
        while not self.stopping.is_set():
            try:
                locked = self._work.get(timeout=RECEIVE_WAIT_SECONDS)
            except Empty:
                continue
            try:
                self._deliver(locked)
            finally:
                with self._held_lock:
                    self._held.pop(locked.lock_token, None)
                self._slots.release()

    def _deliver(self, locked: LockedMessage) -> None:
        message = to_function_message(locked, self.function.queue_name)
        reason = f"New ServiceBus message detected on '{self.function.queue_name}'."
        plan = self.chaos.plan(locked.delivery_count) if self.chaos else DeliveryPlan()
        try:
            with crash_point(plan.crash_after):
                self.function.invoker.invoke(message, reason)
            succeeded = True
            if plan.duplicate and self.chaos:  # the same message once more, as a duplicate delivery would
                self.chaos.count("duplicated")
                self.function.invoker.invoke(to_function_message(locked, self.function.queue_name), reason)
        except WorkerCrashed as crashed:  # local chaos only: the work stopped mid-way, the message comes back
            LOG.warning("chaos: %s (message %s)", crashed, locked.envelope.message_id)
            if self.chaos:
                self.chaos.count("crashed")
            succeeded = False
        except Exception:  # logged by the invoker; the message goes back, as with autoCompleteMessages
            succeeded = False
        if succeeded and plan.lose_completion and self.chaos:
            self.chaos.count("lostCompletions")
            succeeded = False
        with self._held_lock:
            self._held.pop(locked.lock_token, None)
        try:
            if succeeded:
                self.queue.complete(locked.lock_token)
            else:
                self.queue.abandon(locked.lock_token)
        except MessageLockLost:
            LOG.warning("lock lost on message %s: it is delivered again", locked.envelope.message_id)

    def _renew_locks(self) -> None:
        """Renew a running message's lock at half its duration, for at most `maxAutoLockRenewalDuration`."""
        half_lock = self.queue.lock_duration.total_seconds() / 2
        limit = self.config.max_lock_renewal.total_seconds()
        now = time.monotonic()
        with self._held_lock:
            due = [
                token
                for token, (got, renewed) in self._held.items()
                if now - renewed >= half_lock and now - got < limit
            ]
        for token in due:
            try:
                self.queue.renew_lock(token)
            except MessageLockLost:
                continue
            with self._held_lock:
                if token in self._held:
                    self._held[token] = (self._held[token][0], now)
