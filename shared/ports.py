"""The ports the services depend on (typing.Protocol), one per adapter.

Each port has a real adapter (`connectors/`: BC, Dataverse and the Service Bus job queue; `storage/`). The storage
and queue ports also have an in-memory fake (`local/fakes/`, never deployed) and one contract test suite runs against
both (`tests/contract/`), so a fake can never drift from the real thing; the BC and Dataverse clients have no fake:
every test runs them over HTTP against the emulators (issue 21 removed their fakes, which bought no speed and kept a
second copy of BC's rules).
Services import only this module and `domain/`, never azure.* or requests.

Conventions (Azure SDK guidelines): `get_*` raises `NotFoundError` when missing, `find_*` returns None, `list_*`
returns an iterable (never None), `update_*` is conditional on the ETag the caller read and raises
`ConcurrencyError` when it lost a race, `delete_*` succeeds when already gone.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from shared.domain.coupling import Coupling
from shared.domain.errors import SyncError
from shared.domain.full_sync import LineChunk
from shared.domain.jobs import JobMessage
from shared.domain.match_log import MatchLogEntry, MatchLogPage
from shared.domain.records import (
    ArchivedQuote,
    Checkpoint,
    RecordErrorEntry,
    ReviewLine,
    Side,
    SyncJob,
    SyncRun,
)

Row = dict[str, Any]


# -- storage ---------------------------------------------------------------------------------------------------
class CouplingStore(Protocol):
    def find_by_bc_id(self, mapping: str, bc_id: str) -> Coupling | None: ...
    def find_by_dataverse_id(self, mapping: str, dataverse_id: str) -> Coupling | None: ...
    def find_many_by_bc_ids(self, mapping: str, bc_ids: Iterable[str]) -> dict[str, Coupling]: ...
    def find_many_by_dataverse_ids(self, mapping: str, dataverse_ids: Iterable[str]) -> dict[str, Coupling]: ...
    def list_couplings(self, mapping: str) -> Iterator[Coupling]: ...
    def coupled_ids(self, mapping: str) -> Iterator[tuple[str, str]]:
        """(BC id, Dataverse id) of every coupling of `mapping`, in BC id order, reading only the two ids (a run's
        lookups read a pointed-to mapping whole once: `engine/coupled_ids.py`)."""
        ...

    def has_couplings(self, mapping: str) -> bool:
        """Whether the mapping has at least one coupling: one read of one row (full-sync planning)."""
        ...

    def list_page(
        self, mapping: str, top: int, continuation_token: str | None = None, *, skipped_only: bool = False
    ) -> tuple[list[Coupling], str | None]:
        """One page (at most `top`, 1..1000) of the mapping's couplings in BC id order and the next page's opaque
        token (None: the last page); one read, never the whole partition (the console's list, issue 24). A token
        not handed out for this mapping raises `InvalidInputError` naming `continuationToken`."""
        ...

    def create_coupling(self, coupling: Coupling) -> Coupling:
        """Both rows in one transaction; `ConflictError` if either id is already coupled in this mapping."""
        ...

    def create_couplings(self, couplings: Sequence[Coupling]) -> list[Coupling | None]:
        """Many couplings of one mapping in as few transactions as the store allows (claims of a page); None for each
        one whose BC or Dataverse id is coupled already (`create_coupling`'s `ConflictError`)."""
        ...

    def update_coupling(self, coupling: Coupling) -> Coupling:
        """Conditional on `coupling.etag`; returns the coupling with its new etag."""
        ...

    def update_couplings(self, couplings: Sequence[Coupling]) -> list[Coupling | SyncError]:
        """Distinct couplings of one mapping, each conditional on its own etag, in as few transactions as the store
        allows (a page's unit of work); per coupling the saved one or the error `update_coupling` would raise."""
        ...

    def delete_coupling(self, mapping: str, bc_id: str, *, remember: bool = False) -> bool:
        """`remember`: keep each record's former partner (BC's Delete Coupling leaves both records; the identity
        rule may couple them again, see `engine/identity.py`). Whether this call removed a coupling."""
        ...

    def delete_couplings(
        self, mapping: str, couplings: Sequence[Coupling], *, remember: Collection[str] = ()
    ) -> list[bool]:
        """Uncouple many couplings of one mapping as read, in as few transactions as the store allows (`remember`:
        the BC ids whose former partners are kept); per coupling whether this call removed it."""
        ...

    def former_partners(self, mapping: str, side: Side, ids: Iterable[str]) -> dict[str, str]:
        """Record id -> its partner when its coupling was deleted with `remember` (ids without one are left out)."""
        ...

    def has_former_couplings(self, mapping: str) -> bool:
        """Whether any coupling of the mapping was deleted with `remember`: one read of one row."""
        ...


@runtime_checkable
class CheckpointBatches(Protocol):
    """Both checkpoints of a mapping at once (its two rows share a partition), for the full synchronization's
    hand-over. Part of every `CheckpointStore`."""

    def find_checkpoints(self, mapping: str) -> dict[Side, Checkpoint]:
        """The mapping's stored checkpoints by side, in one read."""
        ...

    def save_checkpoints(self, checkpoints: Sequence[Checkpoint]) -> list[Checkpoint]:
        """Checkpoints of one mapping in one transaction, each inserted (no etag) or replaced conditionally on its
        etag: all or nothing, `ConcurrencyError` when one of them lost its race."""
        ...


class CheckpointStore(CheckpointBatches, Protocol):
    def find_checkpoint(self, mapping: str, side: Side) -> Checkpoint | None: ...

    def save_checkpoint(self, checkpoint: Checkpoint) -> Checkpoint:
        """Insert when `etag` is None, else update conditionally on it."""
        ...


class RunStore(Protocol):
    def create_run(self, run: SyncRun, lines: Sequence[ReviewLine]) -> SyncRun: ...
    def get_run(self, run_id: str) -> tuple[SyncRun, list[ReviewLine]]: ...
    def update_run(self, run: SyncRun) -> SyncRun: ...
    def update_line(self, run_id: str, line: ReviewLine) -> ReviewLine: ...
    def update_lines(
        self, run_id: str, lines: Sequence[ReviewLine], run: SyncRun | None = None
    ) -> tuple[SyncRun | None, list[ReviewLine]]:
        """Several lines (and the run, when given) in one transaction, each conditional on the etag it carries: all
        or nothing (up to 99 lines), `ConcurrencyError` when one lost its race, `NotFoundError` when gone."""
        ...

    def running_mappings(self, started_after: str) -> set[str]:
        """The mappings with a full-synchronization line running that started after this instant."""
        ...

    def active_runs(self) -> list[str]:
        """The ids of the runs whose status is `running`."""
        ...

    def save_chunks(self, run_id: str, chunks: Sequence[LineChunk]) -> None:
        """Store chunks of a line's split before their messages are sent; a chunk stored already (same mapping,
        attempt, phase and number) raises `ConflictError` and the rows stored with it in one transaction are not."""
        ...

    def list_chunks(self, run_id: str, mapping: str, attempt: int, phase: int | None = None) -> list[LineChunk]:
        """The line's stored chunks of this attempt (and phase), in chunk order; `get_run` never returns them."""
        ...


class JobLog(Protocol):
    def record_job(self, job: SyncJob) -> None: ...
    def list_jobs(self, mapping: str, limit: int = 50, trigger: str | None = None) -> list[SyncJob]:
        """Newest first; only the jobs `trigger` (a `RunTrigger` value) started when given."""
        ...

    def find_job(self, job_id: str, mapping: str | None = None) -> SyncJob | None:
        """The job of that id; `mapping` (the job's own) reads only its partition instead of the whole log."""
        ...


class MatchLogStore(Protocol):
    """The coupling logs of match-based coupling jobs (`domain/match_log.py`), one partition per job."""

    def write_entries(self, job_id: str, entries: Sequence[MatchLogEntry]) -> None:
        """Upsert the job's entries (one per BC id: written again, an entry is replaced, never repeated), in as few
        transactions as the store allows."""
        ...

    def page(
        self,
        job_id: str,
        top: int,
        continuation_token: str | None = None,
        outcome: str | None = None,
        mapping: str | None = None,
    ) -> MatchLogPage:
        """One page of the job's entries in BC id order (only `outcome`'s, `mapping`'s when given); a token this store
        did not hand out for this job is `InvalidInputError` (`continuationToken`)."""
        ...


class SyncErrorStore(Protocol):
    def record_error(self, mapping: str, side: Side, record_id: str, code: str, message: str) -> RecordErrorEntry:
        """Count a record error; the same code twice in a row marks the record skipped."""
        ...

    def clear_error(self, mapping: str, side: Side, record_id: str) -> None: ...
    def save_errors(self, entries: Sequence[RecordErrorEntry]) -> list[RecordErrorEntry | None]:
        """Entries of one mapping computed by the caller (`record_errors.next_error` on the entry it read), each
        inserted (no etag) or replaced conditionally on its etag, in as few transactions as the store allows; None
        for one that lost its race (the caller falls back to `record_error`)."""
        ...

    def clear_errors(self, mapping: str, keys: Sequence[tuple[Side, str]]) -> None:
        """`clear_error` for many records of one mapping, in as few transactions as the store allows."""
        ...

    def find_error(self, mapping: str, side: Side, record_id: str) -> RecordErrorEntry | None: ...
    def find_errors(self, mapping: str, keys: Sequence[tuple[Side, str]]) -> list[RecordErrorEntry]:
        """The entries these records of one mapping have (none for a record without one), in one read for a few."""
        ...

    def list_errors(self, mapping: str | None = None) -> list[RecordErrorEntry]: ...
    def list_errors_page(
        self, mapping: str | None, top: int, continuation_token: str | None = None
    ) -> tuple[list[RecordErrorEntry], str | None]:
        """One page of `list_errors` (at most `top`) and the opaque token of the next one (None at the end), read
        without reading the rest; a token it did not hand out for this list is `InvalidInputError`
        (`continuationToken`)."""
        ...

    def restore(self, mapping: str, side: Side, record_id: str) -> None:
        """Clear the skipped flag (BC's 'Restore'), keeping the history."""
        ...


class SettingsStore(Protocol):
    def get_settings(self, partition: str) -> tuple[dict[str, Any], str | None]:
        """The stored overrides of a partition (`setup` or `mapping`) and their etag (None when nothing stored)."""
        ...

    def get_all_settings(self) -> dict[str, tuple[dict[str, Any], str | None]]:
        """`get_settings` of every partition, in one read (what an invocation needs: `bootstrap.for_run`)."""
        ...

    def update_settings(self, partition: str, values: Mapping[str, Any], etag: str | None) -> str: ...


class QuoteArchive(Protocol):
    def archive_quote(self, quote: ArchivedQuote) -> None: ...
    def list_revisions(self, quote_number: str) -> list[ArchivedQuote]: ...


# -- queue -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class QueueCounts:
    """A queue's message counts as its service reports them (`/api/health`)."""

    active: int
    dead_lettered: int
    scheduled: int = 0


class JobQueue(Protocol):
    def send(self, messages: Sequence[JobMessage], *, delay: timedelta | None = None) -> None:
        """Send in batches; the deterministic `message_id` lets duplicate detection drop a repeated send."""
        ...

    def ping(self) -> None:
        """Reach the queue as a sender would (raises a `SyncError` when it cannot, or the identity is refused)."""
        ...

    def message_counts(self) -> QueueCounts | None:
        """Active, dead-lettered and scheduled messages (one management read), None where the queue cannot tell."""
        ...


class StorageProbe(Protocol):
    def ping(self) -> None:
        """One cheap read of the storage account (raises when it cannot be reached or refuses the identity)."""
        ...


# -- connectors ------------------------------------------------------------------------------------------------
@dataclass
class Page:
    """One page of rows and the link to the next page (None on the last)."""

    rows: list[Row]
    next_link: str | None = None


@dataclass
class BatchOutcome:
    """The answer to one operation of a batch: exactly one per operation, header names lower-cased; 424 when the
    operation was not executed or was rolled back."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status < 400


class DataverseClientPort(Protocol):
    def has_records(self, entity_set: str, extra_filter: str | None = None) -> bool:
        """Whether at least one row (matching `extra_filter`) exists: one `$top=1` read (full-sync planning)."""
        ...

    def list_ids(self, entity_set: str, extra_filter: str | None = None) -> Iterator[list[str]]:
        """Every primary id (matching `extra_filter`), page by page, ordered by id: the same order on every call,
        so a full-sync chunk number always stands for the same records."""
        ...

    def id_range_filter(self, entity_set: str, first: str, last: str) -> str | None:
        """A `$filter` for every row from `first` to `last` in `list_ids`' order (one read for a listed page), or
        None where the set cannot be read by range. No I/O."""
        ...

    def get_row(self, entity_set: str, row_id: str, select: Sequence[str] | None = None) -> Row | None:
        """None when missing (named after the Web API's GET; an exception to the get_/find_ convention above)."""
        ...

    def list_changed_since(
        self,
        entity_set: str,
        since: datetime | None,
        select: Sequence[str],
        extra_filter: str | None = None,
        page_size: int = 5000,
    ) -> Iterator[Page]: ...
    def create_row(self, entity_set: str, row_id: str, body: Mapping[str, Any]) -> None:
        """Create with a chosen id; an existing row with that id is success (idempotent retry)."""
        ...

    def update_row(self, entity_set: str, row_id: str, body: Mapping[str, Any], etag: str | None = None) -> None: ...
    def upsert_row(self, entity_set: str, row_id: str, body: Mapping[str, Any]) -> None: ...
    def delete_row(self, entity_set: str, row_id: str) -> None: ...
    def claim_rows(self, entity_set: str, etags: Mapping[str, str | None]) -> set[str]:
        """Of the rows read (id -> the ETag read), those this client may couple: all of them for a client of the
        whole org; for one BC company's view (`connectors/dataverse/company_scope.py`) those it stamped with its
        company, each conditional on its ETag, so a row another company claimed since the read is left out."""
        ...

    def stamped_elsewhere(self, entity_set: str, row_id: str) -> bool:
        """Whether the row is stamped for another BC company (its `bcbi_companyid` set and not this client's
        company): never for a client of the whole org; for one company's view, a row it hides from `get_row` that
        exists. What a document's customer tells about the document: not this company's to convert."""
        ...

    def release(self, entity_set: str, row_id: str) -> bool:
        """Before its coupling is removed: clear this company's stamp from the row, as BC's uncoupling does (a
        company's view only; the whole org's client changes nothing). Whether the row changed."""
        ...

    def create_multiple(self, logical_name: str, entity_set: str, rows: Sequence[Mapping[str, Any]]) -> list[str]: ...
    def update_multiple(self, logical_name: str, entity_set: str, rows: Sequence[Mapping[str, Any]]) -> None: ...
    def upsert_multiple(self, logical_name: str, entity_set: str, rows: Sequence[Mapping[str, Any]]) -> None: ...
    def option_set(self, table: str, attribute: str) -> dict[int, str]: ...
    def insert_option(self, table: str, attribute: str, label: str, value: int | None = None) -> int: ...
    def update_option_label(self, table: str, attribute: str, value: int, label: str) -> None: ...
    def execute_batch(
        self, operations: Sequence[Mapping[str, Any]], *, atomic: bool = True, continue_on_error: bool = False
    ) -> list[BatchOutcome]: ...
    def set_state(self, entity_set: str, row_id: str, state: int, status: int) -> None: ...
    def win_quote(self, quote_id: str, status: int = 4, subject: str = "Won") -> None: ...
    def fulfill_sales_order(self, order_id: str, status: int = 100001, subject: str = "Fulfilled") -> None: ...
    def create_post(
        self,
        regarding_entity_set: str,
        regarding_logical_name: str,
        regarding_id: str,
        text: str,
        *,
        post_id: str | None = None,
    ) -> str:
        """A timeline post; a deterministic `post_id` makes a re-run of the same job idempotent."""
        ...


BC_SAME_KEY = "Internal_EntityWithSameKeyExists"  # a batch outcome's error code: the chosen id exists already


class BusinessCentralClientPort(Protocol):
    def resolve_company(self, name_or_id: str) -> str: ...
    def serves(self, entity_set: str) -> bool:
        """Whether a surface (API v2.0, a published page, the custom route) is configured for this entity set."""
        ...

    def has_records(self, entity_set: str, extra_filter: str | None = None) -> bool:
        """Whether at least one entity (matching `extra_filter`) exists: one `$top=1` read per page behind it."""
        ...

    def list_ids(self, entity_set: str, extra_filter: str | None = None) -> Iterator[list[str]]:
        """Every id (a page entity's key id), page by page, in the server's key order, which does not change
        between calls: a full-sync chunk number always stands for the same records."""
        ...

    def id_range_filter(self, entity_set: str, first: str, last: str) -> str | None:
        """A `$filter` for every entity from `first` to `last` in `list_ids`' order, or None (page entities). No I/O."""
        ...

    def get_entity(
        self, entity_set: str, entity_id: str, select: Sequence[str] | None = None, expand: str | None = None
    ) -> Row | None: ...
    def get_entities(
        self, entity_set: str, ids: Sequence[str], select: Sequence[str], extra_filter: str | None = None
    ) -> dict[str, Row]:
        """The entities with these ids (and matching `extra_filter`), keyed by id; missing ones are absent."""
        ...

    def list_changed_since(
        self,
        entity_set: str,
        since: datetime | None,
        select: Sequence[str],
        expand: str | None = None,
        extra_filter: str | None = None,
    ) -> Iterator[Page]: ...
    def create_entity(self, entity_set: str, body: Mapping[str, Any], entity_id: str | None = None) -> Row:
        """Create with a chosen SystemId; an existing entity with that id is returned (idempotent retry)."""
        ...

    def update_entity(
        self, entity_set: str, entity_id: str, body: Mapping[str, Any], etag: str, *, merge: bool = False
    ) -> Row: ...
    def delete_entity(self, entity_set: str, entity_id: str, etag: str = "*") -> None: ...
    def execute_batch(
        self, requests: Sequence[Mapping[str, Any]], *, atomic: bool = False, continue_on_error: bool = False
    ) -> list[BatchOutcome]:
        """Requests are `{"method", "url" (relative to the company), "body"?, "etag"?, "headers"?}`, sent in chunks
        of 100. Outcomes keep request order; an operation that never ran is 424 `NotExecuted` and a success undone by
        an atomic rollback is 424 `RolledBack`, so `ok` is true only for what is really stored."""
        ...

    def invoke_action(self, entity_set: str, entity_id: str, action: str) -> str | None:
        """Run a bound action; returns the Location of the resulting entity when BC gives one."""
        ...

    def list_page(
        self, service: str, select: Sequence[str] | None = None, extra_filter: str | None = None
    ) -> Iterator[Page]: ...
    def get_page_entity(self, service: str, key: Mapping[str, Any]) -> Row | None: ...
    def update_page_entity(self, service: str, key: Mapping[str, Any], body: Mapping[str, Any], etag: str) -> Row: ...
