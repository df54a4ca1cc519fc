"""Tokenizer for `$filter` text, following Microsoft.OData.Core's literal forms and error wording.

Literals are typed here, as in ODL: a bare GUID, datetime or date is its own literal kind, while a quoted string is
always a string. That is what lets the binder reject `accountid eq '...'` the way Dataverse does.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any, Literal, NamedTuple

from local.emulators.odata.types import LiteralKind, ODataQueryError, syntax_error

TokenKind = Literal["ident", "literal", "(", ")", ",", "end"]

# A literal must end at whitespace, ')', ',' or the end of the text, so `12abc` or `2026-1-2` is a syntax error
# instead of a number followed by something else.
_END = r"(?=[\s),]|$)"
_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?(?:Z|[+-][0-9]{2}:[0-9]{2})?" + _END
)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}" + _END)
_GUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}" + _END)
_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?" + _END)
# Dots allow qualified names (`Microsoft.Dynamics.CRM.In`) to arrive whole, so they can be named in the error.
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_WHITESPACE = " \t\r\n"
_PUNCTUATION: dict[str, TokenKind] = {"(": "(", ")": ")", ",": ","}
_KEYWORD_LITERALS: dict[str, tuple[LiteralKind, Any]] = {
    "null": ("null", None),
    "true": ("bool", True),
    "false": ("bool", False),
}


class Token(NamedTuple):
    """One token; `literal` and `value` are set only for literals (value is already converted)."""

    kind: TokenKind
    pos: int
    text: str
    literal: LiteralKind | None = None
    value: Any = None


def _unrecognized(edm_name: str, literal: str, pos: int, text: str) -> ODataQueryError:
    return ODataQueryError(f"Unrecognized '{edm_name}' literal '{literal}' at '{pos}' in '{text}'.", position=pos)


def _datetime_literal(raw: str, pos: int, text: str) -> Token:
    """A DateTimeOffset literal; like ODL, a missing offset is accepted (and taken as UTC)."""
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise _unrecognized("Edm.DateTimeOffset", raw, pos, text) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return Token("literal", pos, raw, "datetime", parsed)


def _date_literal(raw: str, pos: int, text: str) -> Token:
    """A Date literal keeps its `YYYY-MM-DD` text: that is how the store keeps dates, and it sorts correctly."""
    try:
        date.fromisoformat(raw)
    except ValueError:
        raise _unrecognized("Edm.Date", raw, pos, text) from None
    return Token("literal", pos, raw, "date", raw)


def _number_literal(raw: str, pos: int) -> Token:
    if any(ch in raw for ch in ".eE"):
        return Token("literal", pos, raw, "decimal", float(raw))
    return Token("literal", pos, raw, "int", int(raw))


def _string_literal(text: str, pos: int) -> Token:
    """A single-quoted string where `''` stands for one quote; unterminated text fails like ODL (at the end)."""
    parts: list[str] = []
    i = pos + 1
    while True:
        j = text.find("'", i)
        if j < 0:
            raise ODataQueryError(
                f"There is an unterminated string literal at position {len(text)} in '{text}'.", position=len(text)
            )
        parts.append(text[i:j])
        if text.startswith("''", j):
            parts.append("'")
            i = j + 2
            continue
        return Token("literal", pos, text[pos : j + 1], "string", "".join(parts))


def _scan_literal_or_ident(text: str, pos: int) -> Token | None:
    """Try the typed literal forms in ODL's order (datetime, date, GUID, number), then identifiers."""
    ch = text[pos]
    if ch.isascii() and (ch.isdigit() or ch == "-"):
        if match := _DATETIME.match(text, pos):
            return _datetime_literal(match.group(), pos, text)
        if match := _DATE.match(text, pos):
            return _date_literal(match.group(), pos, text)
    if match := _GUID.match(text, pos):
        return Token("literal", pos, match.group(), "guid", match.group().lower())
    if ch.isascii() and (ch.isdigit() or ch == "-"):
        if match := _NUMBER.match(text, pos):
            return _number_literal(match.group(), pos)
        return None
    if match := _IDENT.match(text, pos):
        word = match.group()
        if word in _KEYWORD_LITERALS:
            kind, value = _KEYWORD_LITERALS[word]
            return Token("literal", pos, word, kind, value)
        return Token("ident", pos, word)
    return None


def tokenize(text: str) -> Iterator[Token]:
    """Yield the tokens of `$filter` text, ending with an `end` token at `len(text)`.

    Lazy, like ODL's lexer, so an error early in the text (an unknown function, say) is reported before a bad
    character later on.
    """
    pos = 0
    length = len(text)
    while pos < length:
        ch = text[pos]
        if ch in _WHITESPACE:
            pos += 1
            continue
        if ch in _PUNCTUATION:
            yield Token(_PUNCTUATION[ch], pos, ch)
            pos += 1
            continue
        if ch == "'":
            token = _string_literal(text, pos)
        elif ch == "/":
            raise ODataQueryError(
                f"Property paths and lambda operators ('/' at position {pos} in '{text}') are not supported by "
                "this emulator's $filter.",
                position=pos,
                unsupported=True,
            )
        else:
            scanned = _scan_literal_or_ident(text, pos)
            if scanned is None:
                if ch.isascii() and (ch.isdigit() or ch == "-"):
                    raise syntax_error(pos, text)
                raise ODataQueryError(
                    f"Syntax error: character '{ch}' is not valid at position {pos} in '{text}'.", position=pos
                )
            token = scanned
        yield token
        pos += len(token.text)
    yield Token("end", length, "")
