"""The `nameParts` behaviour: a BC person's First Name, Middle Name and Surname kept as BC keeps them.

Why: API v2.0 contacts expose only `displayName` (BC's Name). BC keeps the parts beside it: validating Name runs the
Contact table's NameBreakdown (split on spaces, empty parts ignored; the last part is the Surname when there are two
or more, the one before it the Middle Name when there are three or more, the rest the First Name; each cut to 30;
company contacts skipped), and validating a part rebuilds Name from the non-empty parts joined by single spaces, cut
to 100 (microsoft/BCApps src/Layers/W1/BaseApp/CRM/Contact/Contact.Table.al, NameBreakdown / CalculatedName). The
parts themselves are on page 5055 "Name Details" (`contactNameDetails`, keyed by No.; no insert or delete; editable
for persons only), when the administrator publishes it (`context.bc.serves`, as every page source).

The row rules (run by `ValueMapper` for any mapping declaring `nameParts`):
- reading BC: the parts come from page 5055 when it is published (one read per chunk of records), else from BC's
  NameBreakdown of the name;
- align: a name that is exactly the parts Sales holds joined stands for those parts (no change: a breakdown is a
  guess, Sales' "Mary Ann" + "Smith" is BC's "Mary Ann Smith" too), so a part Sales has is never blanked while BC's
  name did not change; `displayName -> fullname` is carried by the parts, never compared on its own. Except the
  layout this project's engine wrote before the parts were mapped (fcef4d5): the whole name in Sales' last name,
  no first or middle name. It stands for nothing but BC's name, so BC's breakdown is compared with it, and the
  contact's next change in BC gives Sales its first name back (the new part fields have no stored values yet: the
  side that changed decides, as on a first synchronization; both sides changed is a conflict, never a guess);
- writing BC: `displayName` is rebuilt from the parts Sales holds; after BC wrote the record (and ran its breakdown),
  the parts go through page 5055 when published and they differ from what BC made of the name.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from shared.domain.errors import SyncError
from shared.domain.mapping import FieldMapping, TableMapping
from shared.engine.context import SyncContext
from shared.ports import Row

LOG = logging.getLogger("bc_sales_sync.names")
NAME_DETAILS = "contactNameDetails"  # canonical set of page 5055 "Name Details"
PARTS = ("firstName", "middleName", "surname")
NAME, NUMBER = "displayName", "number"
PART_LENGTH, NAME_LENGTH = 30, 100
ID_CHUNK = 100


def name_breakdown(name: str) -> tuple[str, str, str]:
    """BC's Contact.NameBreakdown of a person's Name: (First Name, Middle Name, Surname)."""
    words = [word for word in name.split(" ") if word]
    surname = words.pop() if len(words) >= 2 else ""
    middle = words.pop() if len(words) >= 2 else ""
    return " ".join(words)[:PART_LENGTH], middle[:PART_LENGTH], surname[:PART_LENGTH]


def calculated_name(parts: Iterable[str]) -> str:
    """BC's Name rebuilt from the parts: the non-empty ones joined by single spaces, cut to 100."""
    return " ".join(part for part in parts if part)[:NAME_LENGTH]


def _whole_name_in_surname(name: str, held: Sequence[str]) -> bool:
    """Sales holds BC's whole name of two or more words as its last name alone: the old engine's layout."""
    return len(held) == len(PARTS) and not held[0] and not held[1] and bool(name_breakdown(name)[0])


def _text(value: Any) -> str:
    return "" if value is None else str(value)


