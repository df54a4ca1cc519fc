"""Service-protection budgets shared by companies (issue 22, item 7): the arithmetic, without I/O.

Both services limit requests per principal (the app registration) over a 5-minute *sliding* window, and every
company of one deployment signs in as that principal:
- Business Central online: 6,000 OData requests per 5-minute sliding window per user (service principals
  included), then 429; 5 requests processed at a time per user, the others queued (up to 95, then 429; a request
  queued for 8 minutes gets 503). Each inner request of a `$batch` counts. (Microsoft "Operational limits for
  Business Central online", via `../shared/design/reference/api-facts.md` A10/A11.)
- Dataverse: 6,000 requests per 5-minute sliding window per user and per web server, 20 minutes of combined
  execution time, 52 concurrent requests (Microsoft "Service protection API limits",
  learn.microsoft.com/power-apps/developer/data-platform/api-limits, via api-facts.md B10). That batching "does not
  avoid limits" is documented; whether each operation inside a Dataverse `$batch` counts one request towards the
  6,000 is UNCONFIRMED: we take the strict reading and count each. A bulk message (`CreateMultiple`) counts one
  (api-facts.md, bulk operations). The execution-time limit is not budgeted here (we cannot know a request's server
  time in advance): a 429 for it still takes the HTTP client's `Retry-After` path.

Why slices: a sliding window cannot be kept as one counter, and a fixed 5-minute counter lets 2N requests through
in 5 minutes (N at the end of one window, N at the start of the next). The window is cut into `slices` slices; a
reservation in slice s is granted only while the requests reserved in slices s-slices..s (the `slices + 1` slices
any 5-minute stretch ending in s can touch) stay within the allowance. So any sliding window of the service's length
holds at most the allowance: the last reservation made inside it saw every earlier one of that window.

Why fair shares: the companies of a scope draw from one allowance. While several companies want the scope, a
company may take only what the others' unmet shares leave (`share = allowance / wanting companies`), so one company's
huge backlog cannot take the window from another; a company that stops asking stops "wanting" after one slice, and
its share is then free for the others (work-conserving: nothing idles while someone waits).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

WINDOW_SECONDS = 300.0  # both services: a 5-minute sliding window
BC_REQUESTS = 6000  # per principal per window (Business Central operational limits)
BC_CONCURRENCY = 5  # requests processed at a time per principal (the others queue at BC)
DATAVERSE_REQUESTS = 6000  # per user per window (Dataverse service protection)
DATAVERSE_CONCURRENCY = 52
DEFAULT_MARGIN_PERCENT = 90  # what we allow ourselves of a limit: other clients of the same principal exist
DEFAULT_SLICES = 5  # one-minute slices of the 5-minute window
DEFAULT_BLOCK = 50  # requests reserved per Table round trip (one read + one conditional write)


@dataclass(frozen=True)
class Limits:
    """One scope's limits: `requests` per `window_seconds` (the service's), of which we allow `margin_percent`, and
    at most `concurrency` requests in flight per process."""

    requests: int
    concurrency: int
    window_seconds: float = WINDOW_SECONDS
    margin_percent: int = DEFAULT_MARGIN_PERCENT
    slices: int = DEFAULT_SLICES
    block: int = DEFAULT_BLOCK

    def __post_init__(self) -> None:
        if self.requests < 1 or self.concurrency < 1 or self.slices < 1 or self.block < 1:
            raise ValueError("requests, concurrency, slices and block are whole numbers from 1")
        if self.window_seconds <= 0 or not 1 <= self.margin_percent <= 100:
            raise ValueError("window_seconds > 0 and margin_percent from 1 to 100")

    @property
    def allowance(self) -> int:
        """The requests we send at most in any sliding window: the limit less the safety margin (at least 1)."""
        return max(1, self.requests * self.margin_percent // 100)

    @property
    def slice_seconds(self) -> float:
        return self.window_seconds / self.slices

    def slice_of(self, now: float) -> int:
        return math.floor(now / self.slice_seconds)


@dataclass
class Ledger:
    """A scope's shared state (one Table row, `storage/budgets.py`): the requests reserved per slice and company,
    and until when each company wants the scope."""

    used: dict[int, dict[str, int]] = field(default_factory=dict)
    wants: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> tuple[str, str]:
        used = {str(index): dict(by) for index, by in sorted(self.used.items())}
        return json.dumps(used, sort_keys=True), json.dumps(self.wants, sort_keys=True)

    @classmethod
    def from_json(cls, used: str | None, wants: str | None) -> Ledger:
        raw_used: Mapping[str, Mapping[str, Any]] = json.loads(used) if used else {}
        raw_wants: Mapping[str, Any] = json.loads(wants) if wants else {}
        return cls(
            {int(index): {str(c): int(n) for c, n in by.items()} for index, by in raw_used.items()},
            {str(c): float(until) for c, until in raw_wants.items()},
        )


@dataclass(frozen=True)
class Grant:
    """A reservation's answer: `count` requests granted for slice `slice_index` (0: none), else `retry_after`
    seconds until a reservation can succeed at the earliest; `share` the company's part of the window's requests."""

    count: int
    slice_index: int
    retry_after: float = 0.0
    share: float = 0.0


def _in_window(ledger: Ledger, limits: Limits, current: int) -> dict[str, int]:
    """The requests reserved per company in the `slices + 1` slices up to `current`."""
    totals: dict[str, int] = {}
    for index, by in ledger.used.items():
        if current - limits.slices <= index <= current:
            for company, count in by.items():
                totals[company] = totals.get(company, 0) + count
    return totals


def room_for(ledger: Ledger, limits: Limits, company: str, current: int, wanting: set[str]) -> int:
    """What `company` may still reserve in slice `current`: the allowance less the window's requests and less the
    unmet shares of the other wanting companies (`wanting` includes `company`)."""
    by_company = _in_window(ledger, limits, current)
    share = limits.allowance / max(1, len(wanting | {company}))
    held = sum(max(0.0, share - by_company.get(other, 0)) for other in wanting if other != company)
    return max(0, math.floor(limits.allowance - sum(by_company.values()) - held))


def reserve(ledger: Ledger, limits: Limits, company: str, want: int, now: float) -> Grant:
    """Reserve up to `want` requests for `company` at `now` in `ledger` (changed in place: the caller saves it):
    as many as the room allows (`room_for`), or none with the wait until the earliest slice with room. Either way
    the company is marked wanting for one slice and slices out of every window are dropped."""
    current = limits.slice_of(now)
    for index in [i for i in ledger.used if i < current - limits.slices]:
        del ledger.used[index]
    ledger.wants = {c: until for c, until in ledger.wants.items() if until >= now}
    ledger.wants[company] = now + limits.slice_seconds
    wanting = set(ledger.wants)
    count = min(want, room_for(ledger, limits, company, current, wanting))
    if count > 0:
        slice_used = ledger.used.setdefault(current, {})
        slice_used[company] = slice_used.get(company, 0) + count
        return Grant(count, current, 0.0, window_share(ledger, limits, company, now))
    wait = limits.window_seconds  # nothing frees before the window has moved on entirely, at worst
    for ahead in range(1, limits.slices + 2):
        if room_for(ledger, limits, company, current + ahead, wanting) > 0:
            wait = (current + ahead) * limits.slice_seconds - now
            break
    return Grant(0, current, max(wait, 0.001), window_share(ledger, limits, company, now))


def window_share(ledger: Ledger, limits: Limits, company: str, now: float) -> float:
    """The company's part (0..1) of the requests reserved in the window at `now` (0 when none were)."""
    by_company = _in_window(ledger, limits, limits.slice_of(now))
    total = sum(by_company.values())
    return by_company.get(company, 0) / total if total else 0.0


