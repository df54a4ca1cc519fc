"""Single-entity reads and ETag-conditional writes, shared by the repositories.

Why one helper: every write in this app is conditional on the ETag its caller read (ARCHITECTURE section 4), and
each repository must translate the SDK's three ways of losing a race (the row appeared, changed, or vanished) into
the domain's `ConcurrencyError` the same way, so services can re-read and decide again instead of overwriting.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, TableEntity, UpdateMode

from shared.domain.errors import ConcurrencyError


def read_entity(table: TableClient, partition_key: str, row_key: str) -> TableEntity | None:
    try:
        return table.get_entity(partition_key, row_key)
    except ResourceNotFoundError:
        return None


def save_entity(
    table: TableClient,
    entity: Mapping[str, Any],
    etag: str | None,
    *,
    what: str,
    when_missing: Exception | None = None,
) -> str:
    """Insert when `etag` is None (fails if the row exists), else replace only if the row still has `etag`.

    Returns the new ETag. A lost race raises `ConcurrencyError`; a row deleted since it was read raises
    `when_missing` when given (for rows whose disappearance means "not found" rather than "re-read").
    """
    try:
        if etag is None:
            metadata = table.create_entity(entity)
        else:
            metadata = table.update_entity(
                entity, mode=UpdateMode.REPLACE, etag=etag, match_condition=MatchConditions.IfNotModified
            )
    except ResourceNotFoundError:
        if when_missing is not None:
            raise when_missing from None
        raise _lost(what) from None
    except (ResourceExistsError, ResourceModifiedError):
        raise _lost(what) from None
    return str(metadata["etag"])


def _lost(what: str) -> ConcurrencyError:
    return ConcurrencyError("etagMismatch", f"{what} changed since it was read; re-read and decide again")
