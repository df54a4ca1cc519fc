"""`POST /api/notifications/dataverse`: where Dataverse's webhook posts the RemoteExecutionContext of a change
(`services/notifications_dataverse_registration.py` registers it, `services/notifications_dataverse.py` says what a
post does).

Anonymous at the host level (the decision of docs/architecture.md): the route checks the secret the app generated
and registered with the endpoint as an HttpHeader pair (`storage/dataverse_endpoints.py`), so no function key has to
be handed to Dataverse; a post without that header, or with another value, is 401 (JSON; the secret is never logged
or echoed) and wakes nothing. A body that is not a context is 400 naming the field. Otherwise 202: the change is
the app's own (`ownChange`, nothing woken), or the mappings reading the table are woken per company (`woken`). Off
(`NOTIFICATIONS_DATAVERSE` not true or `NOTIFICATION_BASE_URL` empty): 404 `notificationsOff`, so a webhook left
behind by an earlier configuration fails its system jobs visibly in Dataverse instead of silently waking runs.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import azure.functions as func

from shared.domain.errors import FatalError
from shared.settings import DataverseNotificationSettings
from shared.triggers.http_body import NO_BODY, parsed_body
from shared.triggers.http_support import RouteSpec, documented, error, handled, json_response

if TYPE_CHECKING:
    from shared.storage.dataverse_endpoints import DataverseEndpointStore

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


RECORD_SECONDS = 10.0  # how long an instance reuses the stored endpoint row (a burst of posts reads it once)
_records: dict[int, tuple[float, Any]] = {}
_records_lock = threading.Lock()


def endpoint_store(services: Any) -> DataverseEndpointStore:
    """The deployment's endpoint table: under the primary company's tables (the deployment's prefix). Imported here,
    not at the top: importing the app must not load the Table Storage SDK (cold start)."""
    from shared.storage.dataverse_endpoints import DataverseEndpointStore
    from shared.storage.tables import TableFactory

    tables = services.storage
    if not isinstance(tables, TableFactory):
        raise FatalError("StorageMissing", "The Dataverse webhook needs the deployment's Table Storage.")
    return DataverseEndpointStore(tables)


def notification_settings(services: Any) -> DataverseNotificationSettings:
    return DataverseNotificationSettings.from_env(services.environment)


def served_companies() -> list[tuple[str, Any]]:
    """(key, services) of every company the deployment serves."""
    from shared.bootstrap import companies, get_services

    return [(company.key, get_services(company.key)) for company in companies()]


def ensure_registration(services: Any = None) -> Any:
    """`services/notifications_dataverse_registration.ensure_registration` wired from the app settings, for every
    company: what the notifications timer calls (and an admin may call by hand); switched off, it removes what it had
    registered. Returns its `RegistrationReport`."""
    from shared.bootstrap import get_services
    from shared.services import notifications_dataverse_registration as registration

    services = services if services is not None else get_services("")
    settings = notification_settings(services)
    companies = served_companies() if settings.active else []  # off: only what was registered is removed
    report = registration.ensure_registration(services, companies, settings, endpoint_store(services))
    forget_registration()
    return report


def registered(services: Any) -> Any:
    """The stored endpoint (header name and secret), read at most once per `RECORD_SECONDS` per process: a
    re-registration (a new secret) is taken within that time."""
    key = id(services.storage)
    with _records_lock:
        cached = _records.get(key)
        if cached is not None and time.monotonic() - cached[0] < RECORD_SECONDS:
            return cached[1]
    record = endpoint_store(services).get()
    with _records_lock:
        _records[key] = (time.monotonic(), record)
    return record


def forget_registration() -> None:
    """Drop the cached endpoint rows (after a registration run; tests)."""
    with _records_lock:
        _records.clear()


@blueprint.route(route="notifications/dataverse", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@handled
def notifications_dataverse(req: func.HttpRequest) -> func.HttpResponse:
    """Check the secret, read the context, wake (or not); see the module docstring."""
    from shared.bootstrap import get_services
    from shared.services import notifications_dataverse as notifications

    services = get_services("")
    settings = notification_settings(services)
    if not settings.active:
        return error(404, "notificationsOff", "Dataverse notifications are off in this deployment.")
    try:
        notifications.check_secret(registered(services), req.headers)
    except notifications.Unauthorized:
        log.warning("dataverse notification refused: missing or wrong secret header")
        return error(401, "unauthorized", "The notification does not carry the registered secret.")
    body = parsed_body(req)
    notice = notifications.parse_context(None if body is NO_BODY else body)
    window = timedelta(seconds=settings.wake_window_seconds)
    outcome = notifications.notification(services, notice, served_companies(), window)
    return json_response(202, {"ownChange": outcome.own_change, "woken": outcome.woken})
