"""A lint for `infra/**/*.bicep` that runs without the Bicep compiler (see `tools/bicep/syntax.py` for why).

It catches the mistakes that would otherwise surface only at `azd up`, or never:

- `undefined-symbol`: a name used but declared nowhere (param, var, resource, module, func, import, loop or lambda
  variable), or a call of a function that is neither a Bicep built-in nor a declared `func`. Outputs are not
  symbols (Bicep refuses a reference to an output), and a `func` body sees only its own parameters.
- `missing-module` / `missing-file`: a local module path, or a `load*Content()` path, that does not exist;
  `unpinned-module`: a registry module (`br/public:...`) without a version tag.
- `param-description`: a parameter without a non-empty `@description`: the operator reads them in `azd up`.
- `secret-output`: an output whose name or value carries a secret (secret, password, key, token, connection
  string, `list*()`, `getSecret()`, or a `@secure()` parameter). Deployment outputs are stored in plain text in the
  deployment history and in azd's `.env`. A sensitive word followed by name/uri/id/vault is a reference, not a
  secret: `keyVaultName` and `clientSecretName` are fine.
- `role-by-name`: a role definition given by display name instead of its GUID (`roleDefinitionId: 'Reader'`,
  `subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'Storage Blob Data Owner')`, an AVM
  `roleDefinitionIdOrName` with a name). Names differ per cloud and language and can be renamed; GUIDs cannot.
  Values are followed through variables, parameter defaults and object members of variables.

`python -m tools.bicep.lint [path ...]` prints the findings (default `infra`) and exits 1 when there are any.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from tree_sitter import Node

from tools.bicep.symbols import check_references
from tools.bicep.syntax import (
    BicepFile,
    Finding,
    arguments_of,
    call_name,
    decorator_call,
    name_of,
    object_entries,
    string_value,
    syntax_errors,
    text,
    walk,
    words,
)

_LOADERS = frozenset({"loadJsonContent", "loadTextContent", "loadYamlContent", "loadFileAsBase64"})
_RESOURCE_ID_FUNCTIONS = frozenset(
    {"resourceId", "subscriptionResourceId", "tenantResourceId", "managementGroupResourceId", "extensionResourceId"}
)
_ROLE_DEFINITIONS = "microsoft.authorization/roledefinitions"
_GUID = re.compile(r"(^|/)[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_SENSITIVE = frozenset(
    {"secret", "secrets", "password", "passwd", "pwd", "key", "keys", "connectionstring", "token", "sas", "credential"}
)
_REFERENCE_WORDS = frozenset({"name", "names", "uri", "url", "id", "ids", "vault", "reference", "setting", "version"})


def is_sensitive_name(name: str) -> bool:
    """True when a name says it holds a secret (`storageKey`, `APPLICATIONINSIGHTS_CONNECTION_STRING`); a sensitive
    word followed by a reference word is the name or address of a secret (`credentialSecretName`, `keyVaultUri`)."""
    parts = words(name)
    return any(
        word in _SENSITIVE and not _REFERENCE_WORDS.intersection(parts[i + 1 :]) for i, word in enumerate(parts)
    )


def _check_files(f: BicepFile) -> list[Finding]:
    findings: list[Finding] = []
    for node in walk(f.root):
        if node.type == "module_declaration" and len(node.named_children) >= 2:
            target = string_value(node.named_children[1])
            if target is None:
                continue
            if target.startswith(("br:", "br/", "ts:", "ts/")):
                if not re.search(r":[^:/]+$", target.split("/", 1)[-1]):
                    findings.append(f.finding(node, "unpinned-module", f"registry module {target!r} has no version"))
            elif not (f.path.parent / target).is_file():
                findings.append(f.finding(node, "missing-module", f"module file {target!r} does not exist"))
        elif node.type == "call_expression" and call_name(node) in _LOADERS:
            args = arguments_of(node)
            target = string_value(args[0]) if args else None
            if target is not None and not (f.path.parent / target).is_file():
                findings.append(f.finding(node, "missing-file", f"{call_name(node)}: {target!r} does not exist"))
    return findings


def _check_descriptions(f: BicepFile) -> list[Finding]:
    findings: list[Finding] = []
    for declaration in f.declarations:
        if declaration.type != "parameter_declaration":
            continue
        call = decorator_call(declaration, "description")
        args = arguments_of(call) if call is not None else []
        described = string_value(args[0]) if args else None
        if not args or (described is not None and not described.strip()):
            name = name_of(declaration)
            findings.append(f.finding(declaration, "param-description", f"param '{name}' has no @description"))
    return findings


def _check_outputs(f: BicepFile) -> list[Finding]:
    findings: list[Finding] = []
    for output in (d for d in f.declarations if d.type == "output_declaration"):
        name = name_of(output)
        reasons: list[str] = [f"its name '{name}' says secret"] if is_sensitive_name(name) else []
        value = output.named_children[-1]
        for node in walk(value):
            if node.type == "call_expression" and call_name(node).startswith(("list", "getSecret")):
                reasons.append(f"it calls {call_name(node)}()")
            elif node.type == "identifier" and text(node) in f.secure_params:
                reasons.append(f"it returns the @secure() param '{text(node)}'")
            elif node.type in ("identifier", "property_identifier") and is_sensitive_name(text(node)):
                reasons.append(f"it reads '{text(node)}'")
        if reasons:
            findings.append(f.finding(output, "secret-output", f"output '{name}' leaks a secret: {reasons[0]}"))
    return findings


def _check_roles(f: BicepFile) -> list[Finding]:
    findings: list[Finding] = []

    def check(node: Node, source: Node | None, what: str) -> None:
        for value in f.possible_strings(source):
            if not _GUID.search(value):
                findings.append(f.finding(node, "role-by-name", f"{what} {value!r} is a name, not a role GUID"))

    for node in walk(f.root):
        if node.type == "call_expression" and call_name(node) in _RESOURCE_ID_FUNCTIONS:
            args = arguments_of(node)
            types = [i for i, a in enumerate(args) if (string_value(a) or "").lower() == _ROLE_DEFINITIONS]
            if types and types[0] + 1 < len(args):
                check(node, args[types[0] + 1], "role definition")
        elif node.type == "object_property" and len(node.named_children) >= 2:
            key_node = node.named_children[0]
            if "roledefinition" in text(key_node).lower():
                check(node, node.named_children[-1], text(key_node))
        elif node.type == "resource_declaration" and len(node.named_children) >= 3:
            resource_type = (string_value(node.named_children[1]) or "").lower()
            body = node.named_children[-1]
            if resource_type.startswith(_ROLE_DEFINITIONS + "@") and body.type == "object":
                for key, value in object_entries(body):
                    if key == "name":
                        check(node, value, "existing role definition")
    return findings


def lint_file(path: Path, display: str | None = None) -> list[Finding]:
    """Every finding in one file; syntax errors first, and the other rules only on a file that parses."""
    f = BicepFile(path, display or str(path))
    errors = syntax_errors(f.tree, f.display)
    if errors:
        return errors
    rules = (check_references, _check_files, _check_descriptions, _check_outputs, _check_roles)
    return sorted({finding for rule in rules for finding in rule(f)})


def lint_paths(paths: list[Path]) -> list[Finding]:
    """Every `.bicep` file under each path (a directory) or the path itself (a file)."""
    files = sorted({p for path in paths for p in ([path] if path.is_file() else path.rglob("*.bicep"))})
    return [finding for bicep in files for finding in lint_file(bicep)]


def main(argv: list[str]) -> int:
    findings = lint_paths([Path(a) for a in argv] or [Path("infra")])
    for finding in findings:
        print(finding)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
