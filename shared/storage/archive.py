"""The quote archive in Table Storage: PartitionKey Dataverse quote number, RowKey revision (zero-padded).

Why keep the first write: a revision is archived just before the BC quote is overwritten by the next Sales revision.
If the job is retried after the overwrite, archiving "again" would store the already-replaced quote under the old
revision, so an existing revision is left as it is and the retry succeeds (insert, never replace).

Size: the document is stored as JSON through `large_values`: readable in one property up to 64 KiB, otherwise
zlib-compressed and split over binary properties of 64 KiB (up to 14 of them, so a quote of several megabytes of
JSON fits in its one row); beyond that `RecordError("documentTooLarge")`.
"""

from __future__ import annotations

import contextlib
from typing import Any

from azure.core.exceptions import ResourceExistsError
from azure.data.tables import TableClient, TableEntity

from shared.domain.records import ArchivedQuote
from shared.storage.keys import escape_key, odata_string, revision_row_key
from shared.storage.large_values import decode_json, encode_json
from shared.storage.tables import QUOTE_ARCHIVE, TableFactory


class TableQuoteArchive:
    """`QuoteArchive` on the `QuoteArchive` table."""

    def __init__(self, tables: TableFactory) -> None:
        self._tables = tables

    @property
    def _table(self) -> TableClient:
        return self._tables.table(QUOTE_ARCHIVE)

    def archive_quote(self, quote: ArchivedQuote) -> None:
        entity: dict[str, Any] = {
            "PartitionKey": escape_key(quote.quote_number),
            "RowKey": revision_row_key(quote.revision),
            "QuoteNumber": quote.quote_number,
            "Revision": quote.revision,
            "ArchivedOn": quote.archived_on,
            **encode_json("Document", quote.document),
        }
        with contextlib.suppress(ResourceExistsError):
            self._table.create_entity(entity)

    def list_revisions(self, quote_number: str) -> list[ArchivedQuote]:
        """Oldest revision first."""
        rows = self._table.query_entities(f"PartitionKey eq {odata_string(escape_key(quote_number))}")
        return [_quote(row) for row in rows]


def _quote(row: TableEntity) -> ArchivedQuote:
    return ArchivedQuote(
        quote_number=row["QuoteNumber"],
        revision=int(row["Revision"]),
        archived_on=row["ArchivedOn"],
        document=decode_json("Document", row, default={}),
    )
