"""`POST /api/notifications/dataverse`: where Dataverse's webhook posts the RemoteExecutionContext of a change
(`services/notifications_dataverse.py` registers it and says what a post does).

Anonymous at the host level: Dataverse cannot send a function key in a header of our choosing alongside its own
(it sends exactly the HttpHeader pairs registered), so the route checks the registered header secret itself: a post
without it, or with another value, is 401 (JSON, the secret never logged or echoed) and wakes nothing. A body that
is not a context is 400 naming the field. Otherwise 202: the change is the app's own (`ownChange`, nothing woken), or
the mappings reading the table are woken per company (`woken`). Off (`NOTIFICATIONS_DATAVERSE` not true or
`NOTIFICATION_BASE_URL` empty): 404 `notificationsOff`, so a webhook left behind by an earlier configuration fails its
system jobs visibly in Dataverse instead of silently waking runs.
"""

from __future__ import annotations

import logging
from typing import Any

import azure.functions as func

from shared.triggers.http_body import NO_BODY, parsed_body
from shared.triggers.http_support import RouteSpec, documented, error, handled, json_response

log = logging.getLogger("bc_sales_sync.notifications")
blueprint = func.Blueprint()  # type: ignore[no-untyped-call]

CONTEXT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["MessageName", "PrimaryEntityName", "PrimaryEntityId", "InitiatingUserId"],
    "properties": {
        "MessageName": {"type": "string", "minLength": 1, "maxLength": 100},
        "PrimaryEntityName": {"type": "string", "pattern": "^[a-z_][a-z0-9_]{0,127}$"},
        "PrimaryEntityId": {"type": "string", "format": "uuid"},
        "InitiatingUserId": {"type": "string", "format": "uuid"},
    },
}
OUTCOME_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["ownChange", "woken"],
    "properties": {
        "ownChange": {"type": "boolean"},
        "woken": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
    },
}
documented(
    RouteSpec(
        "notifications_dataverse",
        "notifications/dataverse",
        "POST",
        "Dataverse webhook: a change of a table the mappings read (RemoteExecutionContext); checked against the "
        "registered header secret (401 otherwise), it wakes the mappings reading the table for every company",
        auth="anonymous",
        body=CONTEXT_SCHEMA,
        responses=(202, 400, 401, 404),
        response_schema=OUTCOME_SCHEMA,
        company=False,
    )
)


@blueprint.route(route="notifications/dataverse", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@handled
def notifications_dataverse(req: func.HttpRequest) -> func.HttpResponse:
    """Check the secret, read the context, wake (or not); see the module docstring."""
    from shared.bootstrap import get_services
    from shared.services import notifications_dataverse as notifications

    services = get_services("")
    if not notifications.notification_settings(services).active:
        return error(404, "notificationsOff", "Dataverse notifications are off in this deployment.")
    try:
        notifications.check_secret(notifications.registered(services), req.headers)
    except notifications.Unauthorized:
        log.warning("dataverse notification refused: missing or wrong secret header")
        return error(401, "unauthorized", "The notification does not carry the registered secret.")
    body = parsed_body(req)
    notice = notifications.parse_context(None if body is NO_BODY else body)
    outcome = notifications.notification(services, notice)
    return json_response(202, {"ownChange": outcome.own_change, "woken": outcome.woken})
