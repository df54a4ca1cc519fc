"""One pooled `requests.Session` per API, with the retry, paging and error rules every connector relies on.

Retry rules (why not urllib3's `Retry`: it cannot tell an outcome-unknown write from a refused one, refresh a token
on 401, or cap the total wait below the function timeout):
- 429 and 503 mean the service refused the request before doing it: any call may be retried, after `Retry-After`
  when given, else a jittered exponential back-off.
- 408, 502, 504, a dropped connection or a timeout leave the outcome unknown: only an idempotent call is retried (GET,
  DELETE, PUT, a PATCH with `If-Match`/`If-None-Match`, or a call the caller made idempotent with a deterministic
  id). A non-idempotent call raises a transient `ApiError` and the caller decides.
- 401 refreshes the token once and retries; a second 401 is fatal.
- The total time spent waiting never exceeds `RetryPolicy.max_total_wait`, kept well below the function timeout.
- A conditional write retried after an unknown outcome may meet its own first attempt (412, "same key exists"):
  the error then carries `after_unknown_outcome=True` and the connector re-reads before reporting a failure.
- The bearer token is sent only to the API's own host.
- A client with a `budget` (`connectors/budget.py`, set by `shared/bootstrap.py`: the company's ticket on its
  scope's service-protection budget) takes each attempt's requests from it before sending (each inner request of a
  `$batch` counts, `domain.budgets.request_cost`) and holds one of the scope's in-flight places while it is sent.
  Retried attempts count again: the service counts them too. Calls to another host (a foreign link) do not count.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from shared import telemetry
from shared.connectors.errors import REQUEST_ID_HEADERS, ApiError
from shared.domain.budgets import request_cost
from shared.domain.errors import ErrorKind

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
REFUSED_STATUSES = frozenset({429, 503})
UNKNOWN_OUTCOME_STATUSES = frozenset({408, 502, 504})
# a connection lost before or while the answer arrived: the request may or may not have been applied
DROPPED = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


class TokenProvider(Protocol):
    def get_token(self) -> str: ...
    def invalidate(self) -> None: ...


class RequestBudget(Protocol):
    """A company's ticket on a scope's request budget (`connectors/budget.CompanyBudget`)."""

    def sending(self, cost: int) -> AbstractContextManager[None]: ...


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    max_total_wait: float = 300.0
    jitter: float = 0.25

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Exponential, jittered, and never above `backoff_max` (the cap applies after the jitter)."""
        base = self.backoff_base * (2 ** (attempt - 1))
        return float(min(self.backoff_max, base * (1 + rng.uniform(-self.jitter, self.jitter))))


@dataclass
class CallStats:
    """What a caller (and the tests) can read back: attempts, waits, refreshes."""

    attempts: int = 0
    retries: int = 0
    waited: float = 0.0
    waits: list[float] = field(default_factory=list)
    token_refreshes: int = 0


def retry_after_seconds(response: requests.Response) -> float | None:
    raw = response.headers.get("Retry-After")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        return None  # an HTTP-date: neither service sends one; fall back to back-off


def error_from_response(response: requests.Response, method: str, url: str, attempts: int) -> ApiError:
    code, message = f"HTTP{response.status_code}", response.reason or ""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):  # OData: {"error": {"code", "message"}}
            code = str(error.get("code") or code)
            message = str(error.get("message") or message)
        elif isinstance(error, str) and error:  # OAuth style: {"error": "...", "error_description": "..."}
            code = error
            message = str(body.get("error_description") or message)
    request_id = next((response.headers[h] for h in REQUEST_ID_HEADERS if h in response.headers), None)
    return ApiError(
        status=response.status_code,
        code=code,
        message=message,
        method=method,
        url=url,
        retry_after=retry_after_seconds(response),
        request_id=request_id,
        body_excerpt=response.text or "",
        attempts=attempts,
    )


