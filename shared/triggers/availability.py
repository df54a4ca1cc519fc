"""Item availability: the timer that refreshes coupled products' quantity on hand from BC (BC's "CRM Item
Availability Job"; schedule = app setting `ITEM_AVAILABILITY_SCHEDULE`, default every 15 minutes) and the live
availability of one item for a salesperson (`GET /api/items/{bcId}/availability`).

Why a timer of its own and not part of the incremental sync: a stock change does not move an item's
`lastModifiedDateTime` (inventory is a FlowField), so only a periodic read of the inventory finds it.
"""

from __future__ import annotations

import logging
from typing import Any

import azure.functions as func

from shared.triggers.http_support import GUID_SCHEMA, RouteSpec, company_key, documented, guid, handled, json_response

blueprint = func.Blueprint()  # type: ignore[no-untyped-call]
log = logging.getLogger("bc_sales_sync.availability")
ITEM_AVAILABILITY_SCHEDULE = "ITEM_AVAILABILITY_SCHEDULE"
DEFAULT_SCHEDULE = "0 */15 * * * *"  # what the local host and local.settings.json.example give the setting

AVAILABILITY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["bcId", "number", "inventory", "dataverseId"],
    "properties": {
        "bcId": {"type": "string", "format": "uuid"},
        "number": {"type": "string"},
        "displayName": {"type": ["string", "null"]},
        "inventory": {"type": ["number", "null"], "description": "Live from Business Central (may be negative)."},
        "baseUnitOfMeasureCode": {"type": ["string", "null"]},
        "dataverseId": {"type": ["string", "null"], "description": "The coupled product, if any."},
    },
}


def _context(req: func.HttpRequest) -> Any:
    from shared.bootstrap import run_services

    return run_services(company_key=company_key(req)).context


@blueprint.timer_trigger(schedule=f"%{ITEM_AVAILABILITY_SCHEDULE}%", arg_name="timer", run_on_startup=False)
def item_availability(timer: func.TimerRequest) -> None:
    """A transient failure waits for the next tick: the run writes plain values, so a re-run redoes what is left."""
    from shared.bootstrap import companies, run_services
    from shared.domain.errors import SyncError
    from shared.processes.availability import refresh_availability
    from shared.telemetry import flush, job_span

    try:
        for company in companies():  # each company's coupled items, in turn (issue 22)
            name = company.label or "(default)"
            try:
                with job_span("availability", "ITEM-AVAILABILITY", direction="toDataverse") as span:
                    result = refresh_availability(run_services(company_key=company.key).context)
                    span.finish(result.as_dict())
            except SyncError as error:
                log.warning(
                    "item availability of %s did not finish: %s error %s: %s",
                    name, error.kind.value, error.code, error.message,
                )  # fmt: skip
                continue
            log.info("item availability of %s (past due: %s): %s", name, timer.past_due, result.as_dict())
    finally:
        flush()


documented(
    RouteSpec(
        "get_item_availability",
        "items/{bcId}/availability",
        "GET",
        "The live inventory of a BC item (and its coupled product)",
        responses=(200, 400, 404, 409, 422, 503),
        response_schema=AVAILABILITY_SCHEMA,
        path={"bcId": GUID_SCHEMA},
    )
)


@blueprint.route(route="items/{bcId}/availability", methods=["GET"])
@handled
def get_item_availability(req: func.HttpRequest) -> func.HttpResponse:
    from shared.processes.availability import get_item_availability as availability

    return json_response(200, availability(_context(req), guid(req.route_params.get("bcId"), "bcId")))
