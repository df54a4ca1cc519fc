"""`GET /api/companies`: the BC companies this deployment serves (issue 22), so a client (the console's company
picker) can offer them and name one in the `company` parameter of every other route.

Why a route of its own: with several companies configured every company route answers 400 `companyRequired` until
the caller names one, and the caller cannot guess the keys (a key left out of `BC_COMPANIES` is derived from a hash:
`domain/companies.derived_key`). It is not about one company's data, so it takes no `company`; it needs the function
key like the other routes (it names the companies, which an anonymous caller has no need to know).

Each entry's `parameter` is what to send as `company` to name it: its key, or for the primary company (key "", today's
tables) its `environment/company` label, which `domain/companies.resolve` takes as well.
"""

from __future__ import annotations

from typing import Any

import azure.functions as func

from shared.domain.companies import Company
from shared.triggers.http_support import RouteSpec, documented, handled, json_response

blueprint = func.Blueprint()  # type: ignore[no-untyped-call]

COMPANY_ENTRY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["key", "environment", "company", "label", "primary", "parameter"],
    "properties": {
        "key": {"type": "string"},
        "environment": {"type": "string"},
        "company": {"type": "string"},
        "label": {"type": "string"},
        "primary": {"type": "boolean"},
        "parameter": {"type": "string"},
    },
}
COMPANIES_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["value"],
    "properties": {"value": {"type": "array", "items": COMPANY_ENTRY_SCHEMA}},
}

documented(
    RouteSpec(
        "list_companies",
        "companies",
        "GET",
        "The BC companies this deployment serves, in their configured order (name one with `company` elsewhere)",
        responses=(200,),
        response_schema=COMPANIES_SCHEMA,
        company=False,  # the list of every company: about none of them
    )
)


def company_entry(company: Company) -> dict[str, Any]:
    """How the API describes a company (this route, and `/api/health`)."""
    return {
        "key": company.key,
        "environment": company.environment,
        "company": company.company,
        "label": company.label,
        "primary": company.is_primary,
        "parameter": company.key or company.label,
    }


@blueprint.route(route="companies", methods=["GET"])
@handled
def list_companies(req: func.HttpRequest) -> func.HttpResponse:
    """Every configured company (`bootstrap.companies`: `BC_COMPANIES`, else today's one)."""
    from shared.bootstrap import companies

    return json_response(200, {"value": [company_entry(company) for company in companies()]})
