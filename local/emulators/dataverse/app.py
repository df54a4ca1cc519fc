"""Routes of the Dataverse emulator under `/api/data/v9.2/`, plugged into the shared emulator service."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from local.emulators.dataverse import actions, batch, delta, reads, seed
from local.emulators.dataverse.errors import (
    CONCURRENCY_LIMIT,
    NOT_SUPPORTED,
    REQUESTS_LIMIT,
    DataverseError,
    bad_payload,
    error_response,
    not_found,
)
from local.emulators.dataverse.schema import Schema, Table, load_schema
from local.emulators.dataverse.values import canonical_guid
from local.emulators.dataverse.writer import Writer, etag_of
from local.emulators.odata.options import parse_select
from local.emulators.protection import Limits
from local.emulators.service import BATCH_MARKER, EmulatorService
from local.emulators.store import Store
from local.emulators.tokens import Principal
from local.emulators.web import Request, Response

API_PREFIX = "/api/data/v9.2"
_ENTITY = re.compile(r"^/(?P<set>[A-Za-z_][A-Za-z0-9_]*)(?:\((?P<key>[^)]*)\))?(?:/(?P<op>[A-Za-z_.]+))?$")


_PICKLIST = re.compile(
    r"^/EntityDefinitions\(LogicalName='(?P<table>\w+)'\)/Attributes\(LogicalName='(?P<attribute>\w+)'\)"
    r"/Microsoft\.Dynamics\.CRM\.PicklistAttributeMetadata$"
)


class DataverseApp:
    """The Web API surface: collections, single rows, bulk messages, actions, `$batch`, WhoAmI."""

    name = "dataverse"

    def __init__(self) -> None:
        self.schema: Schema = load_schema()
        self.store = Store()
        self.writer = Writer(self.schema, self.store)

    # -- EmulatorApp protocol --------------------------------------------------------------------------------
    def default_limits(self) -> Limits:
        return Limits(requestsPerWindow=6000, windowSeconds=300.0, maxConcurrent=52, maxQueued=0)

    def entity_set_of(self, request: Request) -> str:
        path = request.path.removeprefix(API_PREFIX)
        if path == "/$batch":
            return BATCH_MARKER
        match = _ENTITY.match(path)
        return match.group("set") if match else path

    def error(self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> Response:
        if status == 429:
            code = CONCURRENCY_LIMIT if code == "TooManyConcurrentRequests" else REQUESTS_LIMIT
        return error_response(status, code, message, headers)

    def reset(self) -> None:
        self.store.clear()
        self.writer.option_sets.reset()

    def seed(self, profile: str, counts: Mapping[str, int]) -> dict[str, int]:
        return seed.seed(self.writer, profile, counts)

    def admin_routes(self) -> Mapping[tuple[str, str], Callable[[Request], Response]]:
        return {}

    # -- requests ---------------------------------------------------------------------------------------------
    def handle(self, request: Request, principal: Principal) -> Response:
        if not request.path.startswith(API_PREFIX):
            raise DataverseError(404, "0x8006088a", f"Resource not found for the segment '{request.path}'.")
        user_id = self._application_user(principal)
        path = request.path.removeprefix(API_PREFIX)
        base = request.base_url + API_PREFIX
        if path == "/$batch" and request.method == "POST":
            return self._batch(request, principal, user_id, base)
        return self._dispatch(request, path, user_id, base, None)

    def _application_user(self, principal: Principal) -> str:
        """The calling app's application user (a systemuser row), created on first sight like an admin would."""
        user_id = principal.object_id
        if self.store.get("systemuser", user_id) is None:
            version = self.store.next_version()
            row = {
                "systemuserid": user_id,
                "fullname": f"# {principal.client_id}",
                "applicationid": principal.client_id,
                "isdisabled": False,
                "versionnumber": version,
            }
            self.store.put("systemuser", user_id, row, version=version, track=False)
        return user_id

    def _dispatch(
        self, request: Request, path: str, user_id: str, base: str, content_ids: dict[str, tuple[str, str]] | None
    ) -> Response:
        if path == "/WhoAmI" and request.method == "GET":
            return Response.json(
                200,
                {
                    "@odata.context": f"{base}/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse",
                    "UserId": user_id,
                    "BusinessUnitId": "00000000-0000-0000-0000-00000000b001",
                    "OrganizationId": "00000000-0000-0000-0000-00000000e001",
                },
            )
        if path.startswith("/EntityDefinitions(") or path in ("/InsertOptionValue", "/UpdateOptionValue"):
            return self._option_sets(request, path)
        match = _ENTITY.match(path)
        if match is None:
            raise DataverseError(404, "0x8006088a", f"Resource not found for the segment '{path}'.")
        name, key, op = match.group("set"), match.group("key"), match.group("op")
        if key is None and op is None and (name in actions.UNBOUND_ACTIONS or name == "ReviseQuote"):
            if request.method != "POST":
                raise DataverseError(405, NOT_SUPPORTED, f"{name} is an action: call it with POST.")
            body = self._json(request)
            if name == "ReviseQuote":
                return actions.revise_quote(self.writer, body, user_id, base)
            return actions.UNBOUND_ACTIONS[name](self.writer, body, user_id)
        table = self.schema.table_for_set(name)
        if table is None:
            raise DataverseError(404, "0x8006088a", f"Resource not found for the segment '{name}'.")
        if op is not None:
            message = op.removeprefix("Microsoft.Dynamics.CRM.")
            if key is None and message in actions.BULK_MESSAGES and request.method == "POST":
                return actions.bulk(self.writer, self.schema, table, message, self._json(request), user_id, base)
            raise DataverseError(404, "0x8006088a", f"Resource not found for the segment '{op}'.")
        if key is None:
            return self._collection(request, table, user_id, base, content_ids)
        return self._entity(request, table, canonical_guid(key, table.primary_id), user_id, base, content_ids)

    def _option_sets(self, request: Request, path: str) -> Response:
        """Metadata of the managed account picklists, and the actions that add and relabel their options."""
        option_sets = self.writer.option_sets
        if path == "/InsertOptionValue" and request.method == "POST":
            return option_sets.insert(self._json(request))
        if path == "/UpdateOptionValue" and request.method == "POST":
            return option_sets.update(self._json(request))
        match = _PICKLIST.match(path)
        if match is None or request.method != "GET":
            raise DataverseError(404, "0x8006088a", f"Resource not found for the segment '{path}'.")
        return option_sets.metadata(match.group("table"), match.group("attribute"))

    @staticmethod
    def _json(request: Request) -> Any:
        if not request.body:
            return {}
        try:
            return json.loads(request.body)
        except ValueError:
            raise bad_payload("The request body is not valid JSON.") from None

    def _created(self, table: Table, row: dict[str, Any], request: Request, base: str, status: int) -> Response:
        entity_id = f"{base}/{table.entity_set}({row[table.primary_id]})"
        headers = {"OData-EntityId": entity_id, "ETag": etag_of(row)}
        if request.prefers().get("return") == "representation":
            formatter = reads.RowFormatter(self.schema, self.store, annotations=reads.wants_annotations(request))
            select = request.query.get("$select")
            names = parse_select(select, reads.resolver(table)) if select else None
            body = {"@odata.context": f"{base}/$metadata#{table.entity_set}/$entity"}
            body.update(formatter.format(table, row, names))
            return Response.json(status, body, headers)
        return Response.empty(204, headers)

    def _collection(
        self, request: Request, table: Table, user_id: str, base: str, content_ids: dict[str, tuple[str, str]] | None
    ) -> Response:
        if request.method == "GET":
            if delta.is_delta_request(request):
                body = delta.track_changes(self.schema, self.store, table, request, base)
                return Response.json(200, body, {"Preference-Applied": "odata.track-changes"})
            return Response.json(200, reads.list_rows(self.schema, self.store, table, request, base))
        if request.method == "POST":
            row = self.writer.create(table, self._json(request), user_id, content_ids=content_ids)
            return self._created(table, row, request, base, 201)
        raise DataverseError(405, NOT_SUPPORTED, f"{request.method} is not supported on a collection.")

    def _entity(
        self,
        request: Request,
        table: Table,
        row_id: str,
        user_id: str,
        base: str,
        content_ids: dict[str, tuple[str, str]] | None,
    ) -> Response:
        if request.method == "GET":
            row = self.store.get(table.logical_name, row_id)
            if row is None:
                raise not_found(table.logical_name, row_id)
            if request.header("if-none-match") == etag_of(row):
                return Response.empty(304, {"ETag": etag_of(row)})
            body = reads.get_row(self.schema, self.store, table, row, request, base)
            return Response.json(200, body, {"ETag": etag_of(row)})
        if request.method == "PATCH":
            row, created = self.writer.update(
                table,
                row_id,
                self._json(request),
                user_id,
                if_match=request.header("if-match"),
                if_none_match=request.header("if-none-match"),
                content_ids=content_ids,
            )
            return self._created(table, row, request, base, 201 if created else 200)
        if request.method == "DELETE":
            self.writer.delete(table, row_id, if_match=request.header("if-match"))
            return Response.empty(204)
        raise DataverseError(405, NOT_SUPPORTED, f"{request.method} is not supported on a record.")

    def _batch(self, request: Request, principal: Principal, user_id: str, base: str) -> Response:
        items = batch.parse_batch(request)
        service: EmulatorService | None = request.context.get("service")

        def execute(inner: Request, content_ids: dict[str, tuple[str, str]] | None) -> Response:
            path = inner.path.split(API_PREFIX, 1)[-1]
            if service is not None:
                service.charge_operation(principal, inner.method, self.entity_set_of(inner))
            ids = None
            if content_ids is not None:
                ids = {k: (self.schema.by_entity_set[s].logical_name, i) for k, (s, i) in content_ids.items()}
            response = self._dispatch(inner, path, user_id, base, ids)
            return response

        continue_on_error = "odata.continue-on-error" in request.prefers()
        return batch.run_batch(items, execute, self.store.transaction, continue_on_error)
