"""What the local Functions host reads before it imports the app: `local.settings.json`, `host.json`, `%NAME%`.

Why it copies `func start` to the letter: the app reads its configuration from the environment (App Settings in
Azure), so locally the same names must arrive the same way. Like Core Tools, a `Values` entry is exported only when
the environment does not already hold a non-empty value (the shell, `make demo` and the tests override the file),
and the skip is printed with Core Tools' own words.

Decision: with no `local.settings.json` (a fresh clone; the file is git-ignored because it may hold secrets) the host
falls back to `local.settings.json.example`, which holds local-only values, and says so. An explicit `--settings`
path must exist.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from local.host.ncrontab import ScheduleError, parse_timespan

SETTINGS_FILE = "local.settings.json"
EXAMPLE_FILE = "local.settings.json.example"
DEFAULT_ROUTE_PREFIX = "api"
DEFAULT_MAX_CONCURRENT_CALLS = 16  # the Service Bus extension's default is 16 per CPU; one process here
DEFAULT_LOCK_RENEWAL = timedelta(minutes=5)
EXPRESSION = re.compile(r"%([^%\s]+)%")


class HostConfigurationError(Exception):
    """The host cannot start as configured (the message says what to change)."""


@dataclass(frozen=True)
class LocalSettings:
    path: Path | None
    values: dict[str, str]
    http_port: int | None = None
    cors_origins: tuple[str, ...] = ()
    cors_credentials: bool = False


@dataclass(frozen=True)
class HostConfig:
    """The parts of host.json the local host honours."""

    route_prefix: str = DEFAULT_ROUTE_PREFIX
    max_concurrent_calls: int = DEFAULT_MAX_CONCURRENT_CALLS
    max_lock_renewal: timedelta = DEFAULT_LOCK_RENEWAL
    function_timeout: timedelta | None = None
    auto_complete: bool = True


def _as_setting(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise HostConfigurationError(f"local settings: Values.{name} must be a string, number or boolean")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as error:
        raise HostConfigurationError(f"cannot read {path}: {error}") from error
    if not isinstance(data, dict):
        raise HostConfigurationError(f"{path} must hold a JSON object")
    return data


def load_local_settings(explicit: Path | None, script_root: Path, say: Callable[[str], None] = print) -> LocalSettings:
    if explicit is not None:
        path = explicit
        if not explicit.is_file():
            raise HostConfigurationError(f"settings file {explicit} not found")
    elif (script_root / SETTINGS_FILE).is_file():
        path = script_root / SETTINGS_FILE
    elif (script_root / EXAMPLE_FILE).is_file():
        path = script_root / EXAMPLE_FILE
        say(f"No {SETTINGS_FILE} found; using {EXAMPLE_FILE} (copy it to {SETTINGS_FILE} to change values).")
    else:
        return LocalSettings(None, {})
    data = _read_json(path)
    if data.get("IsEncrypted"):
        raise HostConfigurationError(f"{path} is encrypted; the local host reads plain settings only")
    raw_values = data.get("Values") or {}
    host = data.get("Host") or {}
    if not isinstance(raw_values, dict) or not isinstance(host, dict):
        raise HostConfigurationError(f"{path}: Values and Host must be objects")
    values = {name: _as_setting(name, value) for name, value in raw_values.items() if value is not None}
    port = host.get("LocalHttpPort")
    origins = tuple(origin.strip() for origin in str(host.get("CORS") or "").split(",") if origin.strip())
    return LocalSettings(path, values, int(port) if port else None, origins, bool(host.get("CORSCredentials")))


def export_values(
    values: Mapping[str, str], environ: MutableMapping[str, str] | None = None, say: Callable[[str], None] = print
) -> None:
    """Core Tools' rule: a value already set (non-empty) in the environment wins over the file."""
    target = os.environ if environ is None else environ
    for name, value in values.items():
        if target.get(name):
            say(f"Skipping '{name}' from local settings as it's already defined in current environment variables.")
        else:
            target[name] = value


def _duration(value: Any, name: str) -> timedelta | None:
    if value is None or str(value).strip() == "-1":
        return None
    try:
        return parse_timespan(str(value))
    except ScheduleError as error:
        raise HostConfigurationError(f"host.json: {name}: {error}") from error


def load_host_json(script_root: Path) -> HostConfig:
    path = script_root / "host.json"
    if not path.is_file():
        return HostConfig()
    data = _read_json(path)
    extensions = data.get("extensions") or {}
    http = extensions.get("http") or {}
    service_bus = extensions.get("serviceBus") or {}
    prefix = http.get("routePrefix", DEFAULT_ROUTE_PREFIX)
    renewal = _duration(service_bus.get("maxAutoLockRenewalDuration"), "maxAutoLockRenewalDuration")
    return HostConfig(
        route_prefix=str(prefix).strip("/"),
        max_concurrent_calls=max(1, int(service_bus.get("maxConcurrentCalls", DEFAULT_MAX_CONCURRENT_CALLS))),
        max_lock_renewal=renewal if renewal is not None else DEFAULT_LOCK_RENEWAL,
        function_timeout=_duration(data.get("functionTimeout"), "functionTimeout"),
        auto_complete=bool(service_bus.get("autoCompleteMessages", True)),
    )


def resolve(text: str, where: str, lookup: Callable[[str], str | None] = os.environ.get) -> str:
    """Replace each `%NAME%` with the app setting NAME, as binding expressions are resolved in Azure; an unset
    name is a start-up error (Azure marks the function as in error: '%NAME%' does not resolve to a value)."""

    def value(match: re.Match[str]) -> str:
        found = lookup(match.group(1))
        if not found:
            raise HostConfigurationError(f"{where}: '%{match.group(1)}%' does not resolve to a value")
        return found

    return EXPRESSION.sub(value, text)
