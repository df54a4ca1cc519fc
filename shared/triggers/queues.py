"""The `sync-jobs` queue trigger: one message is one unit of work (a mapping run, a match-based coupling, a
full-sync chunk) of the company its payload names (the primary when it names none); and the trigger on its
dead-letter subqueue, which records what was given up on. A thin adapter:
the message is parsed once into its command (`connectors/service_bus/messages.py`, `command_from_function_message`),
and `services/job_handlers.py` does the work and owns the retry and last-delivery policy.

Every failure raises: a transient one so Service Bus redelivers the message; any other one lands, after the queue's
max delivery count, in the dead-letter queue. A message that is no command (junk, an unknown kind or version, a
payload its kind cannot run) is refused before the services are built, with the reason in the log, and raises too:
a Python trigger cannot dead-letter at once without the SDK-type bindings (`ServiceBusMessageActions`), and
completing it would lose it; so each of its deliveries costs no I/O, and the dead-letter trigger logs the same
reason next to Service Bus's.
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
    from shared.bootstrap import UnknownCompany, full_sync_for, run_services
    from shared.connectors.service_bus.messages import command_from_function_message
    from shared.domain.jobs import FullSyncChunk, InvalidJobMessage
    from shared.services.job_handlers import JobHandler

    try:
        command = command_from_function_message(message)
    except InvalidJobMessage as junk:
        log.error("refused job message %s (delivery %s): %s", message.message_id, message.delivery_count, junk)
        raise
    try:  # the company's services ("company" in the payload; the primary's when left out)
        services = run_services(command.run_id if isinstance(command, FullSyncChunk) else None, command.company)
    except UnknownCompany as gone:  # a company no longer configured: nothing can run it, here or later
        log.error("refused job message %s (delivery %s): %s", message.message_id, message.delivery_count, gone)
        raise
    from shared.triggers.document_timers import PROCESS_RUNS  # what a `processRun` runs (issue 23)

    handler = JobHandler(services.context, services.runs, services.queue, full_sync_for(services), PROCESS_RUNS)
    handler.handle(command, message.delivery_count or 1)


@blueprint.service_bus_queue_trigger(
    arg_name="message", queue_name="%SYNC_JOBS_QUEUE%/$deadletterqueue", connection="ServiceBusConnection"
)
def dead_lettered_job(message: func.ServiceBusMessage) -> None:
    """A job Service Bus gave up on. A full-sync chunk fails its line with the reason (the review shows it, the
    dependents stop, a restart re-sends it), also when the worker died on its last delivery before it could say so
    itself; any other job is logged with the reason (the next timer run does that work again). The message is
    completed after that: what it meant is recorded, and a restart re-sends the chunk. (The `/$deadletterqueue`
    path for a Functions trigger: UNCONFIRMED in our references, the documented subqueue path of Service Bus.)"""
    from shared.bootstrap import full_sync_for, run_services
    from shared.connectors.service_bus.messages import command_from_function_message
    from shared.domain.jobs import InvalidJobMessage
    from shared.services.job_handlers import JobHandler

    reason = message.dead_letter_reason or "dead-lettered"
    described = (
        f"{reason}: {message.dead_letter_error_description}" if message.dead_letter_error_description else reason
    )
    try:
        command = command_from_function_message(message)
    except InvalidJobMessage as junk:
        log.error("dead-lettered message %s is no job (%s): %s", message.message_id, described, junk)
        return
    from shared.bootstrap import UnknownCompany

    try:
        services = run_services(company_key=command.company)
    except UnknownCompany as gone:
        log.error("dead-lettered message %s is for no configured company (%s): %s", message.message_id, described, gone)
        return
    JobHandler(services.context, services.runs, services.queue, full_sync_for(services)).dead_lettered(
        command, described
    )
