"""Bulk writes (Create/Update/UpsertMultiple) in chunks, with the per-record fallback Dataverse's all-or-nothing
bulk messages call for (facts B12).

Why a fallback and not smaller chunks: a chunk refused for a RECORD error (bad value, missing lookup target, a
duplicate create) says nothing about which record; re-sending that chunk as one `$batch` with continue-on-error
costs one more request, writes every good record and names every bad one. Transient and fatal failures are not
record problems: they propagate, and because every target carries a deterministic id, the caller can simply
repeat the whole call. The sending is injected (the real client's HTTP; a test may inject its own).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from shared.connectors.dataverse import requests as build
from shared.connectors.dataverse.errors import BulkWriteError, RecordFailure, outcome_error, row_id_of
from shared.connectors.dataverse.requests import DataverseRequest
from shared.connectors.errors import ApiError
from shared.domain.errors import ErrorKind, SyncError
from shared.ports import BatchOutcome


class BulkTransport(Protocol):
    """How `write_in_bulk` reaches Dataverse (the real client over HTTP)."""

    bulk_chunk: int

    def _send_bulk(self, request: DataverseRequest) -> Any:
        """Send one bulk request; return its JSON answer or raise `ApiError`."""
        ...

    def _execute_each(self, requests: Sequence[DataverseRequest]) -> list[BatchOutcome]:
        """One `$batch` (per 1,000) with continue-on-error: one outcome per request."""
        ...

    def _url_of(self, request: DataverseRequest) -> str: ...


def write_in_bulk(
    transport: BulkTransport, message: str, logical_name: str, entity_set: str, rows: Sequence[Mapping[str, Any]]
) -> list[str]:
    """Ids in row order; raises `BulkWriteError` after every chunk was tried when some records failed."""
    primary = f"{logical_name}id"
    ids: list[str | None] = []
    failures: list[RecordFailure] = []
    for start in range(0, len(rows), transport.bulk_chunk):
        chunk = rows[start : start + transport.bulk_chunk]
        try:
            answer = transport._send_bulk(build.bulk(message, logical_name, entity_set, chunk))
        except ApiError as error:
            if error.kind is not ErrorKind.RECORD:
                raise
            chunk_ids, chunk_failures = _fallback(transport, message, entity_set, primary, chunk, start)
            ids += chunk_ids
            failures += chunk_failures
            continue
        if message == "CreateMultiple" and isinstance(answer, dict):
            ids += [str(i) for i in answer.get("Ids", [])]
        else:
            ids += [row_id_of(row, primary) for row in chunk]
    if failures:
        raise BulkWriteError(message, failures, ids)
    return [i for i in ids if i is not None]


def _fallback(
    transport: BulkTransport,
    message: str,
    entity_set: str,
    primary: str,
    chunk: Sequence[Mapping[str, Any]],
    start: int,
) -> tuple[list[str | None], list[RecordFailure]]:
    """The chunk again, one operation per record: good records land, bad ones are named with their own error."""
    planned: list[tuple[int, Mapping[str, Any], DataverseRequest]] = []
    failures: list[RecordFailure] = []
    ids: list[str | None] = [None] * len(chunk)
    for offset, row in enumerate(chunk):
        try:
            planned.append((offset, row, build.single_write(message, entity_set, primary, row)))
        except SyncError as error:  # e.g. an UpdateMultiple row without its id: refused before sending
            failures.append(RecordFailure(start + offset, row_id_of(row, primary), error))
    outcomes = transport._execute_each([p[2] for p in planned]) if planned else []
    for (offset, row, request), outcome in zip(planned, outcomes, strict=True):
        if outcome.ok or outcome.status in request.accept:  # 412 on a create-only write = created before
            ids[offset] = row_id_of(row, primary) or entity_id_of(outcome)
        else:
            failed = outcome_error(outcome, request.method, transport._url_of(request))
            failures.append(RecordFailure(start + offset, row_id_of(row, primary), failed))
    return ids, sorted(failures, key=lambda failure: failure.index)


def entity_id_of(outcome: BatchOutcome) -> str | None:
    """`OData-EntityId: https://.../accounts(<id>)` -> `<id>`."""
    link = outcome.headers.get("odata-entityid", "")
    return link.rsplit("(", 1)[-1].rstrip(")") if "(" in link else None
