"""Undefined symbols in Bicep: every name used must be declared where the use can see it.

Why this rule matters most: a misspelt variable or a module output that was renamed is the commonest Bicep mistake,
and without a compiler nothing else notices it before `azd up`. Scopes follow Bicep's: declarations are file-wide
(params, vars, resources including nested ones, modules, funcs, imports), loop and lambda variables are visible in
their body only, and a `func` body sees only its own parameters. Outputs are not symbols (Bicep refuses a reference
to an output). A call must name a Bicep built-in, a decorator, a declared `func` or a `list*` function.
"""

from __future__ import annotations

from tree_sitter import Node

from tools.bicep.syntax import DECLARATIONS, BicepFile, Finding, arguments_of, name_of, text

BUILTINS = frozenset(
    (
        "any", "array", "base64", "base64ToJson", "base64ToString", "bool", "cidrHost", "cidrSubnet", "coalesce",
        "concat", "contains", "dataUri", "dataUriToString", "dateTimeAdd", "dateTimeFromEpoch", "dateTimeToEpoch",
        "deployer", "deployment", "empty", "endsWith", "environment", "extensionResourceId", "filter", "first",
        "flatten", "format", "getSecret", "groupBy", "guid", "indexOf", "int", "intersection", "items", "join",
        "json", "last", "lastIndexOf", "length", "loadFileAsBase64", "loadJsonContent", "loadTextContent",
        "loadYamlContent", "managementGroup", "managementGroupResourceId", "map", "mapValue", "max", "min",
        "nameof", "newGuid", "objectKeys", "padLeft", "parseCidr", "pickZones", "providers", "range",
        "readEnvironmentVariable", "reduce", "reference", "replace", "resourceGroup", "resourceId", "shallowMerge",
        "skip", "sort", "split", "startsWith", "string", "subscription", "subscriptionResourceId", "substring",
        "take", "tenant", "tenantResourceId", "toLower", "toObject", "toUpper", "trim", "tryGet", "union",
        "uniqueString", "uri", "uriComponent", "uriComponentToString", "utcNow",
    )
)
DECORATORS = frozenset(
    (
        "allowed", "batchSize", "description", "discriminator", "export", "maxLength", "maxValue", "metadata",
        "minLength", "minValue", "sealed", "secure", "onlyIfNotExists",
    )
)
NAMESPACES = frozenset({"sys", "az"})
SKIPPED = frozenset({"type", "type_declaration", "import_functionality", "using_statement", "comment"})


def check_references(f: BicepFile) -> list[Finding]:
    findings: list[Finding] = []

    def visit(node: Node, scope: frozenset[str], globals_visible: bool) -> None:
        kind = node.type
        if kind in SKIPPED:
            return
        if kind in DECLARATIONS:
            named = node.named_children
            first_identifier = next((c for c in named if c.type == "identifier"), None)
            if kind == "user_defined_function":
                params = next((c for c in named if c.type == "parameters"), None)
                own = frozenset(name_of(p) for p in params.named_children) if params is not None else frozenset()
                visit(named[-1], own, False)
                return
            for child in named:
                if child is not first_identifier:
                    visit(child, scope, globals_visible)
            return
        if kind == "for_statement":
            _visit_for(node, scope, globals_visible)
            return
        if kind == "lambda_expression" and node.named_children:
            params, body = node.named_children[0], node.named_children[-1]
            bound = [params] if params.type == "identifier" else params.named_children
            visit(body, scope | {text(n) for n in bound}, globals_visible)
            return
        if kind == "object_property" and node.named_children:
            key = node.named_children[0]
            for child in node.named_children[1:] if key.type == "identifier" else node.named_children:
                visit(child, scope, globals_visible)
            return
        if kind in ("member_expression", "resource_expression"):
            obj = node.child_by_field_name("object")
            if obj is not None:
                visit(obj, scope, globals_visible)
            return
        if kind == "call_expression":
            _visit_call(node, scope, globals_visible)
            return
        if kind == "identifier":
            name = text(node)
            if name not in scope and not (globals_visible and name in f.symbols):
                where = "" if globals_visible else " (a func body sees only its own parameters)"
                findings.append(f.finding(node, "undefined-symbol", f"'{name}' is not declared{where}"))
            return
        for child in node.named_children:
            visit(child, scope, globals_visible)

    def _visit_for(node: Node, scope: frozenset[str], globals_visible: bool) -> None:
        initializer = node.child_by_field_name("initializer")
        body = node.child_by_field_name("body")
        names: set[str] = set()
        for child in node.named_children:
            if child == initializer:
                names.add(text(child))
            elif child.type == "for_loop_parameters":
                names.update(text(c) for c in child.named_children)
            elif child != body:
                visit(child, scope, globals_visible)  # the collection: outside the loop's scope
        if body is not None:
            visit(body, scope | names, globals_visible)

    def _visit_call(node: Node, scope: frozenset[str], globals_visible: bool) -> None:
        function = node.child_by_field_name("function")
        if function is not None and function.type == "identifier":
            name = text(function)
            known = BUILTINS | DECORATORS | f.functions
            if name not in known and not name.startswith("list") and name not in f.symbols:
                findings.append(f.finding(function, "undefined-symbol", f"function '{name}' is not a Bicep "
                                          "built-in or a declared func"))
        elif function is not None and function.type == "member_expression":
            obj = function.child_by_field_name("object")
            if obj is not None and not (obj.type == "identifier" and text(obj) in NAMESPACES):
                visit(obj, scope, globals_visible)
        for argument in arguments_of(node):
            visit(argument, scope, globals_visible)

    for child in f.root.named_children:
        visit(child, frozenset(), True)
    return findings
