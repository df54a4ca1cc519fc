"""The three kinds of failure the sync distinguishes, and the error types that carry them.

Why three kinds: they decide what happens next. A **transient** failure (throttling, 5xx, timeouts) is retried with
back-off and never counts toward marking a record skipped (BC's own engine does count them, a top complaint). A
**record** failure (bad data for one record) is logged on that record while the run goes on; the same record error
twice marks the record skipped until an admin retries it. A **fatal** failure (authentication, configuration)
stops the job, and its queue message is dead-lettered with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class ErrorKind(StrEnum):
    TRANSIENT = "transient"
    RECORD = "record"
    FATAL = "fatal"


class SyncError(Exception):
    """Base of every error the services reason about; `code` is stable (tests and the API assert on it)."""

    kind: ErrorKind = ErrorKind.RECORD

    def __init__(self, code: str, message: str, *, kind: ErrorKind | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        if kind is not None:
            self.kind = kind

    @property
    def is_transient(self) -> bool:
        return self.kind is ErrorKind.TRANSIENT


class TransientError(SyncError):
    kind = ErrorKind.TRANSIENT


class RecordError(SyncError):
    kind = ErrorKind.RECORD


class FatalError(SyncError):
    kind = ErrorKind.FATAL


class NotFoundError(RecordError):
    """A record (or coupling) that should exist does not."""


class ConcurrencyError(RecordError):
    """An ETag-conditional write lost a race: re-read and decide again, never overwrite."""


class ConflictError(RecordError):
    """The write would break a rule (already coupled, dependency missing): the API answers 409."""


@dataclass(frozen=True)
class RecordFailure:
    """One record a bulk write could not store: `index` into the rows the caller gave, its id when it had one."""

    index: int
    row_id: str | None
    error: SyncError  # an `ApiError` (with status and request id) unless the row was refused before sending


_SEVERITY = {ErrorKind.RECORD: 0, ErrorKind.TRANSIENT: 1, ErrorKind.FATAL: 2}


class BulkWriteError(SyncError):
    """Some records of a bulk write failed and every other record was written (see the module docstring).

    `kind` is the most severe kind among the failures: RECORD when only data was bad (log them on the records and
    go on), TRANSIENT when some records were refused for load (redo them), FATAL when e.g. a privilege is missing.
    """

    def __init__(self, operation: str, failures: Sequence[RecordFailure], ids: Sequence[str | None]) -> None:
        first = failures[0].error if failures else None
        kind = max((f.error.kind for f in failures), key=_SEVERITY.__getitem__, default=ErrorKind.RECORD)
        message = f"{operation}: {len(failures)} of {len(ids)} records failed"
        if first is not None:
            message += f"; first: {first.code} {first.message}"
        super().__init__("BulkWritePartialFailure", message, kind=kind)
        self.operation = operation
        self.failures = list(failures)
        self.ids = list(ids)

    @property
    def written_ids(self) -> list[str]:
        return [row_id for row_id in self.ids if row_id is not None]


class InvalidInputError(RecordError):
    """The caller asked for something the rules do not allow (a direction the mapping does not permit, an unknown
    mapping): the API answers 400 naming `field`."""
