"""Recursive-descent parser turning `$filter` text into a small syntax tree, before any type checking.

Parsing and binding are separate phases, as in Microsoft.OData.Core: a syntax error anywhere in the text is reported
before an unknown property or a type mismatch, which is the order clients see from the real services.

Precedence follows ODL (lowest first): `or`, `and`, comparison (`eq ne gt ge lt le`, left-associative), unary `not`.
`not` therefore binds tighter than `eq`: `not name eq 'x'` means `(not name) eq 'x'` and is rejected at bind time,
exactly as Dataverse and Business Central reject it; clients must write `not (name eq 'x')`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, cast

from local.emulators.odata.lexer import Token, tokenize
from local.emulators.odata.types import MAX_DEPTH, LiteralKind, ODataQueryError, syntax_error

CompareOp = Literal["eq", "ne", "gt", "ge", "lt", "le"]
COMPARISON_OPERATORS: frozenset[str] = frozenset({"eq", "ne", "gt", "ge", "lt", "le"})
SUPPORTED_FUNCTIONS: frozenset[str] = frozenset({"contains", "startswith", "endswith"})
# Valid OData that the emulator does not implement: refused with `unsupported=True` rather than "unknown".
UNSUPPORTED_OPERATORS: frozenset[str] = frozenset({"add", "sub", "mul", "div", "divby", "mod", "has", "in"})
UNSUPPORTED_FUNCTIONS: frozenset[str] = frozenset(
    {
        "concat", "indexof", "length", "substring", "matchesPattern", "tolower", "toupper", "trim",
        "year", "month", "day", "hour", "minute", "second", "fractionalseconds", "totalseconds", "date", "time",
        "totaloffsetminutes", "now", "maxdatetime", "mindatetime", "round", "floor", "ceiling", "cast", "isof",
        "geo.distance", "geo.intersects", "geo.length",
    }
)  # fmt: skip
_RESERVED_WORDS = COMPARISON_OPERATORS | UNSUPPORTED_OPERATORS | {"and", "or", "not"}


@dataclass(frozen=True, slots=True)
class Property:
    """A reference to a structural property of the entity being filtered."""

    name: str
    pos: int


@dataclass(frozen=True, slots=True)
class Constant:
    """A literal; `value` is already converted (see `lexer.py`), `text` is how the client wrote it."""

    kind: LiteralKind
    value: Any
    pos: int
    text: str


@dataclass(frozen=True, slots=True)
class Call:
    """A call of one of `SUPPORTED_FUNCTIONS` (others are refused while parsing)."""

    name: str
    args: tuple[Node, ...]
    pos: int


@dataclass(frozen=True, slots=True)
class Not:
    operand: Node
    pos: int


@dataclass(frozen=True, slots=True)
class Logical:
    """A flat `and`/`or` chain: flattening keeps `a and b and ...` (thousands long) from nesting deeply."""

    op: Literal["and", "or"]
    operands: tuple[Node, ...]
    pos: int


@dataclass(frozen=True, slots=True)
class Comparison:
    op: CompareOp
    left: Node
    right: Node
    pos: int


Node = Property | Constant | Call | Not | Logical | Comparison


class _Parser:
    """One-shot parser over the token list; `depth` counts open parentheses, `not`s, calls and comparison chains."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.current = next(self.tokens)
        self.depth = 0

    def peek(self) -> Token:
        return self.current

    def advance(self) -> Token:
        token = self.current
        if token.kind != "end":
            self.current = next(self.tokens)
        return token

    def is_word(self, word: str) -> bool:
        return self.current.kind == "ident" and self.current.text == word

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ODataQueryError(
                f"Recursion depth exceeded allowed limit. The $filter nests deeper than {MAX_DEPTH} levels.",
                position=self.peek().pos,
            )

    def unexpected(self, token: Token, message: str) -> ODataQueryError:
        """The error for `token` where an operator or delimiter was due; names unsupported operators plainly."""
        if token.kind == "ident" and token.text in UNSUPPORTED_OPERATORS:
            return ODataQueryError(
                f"The '{token.text}' operator (position {token.pos} in '{self.text}') is not supported by this "
                "emulator's $filter.",
                position=token.pos,
                unsupported=True,
            )
        return ODataQueryError(message, position=token.pos)

    def expression_expected(self, token: Token) -> ODataQueryError:
        return ODataQueryError(f"Expression expected at position {token.pos} in '{self.text}'.", position=token.pos)

    def parse(self) -> Node:
        node = self.parse_logical("or")
        token = self.peek()
        if token.kind != "end":
            raise self.unexpected(token, syntax_error(token.pos, self.text).message)
        return node

    def parse_logical(self, op: Literal["and", "or"]) -> Node:
        first = self.parse_logical("and") if op == "or" else self.parse_comparison()
        operands = [first]
        while self.is_word(op):
            self.advance()
            operands.append(self.parse_logical("and") if op == "or" else self.parse_comparison())
        if len(operands) == 1:
            return first
        return Logical(op, tuple(operands), first.pos)

    def parse_comparison(self) -> Node:
        saved_depth = self.depth
        left = self.parse_unary()
        while (token := self.peek()).kind == "ident" and token.text in COMPARISON_OPERATORS:
            self.advance()
            self.enter()
            right = self.parse_unary()
            left = Comparison(cast(CompareOp, token.text), left, right, token.pos)
        self.depth = saved_depth
        return left

    def parse_unary(self) -> Node:
        if self.is_word("not"):
            token = self.advance()
            self.enter()
            operand = self.parse_unary()
            self.depth -= 1
            return Not(operand, token.pos)
        return self.parse_primary()

    def parse_primary(self) -> Node:
        token = self.advance()
        if token.kind == "(":
            self.enter()
            node = self.parse_logical("or")
            close = self.peek()
            if close.kind != ")":
                raise self.unexpected(close, f"')' or operator expected at position {close.pos} in '{self.text}'.")
            self.advance()
            self.depth -= 1
            return node
        if token.kind == "literal" and token.literal is not None:
            return Constant(token.literal, token.value, token.pos, token.text)
        if token.kind == "ident" and token.text not in _RESERVED_WORDS:
            if self.peek().kind == "(":
                return self.parse_call(token)
            return Property(token.text, token.pos)
        raise self.expression_expected(token)

    def parse_call(self, name_token: Token) -> Call:
        name = name_token.text
        if name not in SUPPORTED_FUNCTIONS:
            if name in UNSUPPORTED_FUNCTIONS or name.startswith("Microsoft.Dynamics.CRM."):
                raise ODataQueryError(
                    f"The function '{name}' is not supported by this emulator's $filter.",
                    position=name_token.pos,
                    unsupported=True,
                )
            raise ODataQueryError(
                f"An unknown function with name '{name}' was found. This may also be a function import or a key "
                "lookup on a navigation property, which is not allowed.",
                position=name_token.pos,
            )
        self.advance()  # the '('
        self.enter()
        args: list[Node] = []
        if self.peek().kind == ")":
            self.advance()
        else:
            while True:
                args.append(self.parse_logical("or"))
                token = self.advance()
                if token.kind == ")":
                    break
                if token.kind != ",":
                    raise self.unexpected(token, f"')' or ',' expected at position {token.pos} in '{self.text}'.")
        self.depth -= 1
        return Call(name, tuple(args), name_token.pos)


def parse_filter(text: str) -> Node:
    """Parse `$filter` text into a tree; raises `ODataQueryError` (with `position`) on any syntax error."""
    return _Parser(text).parse()
