"""Where a run of one table mapping takes its candidates from: the one argument that tells an incremental run, a
retry of failed records and a full-synchronization chunk apart (`engine/mapping_run.py`, `MappingRun.run`).

Why one argument: the three used to be told apart by swapping parts under the run (a retry ran the incremental run
over a checkpoint store pinned in the future whose saves went nowhere). Said as a value, each source states what
the run reads, whether it retries the failed records and whether it moves the checkpoints, and nothing is pinned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class ChangedSince:
    """The records changed since each side's checkpoint (`domain/watermarks.py`), with the records whose last sync
    failed and are not skipped (retried first, like BC): the incremental run of the timer, a queue job or
    Synchronize for the mapping. It runs the mapping's out-of-filter rules on the same window and moves the
    checkpoints last."""

    retries_failed: ClassVar[bool] = True
    moves_checkpoints: ClassVar[bool] = True


@dataclass(frozen=True)
class FailedRecords:
    """Only the records whose last sync failed and are not skipped: a retry (`services/sync_errors.retry`). It reads
    no changes (so it picks up no unrelated ones) and moves no checkpoint (so it never moves a watermark under a
    scheduled run). A mapping whose values are read per run (exchange rates) still compares every BC record."""

    retries_failed: ClassVar[bool] = True
    moves_checkpoints: ClassVar[bool] = False


@dataclass(frozen=True)
class TheseRecords:
    """These records (ids as `list_ids` gave them, in its order), those still in the mapping's filters: one chunk of
    a full synchronization. Every pair is compared (as BC's full synchronization does) but those another chunk of
    the same run synchronized, uncoupled ones are created whatever `sync_only_coupled` says (BC's full sync clears
    it), failed records are not added and no checkpoint moves (the finished line hands the mapping over)."""

    bc_ids: tuple[str, ...] = ()
    dataverse_ids: tuple[str, ...] = ()
    retries_failed: ClassVar[bool] = False
    moves_checkpoints: ClassVar[bool] = False

    @classmethod
    def of(cls, bc_ids: Sequence[str], dataverse_ids: Sequence[str]) -> TheseRecords:
        return cls(tuple(bc_ids), tuple(dataverse_ids))


CandidateSource = ChangedSince | FailedRecords | TheseRecords
CHANGED_SINCE = ChangedSince()
FAILED_RECORDS = FailedRecords()
