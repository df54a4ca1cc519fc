"""AL-typed values as BC's API writes and returns them.

BC has no nulls: an unset Text is "", a Decimal 0, a Guid the empty GUID, a Date 0001-01-01. Code fields are stored
upper-cased and trimmed; a string longer than its AL length is refused with `Application_StringExceededLength`;
enum members travel in their OData form (`In_x0020_Review`).
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from local.emulators.business_central.errors import STRING_TOO_LONG, bad_request
from local.emulators.business_central.schema import EntitySet, Property
from local.emulators.clock import utc_now

EMPTY_GUID = "00000000-0000-0000-0000-000000000000"
EMPTY_DATE = "0001-01-01"
EMPTY_DATETIME = "0001-01-01T00:00:00Z"


def now_text() -> str:
    """BC returns SystemModifiedAt with milliseconds."""
    return utc_now().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def default_value(prop: Property) -> Any:
    return {
        "guid": EMPTY_GUID,
        "code": "",
        "text": "",
        "decimal": 0,
        "int": 0,
        "bool": False,
        "date": EMPTY_DATE,
        "datetime": EMPTY_DATETIME,
        "computed": "",
    }.get(prop.kind, prop.enum_members[0] if prop.enum_members else "")


def _type_error(entity_set: EntitySet, prop: Property, value: Any, edm: str) -> Exception:
    return bad_request(
        f"Cannot convert a primitive value to the expected type '{edm}'. See the inner exception for "
        f"more details. (property '{prop.name}' of '{entity_set.type_name}', value {value!r})"
    )


def coerce(entity_set: EntitySet, prop: Property, value: Any) -> Any:
    """The stored form of `value`, or the 400 BC would answer."""
    kind = prop.kind
    if value is None:
        raise bad_request(f"The property '{prop.name}' cannot be null.")
    if kind in ("code", "text"):
        if not isinstance(value, str):
            raise _type_error(entity_set, prop, value, "Edm.String")
        text = value.strip().upper() if kind == "code" else value
        if prop.max_length is not None and len(text) > prop.max_length:
            raise bad_request(
                f"The length of the string is {len(text)}, but it must be less than or equal to "
                f"{prop.max_length} characters. Value: {text}",
                STRING_TOO_LONG,
            )
        return text
    if kind == "guid":
        try:
            return str(uuid.UUID(str(value)))
        except ValueError:
            raise _type_error(entity_set, prop, value, "Edm.Guid") from None
    if kind == "decimal":
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise _type_error(entity_set, prop, value, "Edm.Decimal")
        return value
    if kind == "int":
        if not isinstance(value, int) or isinstance(value, bool):
            raise _type_error(entity_set, prop, value, "Edm.Int32")
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise _type_error(entity_set, prop, value, "Edm.Boolean")
        return value
    if kind == "date":
        try:
            return date.fromisoformat(str(value)).isoformat()
        except ValueError:
            raise _type_error(entity_set, prop, value, "Edm.Date") from None
    if kind == "datetime":
        try:
            parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise _type_error(entity_set, prop, value, "Edm.DateTimeOffset") from None
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if kind == "enum":
        if not isinstance(value, str) or value not in prop.enum_members:
            raise bad_request(
                f"The value '{value}' is not valid for the enum property '{prop.name}'; valid members: "
                f"{', '.join(prop.enum_members)}."
            )
        return value
    raise bad_request(f"The property '{prop.name}' is read-only.")
