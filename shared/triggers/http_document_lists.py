"""HTTP routes that list the Sales documents for the console's Sales documents page (`processes/document_lists.py`):
Sales orders with their BC order number or the reason they were refused, quotes with revision and state, BC's posted
sales invoices with their status in Sales, and one customer's statistics as Sales has them. Reads only: the actions
are the routes of `http_documents.py` and `statistics.py`. Lists are paged (`top`, `continuationToken`:
`triggers/paging.py`, `engine/list_pages.py`), so a company with 100,000 orders never loads them into one answer.
"""

from __future__ import annotations

import re
from typing import Any

import azure.functions as func

from shared.domain.errors import InvalidInputError
from shared.engine.list_pages import PageRequest, page_request
from shared.triggers import paging
from shared.triggers.http_support import GUID, RouteSpec, company_key, documented, handled, json_response

blueprint = func.Blueprint()  # type: ignore[no-untyped-call]

TEXT: dict[str, Any] = {"type": ["string", "null"]}
MONEY: dict[str, Any] = {"type": ["number", "null"]}
ERROR_ENTRY: dict[str, Any] = {
    "type": ["object", "null"],
    "description": "The record's sync error entry (why it was refused), or null.",
    "properties": {
        "code": {"type": "string"},
        "message": {"type": "string"},
        "count": {"type": "integer"},
        "lastSeen": TEXT,
        "skipped": {"type": "boolean"},
    },
}
CUSTOMER: dict[str, Any] = {
    "type": ["object", "null"],
    "properties": {"id": {"type": "string"}, "name": TEXT, "anotherCompany": {"type": "boolean"}},
}
STATES = ("Draft", "Active", "Won", "Closed")


def _page(req: func.HttpRequest, list_name: str) -> PageRequest:
    return page_request(list_name, paging.top(req), paging.continuation_token(req))


def _context(req: func.HttpRequest) -> Any:
    from shared.bootstrap import run_services

    return run_services(company_key=company_key(req)).context


ORDER_ROW: dict[str, Any] = {
    "type": "object",
    "required": ["dataverseId", "outcome", "canCreate", "bcOrder", "error"],
    "properties": {
        "dataverseId": {"type": "string", "format": "uuid"},
        "orderNumber": TEXT,
        "name": TEXT,
        "customer": CUSTOMER,
        "totalAmount": MONEY,
        "state": {"type": "string", "description": "Active, Submitted, Canceled, Fulfilled or Invoiced."},
        "status": {"type": "string"},
        "lastBackofficeSubmit": TEXT,
        "outcome": {
            "enum": ["created", "ready", "refused", "notSubmitted", "anotherCompany"],
            "description": "created: a BC order exists (bcOrder); refused: the last Create failed (error); "
            "anotherCompany: its customer is another BC company's, so it is not created here.",
        },
        "canCreate": {"type": "boolean", "description": "Whether Create in Business Central applies now."},
        "bcOrder": {
            "type": ["object", "null"],
            "properties": {"id": {"type": "string"}, "number": TEXT},
        },
        "error": ERROR_ENTRY,
    },
}

documented(
    RouteSpec(
        "list_sales_orders",
        "sales-orders",
        "GET",
        "Sales orders past Active (pending=true: BC's list, Submitted and not yet sent), each with its BC order "
        "number or the reason it was refused",
        query={"pending": {"type": "string", "enum": ["true", "false"]}, **paging.PAGING_QUERY},
        responses=(200, 400, 503),
        response_schema=paging.page_schema(ORDER_ROW),
        rules=(paging.TOKEN_RULE,),
    )
)


@blueprint.route(route="sales-orders", methods=["GET"])
@handled
def list_sales_orders(req: func.HttpRequest) -> func.HttpResponse:
    from shared.processes.document_lists import ORDER_LIST, sales_orders

    pending = req.params.get("pending", "false")
    if pending not in ("true", "false"):
        raise InvalidInputError("invalidValue", "'pending' must be true or false.", field="pending")
    page = _page(req, ORDER_LIST)
    return json_response(200, sales_orders(_context(req), page, pending=pending == "true"))


QUOTE_ROW: dict[str, Any] = {
    "type": "object",
    "required": ["dataverseId", "revisionNumber", "state", "outcome", "canProcess", "bcQuote", "error"],
    "properties": {
        "dataverseId": {"type": "string", "format": "uuid"},
        "quoteNumber": TEXT,
        "revisionNumber": {"type": "integer"},
        "name": TEXT,
        "customer": CUSTOMER,
        "totalAmount": MONEY,
        "state": {"type": "string", "description": "Draft, Active, Won or Closed."},
        "status": {"type": "string"},
        "outcome": {
            "enum": ["processed", "waitingForOrder", "converted", "ready", "refused", "notActive", "anotherCompany"]
        },
        "canProcess": {"type": "boolean", "description": "Whether Process in Business Central has work to do."},
        "bcQuote": {"type": ["object", "null"], "properties": {"id": {"type": "string"}, "number": TEXT}},
        "error": ERROR_ENTRY,
    },
}

