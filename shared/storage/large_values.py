"""Store a JSON value in entity properties despite Table Storage's 64 KiB property limit.

Why: a string property holds at most 64 KiB (32K UTF-16 characters) and a whole entity at most 1 MiB. Small values
stay a readable JSON string in one property (`<name>`), which is what an admin sees in Storage Explorer. A larger
value is zlib-compressed and the bytes split over binary properties `<name>_00`, `<name>_01`, ... (each <= 64 KiB)
with `<name>Parts` giving their count; quote documents are repetitive JSON, so they shrink 5-10x and a multi-megabyte
document still fits in one entity, which keeps each write a single atomic operation. A value that does not fit even
compressed is refused with `RecordError("documentTooLarge")` rather than truncated.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping
from typing import Any

from shared.domain.errors import RecordError

MAX_PROPERTY_BYTES = 64 * 1024
MAX_PARTS = 14  # 14 x 64 KiB = 896 KiB, leaving room for the entity's other properties under the 1 MiB limit


def encode_json(name: str, value: Any) -> dict[str, Any]:
    """The properties that hold `value` (see the module docstring for the layout)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)
    if len(text.encode("utf-16-le")) <= MAX_PROPERTY_BYTES:
        return {name: text}
    packed = zlib.compress(text.encode("utf-8"), level=6)
    parts = [packed[start : start + MAX_PROPERTY_BYTES] for start in range(0, len(packed), MAX_PROPERTY_BYTES)]
    if len(parts) > MAX_PARTS:
        raise RecordError(
            "documentTooLarge",
            f"{name} is {len(packed)} bytes compressed; at most {MAX_PARTS * MAX_PROPERTY_BYTES} fit in one entity",
            field=name,
        )
    properties: dict[str, Any] = {f"{name}Parts": len(parts)}
    properties.update({f"{name}_{index:02d}": part for index, part in enumerate(parts)})
    return properties


def decode_json(name: str, entity: Mapping[str, Any], default: Any = None) -> Any:
    """The value written by `encode_json`, or `default` when the entity holds none."""
    text = entity.get(name)
    if isinstance(text, str):
        return json.loads(text)
    count = entity.get(f"{name}Parts")
    if count is None:
        return default
    packed = b"".join(bytes(entity[f"{name}_{index:02d}"]) for index in range(int(count)))
    return json.loads(zlib.decompress(packed).decode("utf-8"))
