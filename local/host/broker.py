"""A small AMQP 1.0 broker that answers what the real azure-servicebus sender asks of Service Bus.

Why: Service Bus has no official local emulator we can run here, yet the adapter
(`shared/connectors/service_bus/queue.py`) should be exercised with the real SDK, its real batching (the SDK sizes
batches from the limit the broker announces on the link) and its real scheduling (a `com.microsoft:schedule-message`
request on the entity's `$management` node).
The SDK connects with `UseDevelopmentEmulator=true` (plain AMQP, no TLS), signs in with SASL ANONYMOUS and a
`put-token` on `$cbs`; this broker accepts any token.

Each accepted message goes to that queue's `InMemoryJobQueue`, which owns the Service Bus semantics (duplicate
detection, scheduled enqueue, peek-lock); the local host receives from it in-process (no AMQP receive here). An
unknown queue answers `amqp:not-found`, as Service Bus does for a missing entity.

Run: `python -m local.host.broker --port 5672 [--queue sync-jobs]` (logs what it accepts), or `start_broker()`
(a thread).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from proton import Array, Condition, Data, Delivery, Described, Endpoint, Link, Message, symbol
from proton.handlers import FlowController, IncomingMessageHandler, MessagingHandler
from proton.reactor import Container

from local.fakes.queue import Envelope, InMemoryJobQueue

LOG = logging.getLogger("local.host.broker")
STANDARD_MAX_MESSAGE_SIZE = 256 * 1024  # Service Bus Standard tier; the SDK makes batches of this size
CBS = "$cbs"
MANAGEMENT_SUFFIX = "/$management"
SCHEDULE = "com.microsoft:schedule-message"
SCHEDULED_TIME = "x-opt-scheduled-enqueue-time"
DATA_SECTION = 0x75
SECTION_DESCRIPTORS = range(0x70, 0x79)  # header .. footer: how an encoded message (a batch item) starts
STOP_POLL_SECONDS = 0.1
CLOSE_GRACE_SECONDS = 1.0  # how long a stop waits for the sockets it closed to be released
CREDIT = 100


def refusal(name: str, description: str) -> Condition:
    """An error with an `info` map, as Service Bus sends it: azure-servicebus 7.15 reads all three fields of a
    rejected outcome's error, and without `info` its callback fails and the send hangs instead of raising."""
    return Condition(name, description, {symbol("com.microsoft:tracking-id"): str(uuid.uuid4())})


def entity_of(address: str | None) -> str:
    """`amqps://host:port/sync-jobs` or `sync-jobs/$management` -> `sync-jobs`."""
    scheme, separator, rest = (address or "").partition("://")
    path = rest.partition("/")[2] if separator else scheme
    return path.removesuffix(MANAGEMENT_SUFFIX).strip("/")


def data_sections(payload: bytes) -> list[bytes]:
    """The contents of the data sections of an encoded message, copied out while the decoder is alive (proton
    hands out binaries as views into its own memory)."""
    found, offset = [], 0
    while offset < len(payload):
        data = Data()
        offset += data.decode(payload[offset:])
        data.rewind()
        data.next()
        section = data.get_object()
        if (
            isinstance(section, Described)
            and section.descriptor == DATA_SECTION
            and isinstance(section.value, bytes | memoryview)
        ):
            found.append(bytes(section.value))
    return found


def split_batch(payload: bytes) -> list[Message]:
    """A batch (message format 0x80013700, which proton's Python API does not expose) is a message whose data
    sections each hold a whole encoded message; anything else is one message."""
    bodies = data_sections(payload)
    if bodies and all(len(body) > 3 and body[:2] == b"\x00\x53" and body[2] in SECTION_DESCRIPTORS for body in bodies):
        messages = []
        for body in bodies:
            message = Message()
            message.decode(body)
            messages.append(message)
        return messages
    message = Message()
    message.decode(payload)
    return [message]


def plain(value: Any) -> Any:
    """proton's AMQP-typed values (`int32`, `symbol`, ...) as the plain Python values the host would give."""
    kind = next((kind for kind in (bool, int, float, str) if isinstance(value, kind)), None)
    return kind(value) if kind else bytes(value) if isinstance(value, bytes | memoryview) else value


def envelope_of(message: Message) -> tuple[Envelope, datetime | None]:
    body: Any = message.body
    raw = body.encode("utf-8") if isinstance(body, str) else bytes(body or b"")
    annotations: Mapping[Any, Any] = message.annotations or {}
    properties: Mapping[Any, Any] = message.properties or {}
    scheduled = annotations.get(SCHEDULED_TIME)
    at = datetime.fromtimestamp(int(scheduled) / 1000, UTC) if scheduled is not None else None
    envelope = Envelope(
        body=raw,
        message_id=str(message.id) if message.id is not None else "",
        content_type=str(message.content_type) if message.content_type else None,
        subject=message.subject or None,
        correlation_id=str(message.correlation_id) if message.correlation_id is not None else None,
        application_properties={str(key): plain(value) for key, value in properties.items()},
    )
    return envelope, at


