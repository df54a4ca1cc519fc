"""`GET /api/console` and `GET /api/console/{asset}`: the admin console, a static page served by the app itself.

Why the app serves it: an admin who deploys this app should see runs, mappings and errors without curl, and without a
second resource to deploy or secure. The page is plain HTML/CSS/JS under `shared/console/`, shipped in the package (no
CDN, no build step), and talks to the same HTTP API with the same function key.

Why an inline loader: the browser opens `/api/console?code=<key>`; a `<script src>` cannot send the
`x-functions-key` header, so the page's one inline script reads `code` from its own URL and adds the stylesheet and
scripts with `?code=` (the key stays in the URL and in memory, and this function never echoes it). The
Content-Security-Policy allows exactly that script by its hash and same-origin assets, nothing else.

Companies (issue 22): the page's `company` parameter names the company it opens on (`core.js` reads it; the company
picker of `companies.js` keeps it in the URL and in sessionStorage), and the scripts send it on every API call.

Only the names in `ASSETS` are served (a closed set: no path is ever built from the request), and files are read on
first use, never at import (cold start).
"""

from __future__ import annotations

import base64
import hashlib
import re
from functools import cache
from pathlib import Path

import azure.functions as func

from shared.domain.errors import NotFoundError
from shared.triggers.http_support import COMPANY, COMPANY_SCHEMA, RouteSpec, documented, handled, text

blueprint = func.Blueprint()  # type: ignore[no-untyped-call]
FOLDER = Path(__file__).resolve().parent.parent / "console"
INDEX = "index.html"
CSS = "text/css"
JS = "text/javascript"
# name -> media type; the page's loader adds the scripts in this order (a test checks the two agree)
ASSETS: dict[str, str] = {
    "style.css": CSS,
    "core.js": JS,
    "companies.js": JS,
    "connection.js": JS,
    "mappings.js": JS,
    "fullsync.js": JS,
    "coupling_list.js": JS,
    "couplings.js": JS,
    "matching.js": JS,
    "error_actions.js": JS,
    "errors.js": JS,
    "jobs.js": JS,
    "documents.js": JS,
    "app.js": JS,
}
INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)
TEXT_SCHEMA = {"type": "string"}

documented(
    RouteSpec(
        "console_page",
        "console",
        "GET",
        "The admin console (HTML page; open it with ?code=<function key>, and `company` to open it on that company)",
        responses=(200,),
        response_schema=TEXT_SCHEMA,
        media_types=("text/html",),
        # The page is the same for every company: `company` is read by the page's scripts (the company picker
        # starts on it and sends it on every API call), not by this function, so it is taken and not resolved here.
        query={COMPANY: COMPANY_SCHEMA},
        company=False,
    )
)
documented(
    RouteSpec(
        "console_asset",
        "console/{asset}",
        "GET",
        "A stylesheet or script of the admin console (404 for any other name)",
        responses=(200, 404),
        response_schema=TEXT_SCHEMA,
        media_types=(JS, CSS),
        path={"asset": {"type": "string", "enum": list(ASSETS)}},
        company=False,  # the same files for every company
    )
)


@cache
def _read(name: str) -> bytes:
    """One file of the console, read once per instance (they only change with a deployment)."""
    return (FOLDER / name).read_bytes()


@cache
def content_security_policy() -> str:
    """Same-origin assets only, plus the page's one inline script (the loader) by its SHA-256."""
    scripts = INLINE_SCRIPT.findall(_read(INDEX).decode("utf-8"))
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(s.encode('utf-8')).digest()).decode()}'" for s in scripts
    )
    return (
        f"default-src 'none'; script-src 'self' {hashes}; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


def _respond(body: bytes, media_type: str, extra: dict[str, str] | None = None) -> func.HttpResponse:
    headers = {
        "Content-Type": f"{media_type}; charset=utf-8",
        "Cache-Control": "no-store",  # the URL carries the key: keep it out of shared caches and history stores
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",  # never send the key-bearing URL elsewhere
        **(extra or {}),
    }
    return func.HttpResponse(body, status_code=200, headers=headers, mimetype=media_type, charset="utf-8")


@blueprint.route(route="console", methods=["GET"])
@handled
def console_page(req: func.HttpRequest) -> func.HttpResponse:
    """The page; the scripts it loads do the rest through the API. A `company` outside the document's shape (blank,
    too long) is refused here; which company it names is for the API to say when the scripts send it."""
    if (company := req.params.get(COMPANY)) is not None:
        text(company, COMPANY, max_length=int(COMPANY_SCHEMA["maxLength"]))
    extra = {"Content-Security-Policy": content_security_policy(), "X-Frame-Options": "DENY"}
    return _respond(_read(INDEX), "text/html", extra)


@blueprint.route(route="console/{asset}", methods=["GET"])
@handled
def console_asset(req: func.HttpRequest) -> func.HttpResponse:
    """One of the known assets by exact name; anything else is a 404 (so no other file can ever be reached)."""
    name = req.route_params.get("asset") or ""
    media_type = ASSETS.get(name)
    if media_type is None:
        raise NotFoundError("assetNotFound", "No such console asset.", field="asset")
    return _respond(_read(name), media_type)
