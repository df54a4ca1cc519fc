"""The structured error every connector raises, classified into the domain's transient / record / fatal kinds."""

from __future__ import annotations

from shared.domain.errors import ErrorKind, SyncError

TRANSIENT_STATUSES = frozenset({408, 429, 502, 503, 504})  # 408: BC cancelled a session after 8 min
REQUEST_ID_HEADERS = ("x-ms-service-request-id", "request-id", "x-ms-request-id", "req_id", "x-ms-correlation-id")
BODY_EXCERPT = 500


def kind_of(status: int | None) -> ErrorKind:
    """No answer or throttled/unavailable -> transient; 401/403 -> fatal (after one token refresh); other 4xx and
    500 (a plug-in or validation failure for this record) -> record; other 5xx -> fatal."""
    if status is None or status in TRANSIENT_STATUSES:
        return ErrorKind.TRANSIENT
    if status in (401, 403):
        return ErrorKind.FATAL
    if 400 <= status < 500 or status == 500:
        return ErrorKind.RECORD
    return ErrorKind.FATAL


class ApiError(SyncError):
    """An HTTP call that failed, with what an operator needs to find it in the other system's logs."""

    def __init__(
        self,
        *,
        status: int | None,
        code: str,
        message: str,
        method: str,
        url: str,
        retry_after: float | None = None,
        request_id: str | None = None,
        body_excerpt: str = "",
        attempts: int = 1,
        kind: ErrorKind | None = None,
    ) -> None:
        super().__init__(code, message, kind=kind or kind_of(status))
        self.status = status
        self.method = method
        self.url = url
        self.retry_after = retry_after
        self.request_id = request_id
        self.body_excerpt = body_excerpt[:BODY_EXCERPT]
        self.attempts = attempts
        # True when an earlier attempt of this call may have been applied (dropped connection, 502/504): a 412 or a
        # "same key exists" answer then most likely means our own earlier attempt landed, so callers re-read.
        self.after_unknown_outcome = False

    def __str__(self) -> str:
        where = f"{self.method} {self.url}"
        return f"{self.status or 'no answer'} {self.code}: {self.message} ({where}, request id {self.request_id})"
