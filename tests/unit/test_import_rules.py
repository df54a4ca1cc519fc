"""The layering of ARCHITECTURE section 2, checked on every module's imports (not just by review).

The three rooms: triggers -> services -> engine and processes -> engine (engine <- services <- triggers, engine <-
processes); the engine imports neither services nor processes, services never import processes and processes never
import services; all of them depend on ports and domain only, never on an adapter. Connectors (BC, Dataverse, the
Service Bus queue) and storage implement ports and may import domain, and no API's package under connectors/ imports
another's; only bootstrap wires concrete classes; domain imports no third-party package; the app (shared/,
function_app.py) never imports local/, tools/, tests/ or bench/.

The engine names no mapping: it never imports the catalog (`shared.mappings`; it is given the mappings through the
context), and no module of the engine, the services or the domain holds a string equal to a mapping name (what BC
decides per table is declared on the mapping: kind, full-sync rule, behaviours, ...). Processes may name their own.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Set
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT / "shared"
STDLIB = set(sys.stdlib_module_names) | {"__future__"}
CONNECTOR_PACKAGES = ("business_central", "dataverse", "service_bus")


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


BASE = ("shared.domain", "shared.ports", "shared.engine", "shared.telemetry")
ROOMS = {  # room -> what its modules may import from shared (besides the standard library and the room itself)
    "engine": BASE,  # not the catalog: the engine knows mappings only as the context gives them
    "services": (*BASE, "shared.mappings", "shared.services"),
    "processes": (*BASE, "shared.mappings", "shared.processes"),
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


def test_the_engine_never_imports_the_catalog() -> None:
    """Said on its own, beside the room rule above, so that widening BASE cannot let the catalog in unnoticed."""
    for path in modules("engine"):
        assert not {name for name in imports_of(path) if name.startswith("shared.mappings")}, path.name


NAMELESS = ("engine", "services", "domain")  # the rooms that never name a mapping (processes may name their own)


def mapping_names_in(path: Path, names: Set[str]) -> list[tuple[int, str]]:
    """(line, name) of every string constant of the module equal to a mapping name: plain literals, the literal
    parts of f-strings, dictionary keys, default values alike (the AST's `Constant` nodes, wherever they are)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = {
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names
    }
    return sorted(found)


def catalog_names() -> frozenset[str]:
    from shared.mappings import mapping_names  # the test may read the catalog; the rooms may not name it

    return frozenset(mapping_names())


@pytest.mark.parametrize("room", NAMELESS)
def test_the_engine_services_and_domain_name_no_mapping(room: str) -> None:
    """What the engine decides per mapping comes from the mapping's declarations, never from its name, so a mapping
    that behaves like CUSTOMER is added in shared/mappings/ alone."""
    names = catalog_names()
    paths = modules(room)
    assert paths and len(names) > 20, f"shared/{room}/ has no modules or the catalog no names"
    named = {str(path.relative_to(SHARED)): found for path in paths if (found := mapping_names_in(path, names))}
    assert named == {}, f"mapping names in {named}: declare the decision on the mapping instead"


def test_the_name_rule_catches_a_planted_name(tmp_path: Path) -> None:
    """The scan above could pass by finding nothing: a literal, an f-string part and a dictionary key are caught,
    a name inside a longer text (a message, a docstring) is not."""
    module = tmp_path / "planted.py"
    module.write_text(
        'LCY = "CURRENCY"\n'
        'def f(mapping, x):\n'
        '    """Runs CUSTOMER."""\n'
        '    label = f"{x}SALESPEOPLE"\n'
        '    notes = {"PAYMENT TERMS": 1}\n'
        '    return mapping.name == "CUSTOMER" or label == f"couple {x} first"\n',
        encoding="utf-8",
    )
    found = mapping_names_in(module, catalog_names())
    assert found == [(1, "CURRENCY"), (4, "SALESPEOPLE"), (5, "PAYMENT TERMS"), (6, "CUSTOMER")]


@pytest.mark.parametrize("folder", ["connectors", "storage", "domain", "engine", "services", "processes", "mappings"])
def test_adapters_and_logic_never_import_triggers_or_bootstrap(folder: str) -> None:
    for path in modules(folder):
        bad = {name for name in imports_of(path) if name.startswith(("shared.triggers", "shared.bootstrap"))}
        assert bad == set(), f"{path.name} imports {bad}"


@pytest.mark.parametrize("package", CONNECTOR_PACKAGES)
def test_a_connector_package_never_imports_another_apis_package(package: str) -> None:
    """One package per API: what they share lives beside them in `shared/connectors/` (http, errors, auth)."""
    others = tuple(f"shared.connectors.{other}" for other in CONNECTOR_PACKAGES if other != package)
    assert modules(f"connectors/{package}"), f"shared/connectors/{package}/ is gone: update CONNECTOR_PACKAGES"
    for path in modules(f"connectors/{package}"):
        bad = {name for name in imports_of(path) if name.startswith(others)}
        assert bad == set(), f"{path.name} imports {bad}"


def test_shared_never_imports_local_or_tests() -> None:
    for path in [ROOT / "function_app.py", *sorted(SHARED.rglob("*.py"))]:
        bad = {name for name in imports_of(path) if name.split(".")[0] in ("local", "tools", "tests", "bench")}
        assert bad == set(), f"{path.relative_to(ROOT)} imports {bad}"


def test_function_app_imports_no_sdk_clients_at_module_level() -> None:
    """Cold start: function_app.py may import azure.functions and the blueprints, nothing heavy."""
    heavy = {"azure.servicebus", "azure.data.tables", "msal", "requests"}
    assert not imports_of(ROOT / "function_app.py") & heavy
