"""The Synchronize Now lease on a coupling, kept in the coupling's own terms (see `synchronize.py`): on both sides
the last job is the call's and its result is not known yet. Its own module because the runs must see it too: a run
that saves a pair while a call holds it leaves the call's lease alone (`outcomes.save_synchronized`), or a second
call could start while the first is still writing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from shared.domain.coupling import Coupling, SyncResult

LEASE = timedelta(seconds=60)  # far above a call's few requests: a crashed call blocks its pair at most this long
JOB_PREFIX = "now-"
_STAMP = "%Y%m%dT%H%M%SZ"


def lease_job_id(taken: datetime) -> str:
    """`now-<UTC time>-<random>`: the call's job id, which also says when its lease was taken."""
    return f"{JOB_PREFIX}{taken.astimezone(UTC).strftime(_STAMP)}-{uuid.uuid4().hex}"


def _taken_at(job_id: str | None) -> datetime | None:
    """When a lease job id was taken; None for any other job id (runs, or Synchronize Now before leases)."""
    if not job_id or not job_id.startswith(JOB_PREFIX):
        return None
    try:
        return datetime.strptime(job_id[len(JOB_PREFIX) :].split("-", 1)[0], _STAMP).replace(tzinfo=UTC)
    except ValueError:
        return None


def lease_holder(coupling: Coupling, now: datetime) -> str | None:
    """The job id of the call that holds the pair now, None when it is free (or its holder's lease expired)."""
    for state in (coupling.bc, coupling.dataverse):
        taken = _taken_at(state.last_job_id)
        if state.last_result is SyncResult.NONE and taken is not None and now - taken < LEASE:
            return state.last_job_id
    return None
