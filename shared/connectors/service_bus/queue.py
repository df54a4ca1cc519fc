"""The `JobQueue` port's Service Bus adapter: sends jobs (now or scheduled), pings the queue, counts its messages,
and turns the SDK's exceptions into the domain's transient and fatal errors (`domain_error`).

Why `azure.servicebus` is imported inside methods only: the Functions host imports `function_app` (and through the
blueprints, this module) on every cold start, and the SDK with its AMQP stack is the heaviest import we have; a
process that only serves HTTP never pays for it.

Why a connection string is refused unless it names the development emulator: in Azure the app authenticates with
its managed identity (namespace + credential, role "Azure Service Bus Data Sender"), so a key in app settings can
only be a mistake; the emulator (and `local/host/broker.py`) has no identity, hence `UseDevelopmentEmulator=true`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.connectors.service_bus.messages import to_service_bus_message
from shared.domain.errors import FatalError, SyncError, TransientError
from shared.domain.jobs import JobMessage
from shared.ports import QueueCounts

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.servicebus import ServiceBusClient, ServiceBusMessage, ServiceBusMessageBatch, ServiceBusSender
    from azure.servicebus.management import ServiceBusAdministrationClient

# A schedule request wraps every message in a map inside one management message; leave room for that envelope.
SCHEDULE_HEADROOM = 0.9


def is_development_emulator(connection_string: str) -> bool:
    """True only for `UseDevelopmentEmulator=true`, read the way azure-servicebus reads it (key in any case, value
    exactly `true`): another spelling would make the SDK use TLS against a plain-text emulator."""
    for part in connection_string.strip().rstrip(";").split(";"):
        key, _, value = part.partition("=")
        if key.strip().lower() == "usedevelopmentemulator":
            return value == "true"
    return False


def _utc_now() -> datetime:
    return datetime.now(UTC)


class ServiceBusJobQueue:
    """`JobQueue` on a Service Bus queue. The client is built on the first send and reused (one AMQP connection
    per worker); sends are serialised because a `ServiceBusSender` is not thread-safe."""

    def __init__(
        self,
        queue_name: str,
        *,
        connection_string: str | None = None,
        fully_qualified_namespace: str | None = None,
        credential: TokenCredential | None = None,
        clock: Callable[[], datetime] = _utc_now,
        client_options: Mapping[str, Any] | None = None,
    ) -> None:
        if not queue_name:
            raise FatalError("QueueConfiguration", "a queue name is required")
        if connection_string is not None:
            if fully_qualified_namespace or credential is not None:
                raise FatalError("QueueConfiguration", "give a connection string or a namespace, not both")
            if not is_development_emulator(connection_string):
                raise FatalError(
                    "QueueConfiguration",
                    "a Service Bus connection string is accepted only for the development emulator "
                    "(UseDevelopmentEmulator=true); in Azure use the namespace and the managed identity",
                )
        elif not (fully_qualified_namespace and credential is not None):
            raise FatalError("QueueConfiguration", "a fully qualified namespace and a credential are required")
        self.queue_name = queue_name
        self._connection_string = connection_string
        self._namespace = fully_qualified_namespace
        self._credential = credential
        self._clock = clock
        self._client_options = dict(client_options or {})
        self._client: ServiceBusClient | None = None
        self._sender: ServiceBusSender | None = None
        self._admin: ServiceBusAdministrationClient | None = None
        self._lock = threading.Lock()

    def send(self, messages: Sequence[JobMessage], *, delay: timedelta | None = None) -> None:
        """Send in as few batches as fit; with `delay`, schedule them instead (a delayed retry).

        A message id repeated within the call is sent once: duplicate detection would drop it anyway, but only on a
        queue created with `requiresDuplicateDetection`, and it would still cost batch space. A failure part-way
        (some batches sent) is safe to retry in full for the same reason: the sent ones come back as duplicates.
        """
        unique: list[JobMessage] = []
        seen: set[str] = set()
        for job in messages:
            if job.message_id not in seen:
                seen.add(job.message_id)
                unique.append(job)
        if not unique:
            return
        from azure.core.exceptions import AzureError  # noqa: PLC0415

        with self._lock:
            try:
                sender = self._get_sender()
                outgoing = [to_service_bus_message(job) for job in unique]
                if delay is None:
                    for batch, _ in self._pack(sender, outgoing, None):
                        sender.send_messages(batch)
                else:
                    at = self._clock() + delay
                    limit = int(sender.create_message_batch().max_size_in_bytes * SCHEDULE_HEADROOM)
                    for _, group in self._pack(sender, outgoing, limit):
                        sender.schedule_messages(group, at)
            except AzureError as error:
                raise domain_error(error) from error

    def ping(self) -> None:
        """Open the sender's link if it is not open yet (namespace reachable, queue there, identity may send); an open
        link is taken as is. In Azure, `message_counts` then adds a fresh HTTPS round trip on every call."""
        from azure.core.exceptions import AzureError  # noqa: PLC0415

        with self._lock:
            try:
                self._get_sender().create_message_batch()
            except AzureError as error:
                raise domain_error(error) from error

    def message_counts(self) -> QueueCounts | None:
        """The queue's runtime properties through `ServiceBusAdministrationClient` (HTTPS, the management path). The
        identity needs `Microsoft.ServiceBus/namespaces/queues/read`; that the Data Sender/Receiver roles (which list
        `Microsoft.ServiceBus/*/queues/read`) suffice for this call is UNCONFIRMED: a refusal is reported as
        `ServiceBusUnauthorized`. None with a connection string: the development emulator and `local/host/broker.py`
        have no management endpoint."""
        if self._connection_string is not None:
            return None
        from azure.core.exceptions import AzureError, HttpResponseError  # noqa: PLC0415
        from azure.servicebus.management import ServiceBusAdministrationClient  # noqa: PLC0415

        try:
            if self._admin is None:
                assert self._namespace is not None and self._credential is not None
                self._admin = ServiceBusAdministrationClient(self._namespace, self._credential)
            found = self._admin.get_queue_runtime_properties(self.queue_name)
        except HttpResponseError as error:
            if error.status_code in (401, 403):
                raise FatalError("ServiceBusUnauthorized", "Service Bus refused to read the queue") from error
            if error.status_code == 404:
                raise FatalError("QueueNotFound", f"Service Bus has no queue {self.queue_name}") from error
            raise domain_error(error) from error
        except AzureError as error:
            raise domain_error(error) from error
        scheduled = found.scheduled_message_count or 0
        return QueueCounts(found.active_message_count or 0, found.dead_letter_message_count or 0, scheduled)

    def close(self) -> None:
        with self._lock:
            if self._sender is not None:
                self._sender.close()
            if self._client is not None:
                self._client.close()
            if self._admin is not None:
                self._admin.close()
            self._sender = self._client = self._admin = None

    def _get_sender(self) -> ServiceBusSender:
        if self._sender is None:
            from azure.servicebus import ServiceBusClient  # noqa: PLC0415

            if self._connection_string is not None:
                client = ServiceBusClient.from_connection_string(self._connection_string, **self._client_options)
            else:
                assert self._namespace is not None and self._credential is not None
                client = ServiceBusClient(self._namespace, self._credential, **self._client_options)
            self._client = client
            self._sender = client.get_queue_sender(self.queue_name)
        return self._sender

    @staticmethod
    def _pack(
        sender: ServiceBusSender, messages: Sequence[ServiceBusMessage], max_size: int | None
    ) -> list[tuple[ServiceBusMessageBatch, list[ServiceBusMessage]]]:
        """Fill batches in order; a message that does not fit starts the next one (the SDK measures the encoded
        size against the limit the broker announced on the link, so no size is guessed here)."""
        from azure.servicebus.exceptions import MessageSizeExceededError  # noqa: PLC0415

        groups: list[tuple[ServiceBusMessageBatch, list[ServiceBusMessage]]] = []
        batch = sender.create_message_batch(max_size)
        group: list[ServiceBusMessage] = []
        for message in messages:
            try:
                batch.add_message(message)
            except MessageSizeExceededError:
                if not group:
                    raise
                groups.append((batch, group))
                batch, group = sender.create_message_batch(max_size), []
                batch.add_message(message)  # alone in a fresh batch: too large is too large
            group.append(message)
        groups.append((batch, group))
        return groups


def domain_error(error: Exception) -> SyncError:
    """Transient when waiting may help (connection, timeout, busy, quota), fatal when only a person can fix it
    (identity, rights, missing or disabled queue, a job larger than a message). The SDK has already retried the
    transient ones with its own back-off; the queue trigger's delivery count bounds any further retry."""
    from azure.core.exceptions import ClientAuthenticationError  # noqa: PLC0415
    from azure.servicebus import exceptions as sb  # noqa: PLC0415

    fatal: dict[type[Exception], str] = {
        sb.ServiceBusAuthenticationError: "ServiceBusUnauthorized",
        sb.ServiceBusAuthorizationError: "ServiceBusUnauthorized",
        ClientAuthenticationError: "ServiceBusUnauthorized",
        sb.MessagingEntityNotFoundError: "QueueNotFound",
        sb.MessagingEntityDisabledError: "QueueDisabled",
        sb.MessageSizeExceededError: "JobMessageTooLarge",
    }
    transient: dict[type[Exception], str] = {
        sb.ServiceBusServerBusyError: "ServiceBusBusy",
        sb.OperationTimeoutError: "ServiceBusTimeout",
        sb.ServiceBusQuotaExceededError: "QueueQuotaExceeded",
        sb.ServiceBusConnectionError: "ServiceBusUnavailable",
        sb.ServiceBusCommunicationError: "ServiceBusUnavailable",
    }
    message = f"Service Bus: {error}"
    for kinds, error_type in ((fatal, FatalError), (transient, TransientError)):
        for cls, code in kinds.items():
            if isinstance(error, cls):
                return error_type(code, message)
    return TransientError("ServiceBusError", message)
