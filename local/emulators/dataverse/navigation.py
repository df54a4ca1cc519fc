"""What can follow a row's key in a URL: `$ref` (associate, disassociate) and a single property.

Sources (Power Apps developer docs): "Associate and disassociate tables using the Web API" (POST
`accounts(id)/opportunity_customer_accounts/$ref` with `{"@odata.id": ...}`; DELETE `.../$ref?$id=<url>` or
`.../opportunity_customer_accounts(<id>)/$ref`; PUT and DELETE `.../customerid_account/$ref` for a single-valued
navigation; 204 each), "Update and delete table rows using the Web API" (PUT `accounts(id)/name` with `{"value":
...}`, DELETE `accounts(id)/description`), "Retrieve a table row using the Web API" (GET a single property answers
`{"@odata.context": ..., "value": ...}`), "Execute batch operations using the Web API" (`PUT $1/lastname`,
`PUT $1/primarycontactid/$ref` with `{"@odata.id": "$2"}` inside a change set).

Every change goes through `Writer.update` as the equivalent `@odata.bind` or column write, so a `$ref` obeys the
same rules (read-only and create-only lookups, states, targets that must exist) as a PATCH; associating a contact
through `contact_customer_accounts` is setting its `parentcustomerid_account`. Only the collection navigations the
emulator has (dataverse_overlay.json `collectionNavigations`) exist. UNCONFIRMED: disassociating a row that is not
associated answers 404 (strict reading) and an unknown navigation 404 `0x8006088a` like an unknown segment.
"""

from __future__ import annotations

from typing import Any

from local.emulators.dataverse.errors import NOT_FOUND, NOT_SUPPORTED, DataverseError, bad_payload
from local.emulators.dataverse.payload import parse_bind_target
from local.emulators.dataverse.records import ContentIds, Records
from local.emulators.dataverse.schema import Table
from local.emulators.dataverse.writer import LOOKUP_TYPE
from local.emulators.odata.keys import Segment
from local.emulators.store import Row
from local.emulators.web import Request, Response


def _unknown(name: str) -> DataverseError:
    return DataverseError(404, "0x8006088a", f"Resource not found for the segment '{name}'.")


class Navigation:
    def __init__(self, records: Records) -> None:
        self.records = records
        self.schema = records.schema
        self.writer = records.writer

    def handle(
        self, request: Request, table: Table, row: Row, tail: list[Segment], user_id: str, base: str, ids: ContentIds
    ) -> Response:
        """`tail` is what follows `<set>(<key>)`: `[nav, $ref]`, `[nav(<id>), $ref]` or `[property]`."""
        first = tail[0]
        if len(tail) == 2 and tail[1] == Segment("$ref"):
            if first.name in table.collection_navigations:
                return self._collection_ref(request, table, row, first, user_id, ids)
            if first.name in table.bind_navigations and first.key is None:
                return self._single_ref(request, table, row, first.name, user_id, ids)
            raise _unknown(first.name)
        if len(tail) == 1 and first.key is None and first.name in table.by_read_name:
            return self._property(request, table, row, first.name, user_id, base)
        raise _unknown("/".join(s.name for s in tail))

    def _update(self, table: Table, row: Row, body: dict[str, Any], user_id: str, ids: ContentIds) -> Response:
        self.writer.update(table, str(row[table.primary_id]), body, user_id, if_match="*", content_ids=ids)
        return Response.empty(204)

    def _reference(self, value: Any, ids: ContentIds) -> tuple[str, str]:
        if not isinstance(value, str):
            raise bad_payload('A $ref body must be {"@odata.id": "<entity URL>"}.')
        return parse_bind_target(self.schema, value, ids, self.writer.store)

    def _collection_ref(
        self, request: Request, table: Table, row: Row, nav: Segment, user_id: str, ids: ContentIds
    ) -> Response:
        child_name, lookup = table.collection_navigations[nav.name]
        child_table = self.schema.tables[child_name]
        wanted = (lookup, table.logical_name)
        bind = next((name for name, bound in child_table.bind_navigations.items() if bound == wanted), None)
        if bind is None:  # the child's lookup is read-only: nothing may set it, $ref included
            raise bad_payload(f"The lookup '{lookup}' of {child_name} cannot be set, so '{nav.name}' cannot change.")
        if request.method == "POST" and nav.key is None:
            body = self.records.body_of(request)
            target_table, child_id = self._reference(body.get("@odata.id") if isinstance(body, dict) else None, ids)
            child = self._child(child_table, target_table, child_id)
            parent_url = f"/{table.entity_set}({row[table.primary_id]})"
            return self._update(child_table, child, {f"{bind}@odata.bind": parent_url}, user_id, ids)
        if request.method == "DELETE":
            if nav.key is not None:
                target = f"/{child_table.entity_set}({nav.key})"
            elif "$id" in request.query:
                target = request.query["$id"]
            else:
                raise bad_payload("Disassociating a collection-valued navigation needs $id=<entity URL> or a key.")
            child = self._child(child_table, *self._reference(target, ids))
            linked = child.get(f"_{lookup}_value") == row[table.primary_id]
            if not linked or child.get(LOOKUP_TYPE + lookup, table.logical_name) != table.logical_name:
                message = f"The {child_name} is not associated with this {table.logical_name}."
                raise DataverseError(404, NOT_FOUND, message)
            return self._update(child_table, child, {f"{bind}@odata.bind": None}, user_id, ids)
        raise DataverseError(405, NOT_SUPPORTED, f"{request.method} is not supported on a collection $ref.")

    def _child(self, child_table: Table, target_table: str, child_id: str) -> Row:
        if target_table != child_table.logical_name:
            raise bad_payload(f"The @odata.id must name a {child_table.logical_name}, not a {target_table}.")
        child = self.writer.store.get(child_table.logical_name, child_id)
        if child is None:
            raise DataverseError(404, NOT_FOUND, f"{child_table.logical_name} With Id = {child_id} Does Not Exist")
        return child

    def _single_ref(
        self, request: Request, table: Table, row: Row, nav: str, user_id: str, ids: ContentIds
    ) -> Response:
        if request.method == "PUT":
            body = self.records.body_of(request)
            value = body.get("@odata.id") if isinstance(body, dict) else None
            self._reference(value, ids)  # refuse a malformed reference before it becomes a bind
            return self._update(table, row, {f"{nav}@odata.bind": value}, user_id, ids)
        if request.method == "DELETE":
            return self._update(table, row, {f"{nav}@odata.bind": None}, user_id, ids)
        raise DataverseError(405, NOT_SUPPORTED, f"{request.method} is not supported on a single-valued $ref.")

    def _property(self, request: Request, table: Table, row: Row, name: str, user_id: str, base: str) -> Response:
        if request.method == "GET":
            context = f"{base}/$metadata#{table.entity_set}({row[table.primary_id]})/{name}"
            return Response.json(200, {"@odata.context": context, "value": row.get(name)})
        attribute = table.by_read_name[name]
        if attribute.kind == "lookup":
            raise bad_payload(f"'{name}' is a lookup: change it through '{attribute.name}@odata.bind' or $ref.")
        if request.method == "PUT":
            body = self.records.body_of(request)
            if not isinstance(body, dict) or set(body) != {"value"}:
                raise bad_payload('A single-property PUT takes {"value": <new value>}.')
            return self._update(table, row, {name: body["value"]}, user_id, None)
        if request.method == "DELETE":
            return self._update(table, row, {name: None}, user_id, None)
        raise DataverseError(405, NOT_SUPPORTED, f"{request.method} is not supported on a property.")
