"""Small OData helpers of the Business Central adapter: filter and URL pieces, and BC's errors as domain errors.

Kept apart so the client and its surfaces hold only their own decisions (where an entity lives, how it is read and
written) and stay readable.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from shared.connectors.errors import ApiError
from shared.domain.errors import ConcurrencyError, NotFoundError
from shared.ports import Row

ENTITY_CHANGED = "Request_EntityChanged"


def odata_datetime(moment: datetime) -> str:
    """UTC with milliseconds (BC's precision), truncated down: with `ge` that can only include, never miss."""
    if moment.tzinfo is None:
        raise ValueError("a naive datetime is ambiguous; pass an aware one (UTC)")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def and_filters(*filters: str | None) -> str | None:
    parts = [f"({f})" for f in filters if f]
    return " and ".join(parts) if parts else None


def location_target(location: str) -> tuple[str, str]:
    """`.../companies(<c>)/salesInvoices(<id>)` -> ("salesInvoices", "<id>")."""
    last = location.rstrip("/").rsplit("/", 1)[-1]
    name, _, rest = last.partition("(")
    return name, rest.rstrip(")").strip("'")


def set_of(url: str) -> str:
    return url.lstrip("/").split("(", 1)[0].split("?", 1)[0].split("/", 1)[0]


def row_of(body: Mapping[str, Any]) -> Row:
    return {k: v for k, v in body.items() if k != "@odata.context"}


def translated(error: ApiError) -> Exception:
    if error.status in (409, 412) or error.code == ENTITY_CHANGED:
        return ConcurrencyError(error.code, error.message)
    if error.status == 404:
        return NotFoundError(error.code, error.message)
    return error


def writable(body: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if not k.startswith("@odata.")}


@contextmanager
def domain_errors(*, only_not_found: bool = False) -> Iterator[None]:
    """BC's 409/412 as `ConcurrencyError` and 404 as `NotFoundError` (or only the 404, for actions); any other
    `ApiError` passes unchanged."""
    try:
        yield
    except ApiError as error:
        mapped = translated(error)
        if mapped is error or (only_not_found and error.status != 404):
            raise
        raise mapped from error

