"""Create, update (upsert), state changes and delete with Dataverse's rules.

The rules the sync depends on live here: client-chosen ids, `If-Match`/`If-None-Match` semantics, lookups that
must point at existing rows, valid statecode/statuscode pairs, records that are read-only in some states (a
submitted order, an activated, won or closed quote, a paid or canceled invoice), lines that follow their parent's
state, and `modifiedby` naming the calling application user. Unit groups and units (units.py), the product catalog
(products.py), currencies (currencies.py), document totals (totals.py) and the invoice payment rule
(document_states.py) add their own rules, hooked in here so every route that writes (POST, PATCH upsert, deep insert,
`$batch`, the bulk messages) applies them.
"""

from __future__ import annotations

import itertools
import random
import string
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from local.emulators.dataverse import (
    currencies,
    delete_rules,
    document_states,
    keys,
    organization,
    products,
    totals,
    units,
    webhooks,
)
from local.emulators.dataverse.errors import (
    DUPLICATE_RECORD,
    VERSION_MISMATCH,
    DataverseError,
    bad_payload,
    invalid,
    not_found,
)
from local.emulators.dataverse.option_sets import OptionSets
from local.emulators.dataverse.payload import Payload, parse_payload
from local.emulators.dataverse.schema import Schema, Table
from local.emulators.dataverse.values import canonical_guid, now_text
from local.emulators.store import Row, Store

STATE_FIELDS = frozenset({"statecode", "statuscode"})
LOOKUP_TYPE = "@lookup:"  # internal row key prefix: the logical name a lookup points at (stripped from output)


def stale_version() -> DataverseError:
    """`If-Match: <etag>` whose version moved on: 412 ConcurrencyVersionMismatch (Microsoft Learn, Power Apps
    developer docs, "Perform conditional operations using the Web API", section "Apply optimistic concurrency";
    the same check applies to a PATCH or DELETE sent alone or inside `$batch`, which dispatches its operations
    through the same route; facts B6/B10 of api-facts.md)."""
    return DataverseError(
        412, VERSION_MISMATCH, "The version of the existing record doesn't match the RowVersion property provided."
    )


def etag_of(row: Mapping[str, Any]) -> str:
    return f'W/"{row["versionnumber"]}"'


