"""Rows of one table over HTTP: the collection (GET, POST, `/$count`) and one row named by a key (GET, PATCH as
upsert, DELETE).

Why its own module: the key forms (primary id, named primary id, alternate key; keys.py) and the response headers
(`OData-EntityId`, `ETag`, `Preference-Applied`; responses.py) are the same for every table, while app.py only routes.

Sources (Power Apps developer docs): "Use Upsert to Create or Update a record" and "Use an alternate key to reference
a record" (PATCH by alternate key creates the row when missing; key values in the body are ignored when it exists
and win when it does not, api-facts B6), "Count rows using OData" (`/accounts/$count` answers a plain-text number),
"Create a table row using the Web API" (`OData-EntityId`; `201` with `Prefer: return=representation`).
UNCONFIRMED: `/$count` is capped at 5,000 like `$count=true` (strict reading; RetrieveTotalRecordCount exists for
more), accepts `$filter` only, and a missing row named by an alternate key is 404 `0x80040217` with the key in the
message.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from local.emulators.dataverse import delta, keys, reads
from local.emulators.dataverse.errors import (
    NOT_FOUND,
    NOT_SUPPORTED,
    QUERY_ERROR,
    DataverseError,
    bad_payload,
    not_found,
)
from local.emulators.dataverse.responses import applied, context, preferences
from local.emulators.dataverse.schema import Schema, Table
from local.emulators.dataverse.writer import Writer, etag_of
from local.emulators.odata.filter import compile_filter
from local.emulators.odata.options import parse_select
from local.emulators.odata.types import ODataQueryError
from local.emulators.store import Row
from local.emulators.web import Request, Response

ContentIds = dict[str, tuple[str, str]] | None
COUNT_LIMIT = 5000


class Records:
    def __init__(self, schema: Schema, writer: Writer) -> None:
        self.schema = schema
        self.writer = writer
        self.store = writer.store

    @staticmethod
    def body_of(request: Request) -> Any:
        if not request.body:
            return {}
        try:
            return json.loads(request.body)
        except ValueError:
            raise bad_payload("The request body is not valid JSON.") from None

    def created(self, table: Table, row: Row, request: Request, base: str, status: int) -> Response:
        """The answer to a create or update: 204 with `OData-EntityId`, or the row with `return=representation`."""
        headers = {"OData-EntityId": f"{base}/{table.entity_set}({row[table.primary_id]})", "ETag": etag_of(row)}
        if request.prefers().get("return") != "representation":
            return Response.empty(204, headers)
        formatter = reads.RowFormatter(self.schema, self.store, annotations=reads.wants_annotations(request))
        select = request.query.get("$select")
        try:
            names = parse_select(select, reads.resolver(table)) if select else None
        except ODataQueryError as error:
            raise reads.query_error(error) from None
        body = {"@odata.context": context(base, table.entity_set, names) + "/$entity"}
        body.update(formatter.format(table, row, names))
        return Response.json(status, body, {**headers, **applied(request, representation=True)})

    # -- the collection ----------------------------------------------------------------------------------------
    def collection(self, request: Request, table: Table, user_id: str, base: str, content_ids: ContentIds) -> Response:
        if request.method == "GET":
            size = reads.page_size(request)
            if delta.is_delta_request(request):
                body = delta.track_changes(self.schema, self.store, table, request, base)
                paging = f", odata.maxpagesize={size}" if "odata.maxpagesize" in preferences(request) else ""
                return Response.json(200, body, {"Preference-Applied": f"odata.track-changes{paging}"})
            body = reads.list_rows(self.schema, self.store, table, request, base)
            return Response.json(200, body, applied(request, page_size=size))
        if request.method == "POST":
            row = self.writer.create(table, self.body_of(request), user_id, content_ids=content_ids)
            return self.created(table, row, request, base, 201)
        raise DataverseError(405, NOT_SUPPORTED, f"{request.method} is not supported on a collection.")

    def count(self, request: Request, table: Table) -> Response:
        """`GET /<set>/$count[?$filter=...]`: the number of rows as `text/plain`."""
        if request.method != "GET":
            raise DataverseError(405, NOT_SUPPORTED, "$count takes GET.")
        reads.check_options(request, table)
        other = [name for name in request.query if name.startswith("$") and name != "$filter"]
        if other:
            raise DataverseError(400, QUERY_ERROR, f"The query parameter {other[0]} is not supported with /$count.")
        rows = self.store.rows(table.logical_name)
        if "$filter" in request.query:
            try:
                predicate = compile_filter(
                    request.query["$filter"], reads.resolver(table), case_insensitive=True, ne_matches_null=False
                )
            except ODataQueryError as error:
                raise reads.query_error(error) from None
            rows = [row for row in rows if predicate(row)]
        text = str(min(len(rows), COUNT_LIMIT)).encode()
        return Response(200, text, {"Content-Type": "text/plain", "OData-Version": "4.0"})

    # -- one row -------------------------------------------------------------------------------------------------
    def entity(
        self, request: Request, table: Table, key_text: str, user_id: str, base: str, content_ids: ContentIds
    ) -> Response:
        key = keys.resolve(self.store, table, key_text)
        if request.method == "PATCH":
            return self._upsert(request, table, key, key_text, user_id, base, content_ids)
        if key.row_id is None:
            raise self._missing(table, key_text)
        if request.method == "GET":
            row = self.store.get(table.logical_name, key.row_id)
            if row is None:
                raise not_found(table.logical_name, key.row_id)
            if request.header("if-none-match") == etag_of(row):
                return Response.empty(304, {"ETag": etag_of(row)})
            body = reads.get_row(self.schema, self.store, table, row, request, base)
            return Response.json(200, body, {"ETag": etag_of(row), **applied(request)})
        if request.method == "DELETE":
            self.writer.delete(table, key.row_id, user_id=user_id, if_match=request.header("if-match"))
            return Response.empty(204)
        raise DataverseError(405, NOT_SUPPORTED, f"{request.method} is not supported on a record.")

    @staticmethod
    def _missing(table: Table, key_text: str) -> DataverseError:
        return DataverseError(404, NOT_FOUND, f"{table.logical_name} With Ids = {key_text} Does Not Exist")

    def _upsert(
        self,
        request: Request,
        table: Table,
        key: keys.RowKey,
        key_text: str,
        user_id: str,
        base: str,
        content_ids: ContentIds,
    ) -> Response:
        body = self.body_of(request)
        row_id = key.row_id
        if key.values and isinstance(body, dict):
            if row_id is None:
                if request.header("if-match") is not None:
                    raise self._missing(table, key_text)
                body = {**keys.key_body(self.schema, table, key.values), **body}
                row_id = str(uuid.uuid4())
            else:
                body = {name: value for name, value in body.items() if name not in key.values}
        if row_id is None:  # an alternate key with a body that is not an object: nothing to create from
            raise self._missing(table, key_text)
        row, created = self.writer.update(
            table,
            row_id,
            body,
            user_id,
            if_match=request.header("if-match"),
            if_none_match=request.header("if-none-match"),
            content_ids=content_ids,
        )
        return self.created(table, row, request, base, 201 if created else 200)
