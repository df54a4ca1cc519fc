"""Lookups through couplings: a BC code or id <-> the Dataverse id of the record coupled to it.

Per run, answers are cached (a page of customers mostly shares a handful of currencies and salespeople), so a
lookup costs one coupling read per distinct value, not per record. BC's local currency is special: a blank currency
code in BC means the LCY, which has no BC currency row and so no coupling; it is the Dataverse currency with the
LCY's ISO code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.domain.errors import RecordError
from shared.domain.mapping import Lookup
from shared.services.context import SyncContext

LCY_MAPPING = "CURRENCY"


class LookupFailed(RecordError):
    """The looked-up record is not coupled (or not found): couple it first, or the field is cleared if allowed."""


@dataclass
class LookupResolver:
    context: SyncContext
    _bc_ids: dict[tuple[str, str, str], str | None] = field(default_factory=dict)
    _bc_keys: dict[tuple[str, str, str], str | None] = field(default_factory=dict)
    _to_dv: dict[tuple[str, str], str | None] = field(default_factory=dict)
    _to_bc: dict[tuple[str, str], str | None] = field(default_factory=dict)
    _lcy_id: str | None = None
    _lcy_loaded: bool = False

    def lcy_dataverse_id(self) -> str | None:
        if not self._lcy_loaded:
            code = self.context.local_currency.replace("'", "''")
            rows = [
                row
                for page in self.context.dataverse.list_changed_since(
                    "transactioncurrencies",
                    None,
                    ["transactioncurrencyid", "isocurrencycode"],
                    extra_filter=f"isocurrencycode eq '{code}'",
                )
                for row in page.rows
            ]
            self._lcy_id = str(rows[0]["transactioncurrencyid"]) if rows else None
            self._lcy_loaded = True
        return self._lcy_id

    def _bc_id_for(self, lookup: Lookup, value: str) -> str | None:
        if lookup.bc_key == "id":
            return value
        key = (f"{lookup.bc_entity_set}?{lookup.bc_scope or ''}", lookup.bc_key, value)
        self._require_source(lookup, value)
        if key not in self._bc_ids:
            literal = value.replace("'", "''")
            match = f"{lookup.bc_key} eq '{literal}'"
            rows = [
                row
                for page in self.context.bc.list_changed_since(
                    lookup.bc_entity_set or "",
                    None,
                    ["id", lookup.bc_key],
                    extra_filter=f"({match}) and ({lookup.bc_scope})" if lookup.bc_scope else match,
                )
                for row in page.rows
            ]
            self._bc_ids[key] = str(rows[0]["id"]) if rows else None
        return self._bc_ids[key]

    def _require_source(self, lookup: Lookup, value: str) -> None:
        """A lookup into a BC entity the sync has no source for is a record error (the record waits), not a failed
        request that would stop the whole run."""
        entity_set = lookup.bc_entity_set or ""
        if not self.context.bc.serves(entity_set):
            raise LookupFailed(
                "lookupNotRunnable",
                f"{lookup.mapping} '{value}' cannot be looked up: no Business Central source is configured for "
                f"'{entity_set}'.",
                field=lookup.navigation,
            )

    def to_dataverse_id(self, lookup: Lookup, bc_value: Any) -> str | None:
        """The Dataverse id for a BC value; "" / None -> None (no link). Raises LookupFailed when not coupled."""
        if lookup.mapping == LCY_MAPPING and bc_value in ("", None):
            return self.lcy_dataverse_id()
        if bc_value in ("", None, "00000000-0000-0000-0000-000000000000"):
            return None
        text = str(bc_value)
        cache_key = (lookup.mapping, text)
        if cache_key not in self._to_dv:
            bc_id = self._bc_id_for(lookup, text)
            coupling = self.context.couplings.find_by_bc_id(lookup.mapping, bc_id) if bc_id else None
            self._to_dv[cache_key] = coupling.dataverse_id if coupling else None
        found = self._to_dv[cache_key]
        if found is None:
            raise LookupFailed(
                "lookupNotCoupled",
                f"{lookup.mapping} '{text}' is not coupled: couple it first.",
                field=lookup.navigation,
            )
        return found

    def to_bc_value(self, lookup: Lookup, dataverse_id: Any) -> Any:
        """The BC value (id or code) for a Dataverse id; None -> "" (BC has no nulls)."""
        if dataverse_id in (None, ""):
            return ""
        text = str(dataverse_id)
        if lookup.mapping == LCY_MAPPING and text == self.lcy_dataverse_id():
            return ""
        cache_key = (lookup.mapping, text)
        if cache_key not in self._to_bc:
            coupling = self.context.couplings.find_by_dataverse_id(lookup.mapping, text)
            value: str | None = None
            if coupling is not None:
                value = coupling.bc_id if lookup.bc_key == "id" else self._bc_key_of(lookup, coupling.bc_id)
            self._to_bc[cache_key] = value
        found = self._to_bc[cache_key]
        if found is None:
            raise LookupFailed(
                "lookupNotCoupled", f"The {lookup.mapping} record {text} is not coupled to BC.", field=lookup.navigation
            )
        return found

    def _bc_key_of(self, lookup: Lookup, bc_id: str) -> str | None:
        key = (lookup.bc_entity_set or "", lookup.bc_key, bc_id)
        self._require_source(lookup, bc_id)
        if key not in self._bc_keys:
            row = self.context.bc.get_entity(lookup.bc_entity_set or "", bc_id, select=["id", lookup.bc_key])
            self._bc_keys[key] = str(row[lookup.bc_key]) if row else None
        return self._bc_keys[key]
