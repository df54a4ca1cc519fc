"""A strict check of the OData `$filter` text a mapping may carry (`bcFilter`, `dataverseFilter`).

Why: the run sends a mapping's filter to BC or Dataverse as is (inside parentheses, next to its own clauses). Text
that does not parse, names a field the table lacks, or compares a field with the wrong kind of value is refused by
that service with a 400 - on every run of the mapping and every full synchronization, long after it was saved. So an
administrator's filter is checked here when it is saved (and again whenever a stored one is applied), against the
fields of the mapping's table on that side, and refused with the reason and its position.

Strict on purpose: it accepts the subset mappings use - comparisons (`eq ne gt ge lt le`), `and`, `or`, `not`,
parentheses, string/number/GUID/date/date-time/true/false/null literals and `contains`/`startswith`/`endswith` - and
refuses the rest of OData (arithmetic, `in`, `has`, lambdas, other functions, field-to-field comparisons) rather than
pass on something this check cannot vouch for. Precedence is OData's: `not` binds tighter than `eq`, so
`not name eq 'x'` is refused as the services refuse it (write `not (name eq 'x')`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

from shared.domain.odata_lexer import FilterError, Token, tokenize

__all__ = ["MAX_DEPTH", "MAX_FILTER_LENGTH", "FieldType", "FilterError", "check_filter"]

FieldType = Literal["string", "guid", "int", "decimal", "bool", "datetime", "date", "enum"]
MAX_FILTER_LENGTH = 2000
"""Longest filter accepted: a URL of the other service must still hold it next to the run's own clauses."""
MAX_DEPTH = 32
"""Deepest nesting of parentheses, `not` and function calls, so checking can never exhaust the stack."""

COMPARISONS = frozenset({"eq", "ne", "gt", "ge", "lt", "le"})
FUNCTIONS = frozenset({"contains", "startswith", "endswith"})
_KEYWORDS = COMPARISONS | {"and", "or", "not", "true", "false", "null"}
_MIRRORED = {"eq": "eq", "ne": "ne", "gt": "lt", "ge": "le", "lt": "gt", "le": "ge"}
# The literal kinds each field type takes (null goes with every type, for eq and ne).
_FITS: Mapping[str, frozenset[str]] = {
    "string": frozenset({"string"}),
    "enum": frozenset({"string"}),
    "guid": frozenset({"guid"}),
    "int": frozenset({"number"}),
    "decimal": frozenset({"number"}),
    "bool": frozenset({"bool"}),
    "datetime": frozenset({"datetime", "date"}),
    "date": frozenset({"date"}),
}
_EQUALITY_ONLY = frozenset({"enum", "bool"})


@dataclass(frozen=True, slots=True)
class _Operand:
    """What an expression stands for: a condition, a field (with its type) or a literal (with its kind)."""

    kind: Literal["condition", "field", "literal"]
    type: str  # the field's type or the literal's kind ("condition" for conditions)
    pos: int
    text: str = ""


_CONDITION: Literal["condition"] = "condition"


def _shown(text: str) -> str:
    """Caller text in a message: quoted, cut short, and `the end` for the end of the filter."""
    if not text:
        return "the end"
    return repr(text if len(text) <= 40 else f"{text[:37]}...")


def _a(word: str) -> str:
    return f"an {word}" if word[0] in "aeiou" else f"a {word}"


