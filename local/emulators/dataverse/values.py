"""Check and normalise attribute values written to the Dataverse emulator, refusing what Dataverse refuses."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

from local.emulators.clock import utc_now
from local.emulators.dataverse.errors import LENGTH_EXCEEDED, DataverseError, bad_payload
from local.emulators.dataverse.schema import Attribute, Table

INT32 = (-(2**31), 2**31 - 1)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def now_text() -> str:
    """Dataverse returns date-times in UTC with whole seconds: several writes in one second share `modifiedon`."""
    return utc_now().strftime("%Y-%m-%dT%H:%M:%SZ")


def canonical_guid(value: Any, what: str) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except (ValueError, AttributeError, TypeError):
        raise bad_payload(f"Cannot convert the literal '{value}' to the expected type 'Edm.Guid' ({what}).") from None


def _type_error(table: Table, attribute: Attribute, value: Any, edm: str) -> DataverseError:
    return bad_payload(
        f"Error identified in Payload provided by the user for Entity :'{table.entity_set}'. Cannot convert the "
        f"literal '{value}' to the expected type '{edm}' for property '{attribute.name}'."
    )


def _datetime_text(table: Table, attribute: Attribute, value: Any) -> str:
    if not isinstance(value, str):
        raise _type_error(table, attribute, value, "Edm.DateTimeOffset")
    text = value.strip()
    try:
        if _DATE.match(text):
            parsed = datetime.fromisoformat(text).replace(tzinfo=UTC)
        else:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
    except ValueError:
        raise _type_error(table, attribute, value, "Edm.DateTimeOffset") from None
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def coerce(table: Table, attribute: Attribute, value: Any) -> Any:
    """Return the stored form of `value` for `attribute`, or raise the 400 Dataverse would answer."""
    if value is None:
        return None
    kind = attribute.kind
    if kind == "string":
        if not isinstance(value, str):
            raise _type_error(table, attribute, value, "Edm.String")
        if value == "":
            return None  # Dataverse stores an empty string as null
        if attribute.max_length is not None and len(value) > attribute.max_length:
            raise DataverseError(
                400,
                LENGTH_EXCEEDED,
                f"A validation error occurred. The length of the '{attribute.name}' attribute of the "
                f"'{table.logical_name}' entity exceeded the maximum allowed length of '{attribute.max_length}'.",
            )
        return value
    if kind == "guid":
        return canonical_guid(value, attribute.name)
    if kind in ("int", "picklist", "state", "status"):
        if not isinstance(value, int) or isinstance(value, bool):
            raise _type_error(table, attribute, value, "Edm.Int32")
        if kind != "int" and not INT32[0] <= value <= INT32[1]:
            raise _type_error(table, attribute, value, "Edm.Int32")
        if kind == "picklist" and attribute.options is not None and value not in attribute.options:
            raise DataverseError(
                400,
                "0x8004431a",
                f"A validation error occurred. The value {value} of '{attribute.name}' on record of type "
                f"'{table.logical_name}' is outside the valid range.",
            )
        return value
    if kind == "decimal":
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise _type_error(table, attribute, value, "Edm.Decimal")
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise _type_error(table, attribute, value, "Edm.Boolean")
        return value
    if kind == "datetime":
        return _datetime_text(table, attribute, value)
    if kind == "date":
        return _datetime_text(table, attribute, value)[:10]
    raise bad_payload(f"The property '{attribute.name}' cannot be written.")
