"""Customer statistics on demand: `POST /api/customers/{bcId}/update-statistics` refreshes one coupled customer's
`nav_accountstatistics` row from BC now (BC's "Update Account Statistics" action on a coupled customer), then the
payment status of the customer's coupled posted invoices (as BC's action does), and answers the values the row holds
and what the invoice half changed.

No timer here on purpose: the periodic run (`refresh_statistics` for every coupled customer) belongs with the posted
invoice timer (`INVOICE_SYNC_SCHEDULE`), next to the invoice payment status, as BC's one "CRM Statistics Job" does.
"""

from __future__ import annotations

from typing import Any

import azure.functions as func

from shared.triggers.http_support import GUID_SCHEMA, RouteSpec, company_key, documented, guid, handled, json_response

blueprint = func.Blueprint()  # type: ignore[no-untyped-call]

MONEY: dict[str, Any] = {"type": ["number", "null"]}
STATISTICS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["bcId", "accountId", "statisticsId", "outcome", "linked", "values", "invoices"],
    "properties": {
        "bcId": {"type": "string", "format": "uuid"},
        "accountId": {"type": "string", "format": "uuid", "description": "The coupled account."},
        "statisticsId": {"type": "string", "format": "uuid", "description": "The account's nav_accountstatistics."},
        "outcome": {"type": "string", "enum": ["created", "updated", "unchanged"]},
        "linked": {"type": "boolean", "description": "Whether this call linked the account to the row."},
        "values": {
            "type": "object",
            "description": "What the row holds now. Outstanding orders, shipped not invoiced and outstanding invoices "
            "are computed from the customer's open sales orders and draft invoices with BC's formulas (null when a "
            "foreign-currency document adds to them: API v2.0 has no currency factor). Figures API v2.0 cannot give "
            "(service amounts, invoiced prepayments, total) are null.",
            "properties": {
                "nav_name": {"type": "string"},
                "nav_customerno": {"type": "string"},
                "nav_balancelcy": MONEY,
                "nav_totalsaleslcy": MONEY,
                "nav_overdueamountslcy": MONEY,
                "nav_overdueamountsasof": {"type": "string", "format": "date"},
                "nav_creditlimitlcy": MONEY,
                "nav_outstandingorderslcy": MONEY,
                "nav_shippednotinvoicedlcy": MONEY,
                "nav_outstandinginvoiceslcy": MONEY,
                "nav_totallcy": {"type": "null"},
                "nav_invoicedprepaymentamountlcy": {"type": "null"},
                "nav_outstandingserviceorderslcy": {"type": "null"},
                "nav_servshippednotinvoicedlcy": {"type": "null"},
                "nav_outstandingservinvoiceslcy": {"type": "null"},
                "transactioncurrencyid": {"type": "string", "format": "uuid"},
            },
        },
        "invoices": {
            "type": "object",
            "description": "The customer's coupled posted invoices whose payment status (Billed, Paid/Partial, "
            "Paid/Complete, Canceled) this call set from BC's remaining amount.",
            "required": ["read", "coupled", "statusChanged", "failed", "errors"],
            "properties": {
                "read": {"type": "integer", "description": "Posted invoices billed to the customer."},
                "coupled": {"type": "integer"},
                "statusChanged": {"type": "integer"},
                "failed": {"type": "integer"},
                "errors": {"type": "array", "items": {"type": "string"}},
            },
        },
    },
}


def _context(req: func.HttpRequest) -> Any:
    from shared.bootstrap import run_services

    return run_services(company_key=company_key(req)).context


documented(
    RouteSpec(
        "update_customer_statistics",
        "customers/{bcId}/update-statistics",
        "POST",
        "Refresh a coupled customer's account statistics in Sales from Business Central",
        responses=(200, 400, 404, 409, 422, 503),
        response_schema=STATISTICS_SCHEMA,
        path={"bcId": GUID_SCHEMA},
    )
)


@blueprint.route(route="customers/{bcId}/update-statistics", methods=["POST"])
@handled
def update_customer_statistics(req: func.HttpRequest) -> func.HttpResponse:
    from shared.processes.customer_statistics_action import update_customer_statistics as update

    return json_response(200, update(_context(req), guid(req.route_params.get("bcId"), "bcId")))
