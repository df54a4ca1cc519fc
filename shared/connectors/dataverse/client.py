"""`DataverseClient`: the Dataverse Web API v9.2 adapter of `DataverseClientPort`.

How it is built: `requests.py` turns every operation into a request value, `_http` is the only place that sends
one (through `HttpClient`: auth, retries honouring `Retry-After`, structured errors), `$batch` encodes the same
request values (`batch.py`), and the operations themselves are in `operations.py`.
Why each write is shaped as it is:
- creates carry a deterministic id and are create-only (`If-None-Match: *`), so a retry after a lost answer
  gets 412 = "already created" instead of a duplicate;
- updates carry `If-Match` (an ETag or `*`), so they never resurrect a deleted row nor overwrite a newer one; a
  412 after our own retried attempt is checked against the row, so a write that landed is not reported as lost;
- bulk messages write up to `bulk_chunk` rows in one request (one unit of service protection); Dataverse runs
  them all or nothing, so a chunk refused for a record error is re-sent as a continue-on-error `$batch` and the
  bad records are reported in `BulkWriteError` (see `errors.py`).
Nothing but `ApiError` (or its Dataverse subclasses) and domain errors leaves this class.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import requests

from shared.connectors.dataverse import requests as build
from shared.connectors.dataverse.batch import MAX_BATCH, encode_batch, outcomes_for, parse_batch_response
from shared.connectors.dataverse.changes import strip_control
from shared.connectors.dataverse.errors import api_error, specialize
from shared.connectors.dataverse.operations import DataverseOperations
from shared.connectors.dataverse.registrations import RegistrationOperations
from shared.connectors.dataverse.requests import API_PATH, BASE_HEADERS, DataverseRequest, bind
from shared.connectors.errors import ApiError
from shared.connectors.http import HttpClient, RetryPolicy, TokenProvider, error_from_response
from shared.domain.errors import ErrorKind, FatalError
from shared.ports import BatchOutcome, Page

__all__ = ["DataverseClient", "bind"]


class DataverseClient(DataverseOperations, RegistrationOperations):
    """One Dataverse environment (`org_url`, e.g. `https://contoso.crm4.dynamics.com`). Pass `http` to share or
    tune the `HttpClient` (its own token provider is then used); `sleep` and `policy` exist for tests and tuning."""

    def __init__(
        self,
        org_url: str,
        token_provider: TokenProvider | None,
        *,
        http: HttpClient | None = None,
        bulk_chunk: int = 1000,
        batch_chunk: int = MAX_BATCH,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        timeout: tuple[float, float] = (5.0, 120.0),
        verify: bool | str = True,
    ) -> None:
        if not 1 <= batch_chunk <= MAX_BATCH or bulk_chunk < 1:
            raise FatalError("InvalidChunk", f"bulk_chunk >= 1 and 1 <= batch_chunk <= {MAX_BATCH}")
        self.api_root = org_url.rstrip("/") + API_PATH
        self.http = http or HttpClient(
            self.api_root,
            token_provider,
            policy=policy,
            sleep=sleep,
            timeout=timeout,
            verify=verify,
            default_headers=BASE_HEADERS,
        )
        self.http.service = "dataverse"  # the telemetry dimension of its spans and 429 counts
        self.bulk_chunk = bulk_chunk
        self.batch_chunk = batch_chunk
        origin = urlsplit(self.api_root)
        self._origin = (origin.scheme.lower(), origin.netloc.lower())

    # -- sending -----------------------------------------------------------------------------------------------
    def _url_of(self, request: DataverseRequest) -> str:
        return request.url(self.api_root)

    def _http(self, request: DataverseRequest) -> requests.Response:
        url = request.url(self.api_root)
        parts = urlsplit(url)
        if (parts.scheme.lower(), parts.netloc.lower()) != self._origin:  # never hand our token to another host
            raise FatalError("ForeignLink", f"refusing to follow a link outside {self.api_root}: {url}")
        data = request.content.encode("utf-8") if request.content is not None else None
        try:
            return self.http.request(
                request.method,
                url,
                json_body=request.body,
                data=data,
                headers=request.headers,
                idempotent=request.idempotent,
                ok_statuses=request.accept,
            )
        except ApiError as error:
            raise specialize(error) from error
        except requests.RequestException as error:  # e.g. ChunkedEncodingError: HttpClient lets it through
            raise api_error(None, "ConnectionFailed", str(error), request.method, url) from error

    def _send(self, request: DataverseRequest) -> BatchOutcome:
        response = self._http(request)
        headers = {name.lower(): value for name, value in response.headers.items()}
        return BatchOutcome(response.status_code, self._json(response), headers)

    @staticmethod
    def _json(response: requests.Response) -> Any:
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as error:
            message, method = f"the answer is not JSON: {error}", response.request.method or ""
            raise api_error(
                None, "InvalidResponse", message, method, response.url, body_excerpt=response.text
            ) from error

    def _pages(self, request: DataverseRequest) -> Iterator[dict[str, Any]]:
        """Follow `@odata.nextLink` exactly as given; a link seen twice means the server loops: stop, fatally."""
        seen = {request.url(self.api_root)}
        while True:
            body = self._send(request).body or {}
            yield body
            link = body.get("@odata.nextLink")
            if not link:
                return
            if link in seen:
                raise api_error(None, "PagingLoop", "nextLink repeated", "GET", link, kind=ErrorKind.FATAL)
            seen.add(link)
            request = build.follow_link(link, request)

    # -- reads -------------------------------------------------------------------------------------------------
    def has_records(self, entity_set: str, extra_filter: str | None = None) -> bool:
        body = self._send(build.first_row(entity_set, extra_filter)).body or {}
        return bool(body.get("value"))

    def list_ids(self, entity_set: str, extra_filter: str | None = None) -> Iterator[list[str]]:
        primary = build.primary_id_of(entity_set) or ""
        for body in self._pages(build.list_ids(entity_set, extra_filter)):
            yield [str(row[primary]) for row in body.get("value", [])]

    def id_range_filter(self, entity_set: str, first: str, last: str) -> str | None:
        """`list_ids` orders by the primary id, so one listed page is the range `first`..`last`."""
        primary = build.primary_id_of(entity_set)
        return f"{primary} ge {first} and {primary} le {last}" if primary else None

    def list_changed_since(
        self,
        entity_set: str,
        since: datetime | None,
        select: Sequence[str],
        extra_filter: str | None = None,
        page_size: int = 5000,
    ) -> Iterator[Page]:
        """Pages ordered by `modifiedon` (then id): a caller may checkpoint after each page. The lower bound is
        closed; the sync drops what it read already (`shared/domain/watermarks.py`)."""
        request = build.list_changed_since(entity_set, since, select, extra_filter, page_size)
        for body in self._pages(request):
            yield Page([strip_control(row) for row in body.get("value", [])], body.get("@odata.nextLink"))

    # -- $batch ------------------------------------------------------------------------------------------------
    def _send_chunk(
        self, chunk: Sequence[DataverseRequest], *, atomic: bool, continue_on_error: bool
    ) -> list[BatchOutcome]:
        content_type, payload = encode_batch(chunk, self.api_root, atomic=atomic)
        safe = all(
            r.idempotent if r.idempotent is not None else HttpClient.is_idempotent(r.method, r.headers) for r in chunk
        )
        request = build.batch(content_type, payload, idempotent=safe, continue_on_error=continue_on_error)
        response = self._http(request)
        try:
            items = parse_batch_response(response.headers.get("Content-Type", ""), response.content.decode("utf-8"))
        except ValueError as error:  # includes UnicodeDecodeError
            url = request.url(self.api_root)
            if response.status_code >= 400:  # a batch refused as a whole (malformed, too many operations)
                raise specialize(error_from_response(response, "POST", url, 1)) from None
            # ran, but unreadable: the outcome of every operation is unknown, so stop rather than guess or repeat
            raise api_error(None, "InvalidBatchAnswer", str(error), "POST", url, kind=ErrorKind.FATAL) from error
        return outcomes_for(len(chunk), items, atomic=atomic)
