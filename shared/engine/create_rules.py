"""What Dataverse needs on a create that no field mapping can say: today, a unit's base unit.

Why: Dataverse creates a unit group's base unit itself (named after `baseuomname`, quantity 1) and every other unit
must name a base unit of the same group (`baseuom`). BC's unit-group mode relates each item/resource unit to the
group's base unit with its quantity, so when a unit is created the engine finds the base unit of the unit group the
`uomscheduleid` lookup chose, once per group and run, and binds it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.domain.errors import RecordError
from shared.domain.mapping import TableMapping
from shared.engine.context import SyncContext

GROUP_BIND = "uomscheduleid@odata.bind"
GROUPS_PER_READ = 50  # ~3 KB of `or` terms: far inside the Web API's URL limit


def _group_of(payload: Mapping[str, Any]) -> str:
    return str(payload[GROUP_BIND]).rsplit("(", 1)[-1].rstrip(")")


@dataclass
class CreateRules:
    context: SyncContext
    mapping: TableMapping
    _base_units: dict[str, str | None] = field(default_factory=dict)

    def apply(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The create payload with what Dataverse also requires; raises RecordError when it cannot be found."""
        if self.mapping.dataverse_table != "uom" or GROUP_BIND not in payload or "baseuom@odata.bind" in payload:
            return payload
        group = _group_of(payload)
        base = self._base_unit(group)
        if base is None:
            raise RecordError(
                "baseUnitMissing", f"The unit group {group} has no base unit in Dataverse.", field="baseuom"
            )
        return {**payload, "baseuom@odata.bind": f"/uoms({base})"}

    def prefetch(self, payloads: Iterable[Mapping[str, Any]]) -> None:
        """The base units of a whole chunk's groups in a few reads (every item unit has its own group, so one read
        per unit otherwise)."""
        if self.mapping.dataverse_table != "uom":
            return
        wanted = {_group_of(p) for p in payloads if GROUP_BIND in p and "baseuom@odata.bind" not in p}
        groups = sorted(wanted - set(self._base_units))
        for start in range(0, len(groups), GROUPS_PER_READ):
            chunk = groups[start : start + GROUPS_PER_READ]
            among = " or ".join(f"_uomscheduleid_value eq {group}" for group in chunk)
            pages = self.context.dataverse.list_changed_since(
                "uoms", None, ["uomid", "_uomscheduleid_value"], extra_filter=f"({among}) and isschedulebaseuom eq true"
            )
            for row in (row for page in pages for row in page.rows):
                self._base_units.setdefault(str(row["_uomscheduleid_value"]), str(row["uomid"]))
            for group in chunk:
                self._base_units.setdefault(group, None)

    def _base_unit(self, group: str) -> str | None:
        if group not in self._base_units:
            rows = [
                row
                for page in self.context.dataverse.list_changed_since(
                    "uoms",
                    None,
                    ["uomid"],
                    extra_filter=f"_uomscheduleid_value eq {group} and isschedulebaseuom eq true",
                )
                for row in page.rows
            ]
            self._base_units[group] = str(rows[0]["uomid"]) if rows else None
        return self._base_units[group]
