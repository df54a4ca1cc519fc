"""Shared vocabulary of the OData query-option library: the error type, EDM type tags and the resolver contract.

Kept apart from the parsers so the emulators can import the error and the resolver helper without pulling in the
filter machinery, and so every module words its errors the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Literal

EdmType = Literal["string", "guid", "int", "decimal", "bool", "datetime", "date", "enum"]
"""Type tag of a structural property; stored values are described in `values.py`."""

LiteralKind = Literal["null", "string", "guid", "int", "decimal", "bool", "datetime", "date"]
"""Type tag of a literal written in a query (a string literal may target a string or an enum property)."""

Resolver = Callable[[str], EdmType]
"""Maps a property name to its type; raises `ODataQueryError` for names the entity type does not declare."""

MAX_OPTION_LENGTH = 32 * 1024
"""Longest accepted query-option text: the real services sit behind URL limits, the emulator must not spin."""

MAX_DEPTH = 100
"""Deepest accepted nesting of parentheses, `not` and function calls, so recursion can never exhaust the stack."""

EDM_TYPE_NAMES: Mapping[str, str] = {
    "string": "Edm.String",
    "guid": "Edm.Guid",
    "int": "Edm.Int32",
    "decimal": "Edm.Decimal",
    "bool": "Edm.Boolean",
    "datetime": "Edm.DateTimeOffset",
    "date": "Edm.Date",
    # The real services print the enum's qualified name (e.g. 'Microsoft.NAV.salesOrderStatus'); the resolver
    # contract only says "enum", so messages use this stand-in.
    "enum": "Edm.Enum",
    "null": "<null>",
}
"""EDM names as they appear in Microsoft.OData.Core error messages, keyed by `EdmType` or `LiteralKind`."""


class ODataQueryError(ValueError):
    """A query option the real service would refuse with 400 Bad Request.

    `message` is the text the emulator puts into its error body. `position` (0-based offset into the option text)
    is set for syntax errors. `unsupported` marks valid OData that this emulator does not implement, so a caller can
    tell "your query is wrong" from "the emulator is too small" (both still answer 400: failing loudly beats
    returning rows that production would filter differently).
    """

    def __init__(self, message: str, *, position: int | None = None, unsupported: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.position = position
        self.unsupported = unsupported


def syntax_error(position: int, text: str) -> ODataQueryError:
    """Microsoft.OData.Core's generic "Syntax error at position N in '...'." with a 0-based position."""
    return ODataQueryError(f"Syntax error at position {position} in '{text}'.", position=position)


def check_length(text: str, option: str) -> None:
    """Refuse absurdly long option text before any parsing work is done on it."""
    if len(text) > MAX_OPTION_LENGTH:
        raise ODataQueryError(
            f"The {option} query option is {len(text)} characters long; the limit is {MAX_OPTION_LENGTH}."
        )


def dict_resolver(types: Mapping[str, EdmType], entity_type_name: str) -> Resolver:
    """Build a resolver from a name -> type table; unknown names fail like Dataverse and Business Central do.

    Lookup is case-sensitive because the real services' property names are (`Name` is not `name`).
    """

    def resolve(name: str) -> EdmType:
        try:
            return types[name]
        except KeyError:
            raise ODataQueryError(f"Could not find a property named '{name}' on type '{entity_type_name}'.") from None

    return resolve
