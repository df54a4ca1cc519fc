"""The `sync-jobs` queue trigger: one message is one unit of work (a mapping run, a match-based coupling).

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
        full_sync_chunk(services, job.payload, message.delivery_count or 1)


def full_sync_chunk(services: Any, payload: Mapping[str, Any], delivery_count: int) -> None:
    """Chunk 0 splits a line into chunks, any other chunk synchronizes its records. On the last delivery a failure
    also fails the line with the reason (the message then goes to the dead-letter queue), so the review shows it."""
    from shared.services.full_sync import MAX_DELIVERIES, FullSync

    full_sync = FullSync(services.context, services.runs, services.queue)
    run_id, mapping, chunk = str(payload.get("runId")), str(payload.get("mapping")), int(payload.get("chunk", 0))
    try:
        if chunk == 0:
            full_sync.split(run_id, mapping, int(payload.get("attempt", 0)), int(payload.get("phase", 0)))
        else:
            full_sync.run_chunk(run_id, mapping, chunk, payload)
    except Exception as error:
        if delivery_count >= MAX_DELIVERIES:
            log.error("full sync %s/%s chunk %s failed for good: %s", run_id, mapping, chunk, error)
            full_sync.fail_chunk(run_id, mapping, chunk, error)
        raise
