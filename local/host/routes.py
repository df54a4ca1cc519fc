"""HTTP trigger route templates, matched the way the Functions host (ASP.NET Core routing) matches them.

Why it matters: the app declares `couplings/{mapping}/match` next to `couplings/{mapping}/{bcId}`; in Azure the
literal segment wins for `.../match`, and a local host that picked by declaration order would send requests to the
wrong function. So: literal segments are compared case-insensitively, a template's precedence is computed per segment
(literal, then constrained parameter, then parameter, then optional, then catch-all), parameters are URL-decoded
after the path is split, and inline constraints (`{id:int}`, `{id:guid}`, ...) take part in matching. An HTTP method
that the matching route does not allow is a 404, as in Azure (azure-functions-host issue #10098).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import unquote

from local.host.settings import HostConfigurationError

Check = Callable[[str], bool]


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _is_guid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def _is_datetime(text: str) -> bool:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


SIMPLE: dict[str, Check] = {
    "int": lambda text: re.fullmatch(r"-?\d+", text) is not None and -(2**31) <= int(text) < 2**31,
    "long": lambda text: re.fullmatch(r"-?\d+", text) is not None and -(2**63) <= int(text) < 2**63,
    "alpha": lambda text: re.fullmatch(r"[A-Za-z]+", text) is not None,
    "bool": lambda text: text.lower() in ("true", "false"),
    "guid": _is_guid,
    "double": _is_float,
    "float": _is_float,
    "decimal": _is_float,
    "datetime": _is_datetime,
}


def _constraint(text: str, template: str) -> Check:
    name, _, rest = text.partition("(")
    if not rest:
        if name in SIMPLE:
            return SIMPLE[name]
        raise HostConfigurationError(f"route {template!r}: unknown constraint {text!r}")
    argument = rest[:-1] if rest.endswith(")") else rest
    if name == "regex":
        pattern = re.compile(argument, re.IGNORECASE)
        return lambda value: pattern.search(value) is not None
    numbers = [int(part) for part in argument.split(",")]
    checks: dict[str, Check] = {
        "minlength": lambda value: len(value) >= numbers[0],
        "maxlength": lambda value: len(value) <= numbers[0],
        "length": lambda value: numbers[0] <= len(value) <= numbers[-1],
        "min": lambda value: SIMPLE["long"](value) and int(value) >= numbers[0],
        "max": lambda value: SIMPLE["long"](value) and int(value) <= numbers[0],
        "range": lambda value: SIMPLE["long"](value) and numbers[0] <= int(value) <= numbers[-1],
    }
    if name not in checks:
        raise HostConfigurationError(f"route {template!r}: unknown constraint {text!r}")
    return checks[name]


@dataclass(frozen=True)
class Segment:
    literal: str | None = None
    name: str = ""
    optional: bool = False
    default: str | None = None
    catch_all: bool = False
    checks: tuple[Check, ...] = ()

    @property
    def rank(self) -> int:
        if self.literal is not None:
            return 1
        if self.catch_all:
            return 5
        if self.optional or self.default is not None:
            return 4
        return 2 if self.checks else 3

    def accepts(self, value: str) -> bool:
        return all(check(value) for check in self.checks)


def _segment(text: str, template: str) -> Segment:
    if "{" not in text and "}" not in text:
        return Segment(literal=text)
    if not (text.startswith("{") and text.endswith("}")) or text.count("{") != 1:
        raise HostConfigurationError(f"route {template!r}: only whole-segment parameters are supported ({text!r})")
    inner = text[1:-1]
    catch_all = inner.startswith("*")
    inner = inner.lstrip("*")
    optional = inner.endswith("?")
    inner = inner.removesuffix("?")
    inner, equals, default = inner.partition("=")
    name, *constraints = inner.split(":")
    if not name.isidentifier():
        raise HostConfigurationError(f"route {template!r}: {name!r} is not a parameter name")
    checks = tuple(_constraint(constraint, template) for constraint in constraints)
    return Segment(None, name, optional, default if equals else None, catch_all, checks)


def split_path(path: str) -> list[str]:
    """`/a/b%2Fc/` -> ['a', 'b/c']: split first, then decode each segment (an encoded slash stays in its value)."""
    return [unquote(part) for part in path.strip("/").split("/")] if path.strip("/") else []


@dataclass(frozen=True)
class RouteTemplate:
    template: str
    segments: tuple[Segment, ...]

    @classmethod
    def parse(cls, template: str) -> RouteTemplate:
        parts = [part for part in template.strip("/").split("/") if part] if template.strip("/") else []
        segments = tuple(_segment(part, template) for part in parts)
        for index, segment in enumerate(segments):
            later = segments[index + 1 :]
            if segment.catch_all and later:
                raise HostConfigurationError(f"route {template!r}: a catch-all parameter must be the last segment")
            if segment.optional and any(s.literal is not None or s.rank < 4 for s in later):
                raise HostConfigurationError(f"route {template!r}: only optional parameters may follow an optional one")
        return cls(template, segments)

    @property
    def precedence(self) -> tuple[int, ...]:
        """Smaller is more specific (ASP.NET Core's inbound precedence, digit by digit)."""
        return tuple(segment.rank for segment in self.segments)

    def match(self, parts: list[str]) -> dict[str, str] | None:
        values: dict[str, str] = {}
        for index, segment in enumerate(self.segments):
            if segment.catch_all:
                rest = "/".join(parts[index:]) or segment.default
                if rest is not None:
                    if not segment.accepts(rest):
                        return None
                    values[segment.name] = rest
                return values
            if index >= len(parts):
                if not (segment.optional or segment.default is not None):
                    return None
                if segment.default is not None:
                    values[segment.name] = segment.default
                continue
            part = parts[index]
            if segment.literal is not None:
                if part.lower() != segment.literal.lower():
                    return None
            elif not part or not segment.accepts(part):
                return None
            else:
                values[segment.name] = part
        return values if len(parts) <= len(self.segments) else None
