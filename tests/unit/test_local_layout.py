"""The local platform's wings and the tools, checked on every module's imports (issue 21, item 8).

Three rules: no module of `local/` or `tools/` takes part in an import cycle; each wing of `local/` imports only
the wings it stands on (the emulators nothing but themselves, so they answer like the real services whatever the
app's code says; the host its queue fake; the launcher the emulators; the demo the launcher and the emulators), and
`tools/` nothing of `local/`; and inside the BC emulator the rooms stand on each other in one order (base <- api <-
posting, api <- pages). The app's side (shared/, function_app.py never importing local/ or tools/) is in
test_import_rules.py.

Every import counts: module level, inside a function, and under `if TYPE_CHECKING:`. A type-only import back is
still a cycle of the design, the kind that made the BC emulator's writer and its rules one knot; a narrow protocol
(`api/records.py`, `handler_context.py`) is the way out. Imports are read with `ast` (no module is executed), and
`from package import module` counts as an import of the module.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHECKED = ("local", "tools")


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(root: Path, packages: Iterable[str]) -> dict[str, set[str]]:
    """Module -> the modules of `packages` it imports, for every `.py` file under them."""
    paths = {module_name(p, root): p for package in packages for p in sorted((root / package).rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        is_package = path.name == "__init__.py"
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = name.split(".") if is_package else name.split(".")[:-1]
                    base = base[: len(base) - node.level + 1]
                    target = ".".join([*base, node.module] if node.module else base)
                else:
                    target = node.module or ""
                found.add(target)
                found.update(f"{target}.{alias.name}" for alias in node.names)
        graph[name] = {target for target in found if target in paths and target != name}
    return graph


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted, as a list of cycles."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_module_of_local_or_tools_is_in_an_import_cycle() -> None:
    found = cycles(import_graph(ROOT, CHECKED))
    assert found == [], "import cycles (break each with a narrow protocol or a smaller module):\n" + "\n".join(
        " <-> ".join(cycle) for cycle in found
    )


def test_the_cycle_check_finds_a_cycle_even_through_type_checking_and_relative_imports(tmp_path: Path) -> None:
    package = tmp_path / "knot"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "writer.py").write_text("from knot import rules\n")
    (package / "rules.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .writer import Writer\n"
    )
    (package / "alone.py").write_text("from knot.rules import x\n")
    assert cycles(import_graph(tmp_path, ["knot"])) == [["knot.rules", "knot.writer"]]


# wing -> the first-party parts it may import (itself included); shared/ is the app, tests/ and bench/ never
WINGS = {
    "local.emulators": ("local.emulators",),
    "local.fakes": ("local.fakes", "shared"),
    "local.host": ("local.host", "local.fakes"),
    "local.stack": ("local.stack", "local.emulators"),
    "local.demo": ("local.demo", "local.stack", "local.emulators"),
    "tools": ("tools", "shared"),
}
FIRST_PARTY = ("local", "tools", "shared", "tests", "bench", "function_app")


def first_party_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)  # `from package import module`
    return {name for name in found if name.split(".")[0] in FIRST_PARTY}


def test_every_module_of_local_and_tools_belongs_to_a_wing() -> None:
    homeless = [
        module_name(path, ROOT)
        for package in CHECKED
        for path in sorted((ROOT / package).rglob("*.py"))
        if module_name(path, ROOT) not in ("local", "tools")
        and not module_name(path, ROOT).startswith(tuple(f"{wing}." for wing in WINGS) + tuple(WINGS))
    ]
    assert homeless == [], f"modules outside every wing (add the wing to WINGS with what it may import): {homeless}"


@pytest.mark.parametrize("wing", sorted(WINGS))
def test_each_wing_imports_only_what_it_stands_on(wing: str) -> None:
    allowed = WINGS[wing]
    folder = ROOT.joinpath(*wing.split("."))
    for path in sorted(folder.rglob("*.py")):
        bad = {
            name
            for name in first_party_imports(path)
            if not any(name == a or name.startswith(f"{a}.") for a in allowed)
        }
        assert bad == set(), f"{path.relative_to(ROOT)} imports {sorted(bad)}; {wing} may import {allowed}"


BC = "local.emulators.business_central"
# room -> the rooms of the BC emulator it may import; the base modules (errors, naming, schema, values, companies)
# import no room, and the top (app, batch, seed) may import every room.
BC_ROOMS = {
    "api": ("api",),
    "posting": ("api", "posting"),
    "pages": ("api", "pages", "handler_context"),
    "handler_context": ("api",),
    "errors": (),
    "naming": (),
    "schema": (),
    "values": (),
    "companies": (),
}


@pytest.mark.parametrize("room", sorted(BC_ROOMS))
def test_the_bc_emulators_rooms_stand_on_each_other_in_one_order(room: str) -> None:
    folder = ROOT.joinpath(*BC.split("."))
    paths = sorted((folder / room).rglob("*.py")) if (folder / room).is_dir() else [folder / f"{room}.py"]
    assert paths and all(path.exists() for path in paths), room
    rooms = {"api", "posting", "pages", "handler_context", "app", "batch", "seed"}
    for path in paths:
        used = {name[len(BC) + 1 :].split(".")[0] for name in first_party_imports(path) if name.startswith(f"{BC}.")}
        bad = (used & rooms) - set(BC_ROOMS[room])
        assert bad == set(), (
            f"{path.relative_to(ROOT)} imports the rooms {sorted(bad)}; {room} may import {BC_ROOMS[room]}"
        )