documented(
    RouteSpec(
        "list_quotes",
        "quotes",
        "GET",
        "Sales quotes (every revision) with their state and the BC quote they were processed into",
        query={"state": {"type": "string", "enum": list(STATES)}, **paging.PAGING_QUERY},
        responses=(200, 400, 503),
        response_schema=paging.page_schema(QUOTE_ROW),
        rules=(paging.TOKEN_RULE,),
    )
)


@blueprint.route(route="quotes", methods=["GET"])
@handled
def list_quotes(req: func.HttpRequest) -> func.HttpResponse:
    from shared.processes.document_lists import QUOTE_LIST, quotes

    state = req.params.get("state")
    if state is not None and state not in STATES:
        raise InvalidInputError("invalidValue", f"'state' must be one of {', '.join(STATES)}.", field="state")
    page = _page(req, QUOTE_LIST)
    return json_response(200, quotes(_context(req), page, state=STATES.index(state) if state else None))


INVOICE_ROW: dict[str, Any] = {
    "type": "object",
    "required": ["bcId", "number", "salesStatus", "paymentStatus", "canCreate", "salesInvoice", "error"],
    "properties": {
        "bcId": {"type": "string"},
        "number": TEXT,
        "customer": {
            "type": "object",
            "properties": {"id": TEXT, "number": TEXT, "name": TEXT, "coupled": {"type": "boolean"}},
        },
        "invoiceDate": TEXT,
        "currencyCode": TEXT,
        "totalAmountIncludingTax": MONEY,
        "remainingAmount": MONEY,
        "bcStatus": TEXT,
        "orderNumber": TEXT,
        "paymentStatus": {"type": "string", "description": "The Sales status BC's remaining amount asks for."},
        "salesStatus": {
            "type": "string",
            "description": "The Sales invoice's status (Billed, Paid Partial, Paid Complete, Canceled), 'not in "
            "Sales' when none was created, 'missing in Sales' when the coupled one is gone.",
        },
        "salesInvoice": {"type": ["object", "null"]},
        "canCreate": {"type": "boolean", "description": "Whether Create Invoice in Sales applies now."},
        "error": ERROR_ENTRY,
    },
}

documented(
    RouteSpec(
        "list_posted_sales_invoices",
        "posted-sales-invoices",
        "GET",
        "Business Central's posted sales invoices with their Sales invoice and its status in Sales",
        query=paging.PAGING_QUERY,
        responses=(200, 400, 503),
        response_schema=paging.page_schema(INVOICE_ROW),
        rules=(paging.TOKEN_RULE,),
    )
)


@blueprint.route(route="posted-sales-invoices", methods=["GET"])
@handled
def list_posted_sales_invoices(req: func.HttpRequest) -> func.HttpResponse:
    from shared.processes.document_lists import INVOICE_LIST, posted_sales_invoices

    return json_response(200, posted_sales_invoices(_context(req), _page(req, INVOICE_LIST)))


NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._/-]{0,19}$")  # a BC Code[20], without quotes or filter characters
CUSTOMER_SCHEMA: dict[str, Any] = {"type": "string", "pattern": f"({GUID.pattern})|({NUMBER.pattern})"}


STATISTICS_VIEW: dict[str, Any] = {
    "type": "object",
    "required": ["bcId", "coupled", "values"],
    "properties": {
        "bcId": {"type": "string", "format": "uuid"},
        "number": TEXT,
        "name": TEXT,
        "coupled": {"type": "boolean"},
        "skipped": {"type": "boolean"},
        "accountId": TEXT,
        "accountName": TEXT,
        "statisticsId": TEXT,
        "modifiedOn": TEXT,
        "values": {
            "type": ["object", "null"],
            "description": "The account statistics row's figures (nav_* attributes as Sales holds them); null when "
            "the account has none yet (run Update Account Statistics).",
        },
    },
}

documented(
    RouteSpec(
        "get_customer_statistics",
        "customers/{customer}/statistics",
        "GET",
        "A customer's account statistics as Sales has them now (by BC customer id or number)",
        responses=(200, 400, 404, 503),
        response_schema=STATISTICS_VIEW,
        path={"customer": CUSTOMER_SCHEMA},
    )
)


@blueprint.route(route="customers/{customer}/statistics", methods=["GET"])
@handled
def get_customer_statistics(req: func.HttpRequest) -> func.HttpResponse:
    from shared.processes.statistics_view import customer_statistics

    customer = str(req.route_params.get("customer") or "")
    if not (GUID.fullmatch(customer) or NUMBER.fullmatch(customer)):
        raise InvalidInputError(
            "invalidValue", "'customer' must be a BC customer id (GUID) or customer number.", field="customer"
        )
    return json_response(200, customer_statistics(_context(req), customer))
