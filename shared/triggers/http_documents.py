"""HTTP routes for the sales document processes: orders from Sales (and, as they land, quotes, posted invoices and
customer statistics). Each is the manual twin of a timer job, so an admin can push one document through now and see
exactly why it was refused (409 not submitted, 422 with the record to fix, 404 unknown)."""

from __future__ import annotations

import azure.functions as func

from shared.triggers.http_support import GUID_SCHEMA, RouteSpec, company_key, documented, guid, handled, json_response

blueprint = func.Blueprint()  # type: ignore[no-untyped-call]
ORDER_RESULT: dict[str, object] = {
    "type": "object",
    "properties": {
        "status": {"enum": ["created", "alreadyCreated"]},
        "dataverseId": {"type": "string"},
        "bcId": {"type": "string"},
        "bcNumber": {"type": "string"},
        "warnings": {"type": "array", "items": {"type": "string"}},
    },
}

documented(
    RouteSpec(
        "create_sales_order_in_bc",
        "sales-orders/{dataverseId}/create-in-business-central",
        "POST",
        "Create the BC order of a submitted Sales order (once only; a repeat answers alreadyCreated)",
        responses=(200, 201, 400, 404, 409, 422),
        response_schema=ORDER_RESULT,
        path={"dataverseId": GUID_SCHEMA},
    )
)


@blueprint.route(route="sales-orders/{dataverseId}/create-in-business-central", methods=["POST"])
@handled
def create_sales_order_in_bc(req: func.HttpRequest) -> func.HttpResponse:
    from shared.bootstrap import run_services
    from shared.processes.sales_orders import create_in_business_central

    order_id = guid(req.route_params.get("dataverseId"), "dataverseId")
    context = run_services(company_key=company_key(req)).context
    result = create_in_business_central(context, context.setup, order_id, context.archive)
    return json_response(201 if result.status == "created" else 200, result.as_dict())


documented(
    RouteSpec(
        "create_posted_invoice_in_dataverse",
        "posted-sales-invoices/{bcId}/create-in-dataverse",
        "POST",
        "Create the Sales invoice (with lines, status Billed or its payment status) of a posted BC invoice, once",
        responses=(200, 201, 400, 404, 409, 422),
        path={"bcId": GUID_SCHEMA},
    )
)


@blueprint.route(route="posted-sales-invoices/{bcId}/create-in-dataverse", methods=["POST"])
@handled
def create_posted_invoice_in_dataverse(req: func.HttpRequest) -> func.HttpResponse:
    from shared.bootstrap import run_services
    from shared.processes.invoices import create_in_dataverse

    bc_id = guid(req.route_params.get("bcId"), "bcId")
    result = create_in_dataverse(run_services(company_key=company_key(req)).context, bc_id)
    return json_response(201 if result["status"] == "created" else 200, result)


documented(
    RouteSpec(
        "process_quote",
        "quotes/{dataverseId}/process",
        "POST",
        "Process an active or won Sales quote: create, revise (archiving the BC quote first) or convert it",
        responses=(200, 400, 404, 409, 422),
        path={"dataverseId": GUID_SCHEMA},
    )
)


@blueprint.route(route="quotes/{dataverseId}/process", methods=["POST"])
@handled
def process_quote(req: func.HttpRequest) -> func.HttpResponse:
    from shared.bootstrap import run_services
    from shared.processes.quotes import process_quote as process

    quote_id = guid(req.route_params.get("dataverseId"), "dataverseId")
    context = run_services(company_key=company_key(req)).context
    assert context.archive is not None  # `for_run` puts the archive in the context
    return json_response(200, process(context, context.setup, context.archive, quote_id))


documented(
    RouteSpec(
        "get_quote_archive",
        "quotes/{dataverseId}/archive",
        "GET",
        "The archived versions of a Sales quote's BC quote (oldest revision first)",
        responses=(200, 400, 404, 422),
        path={"dataverseId": GUID_SCHEMA},
    )
)


@blueprint.route(route="quotes/{dataverseId}/archive", methods=["GET"])
@handled
def get_quote_archive(req: func.HttpRequest) -> func.HttpResponse:
    from shared.bootstrap import run_services
    from shared.processes.quotes import read_quote

    quote_id = guid(req.route_params.get("dataverseId"), "dataverseId")
    services = run_services(company_key=company_key(req))
    number = str(read_quote(services.context, quote_id)["quotenumber"])
    versions = services.archive.list_revisions(number)
    body = [
        {"quoteNumber": v.quote_number, "revision": v.revision, "archivedOn": v.archived_on, "document": v.document}
        for v in versions
    ]
    return json_response(200, {"quoteNumber": number, "value": body})
