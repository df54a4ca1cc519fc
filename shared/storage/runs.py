"""Full synchronization runs (BC's "Full Synch. Review") in Table Storage: PartitionKey run id, RowKey `~` for the
run itself and the mapping name for each review line; the stored chunks of the lines' splits in the partition
`<run id>|chunks` next to it (`run_chunks.py`).

Why one partition per run: the run and all its lines are read with one query and created in one transaction, so
a review never shows a run without its lines. `~` sorts after every mapping name, keeping the lines first in key
order. Lines are updated by the queue workers of different chunks at the same time, each conditionally on the ETag
it read, so two chunks finishing together cannot lose each other's counters: the loser re-reads and adds again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from azure.core import MatchConditions
from azure.data.tables import TableClient, TableEntity, TableTransactionError, UpdateMode

from shared.domain.errors import ConcurrencyError, ConflictError, NotFoundError
from shared.domain.full_sync import LineChunk
from shared.domain.record_errors import clip_message
from shared.domain.records import Counters, LeftUncoupled, LineStatus, ReviewLine, SyncRun
from shared.storage.conditional import save_entity
from shared.storage.keys import escape_key, odata_string, prefix_range
from shared.storage.run_chunks import bounded, chunk_entity, chunk_from, chunk_partition, chunk_prefix
from shared.storage.tables import SYNC_RUNS, TableFactory, etag_of
from shared.storage.transactions import MAX_TRANSACTION_OPERATIONS, Operation, transaction_chunks

RUN_ROW_KEY = "~"


class TableRunStore:
    """`RunStore` on the `SyncRuns` table."""

    def __init__(self, tables: TableFactory) -> None:
        self._tables = tables

    @property
    def _table(self) -> TableClient:
        return self._tables.table(SYNC_RUNS)

    def create_run(self, run: SyncRun, lines: Sequence[ReviewLine]) -> SyncRun:
        """The run and its lines in one transaction (atomic up to 99 lines); `ConflictError` if the id is taken."""
        _require_distinct(lines)
        operations: list[Operation] = [("create", _run_entity(run))]
        operations += [("create", _line_entity(run.run_id, line)) for line in lines]
        metadata: list[Mapping[str, Any]] = []
        try:
            for chunk in transaction_chunks(operations):
                metadata.extend(self._table.submit_transaction(chunk))
        except TableTransactionError as error:
            if error.status_code != 409:
                raise
            raise ConflictError("runExists", f"run {run.run_id} exists already", field="runId") from None
        return replace(run, etag=str(metadata[0]["etag"]))

    def get_run(self, run_id: str) -> tuple[SyncRun, list[ReviewLine]]:
        """Lines in the run's mapping order (the planned dependency order), then any others by name."""
        rows = list(self._table.query_entities(f"PartitionKey eq {odata_string(escape_key(run_id))}"))
        head = next((row for row in rows if row["RowKey"] == RUN_ROW_KEY), None)
        if head is None:
            raise NotFoundError("runNotFound", f"no full synchronization run {run_id}", field="runId")
        run = SyncRun(
            run_id=run_id,
            created_on=head["CreatedOn"],
            status=head["Status"],
            mappings=tuple(json.loads(head.get("Mappings") or "[]")),
            etag=etag_of(head),
            dry_run=bool(head.get("DryRun", False)),
        )
        lines = [_line(row) for row in rows if row["RowKey"] != RUN_ROW_KEY]
        position = {mapping: index for index, mapping in enumerate(run.mappings)}
        lines.sort(key=lambda line: (position.get(line.mapping, len(position)), escape_key(line.mapping)))
        return run, lines

    def update_run(self, run: SyncRun) -> SyncRun:
        if run.etag is None:
            raise ValueError("update_run needs the etag of the run it read")
        missing = NotFoundError("runNotFound", f"no full synchronization run {run.run_id}", field="runId")
        etag = save_entity(self._table, _run_entity(run), run.etag, what=f"run {run.run_id}", when_missing=missing)
        return replace(run, etag=etag)

    def update_line(self, run_id: str, line: ReviewLine) -> ReviewLine:
        if line.etag is None:
            raise ValueError("update_line needs the etag of the line it read")
        missing = NotFoundError("lineNotFound", f"run {run_id} has no line {line.mapping}", field="mapping")
        entity = _line_entity(run_id, line)
        etag = save_entity(self._table, entity, line.etag, what=f"line {run_id}/{line.mapping}", when_missing=missing)
        return replace(line, etag=etag)

    def update_lines(
        self, run_id: str, lines: Sequence[ReviewLine], run: SyncRun | None = None
    ) -> tuple[SyncRun | None, list[ReviewLine]]:
        """One transaction (the run and its lines share a partition): all or nothing, up to 99 lines."""
        _require_distinct(lines)
        if any(line.etag is None for line in lines) or (run is not None and run.etag is None):
            raise ValueError("update_lines needs the etag of each line (and of the run) it read")
        if run is not None and run.run_id != run_id:
            raise ValueError("update_lines takes the run of the lines")
        condition = {"mode": UpdateMode.REPLACE, "match_condition": MatchConditions.IfNotModified}
        operations: list[Operation] = [
            ("update", _line_entity(run_id, line), {**condition, "etag": line.etag}) for line in lines
        ]
        if run is not None:
            operations.append(("update", _run_entity(run), {**condition, "etag": run.etag}))
        if not operations:
            return run, []
        if len(operations) > MAX_TRANSACTION_OPERATIONS:
            raise ValueError(f"one transaction holds {MAX_TRANSACTION_OPERATIONS} operations at most")
        try:
            metadata = self._table.submit_transaction(operations)
        except TableTransactionError as error:
            if error.status_code == 404:
                gone = f"run {run_id} or one of its lines is gone"
                raise NotFoundError("lineNotFound", gone, field="runId") from None
            if error.status_code in (409, 412):
                changed = f"a line of run {run_id} changed since it was read"
                raise ConcurrencyError("etagMismatch", changed) from None
            raise
        saved = [replace(line, etag=str(m["etag"])) for line, m in zip(lines, metadata, strict=False)]
        return (None if run is None else replace(run, etag=str(metadata[-1]["etag"]))), saved

    def running_mappings(self, started_after: str) -> set[str]:
        """One filtered query over all runs (a few rows each; the table holds runs, not records)."""
        query = (
            f"RowKey ne {odata_string(RUN_ROW_KEY)} and Status eq {odata_string(LineStatus.RUNNING.value)}"
            f" and StartedOn gt {odata_string(started_after)}"
        )
        return {str(row["Mapping"]) for row in self._table.query_entities(query, select=["Mapping"])}

    def active_runs(self) -> list[str]:
        """The runs whose status is `running` (one filtered query over the run rows of all partitions)."""
        query = f"RowKey eq {odata_string(RUN_ROW_KEY)} and Status eq {odata_string('running')}"
        return sorted(str(row["PartitionKey"]) for row in self._table.query_entities(query, select=["PartitionKey"]))

    def save_chunks(self, run_id: str, chunks: Sequence[LineChunk]) -> None:
        """Create the chunk rows in transactions (<= 100 rows, <= 2 MiB each, in order). A chunk stored already
        raises `ConflictError("chunkExists")` and its transaction writes nothing: a chunk's ids never change."""
        entities = [chunk_entity(run_id, chunk) for chunk in chunks]
        for group in bounded(entities):
            try:
                self._table.submit_transaction([("create", entity) for entity in group])
            except TableTransactionError as error:
                if error.status_code != 409:
                    raise
                first, last = group[0]["RowKey"], group[-1]["RowKey"]
                raise ConflictError(
                    "chunkExists", f"run {run_id} has a chunk stored in {first}..{last} already", field="chunk"
                ) from None

    def list_chunks(self, run_id: str, mapping: str, attempt: int, phase: int | None = None) -> list[LineChunk]:
        """The line's stored chunks of this attempt (and phase), in chunk order."""
        low, high = prefix_range(chunk_prefix(mapping, attempt, phase))
        query = (
            f"PartitionKey eq {odata_string(chunk_partition(run_id))}"
            f" and RowKey ge {odata_string(low)} and RowKey lt {odata_string(high)}"
        )
        return sorted((chunk_from(row) for row in self._table.query_entities(query)), key=lambda c: c.number)


