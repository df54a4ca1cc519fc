"""Business Central-shaped errors: `{"error": {"code": "...", "message": "...  CorrelationId: ..."}}`.

Codes are BC's documented families (api-facts A4, A11): `BadRequest_*`, `Application_*`, `Internal_*`,
`Request_EntityChanged` for a stale `If-Match` (409).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from local.emulators.web import HttpError, Response

STRING_TOO_LONG = "Application_StringExceededLength"
ENTITY_CHANGED = "Request_EntityChanged"
INVALID_TOKEN = "BadRequest_InvalidToken"  # noqa: S105 - an error code, not a secret
NOT_FOUND = "BadRequest_NotFound"
BAD_REQUEST = "BadRequest"
DIALOG = "Application_DialogException"
SAME_KEY = "Internal_EntityWithSameKeyExists"
METHOD_NOT_ALLOWED = "BadRequest_MethodNotAllowed"


def error_response(status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> Response:
    body = {"error": {"code": code, "message": f"{message}  CorrelationId:  {uuid.uuid4()}."}}
    return Response.json(status, body, headers)


class BcError(HttpError):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(error_response(status, code, message))
        self.status = status
        self.code = code


def bad_request(message: str, code: str = BAD_REQUEST) -> BcError:
    return BcError(400, code, message)


def not_found(entity: str, row_id: str) -> BcError:
    return BcError(404, NOT_FOUND, f"The {entity} does not exist. Identification fields and values: Id='{row_id}'")


def dialog(message: str) -> BcError:
    return BcError(400, DIALOG, message)