class NameParts:
    """The rules of one mapping during one run (the page reads are cached for the run)."""

    bc_only_fields: frozenset[str] = frozenset(PARTS)  # on no API v2.0 contact: never selected or sent
    bc_needs: tuple[str, ...] = (NUMBER, NAME)

    def __init__(self, context: SyncContext, mapping: TableMapping) -> None:
        self.context = context
        self.by_part: dict[str, FieldMapping] = {f.bc_field: f for f in mapping.fields if f.bc_field in PARTS}
        self.name_keys = [f.key for f in mapping.fields if f.bc_field == NAME and f.dataverse_field]
        self.page = context.bc.serves(NAME_DETAILS)
        self._parts: dict[str, tuple[str, str, str]] = {}

    # -- reading -------------------------------------------------------------------------------------------
    def prefetch(self, bc_rows: Iterable[Mapping[str, Any]]) -> None:
        """Page 5055 rows of a whole chunk of records, a few reads (nothing when the page is not published)."""
        if not self.page:
            return
        numbers = sorted({_text(row.get(NUMBER)) for row in bc_rows} - set(self._parts) - {""})
        for start in range(0, len(numbers), ID_CHUNK):
            chunk = numbers[start : start + ID_CHUNK]
            found = self.context.bc.get_entities(NAME_DETAILS, chunk, [NUMBER, *PARTS])
            for number in chunk:
                row = found.get(number)
                if row is not None:
                    self._parts[number] = (_text(row.get(PARTS[0])), _text(row.get(PARTS[1])), _text(row.get(PARTS[2])))

    def parts_of(self, row: Mapping[str, Any]) -> tuple[str, str, str]:
        number = _text(row.get(NUMBER))
        if self.page and number:
            if number not in self._parts:
                self.prefetch([row])
            if number in self._parts:
                return self._parts[number]
        return name_breakdown(_text(row.get(NAME)))

    def bc_row(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """The BC record with its name parts, as the canonical fields `firstName`, `middleName`, `surname`."""
        return {**row, **dict(zip(PARTS, self.parts_of(row), strict=True))}

    def align(self, bc_values: dict[str, Any], dv_values: dict[str, Any]) -> None:
        name = next((_text(bc_values.get(key)) for key in self.name_keys if key in bc_values), None)
        for key in self.name_keys:  # the name follows the parts: it is never a change of its own
            if key in dv_values:
                bc_values[key] = dv_values[key]
        if self.page or name is None:
            return  # page 5055's parts are BC's own: compared as they are
        keys = [self.by_part[part].key for part in PARTS if part in self.by_part]
        held = [_text(dv_values.get(key)) for key in keys]
        if name == calculated_name(held) and not _whole_name_in_surname(name, held):
            for key in keys:
                bc_values[key] = dv_values.get(key)

    # -- writing -------------------------------------------------------------------------------------------
    def sales_parts(self, dataverse_row: Mapping[str, Any]) -> tuple[str, str, str]:
        found = [
            _text(dataverse_row.get(str(self.by_part[part].dataverse_field))) if part in self.by_part else ""
            for part in PARTS
        ]
        return found[0][:PART_LENGTH], found[1][:PART_LENGTH], found[2][:PART_LENGTH]

    def to_bc(self, payload: dict[str, Any], dataverse_row: Mapping[str, Any], *, creating: bool) -> None:
        """A write of any part (or of the name) carries every part and the name rebuilt from them."""
        if not any(name in payload for name in (*PARTS, NAME)):
            return
        parts = self.sales_parts(dataverse_row)
        payload.update(dict(zip(PARTS, parts, strict=True)))
        payload[NAME] = calculated_name(parts)

    def after_bc_written(self, written: Sequence[tuple[Mapping[str, Any], Row]]) -> None:
        """After BC took the name (and broke it down): the parts through page 5055 where they differ from BC's."""
        if not self.page:
            return
        wanted = {
            _text(row.get(NUMBER)): tuple(_text(payload.get(part)) for part in PARTS)
            for payload, row in written
            if row.get(NUMBER) and all(part in payload for part in PARTS)
        }
        numbers = sorted(wanted)
        for start in range(0, len(numbers), ID_CHUNK):
            chunk = numbers[start : start + ID_CHUNK]
            current = self.context.bc.get_entities(NAME_DETAILS, chunk, [NUMBER, *PARTS])
            for number in chunk:
                self._write_parts(number, wanted[number], current.get(number))

    def _write_parts(self, number: str, parts: tuple[str, ...], current: Row | None) -> None:
        if current is None:
            return
        changed = {part: value for part, value in zip(PARTS, parts, strict=True) if _text(current.get(part)) != value}
        self._parts.pop(number, None)
        if not changed:
            return
        try:
            self.context.bc.update_entity(NAME_DETAILS, number, changed, _text(current.get("@odata.etag")) or "*")
        except SyncError as error:  # the name is written; the next run reads the parts BC has and carries them
            LOG.warning("contact %s: name parts not written through page 5055 (%s)", number, error.code)