def request_cost(method: str, url: str, json_body: Any, data: bytes | str | None) -> int:
    """The requests one HTTP call counts for: 1, or each inner request of a `$batch` (BC's JSON `requests`, or
    Dataverse's multipart parts, one `application/http` part each), as both services count them (module docstring)."""
    if method.upper() != "POST" or not urlsplit(url).path.endswith("$batch"):
        return 1
    if isinstance(json_body, Mapping) and isinstance(json_body.get("requests"), list):
        return max(1, len(json_body["requests"]))
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else (data or "")
    return max(1, text.lower().count("content-type: application/http"))


def scope_of_bc(base_url: str) -> str:
    """`bc:<tenant>/<environment>`: a BC environment's budget (the principal is the deployment's app registration),
    from a base URL `https://<host>/v2.0/<tenant>/<environment>`; `bc:<host><path>` for any other shape."""
    parts = urlsplit(base_url)
    path = parts.path.strip("/")
    head, _, tail = path.partition("v2.0/")
    return f"bc:{tail.lower()}" if head == "" and tail else f"bc:{parts.netloc.lower()}/{path.lower()}"


def scope_of_dataverse(org_url: str) -> str:
    """`dataverse:<org host>`: the org's budget."""
    return f"dataverse:{urlsplit(org_url).netloc.lower()}"
