"""Reading and writing one mapping's records on each side, in as few requests as the APIs allow.

Reads select only the mapped fields and page at the server maximum; records needed by id are fetched with one
filter per chunk of ids, never one request each. Writes never overwrite what they did not read:
- an update of an existing row carries the version read (`If-Match`) on both sides: BC JSON `$batch` (100 per
  request), Dataverse `$batch` of PATCH operations (1,000 per request, each with its own `If-Match`) or one PATCH.
  A stale version loses (BC 409 `Request_EntityChanged`, Dataverse 412 ConcurrencyVersionMismatch) instead of
  overwriting a newer edit. Why not `UpsertMultiple`/`UpdateMultiple` for updates: in the Web API a bulk message
  is one POST, so there is no per-row `If-Match` (api-facts B12). The .NET SDK has
  `UpdateMultipleRequest.ConcurrencyBehavior` (learn.microsoft.com/dotnet/api/microsoft.xrm.sdk.messages.
  updatemultiplerequest.concurrencybehavior), but its Web API form (a parameter, and a per-target version) is
  not documented: UNCONFIRMED, so not relied on. And an upsert re-creates a row deleted meanwhile;
- `UpsertMultiple` stays for rows known not to exist yet (creates: deterministic ids, so a retry never duplicates).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.domain.errors import BulkWriteError, ErrorKind, SyncError
from shared.domain.mapping import TableMapping
from shared.engine.values import BC_MODIFIED, DV_MODIFIED, ValueMapper
from shared.ports import BatchOutcome, BusinessCentralClientPort, DataverseClientPort, Row

DATAVERSE_BATCH = 1000  # operations per Dataverse `$batch` (the Web API maximum)
DATAVERSE_ID_CHUNK = 100  # Dataverse: ~5 KB URLs, well inside the Web API's limit (UNCONFIRMED figure: 32 KB)
RANGE_MIN = 16  # fewer listed ids than this cost no more read by id than by range
COUPLING_NAMESPACE = uuid.UUID("3c4f2b1e-8d7a-4e55-9a0b-6f1d2c3e4a5b")


def deterministic_id(mapping: str, source_side: str, source_id: str) -> str:
    """The id a record created from `source_id` gets on the other side: the same on every retry, never a duplicate."""
    return str(uuid.uuid5(COUPLING_NAMESPACE, f"{mapping}:{source_side}:{source_id.lower()}"))


def _and(*filters: str | None) -> str | None:
    parts = [f"({f})" for f in filters if f]
    return " and ".join(parts) if parts else None


def _chunks(values: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _range_rows(
    client: BusinessCentralClientPort | DataverseClientPort,
    entity_set: str,
    ids: Sequence[str],
    select: Sequence[str],
    scope: str | None,
    key: str,
) -> dict[str, Row]:
    """The rows of `ids` (one page of `list_ids`, in its order) read as the one range they are: a full-sync chunk
    of 200 costs one request instead of 14. Whatever the range did not give, the caller reads by id, so this is
    only ever an optimization; a service that refuses the range filter (a record-kind 400) gets id filters."""
    text = client.id_range_filter(entity_set, ids[0], ids[-1]) if len(ids) >= RANGE_MIN else None
    if text is None:
        return {}
    wanted = set(ids)
    try:
        pages = client.list_changed_since(entity_set, None, select, extra_filter=_and(text, scope))
        return {str(row[key]): row for page in pages for row in page.rows if str(row[key]) in wanted}
    except SyncError as error:
        if error.kind is not ErrorKind.RECORD:
            raise
        return {}


def _code(outcome: BatchOutcome) -> str:
    return "" if outcome.ok else str(((outcome.body or {}).get("error") or {}).get("code", outcome.status))


@dataclass
class BcSide:
    client: BusinessCentralClientPort
    mapping: TableMapping
    mapper: ValueMapper

    @property
    def entity_set(self) -> str:
        return self.mapping.bc_entity_set

    def changed_since(self, since: datetime | None) -> Iterator[Row]:
        for page in self.client.list_changed_since(
            self.entity_set, since, self.mapper.bc_select(), extra_filter=self.mapping.bc_filter
        ):
            yield from page.rows

    def get_many(self, ids: Iterable[str], *, in_scope_only: bool = False) -> dict[str, Row]:
        scope = self.mapping.bc_filter if in_scope_only else None
        return self.client.get_entities(self.entity_set, sorted(set(ids)), self.mapper.bc_select(), scope)

    def get_listed(self, ids: Sequence[str]) -> dict[str, Row]:
        """The records of one page of `list_ids` (in its order) still in the mapping's filter."""
        found = _range_rows(self.client, self.entity_set, ids, self.mapper.bc_select(), self.mapping.bc_filter, "id")
        found.update(self.get_many([i for i in ids if i not in found], in_scope_only=True))
        return found

    def create(self, entity_id: str, payload: Mapping[str, Any]) -> Row:
        return self.client.create_entity(self.entity_set, payload, entity_id)

    def create_many(
        self, creates: Sequence[tuple[str, Mapping[str, Any]]]
    ) -> list[tuple[Row | None, SyncError | None]]:
        """(new id, body) each, in JSON batches; per create the stored row, or the error. A create whose id BC
        already holds (our own earlier attempt, answered or not) is settled by the batch runner, which reads that
        row back and reports it as created."""
        requests = [
            {"method": "POST", "url": self.entity_set, "body": {**self.mapper.bc_body(body), "id": new_id}}
            for new_id, body in creates
        ]
        outcomes = self.client.execute_batch(requests, continue_on_error=True) if requests else []
        results: list[tuple[Row | None, SyncError | None]] = []
        written: list[tuple[Mapping[str, Any], Row]] = []
        for (_, body), outcome in zip(creates, outcomes, strict=False):
            if outcome.ok:
                results.append((dict(outcome.body or {}), None))
                written.append((body, dict(outcome.body or {})))
                continue
            message = str(((outcome.body or {}).get("error") or {}).get("message", "BC refused the record."))
            results.append((None, SyncError(_code(outcome), message)))
        self.mapper.after_bc_written(written)  # e.g. name parts through their page, once BC holds the record
        return results

    def update_many(self, updates: Sequence[tuple[str, Mapping[str, Any], str]]) -> list[BatchOutcome]:
        """(id, payload, etag) each; one outcome per update, in order (failed ones are reported, not raised)."""
        requests = [
            {
                "method": "PATCH",
                "url": f"{self.entity_set}({entity_id})",
                "body": self.mapper.bc_body(body),
                "etag": etag,
            }
            for entity_id, body, etag in updates
        ]
        outcomes = self.client.execute_batch(requests, continue_on_error=True) if requests else []
        self.mapper.after_bc_written(
            [(body, dict(o.body or {})) for (_, body, _), o in zip(updates, outcomes, strict=False) if o.ok]
        )
        return outcomes

    @staticmethod
    def modified_on(row: Mapping[str, Any]) -> str | None:
        value = row.get(BC_MODIFIED)
        return str(value) if value else None