class ServiceBusBroker(MessagingHandler):
    """The proton handler; every method runs on the container's one thread, so no locking here."""

    def __init__(self, queues: Mapping[str, InMemoryJobQueue], *, host: str = "127.0.0.1", port: int = 5672) -> None:
        super().__init__(prefetch=0, auto_accept=False)
        # Deliveries are read raw here (to split batches), so proton's decoding must not consume them first; and
        # credit is granted here, only to links that are not refused, so a refused sender never gets to send.
        children: list[Any] = self.__dict__["handlers"]  # set by MessagingHandler.__init__
        self.handlers = [h for h in children if not isinstance(h, IncomingMessageHandler | FlowController)]
        self.queues, self.host, self.port = queues, host, port
        self.stopping = threading.Event()
        self.listening = threading.Event()
        self.failure: OSError | None = None  # why the listener could not bind
        self.acceptor: Any = None  # proton's Acceptor, closed when stopping
        self.transports: set[Any] = set()  # open connections' transports, closed when stopping
        self.close_deadline = 0.0
        self.connections = 0  # AMQP connections opened, so tests can see that a client is reused
        self.transfers: list[tuple[int, int]] = []  # (messages, bytes) per transfer to a queue: the batches

    def on_start(self, event: Any) -> None:
        try:
            self.acceptor = event.container.listen(f"{self.host}:{self.port}")
        except OSError as error:  # reported by `start_broker` in one line, not a traceback from this thread
            self.failure = error
            self.listening.set()
            event.container.stop()
            return
        event.container.schedule(STOP_POLL_SECONDS, self)
        self.listening.set()

    def on_timer_task(self, event: Any) -> None:
        """Stopping closes the listener and every connection first, then ends the container once their sockets are
        released (or after `CLOSE_GRACE_SECONDS`): proton's `Container.stop()` alone leaves them open, so in-process
        the port stayed bound after `RunningBroker.stop()` and a broker could not start again on it."""
        if not self.stopping.is_set():
            event.container.schedule(STOP_POLL_SECONDS, self)
            return
        if self.acceptor is not None:
            self.acceptor.close()
            self.acceptor = None
            for transport in list(self.transports):
                transport.close_tail()
                transport.close_head()
            self.close_deadline = time.monotonic() + CLOSE_GRACE_SECONDS
        if self.transports and time.monotonic() < self.close_deadline:
            event.container.schedule(STOP_POLL_SECONDS / 5, self)
        else:
            event.container.stop()

    def on_transport_closed(self, event: Any) -> None:
        self.transports.discard(event.transport)

    def on_transport_error(self, event: Any) -> None:
        # A client that closes its socket without the closing handshake is routine here, not an error to print.
        LOG.debug("connection ended: %s", event.transport.condition)

    def on_connection_opening(self, event: Any) -> None:
        self.connections += 1

    def on_connection_bound(self, event: Any) -> None:
        self.transports.add(event.transport)
        sasl = event.transport.sasl()
        sasl.allow_insecure_mechs = True
        sasl.allowed_mechs("ANONYMOUS PLAIN")

    def on_link_opening(self, event: Any) -> None:
        """Echo the client's terminus (the handler opens the link after this); announce the Standard tier's
        message size on links we receive on, which is what the SDK sizes its batches by."""
        link: Link = event.link
        link.source.address = link.remote_source.address or ""
        link.target.address = link.remote_target.address or ""
        if link.is_receiver:
            link.max_message_size = STANDARD_MAX_MESSAGE_SIZE

    def on_link_opened(self, event: Any) -> None:
        """Refuse a link we cannot serve. A sender is not detached but has each transfer rejected with the error:
        the SDK sends before it reads a detach, and would report a detach as an unknown error, while it maps a
        rejected transfer's condition (`amqp:not-found`) to its own exception (`MessagingEntityNotFoundError`)."""
        link: Link = event.link
        condition = self._refusal(link)
        if link.is_receiver:
            link.flow(CREDIT)
        elif condition is not None:
            link.condition = condition
            link.close()

    def _refusal(self, link: Link) -> Condition | None:
        address = (link.remote_source.address if link.is_sender else link.remote_target.address) or ""
        if address == CBS:
            return None
        node = entity_of(address)
        if node not in self.queues:
            return refusal("amqp:not-found", f"The messaging entity '{node}' could not be found.")
        if link.is_sender and not address.endswith(MANAGEMENT_SUFFIX):
            return refusal("amqp:not-implemented", "this broker only accepts messages; receive in-process")
        return None

    def on_delivery(self, event: Any) -> None:
        delivery: Delivery = event.delivery
        link = delivery.link
        if not link.is_receiver or not delivery.readable or delivery.partial:
            return  # our replies are settled by the outgoing handler; partial transfers wait for the rest
        payload = link.recv(delivery.pending) or b""
        link.advance()
        address = link.remote_target.address or ""
        condition = self._refusal(link)
        try:
            if condition is None:
                self._handle(link, address, payload)
        except Exception as error:  # a broken message must not stop the broker
            LOG.exception("rejected a delivery on %s", address)
            condition = refusal("amqp:internal-error", str(error))
        if condition is not None:
            delivery.local.condition = condition
        delivery.update(Delivery.ACCEPTED if condition is None else Delivery.REJECTED)
        delivery.settle()
        link.flow(CREDIT - link.credit)

    def _handle(self, link: Link, address: str, payload: bytes) -> None:
        if address == CBS:
            self._reply(link, split_batch(payload)[0], {"status-code": 202, "status-description": "Accepted"})
        elif address.endswith(MANAGEMENT_SUFFIX):
            self._manage(link, split_batch(payload)[0])
        else:
            messages = split_batch(payload)
            for message in messages:
                self._enqueue(entity_of(address), *envelope_of(message))
            self.transfers.append((len(messages), len(payload)))

    def _enqueue(self, queue: str, envelope: Envelope, at: datetime | None) -> int:
        number = self.queues[queue].enqueue(envelope, scheduled_enqueue_time=at)
        state = "duplicate dropped" if number is None else f"#{number}" + (f" due {at:%H:%M:%S}" if at else "")
        LOG.info("%s %s %s", queue, state, envelope.message_id)
        return number or 0

    def _manage(self, link: Link, request: Message) -> None:
        properties: Mapping[str, Any] = request.properties or {}
        if properties.get("operation") != SCHEDULE:
            self._reply(link, request, {"statusCode": 501, "statusDescription": "not supported by the local broker"})
            return
        queue = entity_of(link.remote_target.address)
        numbers = []
        body: Any = request.body
        for item in body.get("messages", []) if isinstance(body, dict) else []:
            inner = Message()
            inner.decode(bytes(item["message"]))
            envelope, at = envelope_of(inner)
            numbers.append(self._enqueue(queue, envelope, at))
        answer = {symbol("sequence-numbers"): Array(Data.NULL, Data.LONG, *numbers)}
        self._reply(link, request, {"statusCode": 200, "statusDescription": "OK"}, answer)

    def _reply(self, link: Link, request: Message, status: dict[str, Any], body: Any = None) -> None:
        """Answer on this connection's link that receives from the same node (the SDK sets no reply-to)."""
        address = link.remote_target.address
        candidate = link.connection.link_head(Endpoint.LOCAL_ACTIVE)
        while candidate:
            if candidate.is_sender and candidate.remote_source.address == address:
                candidate.send(Message(correlation_id=request.id, properties=status, body=body))
                return
            candidate = candidate.next(Endpoint.LOCAL_ACTIVE)
        LOG.warning("no reply link for %s", address)


