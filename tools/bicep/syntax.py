"""Bicep read with tree-sitter-bicep: the parser, syntax errors, and the few tree questions the lint asks.

Why a parser of our own choosing: no Bicep compiler can be installed where the tests run (`az bicep build` needs the
internet), yet a typo in `infra/` should fail `make test`, not the first `azd up`. tree-sitter-bicep is a wheel on
PyPI with no runtime dependency, so the test suite can read every `.bicep` file as a syntax tree. It checks syntax
only; `.github/workflows/infra.yml` runs the real compiler and `what-if` where the internet exists.

Grammar facts the helpers rely on (tree-sitter-bicep 1.1.0): a declaration's name is its first `identifier` child;
decorators are a `decorators` node *before* the declaration (a sibling, comments may sit between); object keys are
`identifier` or `string` nodes; member names are `property_identifier`, never `identifier`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import tree_sitter_bicep
from tree_sitter import Language, Node, Parser, Tree

DECLARATIONS = frozenset(
    {
        "parameter_declaration",
        "variable_declaration",
        "resource_declaration",
        "module_declaration",
        "output_declaration",
        "user_defined_function",
        "type_declaration",
        "metadata_declaration",
    }
)
_ESCAPES = {"\\'": "'", "\\\\": "\\", "\\n": "\n", "\\r": "\r", "\\t": "\t", "\\$": "$"}
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


@dataclass(frozen=True, order=True)
class Finding:
    """One problem in one file; `code` names the class of mistake (tests assert on it, never on the message)."""

    path: str
    line: int
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.code}: {self.message}"


@cache
def _parser() -> Parser:
    return Parser(Language(tree_sitter_bicep.language()))


def parse(source: str) -> Tree:
    return _parser().parse(source.encode("utf-8"))


def text(node: Node) -> str:
    return (node.text or b"").decode("utf-8")


def line_of(node: Node) -> int:
    return node.start_point.row + 1


def walk(node: Node) -> Iterator[Node]:
    """Every node under `node` (itself first), depth first, in source order."""
    yield node
    for child in node.children:
        yield from walk(child)


def syntax_errors(tree: Tree, path: str) -> list[Finding]:
    """ERROR and MISSING nodes: what the parser could not read, or had to invent to go on."""
    findings = []
    for node in walk(tree.root_node):
        if node.is_missing:
            findings.append(Finding(path, line_of(node), "syntax-error", f"missing {node.type!r}"))
        elif node.type == "ERROR":
            findings.append(Finding(path, line_of(node), "syntax-error", f"cannot parse {text(node)[:60]!r}"))
    return findings


def name_of(declaration: Node) -> str:
    """The declared name: the first identifier child (`param <name> ...`, `resource <name> '...'`)."""
    for child in declaration.named_children:
        if child.type == "identifier":
            return text(child)
    return ""


def string_value(node: Node | None) -> str | None:
    """The value of a string literal without interpolation, else None (the value is not known before deployment)."""
    if node is None or node.type != "string":
        return None
    parts: list[str] = []
    for child in node.named_children:
        if child.type == "string_content":
            parts.append(text(child))
        elif child.type == "escape_sequence":
            parts.append(_ESCAPES.get(text(child), text(child)))
        else:
            return None
    return "".join(parts)


def decorators_of(declaration: Node) -> list[Node]:
    """The `decorator` nodes of a declaration: the `decorators` sibling just before it, comments skipped."""
    sibling = declaration.prev_named_sibling
    while sibling is not None and sibling.type in ("comment", "diagnostic_comment"):
        sibling = sibling.prev_named_sibling
    if sibling is None or sibling.type != "decorators":
        return []
    return [child for child in sibling.named_children if child.type == "decorator"]


def call_name(call: Node) -> str:
    """`description` for `description(...)` and for `sys.description(...)`; `listKeys` for `account.listKeys()`."""
    function = call.child_by_field_name("function")
    if function is None:
        return ""
    if function.type == "member_expression":
        prop = function.child_by_field_name("property")
        return text(prop) if prop is not None else ""
    return text(function)


def decorator_call(declaration: Node, name: str) -> Node | None:
    """The call of decorator `@name(...)` (or `@sys.name(...)`) on a declaration, if present."""
    for decorator in decorators_of(declaration):
        for call in decorator.named_children:
            if call.type == "call_expression" and call_name(call) == name:
                return call
    return None


def arguments_of(call: Node) -> list[Node]:
    args = call.child_by_field_name("arguments")
    return [a for a in args.named_children if a.type not in ("comment",)] if args is not None else []


def object_entries(node: Node) -> Iterator[tuple[str, Node]]:
    """(key, value) of each property of an object literal whose key is known (identifier or plain string)."""
    for prop in node.named_children:
        if prop.type != "object_property" or len(prop.named_children) < 2:
            continue
        key_node, value = prop.named_children[0], prop.named_children[-1]
        key = text(key_node) if key_node.type == "identifier" else string_value(key_node)
        if key is not None:
            yield key, value


def words(name: str) -> list[str]:
    """`primaryConnectionString` -> primary, connectionstring; `AZURE_KEY_VAULT_NAME` -> azure, key, vault, name."""
    found = [w.lower() for w in _WORD.findall(name)]
    merged: list[str] = []
    for word in found:
        if word == "string" and merged and merged[-1] == "connection":
            merged[-1] = "connectionstring"
        else:
            merged.append(word)
    return merged


class BicepFile:
    """One parsed file and the facts every lint rule needs: its declarations, its symbols and their values."""

    def __init__(self, path: Path, display: str) -> None:
        self.path, self.display = path, display
        self.tree = parse(path.read_text(encoding="utf-8"))
        self.root = self.tree.root_node
        self.declarations = [n for n in walk(self.root) if n.type in DECLARATIONS]
        self.symbols = {name_of(d) for d in self.declarations if d.type not in ("output_declaration",)}
        self.functions = {name_of(d) for d in self.declarations if d.type == "user_defined_function"}
        for node in walk(self.root):
            if node.type == "import_functionality":
                self.symbols.update(text(c) for c in node.named_children if c.type == "identifier")
        self.values = {  # var value or param default, to follow a role id through names
            name_of(d): d.named_children[-1]
            for d in self.declarations
            if (d.type == "variable_declaration" and len(d.named_children) >= 2)
            or (d.type == "parameter_declaration" and len(d.named_children) >= 3)
        }
        self.secure_params = {
            name_of(d) for d in self.declarations
            if d.type == "parameter_declaration" and decorator_call(d, "secure") is not None
        }

    def finding(self, node: Node, code: str, message: str) -> Finding:
        return Finding(self.display, line_of(node), code, message)

    def possible_strings(self, node: Node | None, depth: int = 0) -> list[str]:
        """The literal strings an expression can evaluate to, as far as literals tell (unknown -> [])."""
        if node is None or depth > 8:
            return []
        literal = string_value(node)
        if literal is not None:
            return [literal]
        if node.type == "identifier":
            return self.possible_strings(self.values.get(text(node)), depth + 1)
        if node.type == "parenthesized_expression" and node.named_children:
            return self.possible_strings(node.named_children[0], depth + 1)
        if node.type == "array":
            return [s for item in node.named_children for s in self.possible_strings(item, depth + 1)]
        if node.type == "ternary_expression":
            branches = node.named_children[1:]
            return [s for branch in branches for s in self.possible_strings(branch, depth + 1)]
        if node.type == "member_expression":
            obj, prop = node.child_by_field_name("object"), node.child_by_field_name("property")
            target = self.values.get(text(obj)) if obj is not None and obj.type == "identifier" else None
            if target is not None and target.type == "object" and prop is not None:
                return [s for k, v in object_entries(target) if k == text(prop) for s in self.possible_strings(v)]
        return []
