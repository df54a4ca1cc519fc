"""The deployment's Dataverse webhook, as the app registered it: the `serviceendpoint` id, the URL it posts to, and
the header secret Dataverse sends with every post (table `DataverseEndpoints`, one row).

Why a deployment table and not a company's: one Dataverse org serves every company of the deployment (issue 22),
and an org's steps fire for a table whatever company a row belongs to; so there is one endpoint and one secret, kept
under the deployment's table prefix (the primary company's tables carry no company key: `bootstrap.build_services`).
Why Table Storage: the secret must be known to every instance that answers a post, and `authvalue` cannot be read
back from Dataverse (write-only, serviceendpoint.md); the app reaches Storage with its managed identity, so no other
secret store is needed. The secret is never logged and kept out of `repr`.

Why a create-only first write: two instances registering at once must agree on one endpoint and one secret. The
first to insert the row wins; the other reads the winner's row back and uses it.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables import TableEntity, UpdateMode

from shared.storage.keys import format_instant, utc_now
from shared.storage.tables import DATAVERSE_ENDPOINTS, TableFactory

PARTITION = "webhook"
ROW = "dataverse"
HEADER = "x-bcsync-webhook-secret"  # the HttpHeader key Dataverse sends the secret in
SECRET_BYTES = 32  # `secrets.token_urlsafe(32)`: 256 bits, 43 characters


@dataclass(frozen=True)
class EndpointRecord:
    """The registered endpoint: its `serviceendpoint` id, the URL it posts to and the header secret."""

    endpoint_id: str
    url: str
    secret: str = field(repr=False)
    header: str = HEADER


class DataverseEndpointStore:
    """The one row of table `DataverseEndpoints`."""

    def __init__(self, tables: TableFactory) -> None:
        self._tables = tables

    def get(self) -> EndpointRecord | None:
        try:
            entity = self._tables.table(DATAVERSE_ENDPOINTS).get_entity(PARTITION, ROW)
        except ResourceNotFoundError:
            return None
        return _record(entity)

    def create(self, url: str) -> EndpointRecord:
        """A new endpoint id and secret for `url`, unless another instance stored one first (then that one)."""
        record = EndpointRecord(str(uuid.uuid4()), url, secrets.token_urlsafe(SECRET_BYTES))
        try:
            self._tables.table(DATAVERSE_ENDPOINTS).create_entity(_entity(record))
        except ResourceExistsError:
            found = self.get()
            if found is not None:
                return found
            raise
        return record

    def moved(self, record: Any, url: str) -> EndpointRecord:
        """The same endpoint and secret at another URL (NOTIFICATION_BASE_URL changed), saved."""
        moved = EndpointRecord(record.endpoint_id, url, record.secret, record.header)
        self._tables.table(DATAVERSE_ENDPOINTS).upsert_entity(_entity(moved), mode=UpdateMode.REPLACE)
        return moved

    def delete(self) -> None:
        self._tables.table(DATAVERSE_ENDPOINTS).delete_entity(PARTITION, ROW)


def _entity(record: EndpointRecord) -> dict[str, str]:
    return {
        "PartitionKey": PARTITION,
        "RowKey": ROW,
        "EndpointId": record.endpoint_id,
        "Url": record.url,
        "Header": record.header,
        "Secret": record.secret,
        "SavedAt": format_instant(utc_now()),
    }


def _record(entity: TableEntity) -> EndpointRecord:
    return EndpointRecord(str(entity["EndpointId"]), str(entity["Url"]), str(entity["Secret"]), str(entity["Header"]))
