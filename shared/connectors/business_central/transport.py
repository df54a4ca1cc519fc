"""Where Business Central requests are sent: one environment's `HttpClient` and one company, resolved on first use.

Why one place: every surface (`surface.py`) sends its `BcRequest` values through here, so the company lookup,
the page size, the paging and the error mapping a request asks for (`BcRequest.errors`) are decided once. The company
cache is shared by every transport made with `for_company` (what `BusinessCentralClient.configured` uses), so a
client built per run costs no second lookup.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import requests

from shared.connectors.business_central import requests as build
from shared.connectors.business_central.odata import domain_errors, row_of
from shared.connectors.business_central.requests import BcRequest
from shared.connectors.http import HttpClient
from shared.domain.errors import FatalError
from shared.ports import Page, Row

MAX_PAGE_SIZE = 20_000


class BcTransport:
    """`company` is a name or an id. Immutable in what it addresses (a client shared by concurrent invocations is
    never rewritten under one of them); `for_company` gives another company on the same connection and cache."""

    def __init__(
        self, http: HttpClient, company: str, page_size: int, companies: dict[str, tuple[str, str]] | None = None
    ) -> None:
        self.http = http
        self._company = company
        self.page_size = min(page_size, MAX_PAGE_SIZE)
        self._companies = {} if companies is None else companies

    @property
    def company(self) -> str:
        return self._company

    def for_company(self, company: str) -> BcTransport:
        return BcTransport(self.http, company, self.page_size, self._companies)

    # -- the company -------------------------------------------------------------------------------------------
    def lookup(self, name_or_id: str) -> tuple[str, str]:
        """(id, name); ids compare case-insensitively, names exactly (BC company names are case-sensitive)."""
        if name_or_id not in self._companies:
            body = self.read(build.companies())
            for company in body.get("value", []):
                pair = (str(company["id"]), str(company["name"]))
                if name_or_id in (pair[1], pair[0]) or name_or_id.lower() == pair[0].lower():
                    self._companies[name_or_id] = pair
                    break
            else:
                raise FatalError("CompanyNotFound", f"Business Central has no company '{name_or_id}'.")
        return self._companies[name_or_id]

    def set_path(self, route: str, entity_set: str) -> str:
        return build.set_path(route, self.lookup(self._company)[0], entity_set)

    def page_path(self, service: str) -> str:
        return build.page_path(self.lookup(self._company)[1], service)

    def page_size_for(self, limit: int | None = None) -> int:
        """The page size a read asks for: the client's, or less when the read has a limit of its own."""
        return min(self.page_size, limit or self.page_size)

    # -- sending -----------------------------------------------------------------------------------------------
    def send(self, request: BcRequest) -> requests.Response:
        """The response when 2xx or in `request.accept`; else the `ApiError`, mapped as `request.errors` asks."""
        if request.errors == "api":
            return self._request(request)
        with domain_errors(only_not_found=request.errors == "not_found"):
            return self._request(request)

    def _request(self, request: BcRequest) -> requests.Response:
        return self.http.request(
            request.method,
            request.path,
            params=request.params or None,
            json_body=request.body,
            headers=request.headers or None,
            idempotent=request.idempotent,
            ok_statuses=request.accept,
        )

    def read(self, request: BcRequest) -> Any:
        """One GET's JSON; None for an accepted error status (404: not there) or an empty answer."""
        return self.http.get_json(
            request.path, params=request.params or None, headers=request.headers or None, ok_statuses=request.accept
        )

    def read_row(self, request: BcRequest) -> Row | None:
        body = self.read(request)
        return None if body is None else row_of(body)

    def pages(self, request: BcRequest) -> Iterator[Page]:
        """Every page of a read, following `@odata.nextLink` as given (`HttpClient.pages`)."""
        for body in self.http.pages(request.path, params=request.params, headers=request.headers):
            yield Page([dict(row) for row in body.get("value", [])], body.get("@odata.nextLink"))
