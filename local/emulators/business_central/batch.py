"""The BC emulator's JSON `$batch`: `{"requests": [...]}` -> `{"responses": [...]}`.

At most 100 operations (more: 400); processing stops at the first failed operation (the batch itself answers 200
with per-item statuses) unless `Prefer: odata.continue-on-error`; `Isolation: snapshot` runs everything in one
transaction that a failure rolls back. Each operation is charged toward the principal's limits. The fault
`failRecordId`/`failRecordTimes` fails the operations on one record with 503 (the others go through), the way a
transient failure of one record inside a batch does (the rest of the batch is applied).
"""

from __future__ import annotations

import json
from typing import Any

from local.emulators.business_central.errors import BAD_REQUEST, BcError
from local.emulators.business_central.handler_context import BatchContext
from local.emulators.identity.tokens import Principal
from local.emulators.service import EmulatorService
from local.emulators.web import CaseInsensitiveHeaders, HttpError, Request, Response

MAX_BATCH = 100
_UNAVAILABLE = {"error": {"code": "ServiceUnavailable", "message": "The service is temporarily unavailable."}}


def run(app: BatchContext, request: Request, principal: Principal, root: str) -> Response:
    """A JSON batch: <= 100 operations, stop at the first failure unless told to go on; snapshot = atomic."""
    body = app.json_body(request)
    requests = body.get("requests") if isinstance(body, dict) else None
    if not isinstance(requests, list) or not requests:
        raise BcError(400, BAD_REQUEST, "A $batch body needs a non-empty 'requests' array.")
    if len(requests) > MAX_BATCH:
        raise BcError(
            400,
            BAD_REQUEST,
            f"The batch request exceeds the maximum number of '{MAX_BATCH}' query operations and change sets allowed.",
        )
    continue_on_error = "odata.continue-on-error" in request.prefers()
    snapshot = (request.header("isolation") or "").lower() == "snapshot"
    service: EmulatorService | None = request.context.get("service")
    responses: list[dict[str, Any]] = []

    def run_all() -> None:
        for index, item in enumerate(requests):
            response = _item(app, item, index, request, root, principal, service)
            responses.append(response)
            if response["status"] >= 400 and (snapshot or not continue_on_error):
                if snapshot:
                    raise _RollBack
                return

    try:
        if snapshot:
            with app.store.transaction():
                run_all()
        else:
            run_all()
    except _RollBack:
        pass
    return Response.json(200, {"responses": responses})


def _item(
    app: BatchContext,
    item: Any,
    index: int,
    outer: Request,
    root: str,
    principal: Principal,
    service: EmulatorService | None,
) -> dict[str, Any]:
    if not isinstance(item, dict) or "method" not in item or "url" not in item:
        return {
            "id": str(index),
            "status": 400,
            "headers": {},
            "body": {"error": {"code": BAD_REQUEST, "message": "Each request needs 'id', 'method', 'url'."}},
        }
    item_id = str(item.get("id", index))
    url = str(item["url"])
    path = url.split("/api/v2.0", 1)[-1] if "/api/v2.0" in url else "/" + url.lstrip("/")
    headers = CaseInsensitiveHeaders.of({str(k): str(v) for k, v in (item.get("headers") or {}).items()})
    body = json.dumps(item["body"]).encode() if item.get("body") is not None else b""
    inner = Request.from_target(str(item["method"]), path, headers, body, outer.base_url)
    if service is not None:
        service.charge_operation(
            principal,
            inner.method,
            app.entity_set_of(Request.from_target(inner.method, "/t/e/api/v2.0" + inner.path, headers, b"", "")),
        )
    if service is not None and service.faults.fails_record(url):
        service.stats.record_fault("recordFailure")
        return {"id": item_id, "status": 503, "headers": {}, "body": _UNAVAILABLE}
    try:
        response = app.dispatch(inner, inner.path, root)
    except HttpError as error:
        response = error.response
    return {
        "id": item_id,
        "status": response.status,
        "headers": {k.lower(): v for k, v in response.headers.items() if k.lower() in ("etag", "location")},
        "body": response.json_body(),
    }


class _RollBack(Exception):
    """Unwinds an `Isolation: snapshot` batch through the store transaction."""