class Writer:
    def __init__(self, schema: Schema, store: Store) -> None:
        self.schema = schema
        self.store = store
        self.option_sets = OptionSets()
        # the event pipeline (webhooks.py): told of every create, update and delete a request makes
        self.on_event: Callable[[webhooks.WriteEvent], None] | None = None
        self._numbers = itertools.count(1000)
        self._random = random.Random(7)  # noqa: S311 - record-number suffixes, not secrets

    # -- helpers ---------------------------------------------------------------------------------------------
    def _auto_number(self, prefix: str) -> str:
        suffix = "".join(self._random.choice(string.ascii_uppercase + string.digits) for _ in range(6))
        return f"{prefix}-{next(self._numbers):05d}-{suffix}"

    def _apply_binds(self, table: Table, row: Row, payload: Payload) -> None:
        for attribute, target in payload.binds.items():
            read_name = table.attributes[attribute].read_name
            if target is None:
                if table.attributes[attribute].crm_type == "Owner":
                    organization.check_owner("", None)
                row[read_name] = None
                row.pop(LOOKUP_TYPE + attribute, None)
                continue
            target_table, target_id = target
            target_row = self.store.get(target_table, target_id)
            if target_row is None:
                raise not_found(target_table, target_id)
            if table.attributes[attribute].crm_type == "Owner":
                organization.check_owner(target_table, target_row)
            row[read_name] = target_id
            row[LOOKUP_TYPE + attribute] = target_table
        self._derive(table, row)

    def _derive(self, table: Table, row: Row) -> None:
        """Columns Dataverse computes from others (contact.fullname, the account/contact split of a customer).

        fullname follows the organization's full-name format (organization.fullnameconventioncode); the emulator
        uses "First Name Middle Name Last Name" (code 5), so every name part shows and none is silently dropped
        (the default format of a new org is UNCONFIRMED; a format that omits the middle name would hide it)."""
        if table.logical_name in ("contact", "systemuser"):
            parts = [str(row.get(name) or "").strip() for name in ("firstname", "middlename", "lastname")]
            row["fullname"] = " ".join(p for p in parts if p) or None
        for customer, account_col in (("customerid", "accountid"), ("parentcustomerid", "accountid")):
            if f"_{customer}_value" in row and account_col in table.attributes:
                is_account = row.get(LOOKUP_TYPE + customer) == "account"
                row[f"_{account_col}_value"] = row[f"_{customer}_value"] if is_account else None
                if "contactid" in table.attributes and table.logical_name != "contact":
                    row["_contactid_value"] = None if is_account else row[f"_{customer}_value"]

    def _check_state(self, table: Table, row: Row, payload: Payload) -> None:
        state = payload.values.get("statecode", row.get("statecode"))
        status = payload.values.get("statuscode")
        if not table.states:
            if STATE_FIELDS & payload.names():
                raise bad_payload(f"'{table.logical_name}' has no statecode or statuscode.")
            return
        if not isinstance(state, int) or state not in table.states:
            raise invalid(f"{state} is not a valid statecode for {table.logical_name}.")
        if status is None:
            current = row.get("statuscode")
            keep = "statecode" not in payload.values and self._status_state(table, current) == state
            status = current if keep else table.default_status(state)
        if self._status_state(table, status) != state:
            raise invalid(f"{status} is not a valid status code for state code {table.logical_name}State.{state}.")
        row["statecode"], row["statuscode"] = state, status

    @staticmethod
    def _status_state(table: Table, status: Any) -> int | None:
        found = table.statuses.get(status) if isinstance(status, int) else None
        return found[1] if found else None

    def _check_editable(self, table: Table, row: Row, names: set[str]) -> None:
        """Read-only records accept a state change and nothing else."""
        if not names - STATE_FIELDS:
            return
        state = row.get("statecode")
        locked = (table.read_only_unless_state is not None and state != table.read_only_unless_state) or (
            state in table.read_only_in_states
        )
        if locked:
            label = table.states.get(state, state) if isinstance(state, int) else state
            raise invalid(f"This {table.logical_name} is {label} and read-only: only its state can be changed.")

    def _check_parent_editable(self, table: Table, row: Row) -> None:
        if table.parent_lookup is None:
            return
        parent_table_name = table.attributes[table.parent_lookup].targets[0]
        parent_id = row.get(f"_{table.parent_lookup}_value")
        parent = self.store.get(parent_table_name, parent_id) if parent_id else None
        if parent is None:
            raise invalid(f"A {table.logical_name} needs its {parent_table_name}.")
        self._check_editable(self.schema.tables[parent_table_name], parent, {"lines"})

    def _stamp(self, row: Row, user_id: str, *, created: bool) -> int:
        version = self.store.next_version()
        now = now_text()
        row["versionnumber"] = version
        row["modifiedon"] = now
        row["_modifiedby_value"] = user_id
        if created:
            row["createdon"] = now
            row["_createdby_value"] = user_id
        return version

    def _create_base_unit(self, group: Row, user_id: str) -> None:
        """Dataverse creates a unit group's base unit itself (per the docs sample: "retrieve the default unit created
        with the unit group"), in the same transaction as the group, so an upsert retry that finds the group finds
        its base unit too and creates no second one."""
        unit_table = self.schema.tables[units.UNIT]
        row, binds = units.base_unit(group)
        self._apply_binds(unit_table, row, binds)
        version = self._stamp(row, user_id, created=True)
        self.store.put(unit_table.logical_name, row[unit_table.primary_id], row, version=version)

    def _create_default_team(self, business_unit: Row, user_id: str) -> None:
        """Dataverse makes a business unit's default team with it, in the same transaction (organization.py)."""
        team = organization.default_team(business_unit)
        version = self._stamp(team, user_id, created=True)
        self.store.put(organization.TEAM, team["teamid"], team, version=version)

    def _refresh_header(self, table: Table, line: Row, user_id: str | None) -> None:
        """After a document line was written or deleted: its header's totals follow (totals.py), stamped as modified
        by the caller (a delete does not know the caller here: the header keeps its modifiedby)."""
        refreshed = totals.refresh_header(self.store, table.logical_name, line)
        if refreshed is None:
            return
        header_table, header_id, header = refreshed
        version = self._stamp(header, user_id or str(header.get("_modifiedby_value")), created=False)
        self.store.put(header_table, header_id, header, version=version)

    def _event(self, message: str, table: Table, row: Row, user_id: str, names: set[str] | frozenset[str]) -> None:
        if self.on_event is not None:
            row_id = str(row[table.primary_id])
            self.on_event(webhooks.WriteEvent(message, table.logical_name, row_id, user_id, frozenset(names), row))

    # -- operations ------------------------------------------------------------------------------------------
    def create(
        self,
        table: Table,
        body: Any,
        user_id: str,
        *,
        row_id: str | None = None,
        content_ids: dict[str, tuple[str, str]] | None = None,
    ) -> Row:
        payload = parse_payload(self.schema, table, body, creating=True, content_ids=content_ids, store=self.store)
        self.option_sets.check(table.logical_name, payload.values)
        body_id = payload.values.pop(table.primary_id, None)
        if row_id is not None and body_id is not None and body_id != row_id:
            raise bad_payload("The id in the URL and the id in the body differ.")
        new_id = row_id or body_id or str(uuid.uuid4())
        with self.store.transaction():
            if self.store.get(table.logical_name, new_id) is not None:
                raise DataverseError(412, DUPLICATE_RECORD, "A record with matching key values already exists.")
            row: Row = {table.primary_id: new_id, **table.defaults, **payload.values}
            for column, prefix in table.auto_number.items():
                row.setdefault(column, self._auto_number(prefix))
            missing = [name for name in table.required if name not in payload.names() and row.get(name) is None]
            if missing:
                raise invalid(f"Required field(s) missing on {table.logical_name}: {', '.join(missing)}.")
            if table.draft_on_create and "statecode" not in payload.values:
                row["statecode"], row["statuscode"] = 2, 0
            elif table.states:
                row.setdefault("statecode", 0)
                self._check_state(table, row, payload)
            if "ownerid" in table.attributes and "ownerid" not in payload.binds:
                row["_ownerid_value"], row[LOOKUP_TYPE + "ownerid"] = user_id, "systemuser"
            self._apply_binds(table, row, payload)
            self._check_parent_editable(table, row)
            units.check_write(self.store, table, row, None)
            products.check_write(self.store, table, row, None)
            currencies.check_write(table, row)
            keys.check_unique(self.store, table, row)
            webhooks.check_write(self.store, self.schema, table, row)
            totals.line_amounts(table.logical_name, row, payload.names(), created=True)
            totals.header_totals(self.store, table.logical_name, row, payload.names(), created=True)
            version = self._stamp(row, user_id, created=True)
            self.store.put(table.logical_name, new_id, row, version=version)
            self._event("Create", table, row, user_id, payload.names())
            self._refresh_header(table, row, user_id)
            if table.logical_name == units.GROUP:
                self._create_base_unit(row, user_id)
            if table.logical_name == organization.BUSINESS_UNIT:
                self._create_default_team(row, user_id)
            for navigation, children in payload.children.items():
                child_table_name, lookup = table.collection_navigations[navigation]
                child_table = self.schema.tables[child_table_name]
                for child in children:
                    if f"{lookup}@odata.bind" in child:
                        raise bad_payload(f"A deep-inserted {child_table_name} is bound to its parent implicitly.")
                    self.create(
                        child_table,
                        {**child, f"{lookup}@odata.bind": f"/{table.entity_set}({new_id})"},
                        user_id,
                        content_ids=content_ids,
                    )
            if payload.children:  # the lines' totals reached the stored header: answer with it
                row = self.store.get(table.logical_name, new_id) or row
        return row

    def update(
        self,
        table: Table,
        row_id: str,
        body: Any,
        user_id: str,
        *,
        if_match: str | None = None,
        if_none_match: str | None = None,
        content_ids: dict[str, tuple[str, str]] | None = None,
    ) -> tuple[Row, bool]:
        """PATCH: update, or create when missing (upsert) unless `If-Match` forbids it. Returns (row, created)."""
        row_id = canonical_guid(row_id, table.primary_id)
        with self.store.transaction():
            existing = self.store.get(table.logical_name, row_id)
            if if_none_match == "*" and existing is not None:
                raise DataverseError(412, DUPLICATE_RECORD, "A record with matching key values already exists.")
            if existing is None:
                if if_match is not None:
                    raise not_found(table.logical_name, row_id)
                return self.create(table, body, user_id, row_id=row_id, content_ids=content_ids), True
            if if_match not in (None, "*") and if_match != etag_of(existing):
                raise stale_version()
            if table.no_update:
                raise DataverseError(
                    400, "0x80040800", f"The 'Update' method does not support entities of type '{table.logical_name}'."
                )
            payload = parse_payload(self.schema, table, body, creating=False, content_ids=content_ids, store=self.store)
            self.option_sets.check(table.logical_name, payload.values)
            if payload.values.pop(table.primary_id, row_id) != row_id:
                raise bad_payload("The id in the URL and the id in the body differ.")
            self._check_editable(table, existing, payload.names())
            document_states.check_change(table, existing, payload.values)
            row = dict(existing)
            self._check_parent_editable(table, row)
            row.update(payload.values)
            self._check_state(table, row, payload)
            self._apply_binds(table, row, payload)
            units.check_write(self.store, table, row, existing)
            products.check_write(self.store, table, row, existing)
            currencies.check_write(table, row)
            keys.check_unique(self.store, table, row)
            webhooks.check_write(self.store, self.schema, table, row)
            totals.line_amounts(table.logical_name, row, payload.names(), created=False)
            totals.header_totals(self.store, table.logical_name, row, payload.names(), created=False)
            version = self._stamp(row, user_id, created=False)
            self.store.put(table.logical_name, row_id, row, version=version)
            self._event("Update", table, row, user_id, payload.names())
            self._refresh_header(table, row, user_id)
            return row, False

    def set_state(self, table: Table, row_id: str, state: int, status: int, user_id: str) -> Row:
        """What the close/win/fulfil messages do after their own checks: a state change, stamped as an update."""
        row = self.store.get(table.logical_name, row_id)
        if row is None:
            raise not_found(table.logical_name, row_id)
        new_row = dict(row)
        document_states.check_change(table, row, {"statecode": state, "statuscode": status})
        self._check_state(table, new_row, Payload(values={"statecode": state, "statuscode": status}))
        version = self._stamp(new_row, user_id, created=False)
        self.store.put(table.logical_name, row_id, new_row, version=version)
        self._event("Update", table, new_row, user_id, STATE_FIELDS)
        return new_row

    def delete(self, table: Table, row_id: str, *, user_id: str, if_match: str | None = None) -> None:
        """Delete a row and the lines that follow their parent; each row deleted is a Delete event of `user_id`."""
        row_id = canonical_guid(row_id, table.primary_id)
        with self.store.transaction():
            existing = self.store.get(table.logical_name, row_id)
            if existing is None:
                raise not_found(table.logical_name, row_id)
            if if_match not in (None, "*") and if_match != etag_of(existing):
                raise stale_version()
            self._check_parent_editable(table, existing)
            units.check_delete(self.store, table, existing)
            delete_rules.check_delete(self.store, table, existing)
            for child_table_name, lookup in table.collection_navigations.values():
                child_table = self.schema.tables[child_table_name]
                if child_table.parent_lookup != lookup:
                    continue
                for child in self.store.rows(child_table_name):
                    if child.get(f"_{lookup}_value") == row_id:
                        self.store.delete(child_table_name, child[child_table.primary_id])
                        self._event("Delete", child_table, child, user_id, frozenset())
            self.store.delete(table.logical_name, row_id)
            self._event("Delete", table, existing, user_id, frozenset())
            self._refresh_header(table, existing, None)
