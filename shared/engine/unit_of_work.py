"""A unit of work per page (issue 21): what a run learns while it synchronizes a page of records (the couplings'
new hashes, versions and results, the records' errors and the errors they no longer have) is collected here and
written by `flush` in entity-group transactions of up to 100 operations, after the page's writes to the apps and
before the run moves its checkpoint (or a full-sync chunk is counted on its line). Match-based coupling collects its
new pairs here too (`couple`: both rows of a coupling, 50 couplings to a transaction), instead of one transaction
per pair.

Why it is safe to write after the apps: every write to the apps is idempotent or conditional (deterministic ids for
creates, the version read for updates), and a claim is written before its create (`Creator._claim`, flushed as a
batch of its own before the creates). A worker that dies between a page's writes to the apps and its flush leaves
the apps ahead of the couplings and the checkpoint where it was: the next attempt reads the same records again,
finds its claims (the new records by their deterministic ids) and pairs whose two sides now hold the same values,
and records them: redo, never loss, never a duplicate.

Why errors are known from one read: a record error row exists only while the record fails, so the page reads its
mapping's errors once (an incremental run already lists them to retry them) and clears only those that exist: no
delete of an error that was never written. An error written by another worker after that read is left for the next
run, which retries the record and clears it then. The new entries are computed here with the shared rule
(`record_errors.next_error`), so the skip count is known at once; an entry that lost its race to another worker is
recorded again with the store's read-modify-write (`record_error`), and a coupling that lost its race is re-read and
saved once more (unless a Synchronize Now call holds it: its lease wins, as in `outcomes.save_synchronized`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from shared.domain.coupling import Coupling
from shared.domain.errors import ConcurrencyError, SyncError
from shared.domain.record_errors import next_error
from shared.domain.records import RecordErrorEntry, Side
from shared.domain.watermarks import format_instant
from shared.engine.context import SyncContext
from shared.engine.leases import lease_holder
from shared.telemetry import log_event

LOG = logging.getLogger("bc_sales_sync.sync")
SAVE_ATTEMPTS = 3
ErrorKey = tuple[Side, str]


@dataclass
class _ErrorState:
    stored: RecordErrorEntry | None  # the row as last read or written (None: no row)
    entry: RecordErrorEntry | None  # what the row must hold after the page (None: no row)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (code, message) since the last success


@dataclass
class UnitOfWork:
    context: SyncContext
    mapping: str
    job_id: str
    _known: dict[ErrorKey, RecordErrorEntry] = field(default_factory=dict)
    _new: dict[str, Coupling] = field(default_factory=dict)  # bc id -> coupling to create (matching's pairs)
    _couplings: dict[str, Coupling] = field(default_factory=dict)  # bc id -> coupling to save (etag as read)
    _errors: dict[ErrorKey, _ErrorState] = field(default_factory=dict)
    refused: list[Coupling] = field(default_factory=list)  # new couplings the last flush could not create

    def know(self, entries: Iterable[RecordErrorEntry]) -> None:
        """The mapping's error rows as just read (`list_errors`): the records that have one."""
        self._known = {(e.side, e.record_id): e for e in entries if e.mapping == self.mapping}

    def read_errors(self) -> None:
        self.know(self.context.errors.list_errors(self.mapping))

    @property
    def pending(self) -> int:
        return len(self._new) + len(self._couplings) + sum(s.entry != s.stored for s in self._errors.values())

    # -- collecting ----------------------------------------------------------------------------------------------
    def couple(self, coupling: Coupling) -> None:
        """Create `coupling` at the flush (both rows, 50 couplings to a transaction, before any update); one whose BC
        or Dataverse id is coupled by then is not created and is listed in `refused` after the flush."""
        self._new[coupling.bc_id] = coupling

    def save(self, coupling: Coupling) -> Coupling:
        """Save `coupling` at the flush, conditionally on the etag it carries (the one read); returns it. The caller
        leaves alone a pair a Synchronize Now call held when it was read (`outcomes.save_synchronized`); one that a
        call took since loses the conditional write and is left alone at the flush."""
        earlier = self._couplings.get(coupling.bc_id)
        self._couplings[coupling.bc_id] = coupling if earlier is None else replace(coupling, etag=earlier.etag)
        return coupling

    def failed(self, side: Side, record_id: str, error: SyncError) -> bool:
        """Count a record error (never a transient one); returns whether the record is now skipped."""
        if error.is_transient:
            return False
        state = self._state(side, record_id)
        now = format_instant(self.context.clock())
        entry = next_error(state.entry, self.mapping, side, record_id, error.code, error.message, now)
        state.entry = replace(entry, etag=state.stored.etag if state.stored else None)
        state.failures.append((error.code, error.message))
        return state.entry.skipped

    def succeeded(self, side: Side, record_id: str) -> None:
        """The record synchronized: its error row goes, if it has one."""
        state = self._state(side, record_id)
        state.entry = None
        state.failures.clear()

    def _state(self, side: Side, record_id: str) -> _ErrorState:
        key = (side, record_id)
        if key not in self._errors:
            known = self._known.get(key)
            self._errors[key] = _ErrorState(known, known)
        return self._errors[key]

    # -- flushing ------------------------------------------------------------------------------------------------
    def flush(self) -> None:
        """New couplings, then couplings, then errors (see the module docstring); raises the first error a coupling
        could not be saved for (deleted or re-coupled meanwhile, as `update_coupling` says) once everything else is
        written."""
        new, self._new = list(self._new.values()), {}
        self.refused = []
        if new:
            made = self.context.couplings.create_couplings(new)
            self.refused = [coupling for coupling, result in zip(new, made, strict=True) if result is None]
        couplings, self._couplings = list(self._couplings.values()), {}
        problem: SyncError | None = None
        if couplings:
            for coupling, result in zip(couplings, self.context.couplings.update_couplings(couplings), strict=True):
                if isinstance(result, SyncError):
                    problem = problem or self._save_again(coupling, result)
        self._flush_errors()
        if problem is not None:
            raise problem

    def _save_again(self, coupling: Coupling, error: SyncError) -> SyncError | None:
        for _ in range(SAVE_ATTEMPTS):
            if not isinstance(error, ConcurrencyError):
                return error
            fresh = self.context.couplings.find_by_bc_id(self.mapping, coupling.bc_id)
            if fresh is None:
                return error
            if self._leased_by_another(fresh):
                return None
            try:
                self.context.couplings.update_coupling(replace(coupling, etag=fresh.etag))
                return None
            except SyncError as again:
                error = again
        return error

    def _flush_errors(self) -> None:
        states, self._errors = self._errors, {}
        writes = {key: s for key, s in states.items() if s.entry is not None and s.entry != s.stored}
        clears = [key for key, s in states.items() if s.entry is None and s.stored is not None]
        if writes:
            saved = self.context.errors.save_errors([s.entry for s in writes.values() if s.entry is not None])
            for (key, state), entry in zip(writes.items(), saved, strict=True):
                written = entry
                if written is None:  # another worker wrote this record's error meanwhile: count ours on top of it
                    log_event(LOG, "record error raced", side=key[0].value, recordId=key[1])
                    for code, message in state.failures:
                        written = self.context.errors.record_error(self.mapping, key[0], key[1], code, message)
                if written is not None:
                    self._known[key] = written
        if clears:
            self.context.errors.clear_errors(self.mapping, clears)
            for key in clears:
                self._known.pop(key, None)

    def _leased_by_another(self, coupling: Coupling) -> bool:
        holder = lease_holder(coupling, self.context.clock())
        return holder is not None and holder != self.job_id
