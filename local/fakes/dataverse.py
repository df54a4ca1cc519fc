"""`InMemoryDataverseClient`: the `DataverseClientPort` with Dataverse's observable semantics, in process.

Why it reuses the emulator's rule engine (`Writer`, `Store`, the schema and the close/bulk messages) instead of
re-implementing rules over plain dicts: Dataverse's rules (create-only and `If-Match` writes, required columns,
lookups that must exist, valid state/status pairs, read-only states, all-or-nothing bulk messages) then live in
one place, and the fake cannot drift from the emulator. What the fake replaces is the wire: no HTTP, no
multipart, no throttling. The bulk fallback is the client's own algorithm (`write_in_bulk`), fed with an
in-process `$batch`. `tests/contract/test_dataverse_client_contract.py` runs one suite against both.

Limits: a `$batch` GET of a collection answers 501; delta links and next links are opaque `fake://` strings.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import suppress
from datetime import datetime
from urllib.parse import parse_qsl, urlsplit

from local.emulators.dataverse import actions
from local.emulators.dataverse.errors import INVALID_ARGUMENT, QUERY_ERROR, DataverseError
from local.emulators.dataverse.reads import RowFormatter, resolver
from local.emulators.dataverse.schema import Table, load_schema
from local.emulators.dataverse.writer import Writer, etag_of
from local.emulators.odata.filter import compile_filter
from local.emulators.odata.options import parse_select
from local.emulators.odata.types import ODataQueryError
from local.emulators.store import Store
from local.emulators.web import Response
from shared.connectors import dataverse_requests as build
from shared.connectors.dataverse_batch import MAX_BATCH, ROLLED_BACK, not_executed
from shared.connectors.dataverse_changes import merge_delta, parse_modifiedon
from shared.connectors.dataverse_errors import api_error
from shared.connectors.dataverse_operations import DataverseOperations
from shared.connectors.dataverse_requests import DataverseRequest
from shared.connectors.errors import ApiError
from shared.domain.errors import SyncError
from shared.ports import BatchOutcome, DeltaResult, Page, Row

ROOT = "https://dataverse.fake.invalid/api/data/v9.2"
APP_USER = "00000000-0000-0000-0000-00000000a99f"  # the application user every write is stamped with


def _outcome(response: Response) -> BatchOutcome:
    return BatchOutcome(response.status, response.json_body(), {k.lower(): v for k, v in response.headers.items()})


class _Rollback(Exception):
    """Unwinds a failed change set through the store transaction."""


class InMemoryDataverseClient(DataverseOperations):
    def __init__(self, *, bulk_chunk: int = 1000, batch_chunk: int = MAX_BATCH, page_size: int = 5000) -> None:
        self.schema = load_schema()
        self.store = Store()
        self.writer = Writer(self.schema, self.store)
        self.bulk_chunk, self.batch_chunk, self.page_size = bulk_chunk, batch_chunk, page_size
        self.requests: list[str] = []  # "METHOD path" per call a real client would send (tests count them)

    # -- plumbing ----------------------------------------------------------------------------------------------
    def _table(self, entity_set: str) -> Table:
        table = self.schema.table_for_set(entity_set)
        if table is None:
            raise api_error(404, "0x8006088a", f"Resource not found for the segment '{entity_set}'.", "GET", ROOT)
        return table

    def _send(self, request: DataverseRequest) -> BatchOutcome:
        """Run one request value in process; raise as the real client would (errors are outcomes in a batch)."""
        self.requests.append(f"{request.method} {request.path.split('?')[0]}")
        outcome = self._apply(request, None)
        if outcome.ok or outcome.status in request.accept:
            return outcome
        error = outcome.body.get("error", {}) if isinstance(outcome.body, dict) else {}
        raise api_error(outcome.status, error.get("code", ""), error.get("message", ""), request.method, request.path)

    def _names(self, table: Table, select: Sequence[str] | None) -> list[str] | None:
        try:
            return parse_select(",".join(select), resolver(table)) if select else None
        except ODataQueryError as error:
            raise api_error(400, QUERY_ERROR, error.message, "GET", table.entity_set) from None

    def _format(self, table: Table, row: Row, names: list[str] | None) -> Row:
        return RowFormatter(self.schema, self.store, annotations=False).format(table, row, names)

    # -- reads -------------------------------------------------------------------------------------------------
    def list_ids(self, entity_set: str, extra_filter: str | None = None) -> Iterator[list[str]]:
        primary = self._table(entity_set).primary_id
        ids = sorted(str(r[primary]) for page in self.list_changed_since(entity_set, None, [primary], extra_filter)
                     for r in page.rows)  # fmt: skip
        size = max(1, self.page_size)
        yield from (ids[start : start + size] for start in range(0, len(ids), size))

    def id_range_filter(self, entity_set: str, first: str, last: str) -> str | None:
        primary = self._table(entity_set).primary_id
        return f"{primary} ge {first} and {primary} le {last}"

    def has_records(self, entity_set: str, extra_filter: str | None = None) -> bool:
        select = [self._table(entity_set).primary_id]
        return any(page.rows for page in self.list_changed_since(entity_set, None, select, extra_filter))

    def list_changed_since(
        self,
        entity_set: str,
        since: datetime | None,
        select: Sequence[str],
        extra_filter: str | None = None,
        page_size: int = 5000,
    ) -> Iterator[Page]:
        table = self._table(entity_set)
        names = self._names(table, build.changed_select(entity_set, select))
        rows = self.store.rows(table.logical_name)
        if since is not None:
            bound = parse_modifiedon(build.odata_datetime(since))
            rows = [r for r in rows if parse_modifiedon(r["modifiedon"]) >= bound]
        if extra_filter:
            try:
                predicate = compile_filter(extra_filter, resolver(table), case_insensitive=True, ne_matches_null=False)
            except ODataQueryError as error:
                raise api_error(400, QUERY_ERROR, error.message, "GET", entity_set) from None
            rows = [r for r in rows if predicate(r)]
        rows.sort(key=lambda r: (parse_modifiedon(r["modifiedon"]), r[table.primary_id]))
        size = max(1, min(page_size, self.page_size, build.MAX_PAGE_SIZE))
        starts = range(0, len(rows), size) if rows else range(1)
        for number, start in enumerate(starts, 1):
            self.requests.append(f"GET {entity_set}")
            more = start + size < len(rows)
            link = f"fake://{entity_set}?page={number + 1}" if more else None
            yield Page([self._format(table, r, names) for r in rows[start : start + size]], link)

    def track_changes(self, entity_set: str, select: Sequence[str], delta_link: str | None = None) -> DeltaResult:
        table = self._table(entity_set)
        self.requests.append(f"GET {entity_set}")
        if not table.change_tracking:
            message = f"Entity '{table.logical_name}' is not enabled for change tracking."
            raise api_error(400, INVALID_ARGUMENT, message, "GET", entity_set)
        names = self._names(table, build.changed_select(entity_set, select))
        with self.store.lock:
            upto = self.store.version
            link = f"fake://{entity_set}?$deltatoken={upto}"
            if delta_link is None:
                rows = sorted(self.store.rows(table.logical_name), key=lambda r: str(r[table.primary_id]))
                return DeltaResult([self._format(table, r, names) for r in rows], [], link)
            token = dict(parse_qsl(urlsplit(delta_link).query)).get("$deltatoken", "")
            if not delta_link.startswith(f"fake://{entity_set}?") or not token.isdigit():
                raise api_error(400, INVALID_ARGUMENT, "The $deltatoken is not valid.", "GET", delta_link)
            latest: dict[str, tuple[int, bool]] = {}
            for change in self.store.changes:
                if change.table == table.logical_name and int(token) < change.version <= upto:
                    latest[change.row_id] = (change.version, change.deleted)
        changed: list[Row] = []
        deleted: list[str] = []
        for row_id, (_, gone) in sorted(latest.items(), key=lambda item: item[1][0]):
            row = self.store.get(table.logical_name, row_id)
            if gone or row is None:
                deleted.append(row_id)
            else:
                changed.append(self._format(table, row, names))
        changed, deleted = merge_delta(changed, deleted, table.primary_id)
        return DeltaResult(changed, deleted, link)

    def _url_of(self, request: DataverseRequest) -> str:
        return request.url(ROOT)

    # -- $batch ------------------------------------------------------------------------------------------------
    def _send_chunk(
        self, chunk: Sequence[DataverseRequest], *, atomic: bool, continue_on_error: bool
    ) -> list[BatchOutcome]:
        self.requests.append("POST $batch")
        return self._change_set(chunk) if atomic else self._each(chunk, continue_on_error)

    def _each(self, chunk: Sequence[DataverseRequest], continue_on_error: bool) -> list[BatchOutcome]:
        outcomes: list[BatchOutcome] = []
        for request in chunk:
            if outcomes and not outcomes[-1].ok and not continue_on_error:
                outcomes.append(not_executed())
            else:
                outcomes.append(self._apply(request, None))
        return outcomes

    def _change_set(self, chunk: Sequence[DataverseRequest]) -> list[BatchOutcome]:
        """All or nothing; like the emulator's answer, a failure does not name the failing operation, so every
        operation reports it (the client's normalisation of such an answer)."""
        outcomes: list[BatchOutcome] = []
        content_ids: dict[str, tuple[str, str]] = {}
        with suppress(_Rollback), self.store.transaction():
            for number, request in enumerate(chunk, 1):
                outcome = self._apply(request, content_ids)
                if not outcome.ok:
                    outcomes = [outcome for _ in chunk]
                    raise _Rollback
                link = outcome.headers.get("odata-entityid", "")
                if "(" in link:
                    table = self._table(link.rsplit("/", 1)[-1].split("(")[0])
                    content_ids[str(number)] = (table.logical_name, link.rsplit("(", 1)[-1].rstrip(")"))
                outcomes.append(outcome)
        return outcomes or [not_executed(*ROLLED_BACK) for _ in chunk]

    def _apply(self, request: DataverseRequest, content_ids: dict[str, tuple[str, str]] | None) -> BatchOutcome:
        try:
            return _outcome(self._route(request, content_ids))
        except DataverseError as error:
            return _outcome(error.response)
        except SyncError as error:  # an unknown entity set (ApiError 404) or a malformed key (400, as Dataverse)
            status = error.status if isinstance(error, ApiError) and error.status else 400
            return BatchOutcome(status, {"error": {"code": error.code, "message": error.message}})

    def _route(self, request: DataverseRequest, content_ids: dict[str, tuple[str, str]] | None) -> Response:
        path, _, query = request.path.partition("?")
        head, _, operation = path.partition("/")
        name, _, key = head.partition("(")
        headers = {k.lower(): v for k, v in request.headers.items()}
        body = request.body
        if not key and not operation and name in actions.UNBOUND_ACTIONS and request.method == "POST":
            return actions.UNBOUND_ACTIONS[name](self.writer, body, APP_USER)
        table = self._table(name)
        if operation:
            message = operation.removeprefix(f"{build.CRM}.")
            if message not in actions.BULK_MESSAGES or request.method != "POST":
                raise DataverseError(404, "0x8006088a", f"Resource not found for the segment '{operation}'.")
            return actions.bulk(self.writer, self.schema, table, message, body, APP_USER, ROOT)
        if not key:
            if request.method != "POST":
                return Response.json(501, {"error": {"code": "NotImplemented", "message": "Fake: GET a row."}})
            return self._written(table, self.writer.create(table, body, APP_USER, content_ids=content_ids))
        row_id = build.canonical_id(key.rstrip(")"))
        if request.method == "GET":
            row = self.store.get(table.logical_name, row_id)
            if row is None:
                raise DataverseError(404, "0x80040217", f"{table.logical_name} With Id = {row_id} Does Not Exist")
            select = dict(parse_qsl(query)).get("$select")
            return Response.json(
                200, self._format(table, row, self._names(table, select.split(",") if select else None))
            )
        if request.method == "DELETE":
            self.writer.delete(table, row_id, if_match=headers.get("if-match"))
            return Response.empty(204)
        conditions = {"if_match": headers.get("if-match"), "if_none_match": headers.get("if-none-match")}
        row, _ = self.writer.update(table, row_id, body, APP_USER, content_ids=content_ids, **conditions)
        return self._written(table, row)

    @staticmethod
    def _written(table: Table, row: Row) -> Response:
        entity_id = f"{ROOT}/{table.entity_set}({row[table.primary_id]})"
        return Response.empty(204, {"OData-EntityId": entity_id, "ETag": etag_of(row)})

    # -- test helpers ------------------------------------------------------------------------------------------
    def count(self, entity_set: str) -> int:
        return self.store.count(self._table(entity_set).logical_name)
