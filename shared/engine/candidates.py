"""Which coupled candidates an incremental run can pass over without a read of the other side.

A run reads each side's records modified since its checkpoint, with an overlap window (clocks and commit order are
not exact). Two things keep re-reads cheap:

- the checkpoint remembers the versions it read inside the overlap window (`domain/watermarks.py`, `SideCursor`), so
  the next run drops them before doing anything;
- past that memory's cap (a bulk load puts thousands of records in one window), or for sources that cannot be read
  by modification time at all (BC page web services have no `lastModifiedDateTime`: every run reads them in full),
  a coupled record whose ETag is the one recorded when it was last synchronized has not changed since (`settled`).
  This is BC's own test ("Last Synch. Modified On" against the record's SystemModifiedAt), made exact: an ETag
  changes on every write, while a modified-on of one-second precision (Dataverse) can hide a second write.

Passing over a settled pair never hides a change: the other side's changes come in through its own read, and a pair
whose record failed last time is always compared.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from shared.domain.coupling import Coupling, SideState, SyncResult
from shared.ports import Row


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
