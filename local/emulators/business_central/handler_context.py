"""What a route module gets from the BC emulator's app: a narrow handle, not `BusinessCentralApp` itself.

Why: the page web services, the custom API and the JSON `$batch` are handlers the app calls, and each took the whole
app, so each imported `app` back for its type and the app and its handlers formed one import cycle (with the seed,
which reached the page seeds through the page routes). Typed against these protocols the handlers depend on the
store, the writer and the request types only; `app.py` depends on them and satisfies both protocols as it is
(tests/unit/test_local_layout.py keeps the emulators free of cycles).
"""

from __future__ import annotations

from typing import Any, Protocol

from local.emulators.business_central.api.writer import Writer
from local.emulators.store import Store
from local.emulators.web import Request, Response


class CompanyScope(Protocol):
    """For the page web services and the custom API: the store, the writer, and a company named in a URL."""

    store: Store
    writer: Writer

    def company_id(self, raw: str, environment: str) -> str:
        """The id of the company of `environment` a URL names by id or by name (404 when there is none)."""
        ...


class BatchContext(Protocol):
    """For the JSON `$batch`: read its body, and run each operation as a request of its own."""

    store: Store

    def json_body(self, request: Request) -> Any: ...

    def entity_set_of(self, request: Request) -> str:
        """The entity set an API v2.0 request addresses (what service protection charges)."""
        ...

    def dispatch(self, request: Request, rest: str, root: str) -> Response:
        """Answer one API v2.0 request below the API root."""
        ...
