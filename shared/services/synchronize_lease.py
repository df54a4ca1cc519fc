"""The lease of Synchronize Now (issue 17): one call at a time per coupled pair.

Why its own module: the lease is the part of Synchronize Now that guards the pair against another call, not the copy
itself (`synchronize.py`, whose docstring says why two calls could otherwise swap the apps); it is small, has its own
failure rules, and reads and writes only the coupling.

A call first takes a lease on the coupling by a conditional update of the coupling row (every call of the pair reads
that same row, so of two calls only one can win it) and gives it back when it is done. While it is held, another call
answers 409 `concurrencyConflict` at once, having written nothing. The lease is written in the coupling's own terms:
on both sides, the last job is this call's and its result is not known yet (`last_result` empty). The job id carries
the time it was taken (`lease_job_id`), so a lease left by a crashed call expires after `LEASE`.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from shared.domain.coupling import Coupling, SyncResult
from shared.domain.errors import ConcurrencyError, NotFoundError, SyncError
from shared.engine.context import SyncContext
from shared.engine.leases import lease_holder

LOG = logging.getLogger("bc_sales_sync.sync")
LEASE_TRIES = 3  # takes of the lease when the coupling changed meanwhile (a run saved it) before giving up
CHANGED = "The record changed while it was being synchronized"


def conflict(why: str) -> ConcurrencyError:
    return ConcurrencyError("concurrencyConflict", f"{CHANGED}: {why}. Try again.")


def take_lease(context: SyncContext, coupling: Coupling, job_id: str) -> tuple[Coupling, Coupling]:
    """(the leased coupling, the coupling as it was before). The update is conditional on the coupling read, so of
    calls that read it at the same time one wins; the others read it again and find the lease held."""
    current = coupling
    for _ in range(LEASE_TRIES):
        holder = lease_holder(current, context.clock())
        if holder is not None:
            raise conflict(f"another Synchronize Now ({holder}) is writing it right now")
        leased = current.with_changes(
            bc=replace(current.bc, last_result=SyncResult.NONE, last_job_id=job_id),
            dataverse=replace(current.dataverse, last_result=SyncResult.NONE, last_job_id=job_id),
        )
        try:
            return context.couplings.update_coupling(leased), current
        except ConcurrencyError:
            fresh = context.couplings.find_by_bc_id(coupling.mapping, coupling.bc_id)
            if fresh is None:
                raise NotFoundError("notCoupled", f"The record is not coupled in mapping {coupling.mapping}.") from None
            current = fresh
    raise conflict("its coupling kept changing while the call waited for its turn")


def holds_lease(coupling: Coupling, job_id: str) -> bool:
    return all(s.last_job_id == job_id and s.last_result is SyncResult.NONE for s in (coupling.bc, coupling.dataverse))


def give_back(context: SyncContext, leased: Coupling, before: Coupling, job_id: str) -> None:
    """After a failure: the pair's recorded sides as they were before the lease (a success gives it back by saving
    the synchronized state). A lease no longer ours (a run saved the coupling since) is left alone; a failure here
    must not hide the call's own error, and the lease expires anyway."""
    current: Coupling | None = leased
    try:
        for _ in range(LEASE_TRIES):
            if current is None or not holds_lease(current, job_id):
                return
            try:
                context.couplings.update_coupling(current.with_changes(bc=before.bc, dataverse=before.dataverse))
                return
            except ConcurrencyError:
                current = context.couplings.find_by_bc_id(leased.mapping, leased.bc_id)
    except SyncError as error:
        LOG.warning("could not give back the lease %s (it expires by itself): %s", job_id, error)
