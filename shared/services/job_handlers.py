"""What a `sync-jobs` command does, and the retry policy of each: the queue trigger parses a delivery into its
command (`domain/jobs.py`) and hands it here with its delivery count.

The policy, per command:
- `RunMapping`, `MatchCoupling`: any failure raises, so Service Bus delivers the message again; after the queue's
  max delivery count it is dead-lettered (the next timer run, or the admin, does that work again).
- `FullSyncChunk`: a chunk still throttled after the HTTP client's own retries is sent again, scheduled after the
  service's `Retry-After`, and this delivery completes (ten immediate redeliveries would dead-letter it within a
  second of throttling). On the last delivery (`MAX_DELIVERIES`) a failure first fails the chunk's line with the
  reason, so the review shows it; the message then goes to the dead-letter queue.
- `RunProcess`: one run of a sales document process for the company (what its timer runs), through the function
  the queue trigger hands in (`processes`: the services may not import the processes, the trigger wires them from
  `triggers/document_timers.PROCESS_RUNS`); a failure raises, as for a mapping run (the timer stays the net). A
  process no function is wired for is a `FatalError` (a deployment fault, dead-lettered with that reason).
- `UncoupleAll`: every coupling of a mapping removed, its progress on its job entry (`services/uncouple_all.py`); a
  failure is recorded there and raises, and the next delivery goes on from what is still coupled.
- `FindDeleted`: BC's "Find for Deleted" of a mapping, its progress on its job entry
  (`services/find_deleted_job.py`); a failure is recorded there and raises, and the next delivery finds again (the
  find records each entry once); a finished job delivered again does nothing.
- A `RunMapping` whose message id starts with `wake/` was sent by a notification (`services/wake.py`): its job
  entry says `wake`; any other says `queue` (`RunTrigger`).
- A command dead-lettered anyway (also when the worker died on its last delivery before it could say so):
  `dead_lettered` fails a chunk's line with Service Bus's reason; any other command is only logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.domain.errors import FatalError, SyncError
from shared.domain.jobs import (
    FindDeleted,
    FullSyncChunk,
    JobCommand,
    MatchCoupling,
    RunMapping,
    RunProcess,
    UncoupleAll,
)
from shared.domain.records import RunTrigger
from shared.engine.context import SyncContext
from shared.engine.mapping_run import run_mapping
from shared.ports import JobQueue, RunStore
from shared.services.find_deleted_job import run_find_deleted
from shared.services.full_sync.coordinator import MAX_DELIVERIES, FullSync
from shared.services.matching import match_and_couple
from shared.services.uncouple_all import run_uncouple_all
from shared.services.wake import WAKE_PREFIX

log = logging.getLogger("bc_sales_sync.queue")


@dataclass(frozen=True)
class JobHandler:
    """The ports a command needs; one per delivery (it holds no state of its own)."""

    context: SyncContext
    runs: RunStore
    queue: JobQueue
    full_sync: FullSync | None = None  # the deployment's (`bootstrap.full_sync_for`: its chunk size and stall limit)
    # process name -> its run for one company (`triggers/document_timers.PROCESS_RUNS`), for `RunProcess`
    processes: Mapping[str, Callable[[SyncContext], Any]] = field(default_factory=dict)

    def _full_sync(self) -> FullSync:
        return self.full_sync or FullSync(self.context, self.runs, self.queue)

    def handle(self, command: JobCommand, delivery_count: int = 1) -> None:
        """Do the command's work; raises for Service Bus to deliver it again (see the module for when not)."""
        if isinstance(command, RunMapping):
            woken = command.message_id.startswith(WAKE_PREFIX)
            run_mapping(self.context, command.mapping, trigger=RunTrigger.WAKE if woken else RunTrigger.QUEUE)
        elif isinstance(command, RunProcess):
            run = self.processes.get(command.process)
            if run is None:
                raise FatalError("processNotWired", f"No run is wired for the document process {command.process!r}.")
            run(self.context)
        elif isinstance(command, MatchCoupling):
            match_and_couple(
                self.context,
                command.mapping,
                create_if_no_match=command.create_if_no_match,
                synchronize_after=command.synchronize_after,
                job_id=command.message_id,
                criteria=command.criteria,
                keep_log=True,
                queued_on=command.queued_on,
            )
        elif isinstance(command, UncoupleAll):
            run_uncouple_all(self.context, command.mapping, command.message_id, command.queued_on)
        elif isinstance(command, FindDeleted):
            run_find_deleted(self.context, command.mapping, command.message_id, command.queued_on)
        else:
            self._chunk(command, delivery_count)

    def _chunk(self, command: FullSyncChunk, delivery_count: int) -> None:
        """Chunk 0 splits a line into chunks, any other chunk synchronizes its records."""
        full_sync = self._full_sync()
        run_id, mapping, chunk = command.run_id, command.mapping, command.chunk
        try:
            if command.is_split:
                full_sync.split(run_id, mapping, command.attempt, command.phase)
            else:
                full_sync.run_chunk(run_id, mapping, chunk, command.payload)
        except Exception as error:
            retry_after = getattr(error, "retry_after", None) if isinstance(error, SyncError) else None
            throttled = isinstance(error, SyncError) and error.is_transient and isinstance(retry_after, int | float)
            if throttled and full_sync.reschedule(command.message_id, command.payload, float(retry_after or 0)):
                log.warning("full sync %s/%s chunk %s throttled: again in %ss", run_id, mapping, chunk, retry_after)
                return
            if delivery_count >= MAX_DELIVERIES:
                log.error("full sync %s/%s chunk %s failed for good: %s", run_id, mapping, chunk, error)
                full_sync.fail_chunk(run_id, mapping, chunk, error)
            raise

    def dead_lettered(self, command: JobCommand, reason: str) -> None:
        """Service Bus gave up on the command (`reason`: its dead-letter reason and description)."""
        if not isinstance(command, FullSyncChunk):
            log.error("dead-lettered %s job %s (%s)", command.kind.value, command.message_id, reason)
            return
        run_id, mapping, chunk = command.run_id, command.mapping, command.chunk
        log.error("full sync %s/%s chunk %s dead-lettered (%s)", run_id, mapping, chunk, reason)
        self._full_sync().record_dead_letter(run_id, mapping, chunk, command.attempt, reason)
