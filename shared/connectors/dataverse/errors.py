"""Errors of the Dataverse client: `ApiError`s that are also the domain's NotFound/Concurrency errors, and the
partial-failure report of a bulk write.

Why subclasses of both: services reason in domain terms (`except ConcurrencyError: re-read and decide again`)
while operators need the HTTP facts (status, code, request id) of the very same failure; one object carries both.

Partial failure (`BulkWriteError`): Dataverse runs a bulk message all or nothing (facts B12), so one bad record
would block 999 good ones. The client then re-sends that chunk as a `$batch` with `continue-on-error`, stores
every good record, and raises `BulkWriteError` at the end: `failures` says which records failed and why (index
into the rows given, row id, the per-record `ApiError` with its kind), `ids` gives the id of every row (None where
it failed). Everything not listed in `failures` is durably written.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.connectors.errors import ApiError
from shared.domain.errors import BulkWriteError, ConcurrencyError, NotFoundError, RecordFailure
from shared.ports import BatchOutcome


class DataverseNotFoundError(ApiError, NotFoundError):
    """404: the row (or a row a lookup points at) does not exist."""


class DataverseConcurrencyError(ApiError, ConcurrencyError):
    """412: an `If-Match` lost a race (ConcurrencyVersionMismatch) or a create-only write met an existing row."""


_SPECIAL: Mapping[int, type[ApiError]] = {404: DataverseNotFoundError, 412: DataverseConcurrencyError}


def specialize(error: ApiError) -> ApiError:
    """The same error as the domain type its status means (404 -> NotFound, 412 -> Concurrency)."""
    cls = _SPECIAL.get(error.status or 0)
    if cls is None or isinstance(error, cls):
        return error
    return cls(
        status=error.status,
        code=error.code,
        message=error.message,
        method=error.method,
        url=error.url,
        retry_after=error.retry_after,
        request_id=error.request_id,
        body_excerpt=error.body_excerpt,
        attempts=error.attempts,
        kind=error.kind,
    )


def api_error(status: int | None, code: str, message: str, method: str, url: str, **extra: Any) -> ApiError:
    """Build an `ApiError` already specialised by status (every path raises the same types)."""
    return specialize(ApiError(status=status, code=code, message=message, method=method, url=url, **extra))


def outcome_error(outcome: BatchOutcome, method: str, url: str) -> ApiError:
    """The `ApiError` of one failed `$batch` operation (its body is `{"error": {"code", "message"}}`)."""
    error = outcome.body.get("error") if isinstance(outcome.body, dict) else None
    error = error if isinstance(error, dict) else {}
    code = str(error.get("code") or f"HTTP{outcome.status}")
    message = str(error.get("message") or "")
    retry_after = outcome.headers.get("retry-after")
    return api_error(
        outcome.status,
        code,
        message,
        method,
        url,
        retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None,
        request_id=outcome.headers.get("x-ms-service-request-id"),
        body_excerpt=str(outcome.body or ""),
    )


def row_id_of(row: Mapping[str, Any], primary_id: str) -> str | None:
    value = row.get(primary_id)
    return str(value) if value else None


__all__ = [
    "BulkWriteError",
    "DataverseConcurrencyError",
    "DataverseNotFoundError",
    "RecordFailure",
    "api_error",
    "outcome_error",
    "row_id_of",
    "specialize",
]
