"""In-memory fakes of the storage ports, with the same semantics as the Table Storage repositories.

Same conflicts, etags, skip rule and orders: they share the key builders (`shared.storage.keys`, for orders), the
error rule (`shared.domain.record_errors`) and the size rule (`shared.storage.large_values`), and
`tests/contract/test_storage_contract.py` runs one suite against both. Values are copied on the way in and out
(through JSON where the table stores JSON), so a test cannot change stored state by mutating what it got back.
Every store is thread-safe (one lock each), so concurrency tests can use them too.
"""

from __future__ import annotations

import copy
import itertools
import json
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from shared.domain.coupling import Coupling
from shared.domain.errors import ConcurrencyError, ConflictError, NotFoundError, SyncError
from shared.domain.full_sync import LineChunk
from shared.domain.record_errors import clip_message, next_error
from shared.domain.records import (
    ArchivedQuote,
    Checkpoint,
    LineStatus,
    RecordErrorEntry,
    ReviewLine,
    Side,
    SyncJob,
    SyncRun,
)
from shared.storage import couplings as table_couplings
from shared.storage import sync_errors as table_errors
from shared.storage.keys import escape_key, format_instant, job_row_key, revision_row_key, side_row_key, utc_now
from shared.storage.large_values import encode_json
from shared.storage.run_chunks import chunk_prefix, chunk_row_key
from shared.storage.table_pages import page_token, read_token
from shared.storage.transactions import MAX_TRANSACTION_OPERATIONS

_versions = itertools.count(1)
_versions_lock = threading.Lock()
SETTINGS_PARTITIONS = ("setup", "mapping")
MAX_SETTINGS_CHANGES = 99


def _new_etag() -> str:
    with _versions_lock:
        return f'W/"fake-{next(_versions)}"'


def _stale(what: str) -> ConcurrencyError:
    return ConcurrencyError("etagMismatch", f"{what} changed since it was read; re-read and decide again")


def _via_json(value: Any) -> Any:
    return json.loads(json.dumps(value))


class InMemoryCouplingStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_bc: dict[tuple[str, str], Coupling] = {}  # stored with their etag
        self._bc_of_dv: dict[tuple[str, str], str] = {}
        self._former: dict[tuple[str, Side, str], str] = {}

    def find_by_bc_id(self, mapping: str, bc_id: str) -> Coupling | None:
        with self._lock:
            return self._by_bc.get((mapping, bc_id))

    def find_by_dataverse_id(self, mapping: str, dataverse_id: str) -> Coupling | None:
        with self._lock:
            bc_id = self._bc_of_dv.get((mapping, dataverse_id))
            return None if bc_id is None else self._by_bc[(mapping, bc_id)]

    def find_many_by_bc_ids(self, mapping: str, bc_ids: Iterable[str]) -> dict[str, Coupling]:
        found = {bc_id: self.find_by_bc_id(mapping, bc_id) for bc_id in bc_ids}
        return {bc_id: coupling for bc_id, coupling in found.items() if coupling is not None}

    def find_many_by_dataverse_ids(self, mapping: str, dataverse_ids: Iterable[str]) -> dict[str, Coupling]:
        found = {dv_id: self.find_by_dataverse_id(mapping, dv_id) for dv_id in dataverse_ids}
        return {dv_id: coupling for dv_id, coupling in found.items() if coupling is not None}

    def list_couplings(self, mapping: str) -> Iterator[Coupling]:
        with self._lock:
            couplings = [coupling for (name, _), coupling in self._by_bc.items() if name == mapping]
        return iter(sorted(couplings, key=lambda coupling: side_row_key(Side.BC, coupling.bc_id)))

    def coupled_ids(self, mapping: str) -> Iterator[tuple[str, str]]:
        return iter([(c.bc_id, c.dataverse_id) for c in self.list_couplings(mapping)])

    def has_couplings(self, mapping: str) -> bool:
        with self._lock:
            return any(name == mapping for name, _ in self._by_bc)

    def create_coupling(self, coupling: Coupling) -> Coupling:
        with self._lock:
            bc_taken = (coupling.mapping, coupling.bc_id) in self._by_bc
            if bc_taken or (coupling.mapping, coupling.dataverse_id) in self._bc_of_dv:
                taken = "bcId" if bc_taken else "dataverseId"
                raise ConflictError(
                    "alreadyCoupled", f"{taken} is already coupled in mapping {coupling.mapping}", field=taken
                )
            return self._store(coupling)

    def create_couplings(self, couplings: Sequence[Coupling]) -> list[Coupling | None]:
        results: list[Coupling | None] = []
        for coupling in couplings:
            try:
                results.append(self.create_coupling(coupling))
            except ConflictError:
                results.append(None)
        return results

    def update_couplings(self, couplings: Sequence[Coupling]) -> list[Coupling | SyncError]:
        if len({(c.mapping, c.bc_id) for c in couplings}) < len(couplings):
            raise ValueError("update_couplings takes distinct couplings of one mapping")
        results: list[Coupling | SyncError] = []
        for coupling in couplings:
            try:
                results.append(self.update_coupling(coupling))
            except SyncError as error:
                results.append(error)
        return results

    def update_coupling(self, coupling: Coupling) -> Coupling:
        if coupling.etag is None:
            raise ValueError("update_coupling needs the etag of the coupling it read")
        with self._lock:
            current = self._by_bc.get((coupling.mapping, coupling.bc_id))
            if current is None:
                raise NotFoundError("couplingNotFound", f"{coupling.mapping}/{coupling.bc_id} is not coupled")
            if current.dataverse_id != coupling.dataverse_id:
                raise ConflictError(
                    "couplingIdsChanged", "re-couple with delete + create, not update", field="dataverseId"
                )
            if current.etag != coupling.etag:
                raise _stale(f"coupling {coupling.mapping}/{coupling.bc_id}")
            return self._store(coupling)

    def list_page(
        self, mapping: str, top: int, continuation_token: str | None = None, *, skipped_only: bool = False
    ) -> tuple[list[Coupling], str | None]:
        """The same tokens as the table's (`table_pages`): the next coupling row's key."""
        partition, scope = escape_key(mapping), table_couplings.page_scope(mapping)
        start = (read_token(continuation_token, scope)["RowKey"] or "") if continuation_token is not None else ""
        rows = [c for c in self.list_couplings(mapping) if side_row_key(Side.BC, c.bc_id) >= start]
        rows = [c for c in rows if c.skipped] if skipped_only else rows
        page, rest = rows[:top], rows[top:]
        following = {"PartitionKey": partition, "RowKey": side_row_key(Side.BC, rest[0].bc_id)} if rest else None
        return page, page_token(following, scope)

    def delete_coupling(self, mapping: str, bc_id: str, *, remember: bool = False) -> bool:
        with self._lock:
            current = self._by_bc.pop((mapping, bc_id), None)
            if current is not None:
                self._bc_of_dv.pop((mapping, current.dataverse_id), None)
                if remember:
                    self._former[(mapping, Side.BC, bc_id)] = current.dataverse_id
                    self._former[(mapping, Side.DATAVERSE, current.dataverse_id)] = bc_id
            return current is not None

    def delete_couplings(
        self, mapping: str, couplings: Sequence[Coupling], *, remember: Collection[str] = ()
    ) -> list[bool]:
        return [self.delete_coupling(mapping, c.bc_id, remember=c.bc_id in remember) for c in couplings]

    def former_partners(self, mapping: str, side: Side, ids: Iterable[str]) -> dict[str, str]:
        with self._lock:
            return {i: self._former[(mapping, side, i)] for i in ids if (mapping, side, i) in self._former}

    def has_former_couplings(self, mapping: str) -> bool:
        with self._lock:
            return any(name == mapping for name, _, _ in self._former)

    def _store(self, coupling: Coupling) -> Coupling:
        stored = replace(coupling, etag=_new_etag())
        self._by_bc[(coupling.mapping, coupling.bc_id)] = stored
        self._bc_of_dv[(coupling.mapping, coupling.dataverse_id)] = coupling.bc_id
        return stored


class InMemoryCheckpointStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._checkpoints: dict[tuple[str, Side], Checkpoint] = {}

    def find_checkpoint(self, mapping: str, side: Side) -> Checkpoint | None:
        with self._lock:
            return self._checkpoints.get((mapping, side))

    def save_checkpoint(self, checkpoint: Checkpoint) -> Checkpoint:
        key = (checkpoint.mapping, checkpoint.side)
        with self._lock:
            current = self._checkpoints.get(key)
            if (None if current is None else current.etag) != checkpoint.etag:
                raise _stale(f"checkpoint {checkpoint.mapping}/{checkpoint.side.value}")
            encode_json("BoundaryIds", list(checkpoint.boundary_ids))  # the same size limit as the table
            stored = replace(checkpoint, boundary_ids=tuple(checkpoint.boundary_ids), etag=_new_etag())
            self._checkpoints[key] = stored
            return stored

    def find_checkpoints(self, mapping: str) -> dict[Side, Checkpoint]:
        with self._lock:
            return {side: c for (name, side), c in self._checkpoints.items() if name == mapping}

    def save_checkpoints(self, checkpoints: Sequence[Checkpoint]) -> list[Checkpoint]:
        """Like the table: one mapping's, all or nothing."""
        if len({c.mapping for c in checkpoints}) > 1 or len({c.side for c in checkpoints}) < len(checkpoints):
            raise ValueError("save_checkpoints takes one checkpoint per side of one mapping")
        with self._lock:
            for checkpoint in checkpoints:
                current = self._checkpoints.get((checkpoint.mapping, checkpoint.side))
                if (None if current is None else current.etag) != checkpoint.etag:
                    raise _stale(f"checkpoint {checkpoint.mapping}/{checkpoint.side.value}")
                encode_json("BoundaryIds", list(checkpoint.boundary_ids))
            saved = [replace(c, boundary_ids=tuple(c.boundary_ids), etag=_new_etag()) for c in checkpoints]
            self._checkpoints.update({(c.mapping, c.side): c for c in saved})
            return saved


class InMemoryRunStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[str, SyncRun] = {}
        self._lines: dict[str, dict[str, ReviewLine]] = {}
        self._chunks: dict[tuple[str, str], LineChunk] = {}  # (run id, row key) -> chunk

    def active_runs(self) -> list[str]:
        with self._lock:
            return sorted(run_id for run_id, run in self._runs.items() if run.status == "running")

    def save_chunks(self, run_id: str, chunks: Sequence[LineChunk]) -> None:
        """Like the table: groups of at most 100 in order, each all or nothing; chunks are immutable values."""
        with self._lock:
            for start in range(0, len(chunks), MAX_TRANSACTION_OPERATIONS):
                group = chunks[start : start + MAX_TRANSACTION_OPERATIONS]
                keys = [(run_id, chunk_row_key(chunk)) for chunk in group]
                if len(set(keys)) < len(keys) or any(key in self._chunks for key in keys):
                    raise ConflictError("chunkExists", f"run {run_id} has one of these chunks already", field="chunk")
                for chunk in group:
                    encode_json("Ids", list(chunk.ids))  # refused when too large, as by the table
                self._chunks.update(zip(keys, (replace(c, ids=tuple(c.ids)) for c in group), strict=True))

    def list_chunks(self, run_id: str, mapping: str, attempt: int, phase: int | None = None) -> list[LineChunk]:
        prefix = chunk_prefix(mapping, attempt, phase)
        with self._lock:
            found = [c for (run, key), c in self._chunks.items() if run == run_id and key.startswith(prefix)]
        return sorted(found, key=lambda c: c.number)

    def create_run(self, run: SyncRun, lines: Sequence[ReviewLine]) -> SyncRun:
        with self._lock:
            if len({line.mapping for line in lines}) != len(lines):
                raise ValueError("a run has one line per mapping")
            if run.run_id in self._runs:
                raise ConflictError("runExists", f"run {run.run_id} exists already", field="runId")
            self._runs[run.run_id] = replace(run, etag=_new_etag())
            self._lines[run.run_id] = {line.mapping: _copy_line(line, _new_etag()) for line in lines}
            return self._runs[run.run_id]

    def get_run(self, run_id: str) -> tuple[SyncRun, list[ReviewLine]]:
        with self._lock:
            run = self._runs.get(run_id)
            if run is None:
                raise NotFoundError("runNotFound", f"no full synchronization run {run_id}", field="runId")
            lines = [_copy_line(line, line.etag) for line in self._lines[run_id].values()]
        position = {mapping: index for index, mapping in enumerate(run.mappings)}
        lines.sort(key=lambda line: (position.get(line.mapping, len(position)), escape_key(line.mapping)))
        return run, lines

    def running_mappings(self, started_after: str) -> set[str]:
        with self._lock:
            return {
                line.mapping
                for lines in self._lines.values()
                for line in lines.values()
                if line.status is LineStatus.RUNNING and (line.started_on or "") > started_after
            }

    def update_run(self, run: SyncRun) -> SyncRun:
        if run.etag is None:
            raise ValueError("update_run needs the etag of the run it read")
        with self._lock:
            current = self._runs.get(run.run_id)
            if current is None:
                raise NotFoundError("runNotFound", f"no full synchronization run {run.run_id}", field="runId")
            if current.etag != run.etag:
                raise _stale(f"run {run.run_id}")
            self._runs[run.run_id] = replace(run, etag=_new_etag())
            return self._runs[run.run_id]

    def update_line(self, run_id: str, line: ReviewLine) -> ReviewLine:
        if line.etag is None:
            raise ValueError("update_line needs the etag of the line it read")
        with self._lock:
            current = self._lines.get(run_id, {}).get(line.mapping)
            if current is None:
                raise NotFoundError("lineNotFound", f"run {run_id} has no line {line.mapping}", field="mapping")
            if current.etag != line.etag:
                raise _stale(f"line {run_id}/{line.mapping}")
            stored = _copy_line(line, _new_etag())
            self._lines[run_id][line.mapping] = stored
            return _copy_line(stored, stored.etag)

    def update_lines(
        self, run_id: str, lines: Sequence[ReviewLine], run: SyncRun | None = None
    ) -> tuple[SyncRun | None, list[ReviewLine]]:
        """Like the table: one transaction, all or nothing."""
        if len({line.mapping for line in lines}) != len(lines):
            raise ValueError("a run has one line per mapping")
        if any(line.etag is None for line in lines) or (run is not None and run.etag is None):
            raise ValueError("update_lines needs the etag of each line (and of the run) it read")
        if run is not None and run.run_id != run_id:
            raise ValueError("update_lines takes the run of the lines")
        if len(lines) + (run is not None) > MAX_TRANSACTION_OPERATIONS:
            raise ValueError(f"one transaction holds {MAX_TRANSACTION_OPERATIONS} operations at most")
        with self._lock:
            current = self._lines.get(run_id, {})
            if run_id not in self._runs or any(line.mapping not in current for line in lines):
                raise NotFoundError("lineNotFound", f"run {run_id} or one of its lines is gone", field="runId")
            if any(current[line.mapping].etag != line.etag for line in lines) or (
                run is not None and self._runs[run_id].etag != run.etag
            ):
                raise _stale(f"a line of run {run_id}")
            saved = []
            for line in lines:
                stored = _copy_line(line, _new_etag())
                current[line.mapping] = stored
                saved.append(_copy_line(stored, stored.etag))
            if run is not None:
                self._runs[run_id] = replace(run, etag=_new_etag())
            return (None if run is None else self._runs[run_id]), saved


