"""Dataverse-shaped errors: `{"error": {"code": "0x...", "message": "..."}}` with the real status codes.

Codes marked (docs) come from api-facts.md / the Web API docs; the others are the emulator's choice where the
real code is UNCONFIRMED, and tests assert on status and code so a later correction is one line here.
"""

from __future__ import annotations

from collections.abc import Mapping

from local.emulators.web import HttpError, Response

PAYLOAD_ERROR = "0x80048d19"  # (docs) error identified in payload: unknown property, wrong type
QUERY_ERROR = "0x80060888"  # (docs) bad $filter/$select/$orderby
LENGTH_EXCEEDED = "0x80044331"  # (docs) string longer than the column allows
NOT_FOUND = "0x80040217"  # (docs) record does not exist
VERSION_MISMATCH = "0x80060882"  # (docs) If-Match with a stale ETag (ConcurrencyVersionMismatch)
DUPLICATE_RECORD = "0x80040237"  # (docs) create-only write on an existing row (DuplicateRecord)
INVALID_ARGUMENT = "0x80040203"  # business rule violations: bad state, read-only record, required column
REQUESTS_LIMIT = "0x80072322"  # (docs) number of requests
CONCURRENCY_LIMIT = "0x80072326"  # (docs) concurrent requests
NOT_SUPPORTED = "0x80040800"  # operation the table or emulator does not support


def error_response(status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> Response:
    return Response.json(status, {"error": {"code": code, "message": message}}, headers)


class DataverseError(HttpError):
    def __init__(self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(error_response(status, code, message, headers))
        self.status = status
        self.code = code
        self.message = message


def bad_payload(message: str) -> DataverseError:
    return DataverseError(400, PAYLOAD_ERROR, message)


def invalid(message: str) -> DataverseError:
    return DataverseError(400, INVALID_ARGUMENT, message)


def not_found(logical_name: str, row_id: str) -> DataverseError:
    return DataverseError(404, NOT_FOUND, f"{logical_name} With Id = {row_id} Does Not Exist")
