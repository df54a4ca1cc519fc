"""`$expand` splitting: navigation names and their raw nested options, without interpreting either.

Nested options are returned as text so the caller can feed them to the same parsers it uses at the top level
(`compile_filter`, `parse_select`, ... and `parse_expand` again for a nested `$expand`) against the *target*
entity's resolver, which only the caller knows. Splitting must respect quotes and parentheses:
`a($filter=name eq 'x,y;z')` is one item with one option.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from local.emulators.odata.types import MAX_DEPTH, ODataQueryError, check_length, syntax_error

EXPAND_OPTIONS: tuple[str, ...] = ("$select", "$filter", "$orderby", "$top", "$expand")
"""The nested options Dataverse documents for `$expand`; anything else is refused."""

_NAVIGATION = re.compile(r"[^\s()',;=]+")


@dataclass(frozen=True)
class ExpandItem:
    """One expanded navigation property and its nested options (`{"$select": "name,city"}`), values as written."""

    navigation: str
    options: dict[str, str] = field(default_factory=dict)


def _term_not_valid(text: str) -> ODataQueryError:
    return ODataQueryError(f"Term '{text}' is not valid in a $select or $expand expression.")


def split_top_level(text: str, separator: str) -> list[tuple[str, int]]:
    """Split at `separator` outside quotes and parentheses; returns (part, offset) pairs.

    Also the place that refuses unbalanced parentheses, unterminated strings and nesting deeper than `MAX_DEPTH`
    (deep `$expand` nesting would otherwise make the caller's recursion overflow the stack).
    """
    parts: list[tuple[str, int]] = []
    depth = 0
    in_quote = False
    start = 0
    for index, char in enumerate(text):
        if char == "'":
            in_quote = not in_quote  # `''` inside a string toggles twice, so escapes need no special case
        elif in_quote:
            continue
        elif char == "(":
            depth += 1
            if depth > MAX_DEPTH:
                raise ODataQueryError(f"The $expand nests deeper than {MAX_DEPTH} levels.", position=index)
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise ODataQueryError(
                    f"Found an unbalanced bracket expression at position {index} in '{text}'.", position=index
                )
        elif char == separator and depth == 0:
            parts.append((text[start:index], start))
            start = index + 1
    if in_quote:
        raise ODataQueryError(
            f"There is an unterminated string literal at position {len(text)} in '{text}'.", position=len(text)
        )
    if depth:
        raise ODataQueryError(
            f"Found an unbalanced bracket expression at position {len(text)} in '{text}'.", position=len(text)
        )
    parts.append((text[start:], start))
    return parts


def _closing_paren(text: str, open_index: int) -> int:
    """Index of the parenthesis closing the one at `open_index` (the text is known to be balanced)."""
    depth = 0
    in_quote = False
    for index in range(open_index, len(text)):
        char = text[index]
        if char == "'":
            in_quote = not in_quote
        elif not in_quote and char == "(":
            depth += 1
        elif not in_quote and char == ")":
            depth -= 1
            if depth == 0:
                return index
    return len(text)


def _parse_options(navigation: str, inner: str, text: str) -> dict[str, str]:
    if not inner.strip():
        raise ODataQueryError(
            f"Missing expand option on navigation property '{navigation}'. If a parenthesis expression follows an "
            "expanded navigation property, then at least one expand option must be provided."
        )
    options: dict[str, str] = {}
    for part, _ in split_top_level(inner, ";"):
        name, equals, value = part.partition("=")
        name, value = name.strip(), value.strip()
        if not equals or not name:
            raise _term_not_valid(text)
        if name not in EXPAND_OPTIONS:
            if not name.startswith("$"):
                raise _term_not_valid(text)
            raise ODataQueryError(
                f"The query option '{name}' is not allowed inside $expand ('{navigation}'); "
                f"use {', '.join(EXPAND_OPTIONS)}."
            )
        if name in options:
            raise ODataQueryError(
                f"Query option '{name}' was specified more than once, but it must be specified at most once."
            )
        if not value:
            raise ODataQueryError(f"The {name} option inside $expand ('{navigation}') has no value.")
        options[name] = value
    return options


def _parse_item(segment: str, start: int, text: str) -> ExpandItem:
    stripped = segment.strip()
    base = start + len(segment) - len(segment.lstrip())
    if not stripped:
        raise _term_not_valid(text)
    open_index = stripped.find("(")
    if open_index < 0:
        navigation, inner = stripped, None
    else:
        close_index = _closing_paren(stripped, open_index)
        if close_index != len(stripped) - 1:
            raise syntax_error(base + close_index + 1, text)
        navigation, inner = stripped[:open_index].strip(), stripped[open_index + 1 : close_index]
    if not _NAVIGATION.fullmatch(navigation):
        raise _term_not_valid(text)
    return ExpandItem(navigation, _parse_options(navigation, inner, text) if inner is not None else {})


def parse_expand(text: str) -> list[ExpandItem]:
    """Split `$expand` text (`a,b($select=x;$top=5)`) into items; the caller validates the navigation names."""
    check_length(text, "$expand")
    return [_parse_item(segment, start, text) for segment, start in split_top_level(text, ",")]
