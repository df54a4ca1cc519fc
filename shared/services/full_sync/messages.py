"""What a full-synchronization line sends: its split and chunk messages (ids and payloads), and the ids its split
lists, cut into chunks. Kept apart from `services/full_sync/coordinator.py` (the line's life) so each stays readable.

Message ids are the duplicate-detection keys: `run/mapping/chunk`, then `/p<phase>` for a later phase's split,
`/r<attempt>` for a line re-run whole, and `/s<restarts>` for what a restart sends again. A repeated send of the same
step is dropped by Service Bus (10 minutes), while a restart's re-send, which must get through even if the first
message was lost a minute ago, carries a new id; its payload is the same, and chunks count by number, so whichever
copy is delivered first is counted and every other copy is not.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping

from shared.domain.full_sync import LineChunk, Recommendation
from shared.domain.jobs import JobKind, JobMessage, chunk_message_id
from shared.domain.mapping import Direction, TableMapping
from shared.domain.records import ReviewLine
from shared.engine.context import SyncContext


def line_message(
    line: ReviewLine, run_id: str, chunk: int, extra: Mapping[str, object], *, dry_run: bool
) -> JobMessage:
    payload = {
        "runId": run_id, "mapping": line.mapping, "chunk": chunk, "attempt": line.attempt, "phase": line.phase,
        "dryRun": dry_run, **extra,
    }  # fmt: skip
    message_id = chunk_message_id(run_id, line.mapping, chunk)
    message_id += f"/p{line.phase}" if chunk == 0 and line.phase else ""
    message_id += f"/r{line.attempt}" if line.attempt else ""
    message_id += f"/s{line.restarts}" if line.restarts else ""
    return JobMessage(JobKind.FULL_SYNC_CHUNK, message_id, payload)


def split_message(line: ReviewLine, run_id: str, *, dry_run: bool) -> JobMessage:
    """Chunk 0 of the line's current phase: list the records and send their chunks."""
    return line_message(line, run_id, 0, {"mode": line.recommendation}, dry_run=dry_run)


def chunk_message(line: ReviewLine, run_id: str, chunk: LineChunk, *, dry_run: bool) -> JobMessage:
    """A chunk carries what its worker needs besides its ids (the line's attempt, phase and mode, and whether the
    run is a dry run), so it starts without reading the run: the count it ends with reads the line anyway, and
    counts nothing for a chunk counted already or of an older attempt."""
    extra = {"mode": line.recommendation, "side": chunk.side, "ids": list(chunk.ids)}
    return line_message(line, run_id, chunk.number, extra, dry_run=dry_run)


def id_chunks(
    context: SyncContext,
    mapping: TableMapping,
    mode: str,
    phase: int,
    size: int,
    skip: Mapping[str, Collection[str]],
    to_bc_size: int,
) -> Iterator[tuple[str, list[str]]]:
    """(side, ids) of `size` ids at most (`to_bc_size` at most for Dataverse's rows, which are written to BC), in the
    server's stable order, leaving out `skip[side]` (the ids a split interrupted earlier stored already).

    Coupling matches BC's records first (phase 0), then copies Dataverse's still uncoupled rows (phase 1), so
    nothing is created before its match had a chance; a full synchronization reads each side it copies from."""
    full = mode == Recommendation.FULL_SYNCHRONIZATION.value
    sides: list[tuple[str, str, str | None]] = []
    if phase == 0 and (not full or mapping.direction.allows(Direction.TO_DATAVERSE)):
        sides.append(("bc", mapping.bc_entity_set, mapping.bc_filter))
    if (full or phase == 1) and mapping.direction.allows(Direction.FROM_DATAVERSE):
        sides.append(("dv", mapping.dataverse_entity_set, mapping.dataverse_filter))
    for side, entity_set, scope in sides:
        done = skip.get(side, ())
        per_chunk = size if side == "bc" else min(size, to_bc_size)
        pages = (context.bc if side == "bc" else context.dataverse).list_ids(entity_set, scope)
        pending: list[str] = []
        for page in pages:
            pending.extend(record_id for record_id in page if record_id not in done)
            while len(pending) >= per_chunk:
                yield side, pending[:per_chunk]
                pending = pending[per_chunk:]
        if pending:
            yield side, pending
