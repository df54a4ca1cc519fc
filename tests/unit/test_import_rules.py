"""The layering of ARCHITECTURE section 2, checked on every module's imports (not just by review).

The three rooms: triggers -> services -> engine and processes -> engine (engine <- services <- triggers, engine <-
processes); the engine imports neither services nor processes, services never import processes and processes never
import services; all of them depend on ports and domain only, never on an adapter. Connectors, storage and the queue
implement ports and may import domain; only bootstrap wires concrete classes; domain imports no third-party package;
the app (shared/, function_app.py) never imports local/, tools/, tests/ or bench/.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT / "shared"
STDLIB = set(sys.stdlib_module_names) | {"__future__"}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def modules(folder: str) -> list[Path]:
    return sorted((SHARED / folder).rglob("*.py")) if (SHARED / folder).exists() else []


@pytest.mark.parametrize("path", modules("domain"), ids=lambda p: p.name)
def test_domain_imports_only_the_standard_library_and_itself(path: Path) -> None:
    foreign = {
        name for name in imports_of(path) if name.split(".")[0] not in STDLIB and not name.startswith("shared.domain")
    }
    assert foreign == set(), f"{path.name} imports {foreign}"


BASE = ("shared.domain", "shared.ports", "shared.engine", "shared.mappings", "shared.telemetry")
ROOMS = {  # room -> what its modules may import from shared (besides the standard library and the room itself)
    "engine": BASE,
    "services": (*BASE, "shared.services"),
    "processes": (*BASE, "shared.processes"),
}


@pytest.mark.parametrize("room", sorted(ROOMS))
def test_each_room_imports_only_what_sits_below_it(room: str) -> None:
    """A loop per room, not a parametrize per module: an empty room must fail the next assertion, not skip."""
    paths = modules(room)
    assert paths, f"shared/{room}/ has no modules"
    for path in paths:
        foreign = {
            name for name in imports_of(path) if name.split(".")[0] not in STDLIB and not name.startswith(ROOMS[room])
        }
        assert foreign == set(), f"{path.relative_to(SHARED)} imports {foreign}"


def test_the_rule_catches_a_room_reaching_up(tmp_path: Path) -> None:
    """The check above could pass by reading nothing: a module of the engine importing a service is caught."""
    module = tmp_path / "bad.py"
    module.write_text("from shared.services.coupling import couple\nimport requests\n", encoding="utf-8")
    found = {name for name in imports_of(module) if not name.startswith(ROOMS["engine"])}
    assert found == {"shared.services.coupling", "requests"}


@pytest.mark.parametrize("folder", ["connectors", "storage", "domain", "engine", "services", "processes", "mappings"])
def test_adapters_and_logic_never_import_triggers_or_bootstrap(folder: str) -> None:
    for path in modules(folder):
        bad = {name for name in imports_of(path) if name.startswith(("shared.triggers", "shared.bootstrap"))}
        assert bad == set(), f"{path.name} imports {bad}"


def test_shared_never_imports_local_or_tests() -> None:
    for path in [ROOT / "function_app.py", *sorted(SHARED.rglob("*.py"))]:
        bad = {name for name in imports_of(path) if name.split(".")[0] in ("local", "tools", "tests", "bench")}
        assert bad == set(), f"{path.relative_to(ROOT)} imports {bad}"


def test_function_app_imports_no_sdk_clients_at_module_level() -> None:
    """Cold start: function_app.py may import azure.functions and the blueprints, nothing heavy."""
    heavy = {"azure.servicebus", "azure.data.tables", "msal", "requests"}
    assert not imports_of(ROOT / "function_app.py") & heavy
