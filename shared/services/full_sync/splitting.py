"""A full-synchronization line's split (its chunk 0): the ids of its records listed in a stable order, cut into
chunks, each stored (`RunStore.save_chunks`) before its message is sent, then the line marked planned with its
total. Kept apart from the fan-out in `services/full_sync/coordinator.py`.

Why it can start listing at once: a split delivered for the first time finds nothing stored, and a chunk row is
only ever created (`chunkExists` when it is there), numbered from the line's total on; so a split that stored
chunks before it was interrupted makes its successor's first store fail before anything is written, and that one
then goes the careful way: it re-sends the stored chunks not yet counted and lists only the ids none of them holds
(it used to read the stored chunks first on every delivery). Between batches of `SEND_BATCH` chunks the line's
lease is renewed (`progressed`), with the line as last written, so a long listing is not taken for a stall; the
last batch needs none, since the count of the total follows at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from shared.domain.errors import ConflictError
from shared.domain.full_sync import LineChunk, uncounted, work_mode
from shared.domain.records import LineStatus, ReviewLine
from shared.services.full_sync.counting import Count, named, save_line
from shared.services.full_sync.lines import progressed
from shared.services.full_sync.messages import chunk_message, id_chunks

if TYPE_CHECKING:
    from shared.services.full_sync.coordinator import FullSync

SEND_BATCH = 50  # chunks stored in one transaction and sent in one call, then the lease is renewed


def split(full: FullSync, run_id: str, name: str, attempt: int, phase: int) -> int:
    """Store and send the line's chunks (of this phase); returns the line's chunk total. A split delivered again
    goes on where the last one stopped; a stale one (another attempt or phase, or a line no longer listing) sends
    nothing."""
    run, lines = full.runs.get_run(run_id)
    line = named(lines, run_id, name)
    if line.status is not LineStatus.RUNNING or line.planned or (attempt, phase) != (line.attempt, line.phase):
        return line.chunks_total
    listing = Listing(full, run_id, line, phase, run.dry_run)
    try:
        total = listing.list_and_send([])  # a first delivery: nothing stored yet
    except ConflictError:  # an earlier delivery stored chunks: go on after them
        total = listing.list_and_send(full.runs.list_chunks(run_id, name, line.attempt, phase))
    full.count(run_id, name, Count(total=total), dry_run=run.dry_run, line=listing.line)
    return total


def send_chunks(full: FullSync, run_id: str, line: ReviewLine, chunks: Sequence[LineChunk], *, dry_run: bool) -> None:
    for start in range(0, len(chunks), SEND_BATCH):
        batch = chunks[start : start + SEND_BATCH]
        full.queue.send([chunk_message(line, run_id, chunk, dry_run=dry_run) for chunk in batch])


@dataclass
class Listing:
    full: FullSync
    run_id: str
    line: ReviewLine  # as last read or written (its ETag is the next save's condition)
    phase: int
    dry_run: bool

    def list_and_send(self, stored: Sequence[LineChunk]) -> int:
        """List the ids no stored chunk holds, store and send them in batches; returns the line's total. `stored`:
        the chunks an interrupted split stored (maybe unsent: sent again first)."""
        full, line = self.full, self.line
        send_chunks(full, self.run_id, line, uncounted(line, stored), dry_run=self.dry_run)
        skip = {side: {i for chunk in stored if chunk.side == side for i in chunk.ids} for side in ("bc", "dv")}
        total = max([line.chunks_total, *(chunk.number for chunk in stored)])  # phase 1 numbers after phase 0's
        mapping = full.context.mapping(line.mapping)
        mode = work_mode(line, mapping)  # a line that couples first is listed as a coupling line (two phases)
        batch: list[LineChunk] = []
        for side, ids in id_chunks(
            full.context, mapping, mode, self.phase, full.chunk_records, skip, full.chunk_records_to_bc
        ):
            total += 1
            batch.append(LineChunk(line.mapping, line.attempt, self.phase, total, side, tuple(ids)))
            if len(batch) >= SEND_BATCH:
                self._store_and_send(batch, renew=True)
                batch = []
        if batch:
            self._store_and_send(batch, renew=False)
        return total

    def _store_and_send(self, chunks: Sequence[LineChunk], *, renew: bool) -> None:
        if self.line.stores_chunks:
            self.full.runs.save_chunks(self.run_id, chunks)  # ConflictError: stored already (see the module)
        send_chunks(self.full, self.run_id, self.line, chunks, dry_run=self.dry_run)
        if renew:
            renewed = partial(progressed, now=self.full.now())
            self.line = save_line(self.full.runs, self.run_id, self.line, renewed).seen
