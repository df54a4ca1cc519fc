"""The admin console's two routes through the registered functions: the page with its Content-Security-Policy, only
the known assets with their media types, nothing read at import, and nothing fetched from anywhere else."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess
import sys
from typing import Any

import azure.functions as func
import pytest

from shared.triggers.console import ASSETS, FOLDER, INDEX
from shared.triggers.openapi import document
from tests.functions.conftest import FUNCTIONS


def call(name: str, asset: str | None = None, params: dict[str, str] | None = None) -> func.HttpResponse:
    request = func.HttpRequest(
        "GET",
        f"http://localhost/api/{name}",
        params=params or {},
        route_params={"asset": asset} if asset else {},
        body=b"",
    )
    response: func.HttpResponse = FUNCTIONS[name].get_user_function()(request)
    return response


def test_the_page_is_html_allowing_only_its_own_loader_and_same_origin_assets() -> None:
    response = call("console_page", params={"code": "the-key"})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    html = response.get_body().decode()
    assert "the-key" not in html  # the key is never echoed
    [loader] = re.findall(r"<script>(.*?)</script>", html, re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(loader.encode()).digest()).decode()
    policy = response.headers["Content-Security-Policy"]
    assert f"script-src 'self' 'sha256-{digest}'" in policy and "default-src 'none'" in policy
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"


def test_the_loader_adds_exactly_the_served_scripts_in_order() -> None:
    html = (FOLDER / INDEX).read_text()
    listed = re.findall(r'"(\w+\.js)"', html)
    assert listed == [name for name, kind in ASSETS.items() if kind == "text/javascript"]
    assert '"style.css"' in html
    shipped = {path.name for path in FOLDER.iterdir()}
    assert shipped == {INDEX, *ASSETS}  # every file ships and is served, and nothing else is there


@pytest.mark.parametrize("name", list(ASSETS))
def test_each_asset_is_served_with_its_media_type(name: str) -> None:
    response = call("console_asset", name)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == f"{ASSETS[name]}; charset=utf-8"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.get_body() == (FOLDER / name).read_bytes()


@pytest.mark.parametrize("name", ["index.html", "../triggers/console.py", "..%2Fconsole.py", "APP.JS", "app.js ", "x"])
def test_any_other_name_is_a_404(name: str) -> None:
    response = call("console_asset", name)
    assert response.status_code == 404
    assert json.loads(response.get_body())["error"]["code"] == "assetNotFound"


def test_an_unknown_query_parameter_is_refused_but_the_key_is_not() -> None:
    assert call("console_asset", "app.js", {"code": "k"}).status_code == 200
    assert call("console_asset", "app.js", {"v": "2"}).status_code == 400


def test_the_document_describes_html_js_and_css_answers() -> None:
    paths: dict[str, Any] = document()["paths"]
    page = paths["/api/console"]["get"]
    assert set(page["responses"]["200"]["content"]) == {"text/html"}
    asset = paths["/api/console/{asset}"]["get"]
    assert set(asset["responses"]["200"]["content"]) == {"text/javascript", "text/css"}
    assert asset["parameters"][0]["schema"] == {"type": "string", "enum": list(ASSETS)}
    assert set(asset["responses"]["404"]["content"]) == {"application/json"}


def test_importing_the_console_reads_no_file() -> None:
    code = (
        "import pathlib\n"
        "def refuse(self, *a, **k):\n    raise AssertionError(f'read {self} at import')\n"
        "pathlib.Path.read_bytes = refuse\npathlib.Path.read_text = refuse\n"
        "import shared.triggers.console\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_nothing_is_fetched_from_anywhere_else() -> None:
    for path in FOLDER.iterdir():
        text = path.read_text()
        assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/|@import|url\(", text, re.IGNORECASE), path.name


@pytest.mark.skipif(shutil.which("node") is None, reason="node (needed for Azurite) checks the scripts' syntax")
@pytest.mark.parametrize("name", [name for name in ASSETS if name.endswith(".js")])
def test_each_script_parses(name: str) -> None:
    subprocess.run(["node", "--check", str(FOLDER / name)], check=True, timeout=60)