@dataclass
class DataverseSide:
    client: DataverseClientPort
    mapping: TableMapping
    mapper: ValueMapper

    @property
    def entity_set(self) -> str:
        return self.mapping.dataverse_entity_set

    @property
    def primary_id(self) -> str:
        return self.mapping.dataverse_id

    def changed_since(self, since: datetime | None) -> Iterator[Row]:
        for page in self.client.list_changed_since(
            self.entity_set, since, self.mapper.dataverse_select(), extra_filter=self.mapping.dataverse_filter
        ):
            yield from page.rows

    def get_many(self, ids: Iterable[str], *, in_scope_only: bool = False) -> dict[str, Row]:
        found: dict[str, Row] = {}
        for chunk in _chunks(sorted(set(ids)), DATAVERSE_ID_CHUNK):
            ids_filter = " or ".join(f"{self.primary_id} eq {value}" for value in chunk)
            scope = self.mapping.dataverse_filter if in_scope_only else None
            for page in self.client.list_changed_since(
                self.entity_set, None, self.mapper.dataverse_select(), extra_filter=_and(ids_filter, scope)
            ):
                found.update({str(row[self.primary_id]): row for row in page.rows})
        return found

    def get_listed(self, ids: Sequence[str]) -> dict[str, Row]:
        """The rows of one page of `list_ids` (in its order) still in the mapping's filter."""
        select, scope = self.mapper.dataverse_select(), self.mapping.dataverse_filter
        found = _range_rows(self.client, self.entity_set, ids, select, scope, self.primary_id)
        found.update(self.get_many([i for i in ids if i not in found], in_scope_only=True))
        return found

    def create(self, row_id: str, payload: Mapping[str, Any]) -> None:
        self.client.create_row(self.entity_set, row_id, payload)

    def upsert_in_chunks(self, rows: Sequence[Mapping[str, Any]], size: int) -> dict[int, SyncError]:
        """`upsert_many` per `size` rows; the error of each row that was not written, by its index in `rows`
        (a whole chunk's when the request failed as a whole)."""
        failures: dict[int, SyncError] = {}
        for start in range(0, len(rows), size):
            chunk = rows[start : start + size]
            try:
                self.upsert_many(chunk)
            except BulkWriteError as error:
                failures.update({start + failure.index: failure.error for failure in error.failures})
            except SyncError as error:
                failures.update({start + offset: error for offset in range(len(chunk))})
        return failures

    def upsert_many(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Rows carry their primary id; raises `BulkWriteError` listing the rows that failed (the rest are written).
        Unconditional: only for rows being created (see the module docstring), never to update a coupled row."""
        if rows:
            self.client.upsert_multiple(self.mapping.dataverse_table, self.entity_set, rows)

    def update_one(self, row_id: str, payload: Mapping[str, Any], etag: str | None) -> None:
        """One PATCH conditional on the version read (`If-Match`; `*` only when none was read, which still refuses to
        re-create a deleted row). Raises `ConcurrencyError` (412: changed since read) or `NotFoundError` (404)."""
        self.client.update_row(self.entity_set, row_id, payload, etag or "*")

    def update_in_chunks(
        self, updates: Sequence[tuple[str, Mapping[str, Any], str | None]], size: int = DATAVERSE_BATCH
    ) -> list[BatchOutcome | SyncError]:
        """(row id, payload, ETag read) each, as PATCH operations with their own `If-Match` in `$batch` requests of
        `size` (<= 1,000) that go on after a failed operation. One result per update, in order: its outcome (412 =
        changed since read), or the error of its whole request when that failed (a fatal one is raised: the job
        stops). Every operation counts toward service protection, unlike a bulk message: the price of not
        overwriting an edit made since the read."""
        results: list[BatchOutcome | SyncError] = []
        step = max(1, min(size, DATAVERSE_BATCH))
        for start in range(0, len(updates), step):
            chunk = updates[start : start + step]
            operations = [
                {
                    "method": "PATCH",
                    "url": f"{self.entity_set}({row_id})",
                    "body": dict(body),
                    "headers": {"If-Match": etag or "*"},
                }
                for row_id, body, etag in chunk
            ]
            try:
                results += self.client.execute_batch(operations, atomic=False, continue_on_error=True)
            except SyncError as error:
                if error.kind is ErrorKind.FATAL:
                    raise
                results += [error] * len(chunk)
        return results

    @staticmethod
    def modified_on(row: Mapping[str, Any]) -> str | None:
        value = row.get(DV_MODIFIED)
        return str(value) if value else None
