"""`make bench` (cold start): how long a fresh Python worker takes to import `function_app.py`, the module the
Functions host loads on every cold start, with and without compiled bytecode.

Each measurement is `python -X importtime -c "import function_app"` in a fresh interpreter (the project's venv)
inside a temporary copy of the app (function_app.py, host.json, shared/, no `__pycache__`), so the working tree's
caches are never touched. Three cases, `REPEATS` runs each, the median reported:

- `no_bytecode`: no `.pyc` anywhere (PYTHONPYCACHEPREFIX points at an empty directory and PYTHONDONTWRITEBYTECODE
  keeps it empty): the app, its dependencies and the standard library are compiled from source on every run;
- `app_source_only`: the app without bytecode (a deployment package without `__pycache__`), dependencies compiled;
- `warm`: everything from bytecode (the copy's `__pycache__` written by a first run).

Figures: the cumulative import time of `function_app` as `-X importtime` reports it, the whole process' wall time
(interpreter start included), and the direct imports of `function_app` that cost the most in the `warm` case.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
APP_FILES = ("function_app.py", "host.json")
APP_DIRS = ("shared",)
REPEATS = 5
LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)$")


def copy_app(target: Path) -> None:
    for name in APP_FILES:
        shutil.copy2(REPO / name, target / name)
    for name in APP_DIRS:
        shutil.copytree(REPO / name, target / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


def import_once(app: Path, env: dict[str, str]) -> tuple[float, float, dict[str, float]]:
    """One fresh interpreter: (function_app cumulative ms, process wall ms, direct imports' cumulative ms)."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import function_app"],
        cwd=app, env=env, capture_output=True, text=True, check=True, timeout=300,
    )  # fmt: skip
    wall = (time.perf_counter() - started) * 1000
    total, children = 0.0, {}
    for line in done.stderr.splitlines():
        match = LINE.match(line)
        if not match:
            continue
        cumulative, level, name = int(match.group(2)) / 1000, (len(match.group(3)) - 1) // 2, match.group(4)
        if level == 0 and name == "function_app":
            total = cumulative
        elif level == 1:  # imported while function_app itself was importing (two spaces deeper)
            children[name] = cumulative
    return total, wall, children


def _case(app: Path, env: dict[str, str], repeats: int) -> tuple[float, float, dict[str, float]]:
    runs = [import_once(app, env) for _ in range(repeats)]
    imports = statistics.median(r[0] for r in runs)
    wall = statistics.median(r[1] for r in runs)
    return imports, wall, runs[-1][2]


def measure_cold_start(repeats: int = REPEATS) -> dict[str, Any]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    base["PYTHONPATH"] = ""
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="cold-start-") as tmp:
        app, empty_cache = Path(tmp) / "app", Path(tmp) / "no-pycache"
        app.mkdir()
        empty_cache.mkdir()
        copy_app(app)
        cases = {
            "no_bytecode": {**base, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPYCACHEPREFIX": str(empty_cache)},
            "app_source_only": {**base, "PYTHONDONTWRITEBYTECODE": "1"},
        }
        children: dict[str, float] = {}
        for name, env in cases.items():
            imports, wall, _ = _case(app, env, repeats)
            figures[f"cold_start.{name}.import_ms"] = round(imports, 1)
            figures[f"cold_start.{name}.process_ms"] = round(wall, 1)
        import_once(app, base)  # writes the copy's __pycache__
        imports, wall, children = _case(app, base, repeats)
        figures["cold_start.warm.import_ms"] = round(imports, 1)
        figures["cold_start.warm.process_ms"] = round(wall, 1)
        top = sorted(children.items(), key=lambda item: -item[1])[:5]
        figures["cold_start.warm.top_imports_ms"] = {name: round(ms, 1) for name, ms in top}
    return figures


if __name__ == "__main__":
    for key, value in measure_cold_start().items():
        print(f"{key:<45} {value}")