def _copy_line(line: ReviewLine, etag: str | None) -> ReviewLine:
    """`Counters` is mutable, so a line is copied on the way in and out."""
    return replace(line, counters=copy.copy(line.counters), error=clip_message(line.error), etag=etag)


class InMemoryJobLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[tuple[str, str], SyncJob] = {}  # (escaped mapping, row key): the table's order

    def record_job(self, job: SyncJob) -> None:
        stored = replace(_copy_job(job), message=clip_message(job.message))
        with self._lock:
            self._jobs[(escape_key(job.mapping), job_row_key(job.started_on, job.job_id))] = stored

    def list_jobs(self, mapping: str, limit: int = 50, trigger: str | None = None) -> list[SyncJob]:
        with self._lock:
            keys = sorted(key for key in self._jobs if key[0] == escape_key(mapping))
            keys = [key for key in keys if trigger is None or self._jobs[key].trigger == trigger][: max(limit, 0)]
            return [_copy_job(self._jobs[key]) for key in keys]

    def find_job(self, job_id: str, mapping: str | None = None) -> SyncJob | None:
        with self._lock:
            job = next(
                (
                    self._jobs[key]
                    for key in sorted(self._jobs)
                    if self._jobs[key].job_id == job_id and mapping in (None, self._jobs[key].mapping)
                ),
                None,
            )
            return None if job is None else _copy_job(job)


def _copy_job(job: SyncJob) -> SyncJob:
    return replace(job, counters=copy.copy(job.counters))


