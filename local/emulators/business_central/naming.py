"""Store naming shared by every BC emulator module: company-scoped table names and BC-style ETags."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any


def table_name(company_id: str, entity_set: str) -> str:
    return f"{company_id}/{entity_set}"


def etag_of(row: Mapping[str, Any]) -> str:
    """Opaque like BC's (`W/"JzE5Oz..."`); it changes with every write of the row."""
    token = base64.b64encode(f"JzE5OzE{row['@version']};".encode()).decode()
    return f'W/"{token}"'
