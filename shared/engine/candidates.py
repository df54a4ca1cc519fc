"""Which records an incremental run must look at, and which of them it can pass over without a read of the other side.

A run reads each side's records modified since its checkpoint, with an overlap window (clocks and commit order are
not exact). Two things keep re-reads cheap:

- the checkpoint remembers the versions it processed inside the overlap window (`not_seen`, `boundary`), so the
  next run drops them before doing anything;
- past that memory's cap (a bulk load puts thousands of records in one window), or for sources that cannot be read
  by modification time at all (BC page web services have no `lastModifiedDateTime`: every run reads them in full),
  a coupled record whose ETag is the one recorded when it was last synchronized has not changed since (`settled`).
  This is BC's own test ("Last Synch. Modified On" against the record's SystemModifiedAt), made exact: an ETag
  changes on every write, while a modified-on of one-second precision (Dataverse) can hide a second write.

Passing over a settled pair never hides a change: the other side's changes come in through its own read, and a pair
whose record failed last time is always compared.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from shared.domain.changes import decode_hashes
from shared.domain.coupling import Coupling, SideState, SyncResult
from shared.domain.mapping import ConflictPolicy, TableMapping
from shared.domain.records import Checkpoint, Side
from shared.domain.watermarks import advance, parse_instant, read_from
from shared.ports import Row

MAX_BOUNDARY = 2000


def etag_of(row: Mapping[str, Any] | None) -> str | None:
    value = (row or {}).get("@odata.etag")
    return str(value) if value else None


def _at_synchronized_version(state: SideState, row: Row) -> bool:
    return state.last_result is SyncResult.SUCCESS and state.version is not None and state.version == etag_of(row)


def settled(
    couplings: Iterable[Coupling],
    bc_rows: Mapping[str, Row],
    dv_rows: Mapping[str, Row],
    retried: set[str],
) -> set[str]:
    """The BC ids of coupled pairs that need no comparison: synchronized before (values recorded, not skipped), not
    being retried, and every side that came in as a candidate is still at the version recorded then. A side that
    did not come in was not modified since its checkpoint."""
    quiet: set[str] = set()
    for coupling in couplings:
        if coupling.values_hash is None or coupling.skipped:
            continue
        if coupling.bc_id in retried or coupling.dataverse_id in retried:
            continue
        bc_row, dv_row = bc_rows.get(coupling.bc_id), dv_rows.get(coupling.dataverse_id)
        if bc_row is not None and not _at_synchronized_version(coupling.bc, bc_row):
            continue
        if dv_row is not None and not _at_synchronized_version(coupling.dataverse, dv_row):
            continue
        quiet.add(coupling.bc_id)
    return quiet


def needs_versions(coupling: Coupling, bc_row: Row, dv_row: Row) -> bool:
    """Whether an unchanged pair's coupling should be saved again so that the next run can pass over it: its
    recorded versions are not the rows' current ones (an echo of our own write, or a coupling from before versions
    were recorded)."""
    return coupling.bc.version != etag_of(bc_row) or coupling.dataverse.version != etag_of(dv_row)


def version_key(record_id: str, row: Row) -> str:
    return f"{record_id}|{row.get('@odata.etag', '')}"


def not_seen(rows: dict[str, Row], checkpoint: Checkpoint | None) -> dict[str, Row]:
    """Skip the records the last run already processed at exactly this version (ETags change on every write, so a
    record written again, even within the same second, is never skipped)."""
    if checkpoint is None or not checkpoint.boundary_ids:
        return dict(rows)
    processed = set(checkpoint.boundary_ids)
    return {key: row for key, row in rows.items() if version_key(key, row) not in processed}


def boundary(rows: dict[str, Row], modified_of: Callable[[Row], str | None], watermark: str) -> tuple[str, ...]:
    """The versions the next run will read again because of the overlap window (capped: past the cap it reads them
    again and `settled` passes over the unchanged ones, which costs one read, never a write)."""
    since = read_from(watermark)
    if since is None:
        return ()
    keys = sorted(
        version_key(key, row)
        for key, row in rows.items()
        if (modified := modified_of(row)) and parse_instant(modified) >= since
    )
    return tuple(keys) if len(keys) <= MAX_BOUNDARY else ()


def change_hints(
    mapping: TableMapping, coupling: Coupling, bc_changed: dict[str, Row], dv_changed: dict[str, Row]
) -> tuple[bool, bool]:
    """Which side changed, when the coupling has no stored values to tell (it was never synchronized, e.g. coupled
    by matching without "synchronize after"). Like BC's first synchronization after bulk coupling, the conflict
    policy picks the initial source: Dataverse when it wins, else BC (BC's own run sends BC -> Sales first). Once
    synchronized, the stored hashes decide and these hints are not used. A pair the engine was creating when it was
    interrupted (its coupling written, the follow-up not) takes its source: the record it was created from."""
    if coupling.creating is not None and decode_hashes(coupling.values_hash) is None:
        return coupling.source_side is Side.BC, coupling.source_side is Side.DATAVERSE
    if decode_hashes(coupling.values_hash) is None and coupling.bc.last_result is SyncResult.NONE:
        dataverse_first = mapping.conflict_policy is ConflictPolicy.DATAVERSE_WINS
        return not dataverse_first, dataverse_first
    return coupling.bc_id in bc_changed, coupling.dataverse_id in dv_changed


def next_checkpoint(
    mapping: str,
    side: Side,
    checkpoint: Checkpoint | None,
    rows: dict[str, Row],
    modified_of: Callable[[Row], str | None],
    started: datetime,
    transient: Mapping[str, str],
) -> Checkpoint | None:
    """Where the next run on this side resumes, or None when it stays: forward only, never past the run's start nor
    past a record that failed transiently (it must be read again)."""
    seen = [m for row in rows.values() if (m := modified_of(row))]
    cap = min([started, *[parse_instant(t) for t in transient.values() if t]])
    if checkpoint is not None and checkpoint.watermark:
        cap = max(cap, parse_instant(checkpoint.watermark))
    watermark = advance(checkpoint.watermark if checkpoint else None, seen, cap)
    if watermark is None:
        return None
    # a record that failed transiently must not be remembered as processed, or the next run would pass it by
    kept = boundary({k: row for k, row in rows.items() if k not in transient}, modified_of, watermark)
    if checkpoint is not None and (watermark, kept) == (checkpoint.watermark, checkpoint.boundary_ids):
        return None
    base = checkpoint or Checkpoint(mapping, side)
    return Checkpoint(base.mapping, side, watermark, kept, base.delta_link, base.etag)
