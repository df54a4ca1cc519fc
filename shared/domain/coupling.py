"""Couplings (BC's "CRM Integration Record"): one BC id <-> one Dataverse id within one table mapping.

A coupling remembers, per side, what the sync last saw and did, and a hash of the mapped values it last wrote. The
hash is what makes change detection honest: equal hashes mean "unchanged" however the timestamps moved, which removes
the echo of our own writes and BC's false "changed on both sides" conflicts from millisecond timestamps.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum

from shared.domain.records import Side


class SyncResult(StrEnum):
    NONE = ""
    SUCCESS = "success"
    FAILURE = "failure"


@dataclass(frozen=True)
class SideState:
    """What the sync knows about one side of a coupling."""

    modified_on: str | None = None  # the side's modified-on when last synchronized (ISO-8601 UTC)
    version: str | None = None  # the side's ETag / row version when last synchronized
    last_result: SyncResult = SyncResult.NONE
    last_job_id: str | None = None


@dataclass(frozen=True)
class Coupling:
    mapping: str
    bc_id: str
    dataverse_id: str
    bc: SideState = field(default_factory=SideState)
    dataverse: SideState = field(default_factory=SideState)
    values_hash: str | None = None
    skipped: bool = False
    coupled_on: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    etag: str | None = None  # storage version of the coupling itself: every update is conditional on it
    # Set while the engine creates the record on this side (the coupling is written *before* the create, so a crash
    # anywhere leaves the identity in the table, never a record without its coupling); cleared once synchronized.
    creating: Side | None = None
    created_by: str | None = None  # the job that claimed the creation: its redelivery counts the insert once

    @property
    def source_side(self) -> Side | None:
        """The side the record being created is copied from (None: not being created)."""
        if self.creating is None:
            return None
        return Side.DATAVERSE if self.creating is Side.BC else Side.BC

    def with_changes(self, **changes: object) -> Coupling:
        return replace(self, **changes)  # type: ignore[arg-type]
