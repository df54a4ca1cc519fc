"""What the benchmarks need to look at a running local stack: sessions with tokens for both emulators, the host's
API and admin API, and a meter that reads what each emulator was asked and charged between two points in time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests

from local.emulators.business_central.seed import COMPANY_ID
from local.stack.launcher import LocalStack

BC_RESOURCE = "https://api.businesscentral.dynamics.com"
SIDES = ("business_central", "dataverse")
SHORT = {"business_central": "bc", "dataverse": "dataverse"}
BATCH = "$batch"


def session(key: str | None = None) -> requests.Session:
    """No proxies from the environment; the function key when given."""
    http = requests.Session()
    http.trust_env = False
    if key:
        http.headers["x-functions-key"] = key
    return http


COMPANY = f"companies({COMPANY_ID})"


def bc_api(stack: LocalStack) -> tuple[requests.Session, str]:
    """A session with a BC token and the API root (`.../api/v2.0`; the company is `COMPANY` under it)."""
    http = session()
    http.headers["Authorization"] = f"Bearer {stack.token(BC_RESOURCE)}"
    return http, f"{stack.app_settings()['BC_BASE_URL']}/api/v2.0"


def dataverse_api(stack: LocalStack) -> tuple[requests.Session, str]:
    """A session with a Dataverse token and the Web API root."""
    http = session()
    http.headers["Authorization"] = f"Bearer {stack.token(stack.urls['dataverse'])}"
    return http, f"{stack.urls['dataverse']}/api/data/v9.2"


def host_root(stack: LocalStack) -> str:
    """The host without the route prefix: the admin API lives at `/admin/...`."""
    return stack.urls["functions"].removesuffix("/api")


def run_timer(stack: LocalStack, name: str) -> dict[str, Any]:
    """Run a timer function now through the host's admin API and wait for it (200 ok, 500 failed)."""
    answer = session(stack.function_key).post(f"{host_root(stack)}/admin/functions/{name}?wait=true", timeout=900)
    if answer.status_code not in (200, 500):
        answer.raise_for_status()
    record: dict[str, Any] = answer.json()
    record["ok"] = answer.status_code == 200
    return record


@dataclass
class Usage:
    """What one emulator saw: HTTP requests, charged service-protection units, and writes (operations that are not
    reads, inside a `$batch` or not)."""

    requests: int
    charged: int
    writes: int

    def as_dict(self) -> dict[str, int]:
        return {"requests": self.requests, "charged": self.charged, "writes": self.writes}


class Meter:
    """Counts what both emulators are asked from `reset()` on (their `/_admin/stats`)."""

    def __init__(self, stack: LocalStack) -> None:
        self.urls = {side: f"{stack.urls[side]}/_admin/stats" for side in SIDES}
        self.admin = session()

    def reset(self) -> None:
        for url in self.urls.values():
            self.admin.delete(url, timeout=60).raise_for_status()

    def read(self) -> dict[str, Usage]:
        usage = {}
        for side, url in self.urls.items():
            stats = self.admin.get(url, timeout=60).json()
            writes = sum(
                count
                for entity_set, methods in stats["byEntitySet"].items()
                if entity_set != BATCH
                for method, count in methods.items()
                if method != "GET"
            )
            usage[side] = Usage(stats["requests"], stats["chargedUnits"], writes)
        return usage

    def raw(self, side: str) -> dict[str, Any]:
        stats: dict[str, Any] = self.admin.get(self.urls[side], timeout=60).json()
        return stats
