"""Row-level behaviours: rules that see one record's values on both sides, run by `ValueMapper` for any mapping that
declares them (`TableMapping.behaviours`), so per-table value rules need no mapping-name checks in the engine.

Why a registry of its own beside `behaviours.REGISTRY`: `ValueMapper` (values.py) runs these, and values.py cannot
import behaviours.py (behaviours -> behaviours_products -> sides -> values). behaviours.py lists the same names, so
`behaviours.declared` accepts them and the catalog test checks every declared name once.

Hook points of `RowRules` (values.py):
- `bc_only_fields`: canonical BC fields no API read or write carries (left out of `$select` and of the API body);
  `bc_needs`: BC fields the rules read, added to `$select`;
- `prefetch(bc_rows)`: with the lookups of a chunk (a few reads instead of one per record);
- `bc_row(row)`: the BC record with the values of `bc_only_fields`, before its canonical values are computed;
- `align(bc_values, dv_values)`: after both sides' canonical values are computed, before they are compared;
- `to_bc(payload, dataverse_row, creating=)`: a BC write payload completed from the Dataverse row (`creating`: the
  record is being inserted in BC);
- `after_bc_written([(payload, written row)])`: after BC accepted the writes (sides.BcSide).

Registered: `nameParts` (`engine/behaviours/names.py`): a person's First Name, Middle Name and Surname as BC keeps them;
`parentCompany` (`engine/behaviours/parent.py`): a contact created in BC from Sales gets the company of its parent
account.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from shared.domain.mapping import TableMapping
from shared.engine.behaviours.names import NameParts
from shared.engine.behaviours.parent import ParentCompany
from shared.engine.context import SyncContext
from shared.ports import Row


class RowRules(Protocol):
    bc_only_fields: frozenset[str]
    bc_needs: tuple[str, ...]

    def prefetch(self, bc_rows: Iterable[Mapping[str, Any]]) -> None: ...
    def bc_row(self, row: Mapping[str, Any]) -> dict[str, Any]: ...
    def align(self, bc_values: dict[str, Any], dv_values: dict[str, Any]) -> None: ...
    def to_bc(self, payload: dict[str, Any], dataverse_row: Mapping[str, Any], *, creating: bool) -> None: ...
    def after_bc_written(self, written: Sequence[tuple[Mapping[str, Any], Row]]) -> None: ...


ROW_RULES: dict[str, Callable[[SyncContext, TableMapping], RowRules]] = {
    "nameParts": NameParts,
    "parentCompany": ParentCompany,
}
# no I/O: for the catalog checks
PROVIDES: dict[str, frozenset[str]] = {"nameParts": NameParts.bc_only_fields, "parentCompany": frozenset()}


def provided_bc_fields(mapping: TableMapping) -> frozenset[str]:
    """The BC fields of a mapping that its row rules read and write (on no API entity)."""
    return frozenset(name for behaviour in mapping.behaviours for name in PROVIDES.get(behaviour, ()))


def row_rules(context: SyncContext, mapping: TableMapping) -> list[RowRules]:
    """The row rules a mapping declares (its other behaviours run at behaviours.py's hook points)."""
    return [ROW_RULES[name](context, mapping) for name in mapping.behaviours if name in ROW_RULES]
