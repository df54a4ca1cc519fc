"""The port operations that are nothing but "build a request value, send it, read the answer" (an in-memory fake
ran them in process too until issue 21 removed it); apart from `client.py`, which sends, so each stays small.

Why shared: the client-side rules - 412 on a create-only write means "already created", 404 on a delete means
"already gone", a close action on a record already in that state is done, a bulk chunk refused for a record error
falls back to a per-record `$batch` - are then the same code in production and in every service test, and the
contract suite checks what is left to differ: the wire and the service's own rules.
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

from shared.connectors.dataverse import actions, options
from shared.connectors.dataverse import requests as build
from shared.connectors.dataverse.batch import not_executed
from shared.connectors.dataverse.bulk import write_in_bulk
from shared.connectors.dataverse.changes import strip_control
from shared.connectors.dataverse.requests import DataverseRequest
from shared.connectors.errors import ApiError
from shared.domain.errors import ErrorKind
from shared.ports import BatchOutcome, Row

QUOTE_WON, ORDER_FULFILLED = 2, 3


class DataverseOperations(ABC):
    bulk_chunk: int
    batch_chunk: int

    @abstractmethod
    def _send(self, request: DataverseRequest) -> BatchOutcome:
        """Send one request; return its answer when 2xx or in `request.accept`, else raise `ApiError`."""

    @abstractmethod
    def _send_chunk(
        self, chunk: Sequence[DataverseRequest], *, atomic: bool, continue_on_error: bool
    ) -> list[BatchOutcome]:
        """One `$batch` of at most `batch_chunk` requests: one normalised outcome per request."""

    @abstractmethod
    def _url_of(self, request: DataverseRequest) -> str: ...

    # -- reads and single-row writes ---------------------------------------------------------------------------
    def get_row(self, entity_set: str, row_id: str, select: Sequence[str] | None = None) -> Row | None:
        outcome = self._send(build.get_row(entity_set, row_id, select))
        return None if outcome.status == 404 else strip_control(outcome.body)

    def create_row(self, entity_set: str, row_id: str, body: Mapping[str, Any]) -> None:
        self._send(build.create_row(entity_set, row_id, body))

    def update_row(self, entity_set: str, row_id: str, body: Mapping[str, Any], etag: str | None = None) -> None:
        """Raises `DataverseNotFoundError` (404) or `DataverseConcurrencyError` (412: re-read and decide again)."""
        try:
            self._send(build.update_row(entity_set, row_id, body, etag))
        except ApiError as error:
            if error.status == 412 and error.attempts > 1 and self._holds(entity_set, row_id, body):
                return  # our own first attempt landed and only its answer was lost: not a conflict
            raise

    def _holds(self, entity_set: str, row_id: str, body: Mapping[str, Any]) -> bool:
        """Does the row already hold these plain values? (Lookups are not compared: then the answer is no.)"""
        if any("@" in key for key in body):
            return False
        row = self.get_row(entity_set, row_id, list(body))
        return row is not None and all(row.get(key) == value for key, value in body.items())

    def upsert_row(self, entity_set: str, row_id: str, body: Mapping[str, Any]) -> None:
        self._send(build.upsert_row(entity_set, row_id, body))

    def delete_row(self, entity_set: str, row_id: str) -> None:
        self._send(build.delete_row(entity_set, row_id))

    def claim_rows(self, entity_set: str, etags: Mapping[str, str | None]) -> set[str]:
        """The whole org's client: no company to claim for, every row may be coupled."""
        return set(etags)

    def stamped_elsewhere(self, entity_set: str, row_id: str) -> bool:
        """The whole org's client: no other company, no read."""
        return False

    def release(self, entity_set: str, row_id: str) -> bool:
        """The whole org's client: no company stamp to clear."""
        return False

    def set_state(self, entity_set: str, row_id: str, state: int, status: int) -> None:
        self._send(build.set_state(entity_set, row_id, state, status))

    # -- bulk --------------------------------------------------------------------------------------------------
    def create_multiple(self, logical_name: str, entity_set: str, rows: Sequence[Mapping[str, Any]]) -> list[str]:
        """Ids in row order. Give every row its (deterministic) id and repeating the call is harmless."""
        return write_in_bulk(self, "CreateMultiple", logical_name, entity_set, rows)

    def update_multiple(self, logical_name: str, entity_set: str, rows: Sequence[Mapping[str, Any]]) -> None:
        write_in_bulk(self, "UpdateMultiple", logical_name, entity_set, rows)

    def upsert_multiple(self, logical_name: str, entity_set: str, rows: Sequence[Mapping[str, Any]]) -> None:
        write_in_bulk(self, "UpsertMultiple", logical_name, entity_set, rows)

    def _send_bulk(self, request: DataverseRequest) -> Any:
        return self._send(request).body

    def _execute_each(self, requests: Sequence[DataverseRequest]) -> list[BatchOutcome]:
        return self._execute(requests, atomic=False, continue_on_error=True)

    # -- $batch ------------------------------------------------------------------------------------------------
    def execute_batch(
        self, operations: Sequence[Mapping[str, Any]], *, atomic: bool = True, continue_on_error: bool = False
    ) -> list[BatchOutcome]:
        """One outcome per operation (normalised, see `batch.py`), in chunks of `batch_chunk`: atomicity
        holds per chunk only. A failing operation is an outcome, not an exception; a failing transport raises."""
        requests = [build.from_operation(op) for op in operations]
        build.check_batch(requests, atomic=atomic)
        return self._execute(requests, atomic=atomic, continue_on_error=continue_on_error)

    def _execute(
        self, requests: Sequence[DataverseRequest], *, atomic: bool, continue_on_error: bool
    ) -> list[BatchOutcome]:
        outcomes: list[BatchOutcome] = []
        stopped = False
        for start in range(0, len(requests), self.batch_chunk):
            chunk = requests[start : start + self.batch_chunk]
            if stopped:
                outcomes += [not_executed() for _ in chunk]
                continue
            chunk_outcomes = self._send_chunk(chunk, atomic=atomic, continue_on_error=continue_on_error)
            outcomes += chunk_outcomes
            stopped = not continue_on_error and not all(o.ok for o in chunk_outcomes)
        return outcomes

    # -- option sets (option mappings) -------------------------------------------------------------------------
    def option_set(self, table: str, attribute: str) -> dict[int, str]:
        """The picklist's options: value -> label."""
        return options.options_of(self._send(options.read_options(table, attribute)).body or {})

    def insert_option(self, table: str, attribute: str, label: str, value: int | None = None) -> int:
        """A new option labelled `label`; its value, `value` when given, else chosen by Dataverse. Not repeated on a
        lost answer (it would add a second option): the caller reads the option set again and finds it by label."""
        answer = self._send(options.insert_option(table, attribute, label, value)).body or {}
        return int(answer["NewOptionValue"])

    def update_option_label(self, table: str, attribute: str, value: int, label: str) -> None:
        self._send(options.update_option(table, attribute, value, label))

    # -- actions and timeline ----------------------------------------------------------------------------------
    def win_quote(self, quote_id: str, status: int = 4, subject: str = "Won") -> None:
        """Only an active quote can be won (activate a draft with `set_state(..., 1, 2)` first)."""
        self._close(actions.win_quote(quote_id, status, subject), "quotes", quote_id, QUOTE_WON, status)

    def fulfill_sales_order(self, order_id: str, status: int = 100001, subject: str = "Fulfilled") -> None:
        request = actions.fulfill_sales_order(order_id, status, subject)
        self._close(request, "salesorders", order_id, ORDER_FULFILLED, status)

    def _close(self, request: DataverseRequest, entity_set: str, row_id: str, state: int, status: int) -> None:
        """Already in the requested state and status = done: a repeat (ours after a lost answer, or a re-run of a
        job that crashed before recording its result) must not fail the sync."""
        try:
            self._send(request)
        except ApiError as error:
            if error.kind is not ErrorKind.RECORD:
                raise
            row = self.get_row(entity_set, row_id, ["statecode", "statuscode"])
            if row is None or (row.get("statecode"), row.get("statuscode")) != (state, status):
                raise

    def create_post(
        self,
        regarding_entity_set: str,
        regarding_logical_name: str,
        regarding_id: str,
        text: str,
        *,
        post_id: str | None = None,
    ) -> str:
        """An Auto Post of type Status on the record's wall. A retry of this call never duplicates the post; pass
        a deterministic `post_id` to make a re-run of the same job idempotent too."""
        chosen = build.canonical_id(post_id or str(uuid.uuid4()))
        self._send(actions.create_post(regarding_entity_set, regarding_logical_name, regarding_id, text, chosen))
        return chosen