def _require_distinct(lines: Sequence[ReviewLine]) -> None:
    if len({line.mapping for line in lines}) != len(lines):
        raise ValueError("a run has one line per mapping")


def counter_properties(counters: Counters) -> dict[str, int]:
    """One property per counter (`Inserted`, `Modified`, ...), so they read well in Storage Explorer."""
    return {name.capitalize(): value for name, value in counters.as_dict().items()}


def counters_from(row: Mapping[str, Any]) -> Counters:
    return Counters(**{name: int(row.get(name.capitalize(), 0)) for name in Counters().as_dict()})


def _run_entity(run: SyncRun) -> dict[str, Any]:
    return {
        "PartitionKey": escape_key(run.run_id),
        "RowKey": RUN_ROW_KEY,
        "CreatedOn": run.created_on,
        "Status": run.status,
        "Mappings": json.dumps(list(run.mappings)),
        "DryRun": run.dry_run,
    }


def _line_entity(run_id: str, line: ReviewLine) -> dict[str, Any]:
    return {
        "PartitionKey": escape_key(run_id),
        "RowKey": escape_key(line.mapping),
        "Mapping": line.mapping,
        "Recommendation": line.recommendation,
        "Status": line.status.value,
        "ChunksTotal": line.chunks_total,
        "ChunksDone": line.chunks_done,
        "Error": clip_message(line.error),
        "Planned": line.planned,
        "DoneChunks": line.done_chunks,
        "StartedOn": line.started_on,
        "FinishedOn": line.finished_on,
        "Attempt": line.attempt,
        "Phase": line.phase,
        "ProgressedOn": line.progressed_on,
        "Restarts": line.restarts,
        "StoresChunks": line.stores_chunks,
        "HandOverPending": line.hand_over_pending,
        **counter_properties(line.counters),
        **{f"Left{name[0].upper()}{name[1:]}": value for name, value in line.left.as_dict().items()},
    }


