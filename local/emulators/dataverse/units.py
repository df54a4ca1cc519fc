"""Dataverse's rules for unit groups (`uomschedule`) and units (`uom`), checked on every write path.

Why a module of its own: the sync creates a unit group per BC item and resource and then that item's units, and
every unit it creates must name a base unit (`baseuom`) of the same group. The group's first base unit is not
created by the client but by Dataverse itself, so a client that forgets to look it up, or picks a unit of another
group, must fail here as it would against the real service. The writer calls these hooks from `create`, `update`
and `delete`, which every route reaches (POST, PATCH upsert, deep insert, `$batch`, CreateMultiple/UpsertMultiple).

Facts: api-facts.md "uom / uomschedule" and the uom/uomschedule reference pages. Where the exact error code is
UNCONFIRMED the emulator reuses its codes (errors.py) and takes the stricter reading.
"""

from __future__ import annotations

import uuid

from local.emulators.dataverse.errors import DUPLICATE_RECORD, DataverseError, invalid
from local.emulators.dataverse.payload import Payload
from local.emulators.dataverse.schema import Table
from local.emulators.store import Row, Store

UNIT = "uom"
GROUP = "uomschedule"
BASE_QUANTITY = 1.0


def base_unit(group: Row) -> tuple[Row, Payload]:
    """The unit Dataverse creates with a unit group (per the docs sample: "retrieve the default unit created with
    the unit group"): named after `baseuomname`, quantity 1, flagged as the group's base, and with no base of its
    own. Returned as a row plus the group binding, so the writer stamps and binds it like any other row."""
    row: Row = {
        "uomid": str(uuid.uuid4()),
        "name": group.get("baseuomname"),
        "quantity": BASE_QUANTITY,
        "isschedulebaseuom": True,
        "_baseuom_value": None,
        "baseuomname": None,
    }
    return row, Payload(binds={"uomscheduleid": (GROUP, group["uomscheduleid"])})


def check_write(store: Store, table: Table, row: Row, existing: Row | None) -> None:
    """Check a `uom` row about to be stored (`existing` is None on create); other tables pass through.

    Sets `isschedulebaseuom` (false for a client's unit: only Dataverse makes base units) and `baseuomname` (the
    name of the unit's base unit, a read-only column the real service fills from the lookup)."""
    if table.logical_name != UNIT:
        return
    if existing is None:
        row["isschedulebaseuom"] = False
    unit_id = row["uomid"]
    group_id = row.get("_uomscheduleid_value")
    if row.get("isschedulebaseuom"):
        _check_base_unit(row)
    else:
        base = _check_base_reference(store, row, unit_id, group_id)
        row["baseuomname"] = base.get("name")
        _check_quantity(row)
    if existing is None or _name_key(existing.get("name")) != _name_key(row.get("name")):
        _check_unique_name(store, row, unit_id, group_id)


def check_delete(store: Store, table: Table, row: Row) -> None:
    """A group's base unit cannot be deleted, and neither can a unit other units are based on (stricter reading:
    the real service's behaviour for the latter is UNCONFIRMED; a dangling `baseuom` would be worse)."""
    if table.logical_name != UNIT:
        return
    if row.get("isschedulebaseuom"):
        raise invalid(
            f"The unit '{row.get('name')}' is the base unit of its unit group and cannot be deleted; "
            "delete the unit group instead."
        )
    unit_id = row["uomid"]
    dependants = [other.get("name") for other in store.rows(UNIT) if other.get("_baseuom_value") == unit_id]
    if dependants:
        raise invalid(
            f"The unit '{row.get('name')}' cannot be deleted: it is the base unit of {', '.join(map(str, dependants))}."
        )


def _check_base_unit(row: Row) -> None:
    """The base unit is the group's yardstick: it has no base of its own and its quantity stays 1 (stricter
    reading; the real service locks both fields in its forms, its API behaviour is UNCONFIRMED)."""
    if row.get("_baseuom_value") is not None:
        raise invalid(f"The base unit '{row.get('name')}' of a unit group cannot have a base unit (baseuom).")
    if row.get("quantity") != BASE_QUANTITY:
        raise invalid(f"The quantity of the base unit '{row.get('name')}' of a unit group is 1 and cannot change.")


def _check_base_reference(store: Store, row: Row, unit_id: str, group_id: str | None) -> Row:
    """`baseuom` is required (the stricter reading of the docs: the emulator never defaults it to the group's base
    unit, so a client must look that unit up) and must be a unit of the same group, without a cycle."""
    base_id = row.get("_baseuom_value")
    if base_id is None:
        raise invalid("Required field(s) missing on uom: baseuom (a unit needs a base unit of its unit group).")
    base = store.get(UNIT, base_id)
    if base is None or base.get("_uomscheduleid_value") != group_id:
        raise invalid(
            f"The base unit (baseuom) {base_id} does not belong to the unit group {group_id} of this unit: a unit's "
            "base unit must be a unit of the same unit group."
        )
    seen = {unit_id}
    step: Row | None = base
    while step is not None:
        if step["uomid"] in seen:
            raise invalid(f"The base unit (baseuom) {base_id} would make the units of the unit group a cycle.")
        seen.add(step["uomid"])
        next_id = step.get("_baseuom_value")
        step = store.get(UNIT, next_id) if next_id else None
    return base


def _check_quantity(row: Row) -> None:
    quantity = row.get("quantity")
    if quantity is None:
        raise invalid("Required field(s) missing on uom: quantity (how many base units this unit holds).")
    if quantity <= 0:
        raise invalid(f"The quantity of a unit must be greater than 0, not {quantity}.")


def _name_key(name: object) -> str | None:
    """Dataverse compares names with a case-insensitive collation, so 'Box' and 'BOX' clash."""
    return name.casefold() if isinstance(name, str) else None


def _check_unique_name(store: Store, row: Row, unit_id: str, group_id: str | None) -> None:
    """Unit names are unique within a unit group (the same name in another group is fine). Refused like any other
    duplicate (DuplicateRecord, 412); the real code for this clash is UNCONFIRMED."""
    key = _name_key(row.get("name"))
    clash = any(
        other["uomid"] != unit_id
        and other.get("_uomscheduleid_value") == group_id
        and _name_key(other.get("name")) == key
        for other in store.rows(UNIT)
    )
    if clash:
        raise DataverseError(
            412,
            DUPLICATE_RECORD,
            f"A unit named '{row.get('name')}' already exists in this unit group: a unit's name must be unique "
            "within its unit group.",
        )
