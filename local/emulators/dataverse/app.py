"""Routes of the Dataverse emulator under `/api/data/v9.2/`, plugged into the shared emulator service.

Only routing lives here: rows (records.py), what follows a row's key (navigation.py), table definitions
(metadata_routes.py), messages (actions.py, bulk_delete.py) and `$batch` (batch.py) each have their module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from local.emulators.dataverse import actions, batch, keys, organization, seed, webhooks
from local.emulators.dataverse.bulk_delete import bulk_delete
from local.emulators.dataverse.errors import (
    CONCURRENCY_LIMIT,
    NOT_FOUND,
    NOT_SUPPORTED,
    QUERY_ERROR,
    REQUESTS_LIMIT,
    DataverseError,
    bad_payload,
    error_response,
)
from local.emulators.dataverse.metadata_routes import MetadataRoutes
from local.emulators.dataverse.navigation import Navigation
from local.emulators.dataverse.records import ContentIds, Records
from local.emulators.dataverse.schema import Schema, Table, load_schema
from local.emulators.dataverse.writer import Writer
from local.emulators.identity.tokens import Principal
from local.emulators.odata.keys import Segment, split_path
from local.emulators.odata.types import ODataQueryError
from local.emulators.protection import Limits
from local.emulators.service import BATCH_MARKER, EmulatorService
from local.emulators.web import Request, Response

API_PREFIX = "/api/data/v9.2"
_UNBOUND = frozenset({*actions.UNBOUND_ACTIONS, "ReviseQuote", "BulkDelete", "InsertOptionValue", "UpdateOptionValue"})


class DataverseApp:
    """The Web API surface: collections, single rows, bulk messages, actions, `$batch`, WhoAmI, EntityDefinitions."""

    name = "dataverse"
    seed_profiles = seed.PROFILES

    def __init__(self) -> None:
        self.schema: Schema = load_schema()
        self.store = webhooks.EventStore()
        self.writer = Writer(self.schema, self.store)
        self.writer.on_event = self.store.record
        self.webhooks = webhooks.Webhooks(self.schema, self.store)
        self.records = Records(self.schema, self.writer)
        self.navigation = Navigation(self.records)

    # -- EmulatorApp protocol --------------------------------------------------------------------------------
    def default_limits(self) -> Limits:
        return Limits(requestsPerWindow=6000, windowSeconds=300.0, maxConcurrent=52, maxQueued=0)

    def entity_set_of(self, request: Request) -> str:
        path = request.path.removeprefix(API_PREFIX)
        if path == "/$batch":
            return BATCH_MARKER
        try:
            segments = split_path(path)
        except ODataQueryError:
            return path
        return segments[0].name if segments else path

    def error(self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> Response:
        if status == 429:
            code = CONCURRENCY_LIMIT if code == "TooManyConcurrentRequests" else REQUESTS_LIMIT
        return error_response(status, code, message, headers)

    def reset(self) -> None:
        self.store.clear()
        self.writer.option_sets.reset()
        self.webhooks.reset()

    def seed(self, profile: str, counts: Mapping[str, int]) -> dict[str, int]:
        organization.ensure_root(self.store)
        return seed.seed(self.writer, profile, counts)

    def admin_routes(self) -> Mapping[tuple[str, str], Callable[[Request], Response]]:
        return self.webhooks.admin_routes()

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
        """The calling app's application user (a systemuser row), created on first sight like an admin would, in the
        root business unit (which every org has: organization.py). The messages and filters a webhook step is
        registered with are there too (webhooks.py)."""
        organization.ensure_root(self.store)
        webhooks.ensure_catalog(self.store, self.schema)
        user_id = principal.object_id
        if self.store.get("systemuser", user_id) is None:
            version = self.store.next_version()
            row = {
                "systemuserid": user_id,
                "fullname": f"# {principal.client_id}",
                "applicationid": principal.client_id,
                "isdisabled": False,
                "_businessunitid_value": organization.ROOT_BUSINESS_UNIT_ID,
                "versionnumber": version,
            }
            self.store.put("systemuser", user_id, row, version=version, track=False)
        return user_id

    def _dispatch(self, request: Request, path: str, user_id: str, base: str, content_ids: ContentIds) -> Response:
        try:
            segments = split_path(path)
        except ODataQueryError as error:
            raise DataverseError(400, QUERY_ERROR, error.message) from None
        if not segments:
            raise DataverseError(404, "0x8006088a", "Resource not found for the segment ''.")
        head = segments[0]
        if head.name == "WhoAmI" and head.key in (None, "") and len(segments) == 1:
            return self._who_am_i(request, user_id, base)
        if head.name == "EntityDefinitions":
            return MetadataRoutes(self.schema, self.writer.option_sets, base).handle(request, segments)
        if len(segments) == 1 and head.key is None and head.name in _UNBOUND:
            if request.method != "POST":
                raise DataverseError(405, NOT_SUPPORTED, f"{head.name} is an action: call it with POST.")
            return self._unbound(head.name, request, user_id, base)
        table = self.schema.table_for_set(head.name)
        if table is None:
            raise DataverseError(404, "0x8006088a", f"Resource not found for the segment '{head.name}'.")
        if len(segments) == 1:
            if head.key is None:
                return self.records.collection(request, table, user_id, base, content_ids)
            return self.records.entity(request, table, head.key, user_id, base, content_ids)
        if head.key is None:
            return self._collection_operation(request, table, segments[1:], user_id, base)
        key = keys.resolve(self.store, table, head.key)
        row = self.store.get(table.logical_name, key.row_id) if key.row_id else None
        if row is None:
            raise DataverseError(404, NOT_FOUND, f"{table.logical_name} With Ids = {head.key} Does Not Exist")
        return self.navigation.handle(request, table, row, segments[1:], user_id, base, content_ids)

    def _who_am_i(self, request: Request, user_id: str, base: str) -> Response:
        """WhoAmI is an unbound function: `GET WhoAmI()` ("Use Web API functions"); the form without parentheses
        is the one the docs' other pages and most clients use, so both are served."""
        if request.method != "GET":
            raise DataverseError(405, NOT_SUPPORTED, "WhoAmI is a function: call it with GET.")
        return Response.json(
            200,
            {
                "@odata.context": f"{base}/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse",
                "UserId": user_id,
                "BusinessUnitId": organization.ROOT_BUSINESS_UNIT_ID,
                "OrganizationId": organization.ORGANIZATION_ID,
            },
        )

    def _unbound(self, name: str, request: Request, user_id: str, base: str) -> Response:
        body = self.records.body_of(request)
        if name == "ReviseQuote":
            return actions.revise_quote(self.writer, body, user_id, base)
        if name == "BulkDelete":
            return bulk_delete(self.writer, body, user_id, base)
        if name == "InsertOptionValue":
            return self.writer.option_sets.insert(body)
        if name == "UpdateOptionValue":
            return self.writer.option_sets.update(body)
        return actions.UNBOUND_ACTIONS[name](self.writer, body, user_id)

    def _collection_operation(
        self, request: Request, table: Table, tail: list[Segment], user_id: str, base: str
    ) -> Response:
        """`/<set>/$count` and the bound bulk messages `/<set>/Microsoft.Dynamics.CRM.<Name>`."""
        op = tail[0]
        if len(tail) == 1 and op == Segment("$count"):
            return self.records.count(request, table)
        message = op.name.removeprefix("Microsoft.Dynamics.CRM.")
        if len(tail) == 1 and op.key is None and message in actions.BULK_MESSAGES and request.method == "POST":
            body = self.records.body_of(request)
            return actions.bulk(self.writer, self.schema, table, message, body, user_id, base)
        raise DataverseError(404, "0x8006088a", f"Resource not found for the segment '{op.name}'.")

    def _batch(self, request: Request, principal: Principal, user_id: str, base: str) -> Response:
        items = batch.parse_batch(request)
        service: EmulatorService | None = request.context.get("service")

        def execute(inner: Request, content_ids: dict[str, tuple[str, str]] | None) -> Response:
            path = _resolve_reference(inner.path.split(API_PREFIX, 1)[-1], content_ids)
            if service is not None:
                service.charge_operation(principal, inner.method, self.entity_set_of(inner))
            ids = None
            if content_ids is not None:
                ids = {k: (self.schema.by_entity_set[s].logical_name, i) for k, (s, i) in content_ids.items()}
            response = self._dispatch(inner, path, user_id, base, ids)
            entity_id = response.headers.get("OData-EntityId")
            if entity_id and response.status < 300:  # "Execute batch operations": parts carry Location too
                response.headers = {"Location": entity_id, **response.headers}
            return response

        continue_on_error = "odata.continue-on-error" in request.prefers()
        return batch.run_batch(items, execute, self.store.transaction, continue_on_error)


def _resolve_reference(path: str, content_ids: dict[str, tuple[str, str]] | None) -> str:
    """`$1/lastname` -> `/contacts(<id>)/lastname`: a Content-ID of an earlier operation of the same change set used
    as a request URL ("Execute batch operations using the Web API", "Reference URI in request URL"); an unknown or
    forward reference is 400 with the documented message."""
    if not path.startswith("$"):
        return path
    reference, _, rest = path.partition("/")
    if content_ids is None or reference[1:] not in content_ids:
        raise bad_payload(f"Content-ID Reference: '{reference}' does not exist in the batch context.")
    entity_set, row_id = content_ids[reference[1:]]
    return f"/{entity_set}({row_id})" + (f"/{rest}" if rest else "")