class HttpClient:
    """Sends requests to one API: auth header, timeouts, retries, structured errors."""

    service = "http"  # the telemetry dimension `service`: the BC and Dataverse clients set `bc` / `dataverse`

    def __init__(
        self,
        base_url: str,
        token_provider: TokenProvider | None,
        *,
        policy: RetryPolicy | None = None,
        timeout: tuple[float, float] = (5.0, 120.0),
        pool_size: int = 16,
        verify: bool | str = True,
        default_headers: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        seed: int | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.tokens = token_provider
        self.policy = policy or RetryPolicy()
        self.timeout = timeout
        self.sleep = sleep
        self.stats = CallStats()
        self.budget: RequestBudget | None = None  # none: nothing limits the rate on our side (set by bootstrap)
        self._rng = random.Random(seed)  # noqa: S311 - jitter, not security
        self.session = requests.Session()
        self.session.trust_env = False  # never pick up a machine-wide proxy or CA bundle behind our back
        self.session.verify = verify
        adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.session.headers.update({"Accept": "application/json", **(default_headers or {})})

    def same_host(self, url: str) -> bool:
        """The bearer token goes only to the API's own host: a foreign nextLink or Location never receives it."""
        return urlsplit(url).netloc.lower() == urlsplit(self.base_url).netloc.lower()

    def url(self, path_or_url: str) -> str:
        return path_or_url if "://" in path_or_url else f"{self.base_url}/{path_or_url.lstrip('/')}"

    @staticmethod
    def is_idempotent(method: str, headers: Mapping[str, str]) -> bool:
        if method.upper() in IDEMPOTENT_METHODS:
            return True
        lowered = {k.lower() for k in headers}
        return method.upper() == "PATCH" and bool(lowered & {"if-match", "if-none-match"})

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        data: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        ok_statuses: frozenset[int] = frozenset(),
    ) -> requests.Response:
        """Send with retries; return the response when 2xx (or in `ok_statuses`), else raise `ApiError`. One
        dependency span covers the call with its retries (a child of the running sync job's span)."""
        with telemetry.http_span(self.service, method, self.url(path_or_url)) as call:
            return self._send(method, path_or_url, params, json_body, data, headers, idempotent, ok_statuses, call)

    def _send(
        self,
        method: str,
        path_or_url: str,
        params: Mapping[str, str] | None,
        json_body: Any,
        data: bytes | str | None,
        headers: Mapping[str, str] | None,
        idempotent: bool | None,
        ok_statuses: frozenset[int],
        call: telemetry.HttpCall,
    ) -> requests.Response:
        url = self.url(path_or_url)
        headers = dict(headers or {})
        safe_to_repeat = self.is_idempotent(method, headers) if idempotent is None else idempotent
        budget = self.budget if self.same_host(url) else None
        cost = request_cost(method, url, json_body, data) if budget is not None else 0
        attempt, waited, refreshed, unknown_before = 0, 0.0, False, False
        while True:
            attempt += 1
            self.stats.attempts += 1
            if self.tokens is not None and self.same_host(url):
                headers["Authorization"] = f"Bearer {self.tokens.get_token()}"
            try:
                body = json.dumps(json_body) if json_body is not None else data
                if json_body is not None:
                    headers.setdefault("Content-Type", "application/json")
                with self._within(budget, cost, method, url):
                    response = self.session.request(
                        method, url, params=params, data=body, headers=headers, timeout=self.timeout
                    )
            except DROPPED as error:
                failure = ApiError(
                    status=None, code="ConnectionFailed", message=str(error), method=method, url=url, attempts=attempt
                )
                if not safe_to_repeat:
                    raise failure from error
                unknown_before = True
                wait = self.policy.backoff(attempt, self._rng)
            except requests.RequestException as error:  # a malformed request or URL: retrying cannot help
                raise ApiError(
                    status=None,
                    code="RequestFailed",
                    message=str(error),
                    method=method,
                    url=url,
                    attempts=attempt,
                    kind=ErrorKind.FATAL,
                ) from error
            else:
                if response.status_code < 400 or response.status_code in ok_statuses:
                    call.answered(response.status_code, attempt)
                    return response
                failure = error_from_response(response, method, url, attempt)
                if response.status_code == 401 and self.tokens is not None and not refreshed:
                    self.tokens.invalidate()
                    refreshed = True
                    self.stats.token_refreshes += 1
                    continue
                retryable = response.status_code in REFUSED_STATUSES or (
                    response.status_code in UNKNOWN_OUTCOME_STATUSES and safe_to_repeat
                )
                if not retryable:
                    failure.after_unknown_outcome = unknown_before
                    raise failure
                unknown_before = unknown_before or response.status_code in UNKNOWN_OUTCOME_STATUSES
                wait = (
                    failure.retry_after if failure.retry_after is not None else self.policy.backoff(attempt, self._rng)
                )
            gives_up = attempt >= self.policy.max_attempts or waited + wait > self.policy.max_total_wait
            if failure.status == 429:
                telemetry.record_throttle(self.service, 0.0 if gives_up else wait)
            if gives_up:
                raise failure
            self.stats.retries += 1
            self.stats.waits.append(wait)
            self.stats.waited += wait
            waited += wait
            self.sleep(wait)

    @staticmethod
    @contextmanager
    def _within(budget: RequestBudget | None, cost: int, method: str, url: str) -> Iterator[None]:
        """The attempt within the budget, when there is one; a spent budget's error names the call it stopped."""
        with ExitStack() as stack:
            if budget is not None:
                try:
                    stack.enter_context(budget.sending(cost))
                except ApiError as error:
                    error.method, error.url = method, url
                    raise
            yield

    def get_json(
        self,
        path_or_url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        ok_statuses: frozenset[int] = frozenset(),
    ) -> Any:
        response = self.request("GET", path_or_url, params=params, headers=headers, ok_statuses=ok_statuses)
        if response.status_code in ok_statuses and response.status_code >= 400:
            return None
        return response.json() if response.content else None

    def pages(
        self, path_or_url: str, *, params: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Follow `@odata.nextLink` exactly as given; a link seen twice means the server is looping: raise."""
        first = self.request("GET", path_or_url, params=params, headers=headers)
        seen: set[str] = {self.url(path_or_url), first.url}
        body = first.json()
        while True:
            yield body
            next_link = body.get("@odata.nextLink")
            if not next_link:
                return
            if next_link in seen:
                raise ApiError(
                    status=None,
                    code="PagingLoop",
                    message=f"nextLink repeated: {next_link}",
                    method="GET",
                    url=next_link,
                    kind=ErrorKind.FATAL,
                )
            seen.add(next_link)
            body = self.get_json(next_link, headers=headers)
