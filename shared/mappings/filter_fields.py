"""The fields a mapping's filter may name, with their types, per table on each side (`filter_fields.json`).

Why a copy: the app must know a table's fields at run time to check an administrator's filter when it is saved
(`overrides.py`), and it cannot ask the other service each time (nor import the emulators). The copy is generated from
the same schema facts the emulators serve (BC API v2.0 and the page services behind page-sourced sets, in the sets'
canonical names; Dataverse attributes as the Web API reads them, lookups as `_<name>_value`), and
`tests/unit/test_filter_fields.py` fails when it disagrees with them (`UPDATE_FILTER_FIELDS=1` rewrites it).
Loaded on first use, never at import (cold start).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any, Literal, cast

from shared.domain.odata_filter import FieldType

FILE = Path(__file__).with_name("filter_fields.json")
Side = Literal["bc", "dataverse"]


@cache
def _facts() -> dict[str, Any]:
    return cast(dict[str, Any], json.loads(FILE.read_text(encoding="utf-8")))


def filter_fields(side: Side, entity_set: str) -> dict[str, FieldType] | None:
    """Field name -> type of `entity_set` on `side`; None when the set is unknown (its filter cannot be checked)."""
    found = _facts()[side].get(entity_set)
    return None if found is None else cast(dict[str, FieldType], found)