class _Checker:
    def __init__(self, text: str, fields: Mapping[str, FieldType], entity: str) -> None:
        self.text = text
        self.fields = fields
        self.entity = entity
        self.tokens: Iterator[Token] = tokenize(text)
        self.current = next(self.tokens)
        self.depth = 0

    def advance(self) -> Token:
        token = self.current
        if token.kind != "end":
            self.current = next(self.tokens)
        return token

    def at_word(self, *words: str) -> bool:
        return self.current.kind == "name" and self.current.text in words

    def nested(self, parse: Callable[[], _Operand], pos: int) -> _Operand:
        """`parse` one level deeper (`pos`: where the level opens: a parenthesis, `not`, a function)."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise FilterError(f"the filter nests deeper than {MAX_DEPTH} levels", pos)
        try:
            return parse()
        finally:
            self.depth -= 1

    def condition(self, operand: _Operand, what: str) -> None:
        if operand.kind != _CONDITION:
            raise FilterError(f"{what} needs a condition, not {_shown(operand.text or operand.type)}", operand.pos)

    def check(self) -> None:
        if not self.text.strip():
            raise FilterError("the filter is empty", 0)
        result = self.parse_or()
        if self.current.kind != "end":
            raise FilterError(f"'and', 'or' or the end was expected, not {_shown(self.current.text)}", self.current.pos)
        self.condition(result, "a filter")

    def parse_or(self) -> _Operand:
        return self.chain("or", self.parse_and)

    def parse_and(self) -> _Operand:
        return self.chain("and", self.parse_comparison)

    def chain(self, word: str, parse: Callable[[], _Operand]) -> _Operand:
        """`a and b and c` is a loop, not recursion: a long chain never deepens the stack."""
        first = parse()
        while self.at_word(word):
            self.condition(first, f"'{word}'")
            self.advance()
            self.condition(parse(), f"'{word}'")
        return first

    def parse_comparison(self) -> _Operand:
        left = self.parse_unary()
        if not self.at_word(*COMPARISONS):
            return left
        operator = self.advance()
        right = self.parse_unary()
        self.compare(left, operator, right)
        if self.at_word(*COMPARISONS):
            raise FilterError("one comparison at a time: join comparisons with 'and' or 'or'", self.current.pos)
        return _Operand(_CONDITION, _CONDITION, left.pos)

    def parse_unary(self) -> _Operand:
        if not self.at_word("not"):
            return self.parse_primary()
        token = self.advance()
        operand = self.nested(self.parse_unary, token.pos)
        if operand.kind != _CONDITION:
            raise FilterError("'not' needs a condition: write not (field eq value)", token.pos)
        return _Operand(_CONDITION, _CONDITION, token.pos)

    def parse_primary(self) -> _Operand:
        token = self.advance()
        if token.kind == "(":
            inner = self.nested(self.parse_or, token.pos)
            if self.current.kind != ")":
                raise FilterError(f"')' was expected, not {_shown(self.current.text)}", self.current.pos)
            self.advance()
            return inner
        if token.kind in ("string", "number", "guid", "datetime", "date"):
            return _Operand("literal", token.kind, token.pos, token.text)
        if token.kind == "name":
            return self.name(token)
        raise FilterError(f"a field, a value or '(' was expected, not {_shown(token.text)}", token.pos)

    def name(self, token: Token) -> _Operand:
        word = token.text
        if word in ("true", "false"):
            return _Operand("literal", "bool", token.pos, word)
        if word == "null":
            return _Operand("literal", "null", token.pos, word)
        if word in _KEYWORDS:
            raise FilterError(f"a field or a value was expected, not {_shown(word)}", token.pos)
        if self.current.kind == "(":
            return self.nested(lambda: self.call(token), token.pos)
        if word not in self.fields:
            raise FilterError(f"{self.entity} has no field {_shown(word)}", token.pos)
        field_type = self.fields[word]
        return _Operand(_CONDITION if field_type == "bool" else "field", field_type, token.pos, word)

    def call(self, name: Token) -> _Operand:
        if name.text not in FUNCTIONS:
            allowed = ", ".join(sorted(FUNCTIONS))
            message = f"the function {_shown(name.text)} is not supported in a mapping filter ({allowed})"
            raise FilterError(message, name.pos)
        self.advance()  # '('
        args = [self.parse_or()]
        while self.current.kind == ",":
            self.advance()
            args.append(self.parse_or())
        if self.current.kind != ")":
            raise FilterError(f"')' or ',' was expected, not {_shown(self.current.text)}", self.current.pos)
        self.advance()
        subject, needle = (args + [_Operand("literal", "none", name.pos)] * 2)[:2]
        if len(args) != 2 or not (subject.kind == "field" and subject.type == "string"):
            raise FilterError(f"{name.text} takes a text field and a text: {name.text}(field, 'text')", name.pos)
        if needle.kind != "literal" or needle.type != "string":
            raise FilterError(f"the second argument of {name.text} must be a quoted text", needle.pos)
        return _Operand(_CONDITION, _CONDITION, name.pos)

    def compare(self, left: _Operand, operator: Token, right: _Operand) -> None:
        op = operator.text
        if left.kind == "literal" and right.kind != "literal":
            left, right, op = right, left, _MIRRORED[op]
        is_field = left.kind == "field" or (left.kind == _CONDITION and left.type == "bool")  # a bool field
        if is_field and right.kind == "literal":
            self.fits(left, op, right, operator.pos)
            return
        if left.kind == _CONDITION and right.kind == "literal" and right.type in ("bool", "null"):
            if op not in ("eq", "ne"):
                raise FilterError(f"a condition can only be compared with eq or ne, not {op}", operator.pos)
            return
        if left.kind == "field" and right.kind == "field":
            raise FilterError("compare a field with a value, not with another field", operator.pos)
        message = f"{_shown(left.text or left.type)} cannot be compared with {_shown(right.text or right.type)}"
        raise FilterError(message, left.pos)

    def fits(self, field: _Operand, op: str, value: _Operand, pos: int) -> None:
        """A field compared with a literal: the literal's kind must suit the field's type, and the operator too."""
        if value.type == "null":
            if op not in ("eq", "ne"):
                raise FilterError(f"null can only be compared with eq or ne, not {op}", pos)
            return
        if value.type not in _FITS[field.type]:
            hint = ""
            if field.type == "guid" and value.type == "string":
                hint = " (write a GUID without quotes)"
            elif field.type in ("string", "enum") and value.type != "string":
                hint = " (put text in single quotes)"
            message = f"{field.text!r} is {_a(field.type)} field; {_shown(value.text)} does not fit{hint}"
            raise FilterError(message, value.pos)
        if field.type in _EQUALITY_ONLY and op not in ("eq", "ne"):
            raise FilterError(f"{field.text!r} is {_a(field.type)} field: compare it with eq or ne, not {op}", pos)


def check_filter(text: str, fields: Mapping[str, FieldType], entity: str) -> None:
    """Raise `FilterError` (reason and 0-based position) unless `text` is a filter on `fields` this app accepts.

    `fields` maps the table's field names (as its API spells them, case-sensitive) to their types; `entity` names
    the table in messages."""
    if len(text) > MAX_FILTER_LENGTH:
        message = f"the filter is {len(text)} characters long; the limit is {MAX_FILTER_LENGTH}"
        raise FilterError(message, MAX_FILTER_LENGTH)
    _Checker(text, fields, entity).check()
