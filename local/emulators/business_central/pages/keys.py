"""URL segments of page web services: `Company('CRONUS USA, Inc.')`, `ResourceCard('R0010')`,
`ResourceCard(No='R0010')`, `PriceListLines(Price_List_Code='S00001',Line_No=10000)`.

Why a scanner and not a regex: company names and key values are quoted strings that may hold `/`, `,`, `(`, `)`
and doubled quotes (`'O''Brien'`), so splitting the path or the key list on those characters would cut a value in
two. Key values are typed like OData literals: strings (and enums, Code, Text) quoted, numbers and GUIDs bare.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from local.emulators.business_central.errors import BAD_REQUEST, BcError
from local.emulators.business_central.pages.schema import PageService, decode_member

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
_INT = re.compile(r"^-?\d+$")
_DECIMAL = re.compile(r"^-?\d+(\.\d+)?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

KeyLiteral = tuple[str | None, str, bool]  # (property name or None when positional, text, was quoted)


def syntax(text: str) -> BcError:
    return BcError(400, BAD_REQUEST, f"Bad Request - Error in query syntax: '{text}'.")


def split_path(path: str) -> list[str]:
    """Split on `/` outside single-quoted strings; empty segments (a trailing `/`) are dropped."""
    segments: list[str] = []
    current: list[str] = []
    quoted = False
    for char in path:
        if char == "'":
            quoted = not quoted  # a doubled quote toggles twice: still inside the string
        if char == "/" and not quoted:
            segments.append("".join(current))
            current = []
        else:
            current.append(char)
    segments.append("".join(current))
    return [segment for segment in segments if segment]


def parse_segment(segment: str) -> tuple[str, str | None]:
    """`Name` -> (Name, None); `Name(...)` -> (Name, text inside the parentheses)."""
    if "(" not in segment:
        if not _NAME.match(segment):
            raise BcError(404, "BadRequest_NotFound", f"No HTTP resource was found that matches '{segment}'.")
        return segment, None
    name, _, rest = segment.partition("(")
    if not _NAME.match(name) or not rest.endswith(")"):
        raise syntax(segment)
    return name, rest[:-1]


def parse_literals(text: str) -> list[KeyLiteral]:
    """`'a',b=1` -> [(None, 'a', True), ('b', '1', False)]; quotes inside strings are doubled."""
    literals: list[KeyLiteral] = []
    index = 0
    while True:
        name: str | None = None
        match = re.match(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=", text[index:])
        if match:
            name = match.group(1)
            index += match.end()
        while index < len(text) and text[index] == " ":
            index += 1
        if index < len(text) and text[index] == "'":
            value, index = _quoted(text, index)
            literals.append((name, value, True))
        else:
            end = text.find(",", index)
            end = len(text) if end < 0 else end
            value = text[index:end].strip()
            if not value:
                raise syntax(text)
            literals.append((name, value, False))
            index = end
        while index < len(text) and text[index] == " ":
            index += 1
        if index >= len(text):
            return literals
        if text[index] != ",":
            raise syntax(text)
        index += 1


def _quoted(text: str, start: int) -> tuple[str, int]:
    out: list[str] = []
    index = start + 1
    while index < len(text):
        if text[index] == "'":
            if text[index + 1 : index + 2] == "'":
                out.append("'")
                index += 2
                continue
            return "".join(out), index + 1
        out.append(text[index])
        index += 1
    raise syntax(text)


def _typed(service: PageService, name: str, text: str, quoted: bool) -> Any:
    prop = service.fields[name].prop
    if prop.kind in ("code", "text", "enum", "computed"):
        if not quoted:
            raise syntax(f"{name}={text}")
        return decode_member(text) if prop.kind == "enum" else text
    if prop.kind == "guid":
        try:
            return str(uuid.UUID(text))
        except ValueError:
            raise syntax(f"{name}={text}") from None
    if quoted:
        raise syntax(f"{name}='{text}'")
    if prop.kind == "int" and _INT.match(text):
        return int(text)
    if prop.kind == "decimal" and _DECIMAL.match(text):
        return float(text) if "." in text else int(text)
    if prop.kind == "date" and _DATE.match(text):
        return text
    raise syntax(f"{name}={text}")


def parse_key(service: PageService, text: str) -> dict[str, Any]:
    """The key values of an entity segment by page property; a single positional value only for a one-field key."""
    literals = parse_literals(text)
    if len(literals) == 1 and literals[0][0] is None and len(service.keys) == 1:
        _, value, quoted = literals[0]
        return {service.keys[0]: _typed(service, service.keys[0], value, quoted)}
    names = [name for name, _, _ in literals]
    if None in names or sorted(n for n in names if n) != sorted(service.keys):
        raise BcError(
            400,
            BAD_REQUEST,
            f"The key of '{service.name}' is ({', '.join(service.keys)}); got '{text}'. "
            f"Example: {service.name}({','.join(f'{k}=...' for k in service.keys)}).",
        )
    return {name: _typed(service, name, value, quoted) for name, value, quoted in literals if name}


def parse_company(text: str) -> tuple[str, str]:
    """`Company('Name')`, `Company(Name='Name')`, `Company(Id=<guid>)` -> ("name"|"id", value)."""
    literals = parse_literals(text)
    if len(literals) != 1:
        raise syntax(f"Company({text})")
    name, value, quoted = literals[0]
    if name in (None, "Name") and quoted:
        return "name", value
    if name == "Id":
        try:
            return "id", str(uuid.UUID(value))
        except ValueError:
            raise syntax(f"Company({text})") from None
    raise syntax(f"Company({text})")


def key_text(values: dict[str, Any]) -> str:
    """The canonical key segment content (`Price_List_Code='S00001',Line_No=10000`), for Location headers."""
    parts = []
    for name, value in values.items():
        literal = f"'{value.replace(chr(39), chr(39) * 2)}'" if isinstance(value, str) else str(value)
        parts.append(f"{name}={literal}")
    return ",".join(parts)
