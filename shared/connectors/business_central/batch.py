"""Business Central JSON `$batch`: chunks of at most 100 operations, results in request order, and retry-safety.

Why a module of its own: a batch is one POST whose answer can be lost like any other (a dropped connection after
BC committed it), and BC answers a repeated create with `Internal_EntityWithSameKeyExists`. The rules here turn
that into the same outcome the first attempt would have had, without duplicates and without losing writes:

- every create gets a chosen `id` (the caller's, or a fresh one), so repeating a batch can never duplicate;
- a batch whose operations are all safe to repeat is sent as idempotent, so `HttpClient` retries it itself;
- a create refused as already existing is settled by reading the entity (one GET batch for the whole chunk), and
  the operations BC did not run because it stopped there (or rolled back, with `Isolation: snapshot`) are resent.

Operations BC never ran come back as 424 `NotExecuted`; successes undone by an atomic rollback as 424 `RolledBack`,
so `ok` is only true for what is really stored. An atomic batch cannot span chunks: more than 100 is refused.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shared.connectors.business_central import requests as build
from shared.connectors.business_central.transport import BcTransport
from shared.ports import BC_SAME_KEY, BatchOutcome

MAX_BATCH = 100
NOT_EXECUTED = 424
SAME_KEY = BC_SAME_KEY


@dataclass(frozen=True)
class BatchItem:
    """One operation, its URL relative to the route root (`companies(<id>)/customers`)."""

    method: str
    url: str
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    chosen_id: str | None = None  # a create carrying its own id: repeatable, and readable back by id

    @property
    def safe_to_repeat(self) -> bool:
        lowered = {k.lower() for k in self.headers}
        return (
            self.method in ("GET", "PUT", "DELETE")
            or (self.method == "PATCH" and "if-match" in lowered)
            or self.chosen_id is not None
        )

    @property
    def created_url(self) -> str:
        return f"{self.url.split('?', 1)[0]}({self.chosen_id})"


def prepare(method: str, url: str, body: Any = None, headers: Mapping[str, str] | None = None) -> BatchItem:
    """Give a create its id (why: see the module docstring) and the headers BC needs on inner requests."""
    method = method.upper()
    all_headers = dict(headers or {})
    last = url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    is_create = method == "POST" and "(" not in last and not last.startswith("Microsoft.NAV.")
    chosen: str | None = None
    if is_create and isinstance(body, Mapping):
        chosen = str(body.get("id") or uuid.uuid4())
        body = {**body, "id": chosen}
    if body is not None:
        all_headers.setdefault("Content-Type", "application/json")
    return BatchItem(method, url, body, all_headers, chosen)


def _outcome(status: int, code: str, message: str) -> BatchOutcome:
    return BatchOutcome(status, {"error": {"code": code, "message": message}})


def _is_same_key(outcome: BatchOutcome) -> bool:
    error = outcome.body.get("error") if isinstance(outcome.body, dict) else None
    return isinstance(error, dict) and error.get("code") == SAME_KEY


class BatchRunner:
    """Runs `BatchItem`s as JSON `$batch`es of one route (`api/v2.0`, or the custom route)."""

    def __init__(self, transport: BcTransport, route: str) -> None:
        self.transport = transport
        self.route = route

    def run(self, items: Sequence[BatchItem], *, atomic: bool, continue_on_error: bool) -> list[BatchOutcome]:
        if atomic and len(items) > MAX_BATCH:
            raise ValueError(f"an atomic batch holds at most {MAX_BATCH} operations; got {len(items)}")
        outcomes: list[BatchOutcome] = []
        stopped = False
        for start in range(0, len(items), MAX_BATCH):
            chunk = list(items[start : start + MAX_BATCH])
            if stopped:
                outcomes += [_outcome(NOT_EXECUTED, "NotExecuted", "An earlier operation failed.") for _ in chunk]
                continue
            answers = self._chunk(chunk, atomic, continue_on_error)
            outcomes += answers
            stopped = not continue_on_error and any(not o.ok for o in answers)
        return outcomes

    def _chunk(self, chunk: list[BatchItem], atomic: bool, continue_on_error: bool) -> list[BatchOutcome]:
        settled: dict[int, BatchOutcome] = {}
        existing: dict[int, BatchOutcome] = {}
        todo = list(range(len(chunk)))
        while todo:
            answers = self._send(chunk, todo, atomic=atomic, continue_on_error=continue_on_error)
            duplicates = {i for i, o in answers.items() if chunk[i].chosen_id and _is_same_key(o)}
            found = self._read_existing(chunk, [i for i in todo if chunk[i].chosen_id]) if duplicates else {}
            if not duplicates or not duplicates <= set(found):  # nothing to settle, or a clash on another key
                settled.update(answers)
                break
            existing.update(found)
            if atomic:  # the whole round was rolled back: resend what does not exist yet
                todo = [i for i in todo if i not in found]
                continue
            settled.update({i: o for i, o in answers.items() if o.ok or i not in found})
            real_failure = any(not o.ok for i, o in answers.items() if i not in found)
            todo = [i for i in todo if i not in answers and i not in found]
            if real_failure and not continue_on_error:
                break
        for index, outcome in existing.items():
            settled.setdefault(index, outcome)
        failed = any(not o.ok for o in settled.values())
        results: list[BatchOutcome] = []
        for index in range(len(chunk)):
            answer = settled.get(index)
            if answer is None:
                answer = _outcome(NOT_EXECUTED, "NotExecuted", "Business Central stopped before this operation.")
            elif atomic and failed and answer.ok and index not in existing:
                answer = _outcome(NOT_EXECUTED, "RolledBack", "Rolled back with the failed operation.")
            results.append(answer)
        return results

    def _send(
        self, chunk: list[BatchItem], indices: list[int], *, atomic: bool, continue_on_error: bool
    ) -> dict[int, BatchOutcome]:
        requests = []
        for index in indices:
            item = chunk[index]
            request: dict[str, Any] = {"id": str(index), "method": item.method, "url": item.url}
            if item.headers:
                request["headers"] = dict(item.headers)
            if item.body is not None:
                request["body"] = item.body
            requests.append(request)
        safe = all(chunk[i].safe_to_repeat for i in indices)
        batch = build.batch(self.route, requests, atomic=atomic, continue_on_error=continue_on_error, idempotent=safe)
        response = self.transport.send(batch)
        answers: dict[int, BatchOutcome] = {}
        for answer in response.json().get("responses", []):
            index = int(answer["id"])
            answer_headers = {str(k).lower(): str(v) for k, v in (answer.get("headers") or {}).items()}
            answers[index] = BatchOutcome(int(answer["status"]), answer.get("body"), answer_headers)
        return answers

    def _read_existing(self, chunk: list[BatchItem], indices: list[int]) -> dict[int, BatchOutcome]:
        """Which chosen-id creates are already stored: one GET batch, however many there are."""
        reads = [BatchItem("GET", chunk[i].created_url) for i in indices]
        answers = self._send(reads, list(range(len(reads))), atomic=False, continue_on_error=True)
        return {indices[j]: o for j, o in answers.items() if o.status == 200}
