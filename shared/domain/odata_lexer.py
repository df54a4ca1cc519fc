"""Tokens of an OData `$filter` as a mapping's filter may write it (see `odata_filter.py` for why it is checked).

Literals are typed while scanning, as Microsoft.OData.Core does: an unquoted GUID, date or date-time is its own kind
and a quoted text is always a string. That is what lets the checker refuse `accountid eq '<guid>'` the way Dataverse
does, before the text is ever sent. Positions are 0-based offsets into the text, as the services report them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

TokenKind = Literal["name", "string", "number", "guid", "datetime", "date", "(", ")", ",", "end"]

# A literal ends at whitespace, ')' or ',' (or the end), so `12abc` is an error, not a number and a name.
_END = r"(?=[\s),]|$)"
_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?(?:Z|[+-][0-9]{2}:[0-9]{2})?" + _END
)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}" + _END)
_GUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}" + _END)
_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?" + _END)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WHITESPACE = " \t\r\n"
_PUNCTUATION: dict[str, TokenKind] = {"(": "(", ")": ")", ",": ","}


class FilterError(ValueError):
    """Filter text the services would refuse (or that this app does not accept in a mapping's filter).

    `reason` says what is wrong, `position` where (0-based); `str()` gives both, for an API message."""

    def __init__(self, reason: str, position: int) -> None:
        super().__init__(f"{reason} (at position {position})")
        self.reason = reason
        self.position = position


@dataclass(frozen=True, slots=True)
class Token:
    kind: TokenKind
    text: str  # as written (a string literal with its quotes)
    pos: int
    value: str = ""  # a string literal's content, quotes undone


def _string(text: str, pos: int) -> Token:
    """A single-quoted string where `''` stands for one quote."""
    parts: list[str] = []
    i = pos + 1
    while True:
        j = text.find("'", i)
        if j < 0:
            raise FilterError(f"the string that starts at position {pos} is not closed with a quote", len(text))
        parts.append(text[i:j])
        if text.startswith("''", j):
            parts.append("'")
            i = j + 2
            continue
        return Token("string", text[pos : j + 1], pos, "".join(parts))


def _checked(kind: TokenKind, raw: str, pos: int) -> Token:
    """A date or date-time that looks right must also be a real one (no 2026-02-30)."""
    try:
        if kind == "date":
            date.fromisoformat(raw)
        else:
            datetime.fromisoformat(raw)
    except ValueError:
        raise FilterError(f"'{raw}' is not a valid {'date' if kind == 'date' else 'date and time'}", pos) from None
    return Token(kind, raw, pos)


def _literal_or_name(text: str, pos: int) -> Token:
    """Try the typed literal forms in Microsoft.OData.Core's order (date-time, date, GUID, number), then names."""
    if match := _DATETIME.match(text, pos):
        return _checked("datetime", match.group(), pos)
    if match := _DATE.match(text, pos):
        return _checked("date", match.group(), pos)
    if match := _GUID.match(text, pos):
        return Token("guid", match.group(), pos)
    if match := _NUMBER.match(text, pos):
        return Token("number", match.group(), pos)
    if match := _NAME.match(text, pos):
        return Token("name", match.group(), pos)
    char = text[pos]
    if char.isascii() and (char.isdigit() or char == "-"):
        raise FilterError("a number, date or GUID is malformed", pos)
    raise FilterError(f"the character {char!r} is not allowed here", pos)


def tokenize(text: str) -> Iterator[Token]:
    """The tokens of `text`, lazily (an early mistake is reported before a later one), ending with `end`."""
    pos = 0
    while pos < len(text):
        char = text[pos]
        if char in _WHITESPACE:
            pos += 1
            continue
        if char in _PUNCTUATION:
            token = Token(_PUNCTUATION[char], char, pos)
        elif char == "'":
            token = _string(text, pos)
        else:
            token = _literal_or_name(text, pos)
        yield token
        pos += len(token.text)
    yield Token("end", "", len(text))
