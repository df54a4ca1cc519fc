"""From a BC record or a Dataverse row to the canonical values the engine compares, and back to write payloads.

Each field is compared in one domain: a one-way field in its destination's (after the transform that is applied when
writing it, so e.g. a negative BC price and the 0 it became in Sales compare equal), a two-way field in BC's (BC
upper-cases Codes and has no nulls), a lookup as the Dataverse id it resolves to through the couplings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shared.domain.changes import FieldRule
from shared.domain.mapping import PAGE_KEY_SEPARATOR, Direction, FieldMapping, TableMapping
from shared.domain.transforms import (
    RUN_TRANSFORMS,
    OptionMap,
    OptionMappingFailed,
    Transform,
    normalize,
    transform_named,
)
from shared.engine.behaviours.rows import row_rules
from shared.engine.lookups import LookupFailed, LookupResolver
from shared.ports import Row

BC_ID, BC_MODIFIED = "id", "lastModifiedDateTime"
DV_MODIFIED = "modifiedon"


def read_name(dataverse_field: str, is_lookup: bool) -> str:
    return f"_{dataverse_field}_value" if is_lookup else dataverse_field


@dataclass
class Canonical:
    values: dict[str, Any] = field(default_factory=dict)
    failures: dict[str, LookupFailed | OptionMappingFailed] = field(default_factory=dict)


class ValueMapper:
    """Field-level work for one table mapping during one run (it shares the run's lookup cache)."""

    def __init__(
        self, mapping: TableMapping, resolver: LookupResolver, option_maps: Mapping[str, OptionMap] | None = None
    ) -> None:
        self.mapping = mapping
        self.resolver = resolver
        self._transforms: dict[str, Transform] = {}
        self.unavailable: dict[str, str] = {}  # field key -> why it is not carried in this run
        fields: list[FieldMapping] = []
        for f in mapping.fields:
            if not f.enabled or not (f.bc_field or f.dataverse_field):
                continue
            if (f.transform or "").startswith("option:") and mapping.dataverse_table != "account":
                # documents' picklists are option sets of their own, not kept in step with the account's yet
                self.unavailable[f.key] = f"the {mapping.dataverse_table} picklist {f.dataverse_field} is not mapped"
                continue
            try:
                run_value = resolver.run_transform(f.transform)  # read from BC once per run (exchange rates)
                self._transforms[f.key] = run_value or transform_named(f.transform, option_maps)
            except KeyError as missing:  # an option map not set up yet: the field waits, the record still syncs
                self.unavailable[f.key] = str(missing)
                continue
            fields.append(f)
        self.fields = tuple(fields)
        self.row_rules = row_rules(resolver.context, mapping)  # declared row-level behaviours (behaviours_rows.py)
        self.bc_only = frozenset(name for rules in self.row_rules for name in rules.bc_only_fields)
        # a value read per run, not from the record, can change while the record does not: compare every record
        self.run_dependent = any(f.transform in RUN_TRANSFORMS for f in self.fields)

    # -- reading -------------------------------------------------------------------------------------------
    def rules(self) -> tuple[FieldRule, ...]:
        """Create-only fields are not compared: they cannot be updated, so a difference is no reason to write."""
        return tuple(FieldRule(f.key, f.direction) for f in self.fields if not f.create_only)

    def align(self, bc_values: dict[str, Any], dv_values: dict[str, Any]) -> None:
        """Keep-when-blank fields: a blank BC value stands for "whatever Sales has" (BC's Not Null owner)."""
        for f in self.fields:
            if f.keep_when_blank and bc_values.get(f.key) in ("", None):
                bc_values[f.key] = dv_values.get(f.key)
        for rules in self.row_rules:
            rules.align(bc_values, dv_values)

    def bc_select(self) -> list[str]:
        names = [BC_ID, BC_MODIFIED] + [f.bc_field for f in self.fields if f.bc_field]
        names += [name for f in self.fields if f.lookup for name in f.lookup.bc_id_from if not name.startswith("=")]
        names += [name for rules in self.row_rules for name in rules.bc_needs]
        return [name for name in dict.fromkeys(names) if name not in self.bc_only]

    def dataverse_select(self) -> list[str]:
        names = [self.mapping.dataverse_id, DV_MODIFIED] + [
            read_name(f.dataverse_field, f.lookup is not None) for f in self.fields if f.dataverse_field
        ]
        return list(dict.fromkeys(names))

    def prefetch(self, bc_rows: Iterable[Mapping[str, Any]], dv_rows: Iterable[Mapping[str, Any]]) -> None:
        """Resolve the lookups of a whole chunk of records up front (a few reads), not record by record."""
        bc_list, dv_list = list(bc_rows), list(dv_rows)
        for rules in self.row_rules:
            rules.prefetch(bc_list)
        for f in self.fields:
            if f.lookup is None:
                continue
            if f.bc_field and bc_list:
                self.resolver.prefetch_bc_values(f.lookup, (self.bc_lookup_value(f, row) for row in bc_list))
            if f.dataverse_field and dv_list and f.direction.allows(Direction.FROM_DATAVERSE):
                self.resolver.prefetch_dataverse_ids(f.lookup, (self._dv_raw(f, row) for row in dv_list))

    def _bc_raw(self, f: FieldMapping, row: Mapping[str, Any]) -> Any:
        return row.get(f.bc_field) if f.bc_field else f.constant

    def bc_lookup_value(self, f: FieldMapping, row: Mapping[str, Any]) -> Any:
        """What a lookup field resolves from a BC record: its value, or for a record-scoped lookup (`bc_id_from`)
        the looked-up record's key id built from this record's fields and the value."""
        raw = self._bc_raw(f, row)
        if f.lookup is None or not f.lookup.bc_id_from or raw in ("", None):
            return raw
        parts = [name[1:] if name.startswith("=") else str(row.get(name) or "") for name in f.lookup.bc_id_from]
        return PAGE_KEY_SEPARATOR.join([*parts, str(raw)])

    def _dv_raw(self, f: FieldMapping, row: Mapping[str, Any]) -> Any:
        if not f.dataverse_field:
            return f.constant
        return row.get(read_name(f.dataverse_field, f.lookup is not None))

    def from_bc(self, row: Mapping[str, Any]) -> Canonical:
        result = Canonical()
        for rules in self.row_rules:
            row = rules.bc_row(row)
        for f in self.fields:
            raw, transform = self._bc_raw(f, row), self._transforms[f.key]
            try:
                if f.lookup is not None:
                    result.values[f.key] = normalize(
                        self.resolver.to_dataverse_id(f.lookup, self.bc_lookup_value(f, row))
                    )
                elif f.direction is Direction.TO_DATAVERSE:
                    result.values[f.key] = normalize(transform.to_dataverse(raw))
                else:
                    result.values[f.key] = normalize(raw)
            except LookupFailed as failure:
                result.failures[f.key] = failure
                result.values[f.key] = "" if f.clear_on_failed_lookup else f"unresolved:{raw}"
            except OptionMappingFailed as failure:
                result.failures[f.key] = _with_field(failure, f)
                result.values[f.key] = f"unmapped:{raw}"
        return result

    def from_dataverse(self, row: Mapping[str, Any]) -> Canonical:
        result = Canonical()
        for f in self.fields:
            raw, transform = self._dv_raw(f, row), self._transforms[f.key]
            if f.lookup is not None or f.direction is Direction.TO_DATAVERSE:
                result.values[f.key] = normalize(raw)
            else:
                try:
                    result.values[f.key] = normalize(transform.to_bc(raw))
                except OptionMappingFailed:  # differs from every BC value; writing it to BC fails the record
                    result.values[f.key] = f"unmapped:{raw}"
        return result

    # -- writing -------------------------------------------------------------------------------------------
    def _selected(self, keys: Iterable[str] | None) -> list[FieldMapping]:
        wanted = None if keys is None else set(keys)
        return [f for f in self.fields if wanted is None or f.key in wanted]

    def dataverse_payload(
        self, bc_row: Mapping[str, Any], keys: Iterable[str] | None, *, creating: bool
    ) -> dict[str, Any]:
        """Attributes (and `@odata.bind`s) to write to Dataverse; `keys=None` means every field that may be sent."""
        payload: dict[str, Any] = dict(self.mapping.dataverse_on_create) if creating else {}
        for rules in self.row_rules:
            bc_row = rules.bc_row(bc_row)
        for f in self._selected(keys):
            if not f.dataverse_field or not f.direction.allows(Direction.TO_DATAVERSE):
                continue
            if f.create_only and not creating:
                continue
            raw = self._bc_raw(f, bc_row)
            if f.keep_when_blank and raw in ("", None):
                continue
            if f.lookup is not None:
                try:
                    target = self.resolver.to_dataverse_id(f.lookup, self.bc_lookup_value(f, bc_row))
                except LookupFailed:
                    if not f.clear_on_failed_lookup:
                        raise
                    target = None
                if target is None and creating:
                    continue  # nothing to clear on a new row
                bind = f"/{f.lookup.target_entity_set}({target})" if target else None
                payload[f"{f.lookup.navigation}@odata.bind"] = bind
            else:
                payload[f.dataverse_field] = _named(f, self._transforms[f.key].to_dataverse, raw)
        return payload

    def bc_payload(
        self, dataverse_row: Mapping[str, Any], keys: Iterable[str] | None, *, creating: bool
    ) -> dict[str, Any]:
        """Properties to write to BC; `keys=None` means every field that may be received."""
        payload: dict[str, Any] = dict(self.mapping.bc_on_create) if creating else {}
        for f in self._selected(keys):
            if not f.bc_field or not f.direction.allows(Direction.FROM_DATAVERSE):
                continue
            raw = self._dv_raw(f, dataverse_row)
            if f.lookup is not None:
                try:
                    value = self.resolver.to_bc_value(f.lookup, raw)
                    if f.lookup.bc_id_from and value:  # the key id's last part is the value (the unit's code)
                        value = str(value).rsplit(PAGE_KEY_SEPARATOR, 1)[-1]
                    payload[f.bc_field] = value
                except LookupFailed:
                    if not f.clear_on_failed_lookup:
                        raise
                    payload[f.bc_field] = ""
            else:
                value = _named(f, self._transforms[f.key].to_bc, raw)
                payload[f.bc_field] = "" if value is None else value
        for rules in self.row_rules:
            rules.to_bc(payload, dataverse_row, creating=creating)
        return payload

    def bc_body(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """What BC's API takes of a payload: without the fields the row rules write themselves."""
        return {name: value for name, value in payload.items() if name not in self.bc_only}

    def after_bc_written(self, written: Sequence[tuple[Mapping[str, Any], Row]]) -> None:
        """(payload, the row BC answered) per record BC accepted: the row rules' own writes follow."""
        for rules in self.row_rules:
            if written:
                rules.after_bc_written(written)


def _with_field(failure: OptionMappingFailed, f: FieldMapping) -> OptionMappingFailed:
    """An option without its counterpart names the field it failed on (the Dataverse attribute, as the API shows)."""
    failure.field = failure.field or f.dataverse_field or f.bc_field
    return failure


def _named(f: FieldMapping, convert: Callable[[Any], Any], raw: Any) -> Any:
    try:
        return convert(raw)
    except OptionMappingFailed as failure:
        raise _with_field(failure, f) from None
