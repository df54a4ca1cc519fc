"""`POST /$batch` in the Web API's multipart/mixed format: up to 1,000 operations, change sets all-or-nothing,
Content-ID references (`$1`) inside a change set, stop at the first failure unless `Prefer: odata.continue-on-error`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from local.emulators.dataverse.errors import bad_payload
from local.emulators.web import CaseInsensitiveHeaders, HttpError, Request, Response

MAX_OPERATIONS = 1000
_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)


@dataclass
class Part:
    request: Request
    content_id: str | None = None


@dataclass
class ChangeSet:
    parts: list[Part] = field(default_factory=list)


def _boundary(content_type: str | None) -> str:
    match = _BOUNDARY.search(content_type or "")
    if not content_type or not content_type.lower().startswith("multipart/mixed") or not match:
        raise bad_payload("A $batch request needs Content-Type: multipart/mixed; boundary=...")
    return match.group(1)


def _split(body: str, boundary: str) -> list[str]:
    """Split at delimiter lines only: a boundary string inside a JSON value must not cut the body."""
    delimiter = re.compile(rf"(?:^|\r?\n)--{re.escape(boundary)}(--)?[ \t]*(?=\r?\n|$)")
    chunks: list[str] = []
    position: int | None = None
    for match in delimiter.finditer(body):
        if position is not None:
            chunks.append(body[position : match.start()])
        if match.group(1):
            return [chunk.strip("\r\n") for chunk in chunks if chunk.strip()]
        position = match.end()
    raise bad_payload(f"The batch body does not end with the closing delimiter '--{boundary}--'.")


def _headers_and_rest(text: str) -> tuple[CaseInsensitiveHeaders, str]:
    head, _, rest = text.replace("\r\n", "\n").partition("\n\n")
    pairs = [tuple(part.strip() for part in line.split(":", 1)) for line in head.split("\n") if ":" in line]
    return CaseInsensitiveHeaders.of([(k, v) for k, v in pairs]), rest


def _inner_request(text: str, base: str) -> Request:
    head, _, body = text.replace("\r\n", "\n").partition("\n\n")
    lines = head.split("\n")
    request_line = lines[0].split(" ")
    if len(request_line) < 2:
        raise bad_payload(f"Malformed request line in batch part: '{lines[0]}'.")
    method, target = request_line[0], request_line[1]
    headers = CaseInsensitiveHeaders.of(
        [(k.strip(), v.strip()) for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)]
    )
    if "://" not in target and not target.startswith("/") and not target.startswith("$"):
        target = f"/api/data/v9.2/{target}"
    return Request.from_target(method, target, headers, body.strip().encode(), base)


def parse_batch(request: Request) -> list[Part | ChangeSet]:
    boundary = _boundary(request.header("content-type"))
    items: list[Part | ChangeSet] = []
    count = 0
    for chunk in _split(request.body.decode("utf-8"), boundary):
        headers, rest = _headers_and_rest(chunk)
        content_type = headers.get_header("content-type") or ""
        if content_type.lower().startswith("multipart/mixed"):
            change_set = ChangeSet()
            for inner in _split(rest, _boundary(content_type)):
                inner_headers, inner_rest = _headers_and_rest(inner)
                part = Part(_inner_request(inner_rest, request.base_url), inner_headers.get_header("content-id"))
                if part.request.method == "GET":
                    raise bad_payload("GET requests are not allowed inside a change set.")
                change_set.parts.append(part)
            count += len(change_set.parts)
            items.append(change_set)
        else:
            items.append(Part(_inner_request(rest, request.base_url)))
            count += 1
    if count > MAX_OPERATIONS:
        raise bad_payload(f"The number of requests in a batch ({count}) exceeds the limit of {MAX_OPERATIONS}.")
    if count == 0:
        raise bad_payload("The batch contains no requests.")
    return items


def _http_part(response: Response, content_id: str | None) -> str:
    lines = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if content_id:
        lines.append(f"Content-ID: {content_id}")
    reason = {
        200: "OK",
        201: "Created",
        204: "No Content",
        304: "Not Modified",
        400: "Bad Request",
        404: "Not Found",
        412: "Precondition Failed",
        429: "Too Many Requests",
    }.get(response.status, "")
    lines += ["", f"HTTP/1.1 {response.status} {reason}"]
    lines += [f"{k}: {v}" for k, v in response.headers.items()]
    lines += ["", response.body.decode("utf-8")]
    return "\r\n".join(lines)


Execute = Callable[[Request, dict[str, tuple[str, str]] | None], Response]


def run_batch(
    items: list[Part | ChangeSet], execute: Execute, transaction: Callable[[], object], continue_on_error: bool
) -> Response:
    """Run the parts in order; a change set runs inside one store transaction and rolls back on any failure."""
    boundary = f"batchresponse_{uuid.uuid4()}"
    chunks: list[str] = []
    first_error: int | None = None
    for item in items:
        if isinstance(item, Part):
            response = _safe(execute, item.request, None)
            chunks.append(_http_part(response, None))
            failed = response.status >= 400
        else:
            inner_boundary = f"changesetresponse_{uuid.uuid4()}"
            responses: list[str] = []
            content_ids: dict[str, tuple[str, str]] = {}
            failure: Response | None = None
            try:
                with transaction():  # type: ignore[attr-defined]
                    for part in item.parts:
                        response = _safe(execute, part.request, content_ids)
                        if response.status >= 400:
                            failure = response
                            raise _Rollback
                        created = response.headers.get("OData-EntityId")
                        if part.content_id and created:
                            content_ids[part.content_id] = _entity_of(created, part.request)
                        responses.append(_http_part(response, part.content_id))
            except _Rollback:
                pass
            if failure is not None:
                chunks.append(_http_part(failure, None))
                failed = True
            else:
                body = "".join(f"--{inner_boundary}\r\n{r}\r\n" for r in responses) + f"--{inner_boundary}--"
                chunks.append(f"Content-Type: multipart/mixed; boundary={inner_boundary}\r\n\r\n{body}")
                failed = False
        if failed and first_error is None:
            first_error = 400
            if not continue_on_error:
                break
    body = "".join(f"--{boundary}\r\n{chunk}\r\n" for chunk in chunks) + f"--{boundary}--\r\n"
    status = 400 if first_error is not None and not continue_on_error else 200
    return Response(
        status, body.encode(), {"Content-Type": f"multipart/mixed; boundary={boundary}", "OData-Version": "4.0"}
    )


class _Rollback(Exception):
    """Unwinds a failed change set through the store transaction (which undoes its writes)."""


def _safe(execute: Execute, request: Request, content_ids: dict[str, tuple[str, str]] | None) -> Response:
    try:
        return execute(request, content_ids)
    except HttpError as error:
        return error.response


def _entity_of(entity_id_url: str, request: Request) -> tuple[str, str]:
    """`OData-EntityId: .../accounts(<id>)` -> ('accounts', id); the app maps the set to a logical name."""
    tail = entity_id_url.rsplit("/", 1)[-1]
    entity_set, _, rest = tail.partition("(")
    return entity_set, rest.rstrip(")")