class RunningBroker:
    """A broker on its own thread; `stop()` ends it (the container is stopped from its own thread)."""

    def __init__(self, handler: ServiceBusBroker) -> None:
        self.handler = handler
        self.thread = threading.Thread(target=Container(handler).run, name="local-broker", daemon=True)

    @property
    def connection_string(self) -> str:
        host = "localhost" if self.handler.host in ("127.0.0.1", "0.0.0.0") else self.handler.host  # noqa: S104
        return (
            f"Endpoint=sb://{host}:{self.handler.port};SharedAccessKeyName=RootManageSharedAccessKey;"
            "SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true"
        )

    def stop(self, timeout: float = 5.0) -> None:
        self.handler.stopping.set()
        self.thread.join(timeout)


def start_broker(
    queues: Mapping[str, InMemoryJobQueue], *, host: str = "127.0.0.1", port: int = 5672, timeout: float = 5.0
) -> RunningBroker:
    running = RunningBroker(ServiceBusBroker(queues, host=host, port=port))
    running.thread.start()
    if not running.handler.listening.wait(timeout):
        raise TimeoutError(f"the local broker did not start on {host}:{port}")
    if running.handler.failure is not None:
        running.thread.join(timeout)
        reason = running.handler.failure.strerror or str(running.handler.failure)
        raise OSError(f"the local Service Bus broker cannot listen on {host}:{port}: {reason}")
    return running


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local AMQP broker for the azure-servicebus sender")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5672)
    parser.add_argument("--queue", action="append", help="queue name (repeatable; default sync-jobs)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    queues = {name: InMemoryJobQueue(queue_name=name) for name in args.queue or ["sync-jobs"]}
    handler = ServiceBusBroker(queues, host=args.host, port=args.port)
    LOG.info("listening on %s:%s for %s", args.host, args.port, ", ".join(queues))
    with contextlib.suppress(KeyboardInterrupt):
        Container(handler).run()


if __name__ == "__main__":
    main()
