"""HTTP routes for the setup (BC's Dynamics 365 Connection Setup and the write-in product fields).

`GET /api/setup` answers the effective values, where each comes from and the etag (also as the `ETag` header);
`PATCH /api/setup` takes any subset of the values (`null` drops an override) and an optional `If-Match`, so two
admins saving at once cannot silently overwrite each other (409 `etagMismatch`).
"""

from __future__ import annotations

from typing import Any

import azure.functions as func

from shared.connectors.business_central.entity_sources import (
    DEFAULT_SOURCES,  # data only (no I/O): the page-backed entities
)
from shared.triggers.http_support import (
    NOT_BLANK,
    RouteSpec,
    company_key,
    documented,
    handled,
    json_object,
    json_response,
)

blueprint = func.Blueprint()  # type: ignore[no-untyped-call]

SETUP_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "salesOrderIntegrationEnabled": {"type": ["boolean", "null"]},
        "autoCreateSalesOrders": {"type": ["boolean", "null"]},
        "autoProcessQuotes": {"type": ["boolean", "null"]},
        "writeInProductType": {"enum": ["Item", "Resource", None]},
        "writeInProductNumber": {"type": ["string", "null"], "maxLength": 20},
        "freightGLAccountNumber": {"type": ["string", "null"], "maxLength": 20},
        "bcCompany": {"type": ["string", "null"], "minLength": 1, "maxLength": 100, "pattern": NOT_BLANK},
        "ownershipModel": {"enum": ["person", "team", None]},  # BC's CDS Connection Setup "Ownership Model"
        "pageServices": {
            "type": ["object", "null"],
            "propertyNames": {"enum": sorted(s.entity for s in DEFAULT_SOURCES if s.is_page)},
            "additionalProperties": {"type": "string", "minLength": 1, "maxLength": 240, "pattern": NOT_BLANK},
        },
    },
}


def _respond(setup: Any) -> func.HttpResponse:
    headers = {"ETag": setup.etag} if setup.etag else {}
    return json_response(200, setup.as_dict(), headers)


documented(RouteSpec("get_setup", "setup", "GET", "The effective setup, each value's source, and the etag"))


@blueprint.route(route="setup", methods=["GET"])
@handled
def get_setup(req: func.HttpRequest) -> func.HttpResponse:
    from shared.bootstrap import get_services
    from shared.engine.setup import read_setup

    services = get_services(company_key(req))
    return _respond(read_setup(services.settings_store, services.environment))


documented(
    RouteSpec(
        "patch_setup",
        "setup",
        "PATCH",
        "Change setup values (null drops an override); If-Match guards against a concurrent save",
        body=SETUP_SCHEMA,
        responses=(200, 400, 409, 422),
        rules=("unknownCompany", "unknownWriteInProduct", "unknownFreightAccount", "unusableFreightAccount"),
    )
)


@blueprint.route(route="setup", methods=["PATCH"])
@handled
def patch_setup(req: func.HttpRequest) -> func.HttpResponse:
    from shared.bootstrap import check_page_services, run_services
    from shared.engine.setup import BY_NAME, update_setup

    body = json_object(req, set(BY_NAME))
    services = run_services(
        company_key=company_key(req)
    )  # checked against BC as the setup is now (its company); in effect at the next call
    setup = update_setup(
        services.settings_store,
        services.environment,
        body,
        etag=req.headers.get("If-Match") or None,
        bc=services.context.bc,
        couplings=services.context.couplings,
        mappings=services.context.catalog.values(),
        check_page_services=check_page_services,
    )
    return _respond(setup)
