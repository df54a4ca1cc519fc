"""`GET /api/health`: anonymous liveness, so a load balancer or an admin can probe the app without a key.

It reports only that the app is loaded and which version runs; dependency health comes with the setup routes.
"""

import json

import azure.functions as func

from shared.triggers.http_support import RouteSpec, documented

VERSION = "0.1.0"

blueprint = func.Blueprint()  # type: ignore[no-untyped-call]
documented(RouteSpec("health", "health", "GET", "Liveness of the app", auth="anonymous", responses=(200,)))


def _document_health() -> None:
    from shared.triggers.http_support import RouteSpec, documented

    documented(RouteSpec("health", "health", "GET", "Liveness of the app", auth="anonymous", responses=(200,)))


_document_health()


@blueprint.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def health(req: func.HttpRequest) -> func.HttpResponse:
    """Answer 200 with a small JSON body; it touches nothing outside the process."""
    body = {"status": "ok", "app": "bc-sales-sync", "version": VERSION}
    return func.HttpResponse(json.dumps(body), status_code=200, mimetype="application/json")
