"""`$batch` in the Web API's multipart/mixed format (facts B7): encode request values, parse the answer, and
line the answers up with the operations, one `BatchOutcome` per operation whatever the service sent back.

Normalisation rules (so callers see one behaviour whatever the answer's shape):
- atomic (one change set per chunk): success gives every operation its own answer (matched by Content-ID); a
  failed change set rolled everything back, so the failing operation (when the answer names its Content-ID)
  gets the error and the others `424 RolledBack`; when the answer names none, every operation gets the error.
- not atomic: answers come back in order; a batch that stopped at the first error leaves the rest
  `424 NotExecuted`.
Header names in outcomes are lower-cased (HTTP header names are case-insensitive).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from shared.connectors.dataverse.requests import DataverseRequest
from shared.ports import BatchOutcome

MAX_BATCH = 1000
FAILED_DEPENDENCY = 424
_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)


def not_executed(code: str = "NotExecuted", message: str = "Not executed: the batch stopped earlier.") -> BatchOutcome:
    return BatchOutcome(FAILED_DEPENDENCY, {"error": {"code": code, "message": message}})


ROLLED_BACK = ("RolledBack", "Rolled back: another operation of the change set failed.")


# -- encoding ----------------------------------------------------------------------------------------------------
def _http_part(request: DataverseRequest, api_root: str, content_id: int | None) -> str:
    head = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if content_id is not None:
        head.append(f"Content-ID: {content_id}")
    lines = [*head, "", f"{request.method} {request.url(api_root)} HTTP/1.1"]
    lines += [f"{name}: {value}" for name, value in request.headers.items()]
    body = json.dumps(request.body, separators=(",", ":")) if request.body is not None else ""
    return "\r\n".join([*lines, "", body])


def encode_batch(
    requests: Sequence[DataverseRequest], api_root: str, *, atomic: bool, token: str | None = None
) -> tuple[str, str]:
    """Return (Content-Type, body). Atomic puts every request in one change set with Content-IDs 1..n."""
    token = token or str(uuid.uuid4())
    batch = f"batch_{token}"
    if atomic:
        change_set = f"changeset_{token}"
        inner = "".join(f"--{change_set}\r\n{_http_part(r, api_root, i)}\r\n" for i, r in enumerate(requests, 1))
        parts = [f"Content-Type: multipart/mixed; boundary={change_set}\r\n\r\n{inner}--{change_set}--"]
    else:
        parts = [_http_part(r, api_root, None) for r in requests]
    body = "".join(f"--{batch}\r\n{part}\r\n" for part in parts) + f"--{batch}--\r\n"
    return f"multipart/mixed; boundary={batch}", body


# -- parsing -----------------------------------------------------------------------------------------------------
@dataclass
class ResponsePart:
    outcome: BatchOutcome
    content_id: str | None = None


@dataclass
class ChangeSetResponse:
    parts: list[ResponsePart] = field(default_factory=list)


def boundary_of(content_type: str) -> str | None:
    match = _BOUNDARY.search(content_type or "")
    return match.group(1) if match and content_type.lower().startswith("multipart/mixed") else None


def _split(body: str, boundary: str) -> list[str]:
    """Cut at delimiter lines only, so a boundary-like string inside a JSON value never splits a part."""
    delimiter = re.compile(rf"(?:^|\r?\n)--{re.escape(boundary)}(--)?[ \t]*(?=\r?\n|$)")
    chunks: list[str] = []
    position: int | None = None
    for match in delimiter.finditer(body):
        if position is not None:
            chunks.append(body[position : match.start()])
        if match.group(1):
            break
        position = match.end()
    return [chunk.lstrip("\r\n") for chunk in chunks if chunk.strip()]


def _headers(block: str) -> dict[str, str]:
    pairs = (line.split(":", 1) for line in block.split("\n") if ":" in line)
    return {name.strip().lower(): value.strip() for name, value in pairs}


def _response(text: str) -> BatchOutcome:
    head, _, body = text.partition("\n\n")
    lines = head.split("\n")
    status_line = lines[0].split(" ", 2)
    if len(status_line) < 2 or not status_line[1].isdigit():  # never guess: an unreadable answer is not a success
        raise ValueError(f"malformed status line in a batch answer: {lines[0]!r}")
    status = int(status_line[1])
    headers = _headers("\n".join(lines[1:]))
    text_body = body.strip()
    try:
        value = json.loads(text_body) if text_body else None
    except ValueError:
        value = text_body
    return BatchOutcome(status, value, headers)


def parse_batch_response(content_type: str, payload: str) -> list[ResponsePart | ChangeSetResponse]:
    """Raises ValueError when the payload is not a multipart answer (the caller turns that into an ApiError)."""
    boundary = boundary_of(content_type)
    if boundary is None:
        raise ValueError(f"not a multipart/mixed answer: {content_type!r}")
    items: list[ResponsePart | ChangeSetResponse] = []
    for chunk in _split(payload.replace("\r\n", "\n"), boundary):
        head, _, rest = chunk.partition("\n\n")
        headers = _headers(head)
        inner = boundary_of(headers.get("content-type", ""))
        if inner is not None:
            change_set = ChangeSetResponse()
            for part in _split(rest, inner):
                part_head, _, part_rest = part.partition("\n\n")
                change_set.parts.append(ResponsePart(_response(part_rest), _headers(part_head).get("content-id")))
            items.append(change_set)
        else:
            items.append(ResponsePart(_response(rest), headers.get("content-id")))
    return items


def outcomes_for(count: int, items: Sequence[ResponsePart | ChangeSetResponse], *, atomic: bool) -> list[BatchOutcome]:
    """One outcome per operation of a chunk of `count` operations (rules in the module docstring)."""
    if not atomic:
        flat = [item.outcome for item in items if isinstance(item, ResponsePart)]
        return flat[:count] + [not_executed() for _ in range(count - len(flat))]
    first = items[0] if items else None
    if isinstance(first, ChangeSetResponse):
        by_id = {part.content_id: part.outcome for part in first.parts}
        in_order = [part.outcome for part in first.parts]
        return [by_id.get(str(i + 1), in_order[i] if i < len(in_order) else not_executed()) for i in range(count)]
    if first is None:
        return [not_executed() for _ in range(count)]
    failed = first.content_id
    if failed is None or not failed.isdigit() or not 1 <= int(failed) <= count:
        return [first.outcome for _ in range(count)]
    return [first.outcome if str(i + 1) == failed else not_executed(*ROLLED_BACK) for i in range(count)]
