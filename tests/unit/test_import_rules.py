"""The layering of ARCHITECTURE section 2, checked on every module's imports (not just by review).

triggers -> services -> domain; services -> ports; connectors (BC, Dataverse, the Service Bus queue) and storage
implement ports and may import domain, and no API's package under connectors/ imports another's; only bootstrap wires
concrete classes; domain imports no third-party package; the app (shared/, function_app.py) never imports local/,
tools/, tests/ or bench/.
"""

from __future__ import annotations

import ast
import sys
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


def test_services_depend_on_ports_and_domain_only() -> None:
    """A loop, not a parametrize: while services/ is empty this must pass, not skip."""
    allowed = ("shared.domain", "shared.ports", "shared.services", "shared.mappings", "shared.telemetry")
    for path in modules("services"):
        foreign = {
            name for name in imports_of(path) if name.split(".")[0] not in STDLIB and not name.startswith(allowed)
        }
        assert foreign == set(), f"{path.name} imports {foreign}"


@pytest.mark.parametrize("folder", ["connectors", "storage", "domain", "services", "mappings"])
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
