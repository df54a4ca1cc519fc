"""A job as a Service Bus message and back: the pure translations the adapter (`queue.py`), the queue trigger and
the in-memory queue of `local/fakes/` share, so the three can never disagree on a message's shape.

Why apart from the adapter: the queue trigger decodes every delivered message but never sends one; importing this
module costs no SDK (`azure.servicebus` is imported inside `to_service_bus_message` only).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from shared.domain.jobs import InvalidJobMessage, JobCommand, JobMessage, parse_command

if TYPE_CHECKING:
    from azure.servicebus import ServiceBusMessage

CONTENT_TYPE = "application/json"


def message_fields(job: JobMessage) -> dict[str, Any]:
    """The Service Bus message properties of a job, shared by the adapter and the in-memory queue so they agree.

    `subject` and the `kind`/`version` application properties repeat what the body says so that an operator can
    filter and read the queue (portal, Service Bus Explorer) without decoding bodies; the body stays authoritative.
    """
    return {
        "body": job.to_json(),
        "message_id": job.message_id,
        "content_type": CONTENT_TYPE,
        "subject": job.kind.value,
        "application_properties": {"kind": job.kind.value, "version": job.version},
    }


def to_service_bus_message(job: JobMessage) -> ServiceBusMessage:
    from azure.servicebus import ServiceBusMessage  # noqa: PLC0415

    return ServiceBusMessage(**message_fields(job))


class FunctionMessage(Protocol):
    """What the trigger receives (`azure.functions.ServiceBusMessage`), as far as decoding a job needs it."""

    @property
    def content_type(self) -> str | None: ...
    @property
    def application_properties(self) -> dict[str, Any]: ...
    def get_body(self) -> bytes: ...


def job_from_function_message(message: FunctionMessage) -> JobMessage:
    """Decode a delivered message; `InvalidJobMessage` means junk, to dead-letter rather than retry."""
    content_type = message.content_type
    if content_type and content_type.split(";")[0].strip().lower() != CONTENT_TYPE:
        raise InvalidJobMessage(f"job messages are {CONTENT_TYPE}, got {content_type!r}")
    job = JobMessage.from_json(message.get_body())
    properties = message.application_properties or {}
    # The properties are a copy of the body's header: disagreement means someone else built this message.
    for name, expected in (("kind", job.kind.value), ("version", job.version)):
        if name in properties and str(properties[name]) != str(expected):
            raise InvalidJobMessage(f"application property {name}={properties[name]!r} contradicts the body")
    return job


def command_from_function_message(message: FunctionMessage) -> JobCommand:
    """The delivered message's command, parsed once here (envelope, then the kind's payload); `InvalidJobMessage`
    names what is wrong with it."""
    return parse_command(job_from_function_message(message))