class InMemorySyncErrorStore:
    def __init__(self, *, clock: Callable[[], datetime] = utc_now) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._errors: dict[tuple[str, str], RecordErrorEntry] = {}  # (escaped mapping, row key): the table's order

    def record_error(self, mapping: str, side: Side, record_id: str, code: str, message: str) -> RecordErrorEntry:
        key = (escape_key(mapping), side_row_key(side, record_id))
        with self._lock:
            entry = next_error(
                self._errors.get(key), mapping, side, record_id, code, message, format_instant(self._clock())
            )
            self._errors[key] = replace(entry, etag=_new_etag())
            return self._errors[key]

    def clear_error(self, mapping: str, side: Side, record_id: str) -> None:
        with self._lock:
            self._errors.pop((escape_key(mapping), side_row_key(side, record_id)), None)

    def save_errors(self, entries: Sequence[RecordErrorEntry]) -> list[RecordErrorEntry | None]:
        results: list[RecordErrorEntry | None] = []
        with self._lock:
            for entry in entries:
                key = (escape_key(entry.mapping), side_row_key(entry.side, entry.record_id))
                current = self._errors.get(key)
                if (current.etag if current is not None else None) != entry.etag:
                    results.append(None)
                    continue
                self._errors[key] = replace(entry, message=clip_message(entry.message), etag=_new_etag())
                results.append(self._errors[key])
        return results

    def clear_errors(self, mapping: str, keys: Sequence[tuple[Side, str]]) -> None:
        for side, record_id in keys:
            self.clear_error(mapping, side, record_id)

    def find_error(self, mapping: str, side: Side, record_id: str) -> RecordErrorEntry | None:
        with self._lock:
            return self._errors.get((escape_key(mapping), side_row_key(side, record_id)))

    def find_errors(self, mapping: str, keys: Sequence[tuple[Side, str]]) -> list[RecordErrorEntry]:
        with self._lock:
            wanted = sorted({(escape_key(mapping), side_row_key(side, record_id)) for side, record_id in keys})
            return [self._errors[key] for key in wanted if key in self._errors]

    def list_errors(self, mapping: str | None = None) -> list[RecordErrorEntry]:
        with self._lock:
            keys = sorted(key for key in self._errors if mapping is None or key[0] == escape_key(mapping))
            return [self._errors[key] for key in keys]

    def list_errors_page(
        self, mapping: str | None, top: int, continuation_token: str | None = None
    ) -> tuple[list[RecordErrorEntry], str | None]:
        scope = table_errors.page_scope(mapping)
        start = None if continuation_token is None else read_token(continuation_token, scope)
        first = ("", "") if start is None else (start["PartitionKey"] or "", start["RowKey"] or "")
        with self._lock:
            keys = sorted(
                key for key in self._errors if (mapping is None or key[0] == escape_key(mapping)) and key >= first
            )
            entries = [self._errors[key] for key in keys[:top]]
        after = {"PartitionKey": keys[top][0], "RowKey": keys[top][1]} if len(keys) > top else None
        return entries, page_token(after, scope)

    def restore(self, mapping: str, side: Side, record_id: str) -> None:
        key = (escape_key(mapping), side_row_key(side, record_id))
        with self._lock:
            entry = self._errors.get(key)
            if entry is not None and entry.skipped:
                self._errors[key] = replace(entry, skipped=False, etag=_new_etag())


class InMemorySettingsStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._partitions: dict[str, tuple[dict[str, Any], str]] = {}

    def get_settings(self, partition: str) -> tuple[dict[str, Any], str | None]:
        with self._lock:
            values, etag = self._partitions.get(_settings_partition(partition), ({}, None))
            return _via_json(values), etag

    def get_all_settings(self) -> dict[str, tuple[dict[str, Any], str | None]]:
        return {partition: self.get_settings(partition) for partition in SETTINGS_PARTITIONS}

    def update_settings(self, partition: str, values: Mapping[str, Any], etag: str | None) -> str:
        new_values = _via_json(dict(values))
        with self._lock:
            current, current_etag = self._partitions.get(_settings_partition(partition), ({}, None))
            if current_etag != etag:
                raise _stale(f"{partition} settings")
            changes = [key for key, value in new_values.items() if key not in current or current[key] != value]
            removed = [key for key in current if key not in new_values]
            if len(changes) + len(removed) > MAX_SETTINGS_CHANGES:
                raise ValueError(f"one save changes at most {MAX_SETTINGS_CHANGES} {partition} settings")
            for key in changes:
                encode_json("Value", new_values[key])  # the same size limit as the table
            self._partitions[partition] = (new_values, _new_etag())
            return self._partitions[partition][1]


def _settings_partition(partition: str) -> str:
    if partition not in SETTINGS_PARTITIONS:
        raise ValueError(f"settings partition {partition!r}: one of {', '.join(SETTINGS_PARTITIONS)}")
    return partition


class InMemoryQuoteArchive:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._quotes: dict[str, dict[str, ArchivedQuote]] = {}

    def archive_quote(self, quote: ArchivedQuote) -> None:
        row_key = revision_row_key(quote.revision)
        encode_json("Document", quote.document)  # the same size limit as the table
        stored = replace(quote, document=_via_json(quote.document))
        with self._lock:
            self._quotes.setdefault(quote.quote_number, {}).setdefault(row_key, stored)

    def list_revisions(self, quote_number: str) -> list[ArchivedQuote]:
        with self._lock:
            revisions = self._quotes.get(quote_number, {})
            return [replace(revisions[key], document=_via_json(revisions[key].document)) for key in sorted(revisions)]
