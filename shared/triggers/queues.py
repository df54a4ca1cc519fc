"""The `sync-jobs` queue trigger: one message is one unit of work (a mapping run, a match-based coupling).

A message that is not a job of a known kind and version is logged and completed (it would fail the same way ten
times); a transient failure raises so Service Bus redelivers it; any other failure raises too and, after the
queue's max delivery count, lands in the dead-letter queue with the reason in the log.
"""

from __future__ import annotations

import logging

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
        log.error("dropping message %s: %s", message.message_id, junk)
        return
    context = get_services().context
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
        log.error("job kind %s has no handler yet; message %s completed", job.kind, job.message_id)