def _line(row: TableEntity) -> ReviewLine:
    return ReviewLine(
        mapping=row["Mapping"],
        recommendation=row["Recommendation"],
        status=LineStatus(row["Status"]),
        counters=counters_from(row),
        chunks_total=int(row.get("ChunksTotal", 0)),
        chunks_done=int(row.get("ChunksDone", 0)),
        error=row.get("Error", ""),
        etag=etag_of(row),
        planned=bool(row.get("Planned", False)),
        done_chunks=row.get("DoneChunks", ""),
        started_on=row.get("StartedOn", ""),
        finished_on=row.get("FinishedOn", ""),
        attempt=int(row.get("Attempt", 0)),
        phase=int(row.get("Phase", 0)),
        progressed_on=row.get("ProgressedOn", ""),
        restarts=int(row.get("Restarts", 0)),
        stores_chunks=bool(row.get("StoresChunks", False)),
        hand_over_pending=bool(row.get("HandOverPending", False)),
        left=_left(row),
    )


def _left(row: Mapping[str, Any]) -> LeftUncoupled:
    """Lines stored before these properties existed read as nothing left."""
    names = ("NoMatch", "SeveralMatches", "MatchCoupled", "DataverseOnly")
    no_match, several, coupled, dataverse_only = (int(row.get(f"Left{name}", 0)) for name in names)
    return LeftUncoupled(no_match, several, coupled, dataverse_only)
