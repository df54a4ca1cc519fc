"""Resource paths and key predicates of OData URLs: `accounts(accountnumber='A/1')/contact_customer_accounts/$ref`.

Why a parser and not a regular expression: a key value is an OData literal, and a quoted string may hold `/`, `)`,
`,` or `=` (`accounts(accountnumber='A,B')`), which a regular expression splitting on those characters would cut.
The literal forms are the ones `$filter` uses (OData v4.0 Part 2, URL Conventions, 4.3 "Addressing Entities" and
5.1.1.6 "Literals"), so the lexer of `$filter` types each value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from local.emulators.odata.lexer import tokenize
from local.emulators.odata.types import LiteralKind, ODataQueryError


@dataclass(frozen=True)
class KeyValue:
    """One literal of a key predicate: its OData kind (`string`, `guid`, `int`, ...) and converted value."""

    kind: LiteralKind
    value: Any


@dataclass(frozen=True)
class KeyPredicate:
    """`(<value>)` is positional; `(name=value,...)` is named (order kept, as written)."""

    positional: KeyValue | None = None
    named: dict[str, KeyValue] = field(default_factory=dict)


@dataclass(frozen=True)
class Segment:
    """One path segment: its name and the raw text between its parentheses (None without parentheses)."""

    name: str
    key: str | None = None


def _split_outside_quotes(text: str, separator: str) -> list[str]:
    """Split at `separator` characters that are neither inside a quoted literal nor inside parentheses."""
    parts: list[str] = []
    depth, quoted, start = 0, False, 0
    for index, char in enumerate(text):
        if char == "'":
            quoted = not quoted  # `''` inside a literal toggles twice: still quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
        elif not quoted and depth == 0 and char == separator:
            parts.append(text[start:index])
            start = index + 1
    if quoted or depth != 0:
        raise ODataQueryError(f"Bad Request - Error in query syntax: unbalanced quotes or parentheses in '{text}'.")
    parts.append(text[start:])
    return parts


def split_path(path: str) -> list[Segment]:
    """`/a(k='x/y')/b/$ref` -> [a('k=...'), b, $ref]; an empty path has no segments."""
    segments: list[Segment] = []
    for raw in _split_outside_quotes(path.strip("/"), "/") if path.strip("/") else []:
        if not raw:
            raise ODataQueryError(f"Bad Request - Error in query syntax: empty segment in '{path}'.")
        open_at = raw.find("(")
        if open_at < 0:
            segments.append(Segment(raw))
            continue
        if not raw.endswith(")") or open_at == 0:
            raise ODataQueryError(f"Bad Request - Error in query syntax: '{raw}' is not a valid segment.")
        segments.append(Segment(raw[:open_at], raw[open_at + 1 : -1]))
    return segments


def _literal(text: str, whole: str) -> KeyValue:
    tokens = list(tokenize(text.strip()))
    if len(tokens) != 2 or tokens[0].kind != "literal" or tokens[0].literal is None:
        raise ODataQueryError(f"Bad Request - Error in query syntax: '{text}' in '({whole})' is not a literal.")
    return KeyValue(tokens[0].literal, tokens[0].value)


def parse_key(text: str) -> KeyPredicate:
    """Parse the inside of a key predicate; names must be unique, a positional value must stand alone."""
    parts = _split_outside_quotes(text, ",")
    if len(parts) == 1 and len(_split_outside_quotes(parts[0], "=")) == 1:
        return KeyPredicate(positional=_literal(parts[0], text))
    named: dict[str, KeyValue] = {}
    for part in parts:
        pieces = _split_outside_quotes(part, "=")
        if len(pieces) != 2 or not pieces[0].strip():
            raise ODataQueryError(f"Bad Request - Error in query syntax: '{part}' in '({text})' is not name=value.")
        name = pieces[0].strip()
        if name in named:
            raise ODataQueryError(f"Bad Request - Error in query syntax: the key property '{name}' is repeated.")
        named[name] = _literal(pieces[1], text)
    return KeyPredicate(named=named)
