"""Create, update and delete in the BC emulator with Business Central's rules.

`If-Match` is required on every change (400 `BadRequest_InvalidToken` without it) and a stale one is a 409
`Request_EntityChanged`; read-only properties are refused; a client may choose the SystemId (`id`) on POST;
numbers come from number series; references may be given by id or number and the other is filled in; documents
take their lines by deep insert; a change to a line moves its document's `lastModifiedDateTime`; lines of a released
order or of a posted invoice cannot change.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from local.emulators.business_central.api import delete_rules, documents
from local.emulators.business_central.api.contact_rules import apply_company_number
from local.emulators.business_central.errors import (
    ENTITY_CHANGED,
    INVALID_TOKEN,
    SAME_KEY,
    BcError,
    bad_request,
    dialog,
    not_found,
)
from local.emulators.business_central.naming import etag_of, table_name
from local.emulators.business_central.schema import EntitySet, Schema
from local.emulators.business_central.values import EMPTY_GUID, coerce, default_value, now_text
from local.emulators.store import Row, Store

INTERNAL = "@"  # internal row keys (posted flag, release status, version) start with "@" and are never returned
# Key fields BC declares NotBlank, by entity set: (API property, AL field caption, table caption). A blank value is
# refused on insert (the platform checks NotBlank on a key field before OnInsert) and on a change (the field's
# TestField). Source: microsoft/BCApps src/Layers/W1/BaseApp/CRM/Team/SalespersonPurchaser.Table.al (field 1 "Code",
# the primary key, NotBlank, TestField(Code) on validate); the table has no number series, so nothing fills it.
NOT_BLANK_KEYS = {"salespeoplePurchasers": ("code", "Code", "Salesperson/Purchaser")}


class Writer:
    def __init__(self, schema: Schema, store: Store) -> None:
        self.schema = schema
        self.store = store
        self._counters: dict[tuple[str, str], int] = {}

    # -- helpers ---------------------------------------------------------------------------------------------
    def entity_set(self, name: str) -> EntitySet:
        found = self.schema.get(name)
        if found is None:
            raise BcError(404, "BadRequest_NotFound", f"No HTTP resource was found that matches the set '{name}'.")
        return found

    def next_number(self, company_id: str, series_name: str) -> str:
        series = self.schema.series.get(series_name)
        if series is None:
            raise bad_request(f"No number series is set up for {series_name}.")
        key = (company_id, series_name)
        with self.store.lock:
            index = self._counters.get(key, 0)
            self._counters[key] = index + 1
        return series.format(index)

    def reset_numbers(self) -> None:
        self._counters.clear()

    def stamp(self, row: Row) -> int:
        version = self.store.next_version()
        row["@version"] = version
        if "lastModifiedDateTime" in row:
            row["lastModifiedDateTime"] = now_text()
        return version

    def put(self, company_id: str, entity_set: EntitySet, row: Row) -> None:
        version = self.stamp(row)
        self.store.put(table_name(company_id, entity_set.name), row["id"], row, version=version)

    def find_by(self, company_id: str, entity_set: str, prop: str, value: Any) -> Row | None:
        for row in self.store.rows(table_name(company_id, entity_set)):
            if row.get(prop) == value:
                return row
        return None

    def get(self, company_id: str, entity_set: EntitySet, row_id: str) -> Row:
        row = self.store.get(table_name(company_id, entity_set.name), row_id)
        if row is None:
            raise not_found(entity_set.entity_name, row_id)
        return row

    # -- body checking ---------------------------------------------------------------------------------------
    def parse(self, entity_set: EntitySet, body: Any, *, creating: bool) -> tuple[dict[str, Any], list[Any]]:
        """Checked property values and (for a document being created) its deep-inserted lines."""
        if not isinstance(body, dict):
            raise bad_request("The request body must be a JSON object.")
        values: dict[str, Any] = {}
        lines: list[Any] = []
        for key, value in body.items():
            if key.startswith("@odata."):
                continue
            if entity_set.lines is not None and key == entity_set.lines:
                if not creating:
                    raise bad_request("Deep update is not supported: change lines through their own entity set.")
                if not isinstance(value, list):
                    raise bad_request(f"'{key}' must be an array of lines.")
                lines = value
                continue
            prop = entity_set.properties.get(key)
            if prop is None:
                raise bad_request(
                    f"The property '{key}' does not exist on type '{entity_set.type_name}'. Make sure "
                    f"to only use property names that are defined by the type."
                )
            writable_id = key == "id" and creating
            writable_number = key == "number" and entity_set.number_writable
            if prop.read_only and not (writable_id or writable_number):
                raise bad_request(f"The property '{key}' of '{entity_set.type_name}' is read-only.")
            values[key] = coerce(entity_set, prop, value)
        return values, lines

    def resolve_references(self, company_id: str, entity_set: EntitySet, row: Row, changed: set[str]) -> None:
        """Fill the number from the id or the id from the number, as BC validates the pair."""
        for id_prop, ref in self.schema.references.items():
            if id_prop not in entity_set.properties:
                continue
            pair = ref.get("pair")
            pair_prop = ref.get("pairProperty", "number")
            target_set = ref["set"]
            if id_prop in changed and row.get(id_prop) not in (None, EMPTY_GUID):
                target = self.store.get(table_name(company_id, target_set), row[id_prop])
                if target is None:
                    raise dialog(f"The {target_set} with id '{row[id_prop]}' does not exist ({id_prop}).")
            elif pair and pair in changed and pair in entity_set.properties and row.get(pair):
                target = self.find_by(company_id, target_set, pair_prop, row[pair])
                if target is None and not (target_set == "currencies" and row[pair] == self.local_currency):
                    raise dialog(
                        f"The field {pair} contains a value ({row[pair]}) that cannot be found in the "
                        f"related table ({target_set})."
                    )
                if target is not None:
                    row[id_prop] = target["id"]
            else:
                continue
            if target is not None:
                if pair and pair in entity_set.properties:
                    row[pair] = target.get(pair_prop, row.get(pair))
                name_prop = ref.get("name")
                if name_prop and name_prop in entity_set.properties:
                    row[name_prop] = target.get("displayName", "")

    @property
    def local_currency(self) -> str:
        return str(self.schema.overlay["localCurrency"])

    # -- operations ------------------------------------------------------------------------------------------
    def create(self, company_id: str, entity_set: EntitySet, body: Any, *, parent_id: str | None = None) -> Row:
        if entity_set.read_only or not entity_set.insert_allowed:
            raise BcError(405, "BadRequest_MethodNotAllowed", f"'{entity_set.name}' does not allow inserts.")
        values, lines = self.parse(entity_set, body, creating=True)
        with self.store.transaction():
            row: Row = {name: default_value(prop) for name, prop in entity_set.properties.items()}
            row.update(values)
            row["id"] = values.get("id") or str(uuid.uuid4())
            if self.store.get(table_name(company_id, entity_set.name), row["id"]) is not None:
                raise bad_request(f"The record with id '{row['id']}' already exists.", SAME_KEY)
            if entity_set.number_series is not None and not values.get("number"):
                row["number"] = self.next_number(company_id, entity_set.name)
            if entity_set.parent is not None:
                self._attach_to_parent(company_id, entity_set, row, parent_id, values)
            self.resolve_references(company_id, entity_set, row, set(values))
            self._business_rules(company_id, entity_set, row, set(values), creating=True)
            self.put(company_id, entity_set, row)
            self._touch_parent(company_id, entity_set, row)
            if lines:
                line_set = self.entity_set(entity_set.lines or "")
                for line in lines:
                    self.create(company_id, line_set, line, parent_id=row["id"])
        return self.get(company_id, entity_set, row["id"])

    def _attach_to_parent(
        self, company_id: str, entity_set: EntitySet, row: Row, parent_id: str | None, values: Mapping[str, Any]
    ) -> None:
        parent_set = self.entity_set(entity_set.parent or "")
        document_id = parent_id or values.get(entity_set.parent_key)
        if not document_id or document_id == EMPTY_GUID:
            raise bad_request(
                f"A {entity_set.entity_name} needs its {parent_set.entity_name} ({entity_set.parent_key})."
            )
        parent = self.get(company_id, parent_set, document_id)
        self.check_document_editable(parent_set, parent)
        row[entity_set.parent_key] = document_id
        if "sequence" in entity_set.properties and not values.get("sequence"):
            siblings = [
                r
                for r in self.store.rows(table_name(company_id, entity_set.name))
                if r.get(entity_set.parent_key) == document_id
            ]
            row["sequence"] = max((r.get("sequence", 0) for r in siblings), default=0) + 10000
        if "lineNumber" in entity_set.properties and not values.get("lineNumber"):
            row["lineNumber"] = 10000 * (
                1
                + sum(
                    1
                    for r in self.store.rows(table_name(company_id, entity_set.name))
                    if r.get(entity_set.parent_key) == document_id
                )
            )

    def check_document_editable(self, document_set: EntitySet, document: Row) -> None:
        if document.get("@posted"):
            raise dialog(f"{document_set.entity_name} {document.get('number')} is posted and cannot be changed.")
        if document.get("@released"):
            raise dialog(
                f"Status must be equal to 'Open' in Sales Header: Document Type=Order, "
                f"No.={document.get('number')}. Current value is 'Released'."
            )

    def _business_rules(
        self, company_id: str, entity_set: EntitySet, row: Row, changed: set[str], *, creating: bool
    ) -> None:
        not_blank = NOT_BLANK_KEYS.get(entity_set.name)
        if not_blank is not None and (creating or not_blank[0] in changed) and not str(row.get(not_blank[0]) or ""):
            _, caption, table = not_blank  # the exact answer is UNCONFIRMED: BC's TestField wording, as a dialog error
            raise dialog(f"{caption} must have a value in {table}: {caption}=. It cannot be zero or empty.")
        documents.apply_line_rules(self, company_id, entity_set, row, changed)
        apply_company_number(self, company_id, entity_set.name, row, changed)

    def _touch_parent(self, company_id: str, entity_set: EntitySet, row: Row) -> None:
        """A line change moves the document header's lastModifiedDateTime and totals."""
        if entity_set.parent is None:
            return
        parent_set = self.entity_set(entity_set.parent)
        parent = self.store.get(table_name(company_id, parent_set.name), row[entity_set.parent_key])
        if parent is not None:
            updated = dict(parent)
            documents.recompute_totals(self, company_id, parent_set, updated)
            self.put(company_id, parent_set, updated)

    def check_if_match(self, row: Row, if_match: str | None) -> None:
        """BC's answers (api-facts A4; Microsoft Learn, BC dev-itpro webservices/dynamics-error-codes and
        use-odata-to-modify-data): no token 400 `BadRequest_InvalidToken`, a stale one 409 `Request_EntityChanged`,
        for a request alone and for each operation of a JSON `$batch` (dispatched through the same route)."""
        if if_match is None:
            raise bad_request(
                "Could not validate the client concurrency token required by the service. Please "
                "provide a valid token in the client request.",
                INVALID_TOKEN,
            )
        if if_match != "*" and if_match != etag_of(row):
            raise BcError(409, ENTITY_CHANGED, "Another user has already changed the record.")

    def update(self, company_id: str, entity_set: EntitySet, row_id: str, body: Any, if_match: str | None) -> Row:
        if entity_set.read_only:
            raise BcError(405, "BadRequest_MethodNotAllowed", f"'{entity_set.name}' is read-only.")
        with self.store.transaction():
            existing = self.get(company_id, entity_set, row_id)
            self.check_if_match(existing, if_match)
            if existing.get("@posted"):
                raise dialog(f"{entity_set.entity_name} {existing.get('number')} is posted and cannot be changed.")
            values, _ = self.parse(entity_set, body, creating=False)
            row = dict(existing)
            row.update(values)
            if entity_set.parent is not None:
                parent_set = self.entity_set(entity_set.parent)
                self.check_document_editable(parent_set, self.get(company_id, parent_set, row[entity_set.parent_key]))
            self.resolve_references(company_id, entity_set, row, set(values))
            self._business_rules(company_id, entity_set, row, set(values), creating=False)
            self.put(company_id, entity_set, row)
            self._touch_parent(company_id, entity_set, row)
            return row

    def delete(self, company_id: str, entity_set: EntitySet, row_id: str, if_match: str | None) -> None:
        if entity_set.read_only:
            raise BcError(405, "BadRequest_MethodNotAllowed", f"'{entity_set.name}' is read-only.")
        with self.store.transaction():
            existing = self.get(company_id, entity_set, row_id)
            self.check_if_match(existing, if_match)
            if existing.get("@posted"):
                raise dialog(f"{entity_set.entity_name} {existing.get('number')} is posted and cannot be deleted.")
            delete_rules.check_delete(self.store, company_id, entity_set.name, existing)
            if entity_set.parent is not None:
                parent_set = self.entity_set(entity_set.parent)
                self.check_document_editable(
                    parent_set, self.get(company_id, parent_set, existing[entity_set.parent_key])
                )
            if entity_set.lines is not None:
                line_set = self.entity_set(entity_set.lines)
                for line in self.store.rows(table_name(company_id, line_set.name)):
                    if line.get(line_set.parent_key) == row_id:
                        self.store.delete(table_name(company_id, line_set.name), line["id"])
            self.store.delete(table_name(company_id, entity_set.name), row_id)
            self._touch_parent(company_id, entity_set, existing)
