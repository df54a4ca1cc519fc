"""The `sync-jobs` queue trigger: one message is one unit of work (a mapping run, a match-based coupling, a
full-sync chunk); and the trigger on its dead-letter subqueue, which records what was given up on.

Every failure raises: a transient one so Service Bus redelivers the message; any other one (also a message that is
not a job of a known kind and version) lands, after the queue's max delivery count, in the dead-letter queue with
the reason in the log. A Python trigger cannot dead-letter at once without the SDK-type bindings, and completing a
junk message would lose it; ten quick failures of a rare junk message are the cheaper price.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import azure.functions as func

blueprint = func.Blueprint()  # type: ignore[no-untyped-call]
log = logging.getLogger("bc_sales_sync.queue")


@blueprint.service_bus_queue_trigger(
    arg_name="message", queue_name="%SYNC_JOBS_QUEUE%", connection="ServiceBusConnection"
)
def sync_job(message: func.ServiceBusMessage) -> None:
    from shared.bootstrap import get_services
    from shared.domain.jobs import InvalidJobMessage, JobKind
    from shared.queue import job_from_function_message
    from shared.services.incremental import run_mapping
    from shared.services.matching import match_and_couple

    try:
        job = job_from_function_message(message)
    except InvalidJobMessage as junk:
        # Raised, not swallowed: the trigger cannot dead-letter by itself (no SDK settlement here), so the message
        # is redelivered until the max delivery count and then lands in the dead-letter queue, kept for an admin
        # to read, instead of being completed and lost.
        log.error("invalid job message %s (delivery %s): %s", message.message_id, message.delivery_count, junk)
        raise
    services = get_services()
    context = services.context
    mapping = str(job.payload.get("mapping", ""))
    if job.kind is JobKind.MAPPING_RUN:
        run_mapping(context, mapping)
    elif job.kind is JobKind.MATCH_COUPLING:
        match_and_couple(
            context,
            mapping,
            create_if_no_match=job.payload.get("createIfNoMatch"),
            synchronize_after=job.payload.get("synchronizeAfter"),
            job_id=job.message_id,
        )
    else:
        full_sync_chunk(services, job.payload, message.delivery_count or 1, job.message_id)


def full_sync_chunk(services: Any, payload: Mapping[str, Any], delivery_count: int, message_id: str = "") -> None:
    """Chunk 0 splits a line into chunks, any other chunk synchronizes its records. A chunk still throttled after
    the HTTP client's retries is sent again, scheduled after the service's `Retry-After`, and this delivery
    completes. On the last delivery a failure also fails the line with the reason (the message then goes to the
    dead-letter queue), so the review shows it."""
    from shared.domain.errors import SyncError
    from shared.services.full_sync import MAX_DELIVERIES, FullSync

    full_sync = FullSync(services.context, services.runs, services.queue)
    run_id, mapping, chunk = str(payload.get("runId")), str(payload.get("mapping")), int(payload.get("chunk", 0))
    try:
        if chunk == 0:
            full_sync.split(run_id, mapping, int(payload.get("attempt", 0)), int(payload.get("phase", 0)))
        else:
            full_sync.run_chunk(run_id, mapping, chunk, payload)
    except Exception as error:
        retry_after = getattr(error, "retry_after", None) if isinstance(error, SyncError) else None
        throttled = isinstance(error, SyncError) and error.is_transient and isinstance(retry_after, int | float)
        if throttled and message_id and full_sync.reschedule(message_id, payload, float(retry_after or 0)):
            log.warning("full sync %s/%s chunk %s throttled: again in %ss", run_id, mapping, chunk, retry_after)
            return
        if delivery_count >= MAX_DELIVERIES:
            log.error("full sync %s/%s chunk %s failed for good: %s", run_id, mapping, chunk, error)
            full_sync.fail_chunk(run_id, mapping, chunk, error)
        raise


@blueprint.service_bus_queue_trigger(
    arg_name="message", queue_name="%SYNC_JOBS_QUEUE%/$deadletterqueue", connection="ServiceBusConnection"
)
def dead_lettered_job(message: func.ServiceBusMessage) -> None:
    """A job Service Bus gave up on. A full-sync chunk fails its line with the reason (the review shows it, the
    dependents stop, a restart re-sends it), also when the worker died on its last delivery before it could say so
    itself; any other job is logged with the reason (the next timer run does that work again). The message is
    completed after that: what it meant is recorded, and a restart re-sends the chunk. (The `/$deadletterqueue`
    path for a Functions trigger: UNCONFIRMED in our references, the documented subqueue path of Service Bus.)"""
    from shared.bootstrap import get_services
    from shared.domain.jobs import InvalidJobMessage, JobKind
    from shared.queue import job_from_function_message
    from shared.services.full_sync import FullSync

    reason = message.dead_letter_reason or "dead-lettered"
    described = (
        f"{reason}: {message.dead_letter_error_description}" if message.dead_letter_error_description else reason
    )
    try:
        job = job_from_function_message(message)
    except InvalidJobMessage as junk:
        log.error("dead-lettered message %s is no job (%s): %s", message.message_id, described, junk)
        return
    if job.kind is not JobKind.FULL_SYNC_CHUNK:
        log.error("dead-lettered %s job %s (%s)", job.kind.value, job.message_id, described)
        return
    services = get_services()
    payload = job.payload
    full_sync = FullSync(services.context, services.runs, services.queue)
    run_id, mapping, chunk = str(payload.get("runId")), str(payload.get("mapping")), int(payload.get("chunk", 0))
    log.error("full sync %s/%s chunk %s dead-lettered (%s)", run_id, mapping, chunk, described)
    full_sync.record_dead_letter(run_id, mapping, chunk, int(payload.get("attempt", 0)), described)
