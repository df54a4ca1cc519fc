"""`/api/notifications/bc?company=<parameter>`: where BC's webhooks call us (issue 23; api-facts A8).

Anonymous at the host level because BC cannot send a function key header; what authenticates a notification is its
`clientState`, the random secret stored with the subscription it names (`storage/bc_subscriptions.py`), compared in
constant time. Anything else is 401 (JSON), and the secret is never logged. A 401 (like any 4xx) makes BC delete
the subscription it was sending for, which the timer then creates again (`services/notifications_bc.py`): a payload
is accepted or refused whole, so a forged entry never wakes anything, even next to genuine ones.

- The handshake: `GET` or `POST` with `?validationToken=<token>` and no body (else 400 `bodyNotAllowed`) answers 200
  `text/plain` with the token (what BC requires on create and renewal). It is answered for any configured company
  (`company` must resolve, else 400), not only while a subscription is being created: BC's call can arrive before our
  create has returned, and echoing is harmless when bounded. The token is at most `MAX_TOKEN` characters of
  `[A-Za-z0-9-._~+/=:]` (else 400 naming `validationToken`; UNCONFIRMED: BC's token alphabet, a GUID in practice), sent
  as text/plain with `nosniff`.
- A notification: `POST {"value": [{subscriptionId, clientState, changeType, resource, ...}]}`, parsed strictly (400
  naming the field, e.g. `value[3].changeType`; no body or no `value` is `notificationRequired`); every entry checked
  (401 when one names an unknown subscription of the company or carries the wrong `clientState`); then the mappings
  reading the subscriptions' entity sets, and the sales document processes the company's setup enables that read
  them (`triggers/document_timers.watched_processes`: salesInvoices wakes the posted invoices and the order status,
  salesOrders the order status; a `processRun` each), are woken (`services/wake.py`) and the answer is 202 at once,
  `{"woken": [...]}` naming them. `collection` and `deleted` wake the same way: the woken run reads the entity set
  (its deletion policy handles deletes; the order status sees a deleted order as invoiced or gone). The body may be
  far larger than the API's other bodies (1,000 entries per subscription and window, several subscriptions per URL), so
  this route reads it itself with `MAX_NOTIFICATION_BYTES` (an over-limit 413 would make BC delete the subscription).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import azure.functions as func

from shared.domain.errors import InvalidInputError
from shared.triggers.http_body import RequestRefused, check_media_type, parse_json
from shared.triggers.http_support import (
    BLANK,
    COMPANY,
    NOT_BLANK,
    RouteSpec,
    company_key,
    documented,
    error,
    handled,
    json_response,
    map_error,
)

blueprint = func.Blueprint()  # type: ignore[no-untyped-call]
log = logging.getLogger("bc_sales_sync.notifications")
ROUTE = "notifications/bc"
TOKEN = "validationToken"  # noqa: S105 - a parameter name, not a secret
MAX_TOKEN = 512
_TOKEN = re.compile(rf"^[A-Za-z0-9\-._~+/=:]{{1,{MAX_TOKEN}}}$")
MAX_NOTIFICATION_BYTES = 16 * 1024 * 1024
CHANGE_TYPES = ("created", "updated", "deleted", "collection")
MAX_ID = 100
MAX_STATE = 2048
MAX_RESOURCE = 4096
TOKEN_SCHEMA: dict[str, Any] = {"type": "string", "pattern": _TOKEN.pattern}
ENTRY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["subscriptionId", "clientState", "changeType", "resource"],
    "properties": {
        "subscriptionId": {"type": "string", "minLength": 1, "maxLength": MAX_ID, "pattern": NOT_BLANK},
        "clientState": {"type": "string", "maxLength": MAX_STATE},
        "changeType": {"type": "string", "enum": list(CHANGE_TYPES)},
        "resource": {"type": "string", "minLength": 1, "maxLength": MAX_RESOURCE, "pattern": NOT_BLANK},
        "expirationDateTime": {"type": "string"},
        "lastModifiedDateTime": {"type": "string"},
    },
}
NOTIFICATION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["value"],
    "properties": {"value": {"type": "array", "minItems": 1, "items": ENTRY_SCHEMA}},
}
# A handshake (`validationToken`) takes no body; a notification needs one, with `value`.
RULES = ("bodyNotAllowed", "notificationRequired")
ACCEPTED_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["woken"],
    "properties": {"woken": {"type": "array", "items": {"type": "string"}}},
}

documented(
    RouteSpec(
        "bc_notification_handshake",
        ROUTE,
        "GET",
        "BC's webhook handshake: echoes validationToken as text/plain (anonymous: BC sends no key)",
        auth="anonymous",
        query={TOKEN: TOKEN_SCHEMA},
        required_query=(TOKEN,),
        responses=(200,),
        response_schema={"type": "string"},
        media_types=("text/plain",),
    )
)
documented(
    RouteSpec(
        "bc_notifications",
        ROUTE,
        "POST",
        "BC's webhook notifications (checked against the subscription's clientState, else 401) wake the mappings and "
        "the enabled document processes reading the entity set; with validationToken, the handshake (anonymous: BC "
        "sends no key)",
        auth="anonymous",
        # Optional in the document: the handshake comes without one; the rules say which request takes which.
        body={key: value for key, value in NOTIFICATION_SCHEMA.items() if key != "required"},
        query={TOKEN: TOKEN_SCHEMA},
        rules=RULES,
        responses=(200, 202, 401),
        response_schema=ACCEPTED_SCHEMA,
        media_types=("application/json", "text/plain"),
    )
)


def _handshake(token: str) -> func.HttpResponse:
    if not _TOKEN.match(token):
        raise InvalidInputError(
            "invalidValue",
            f"'{TOKEN}' must be 1 to {MAX_TOKEN} characters of letters, digits and -._~+/=:.",
            field=TOKEN,
        )
    return func.HttpResponse(
        token, status_code=200, mimetype="text/plain", headers={"X-Content-Type-Options": "nosniff"}
    )


@blueprint.route(route=ROUTE, methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@handled
def bc_notification_handshake(req: func.HttpRequest) -> func.HttpResponse:
    """The handshake by GET (the company is checked by `handled`)."""
    return _handshake(req.params.get(TOKEN, ""))


def _guarded(
    handler: Callable[[func.HttpRequest, str], func.HttpResponse],
) -> Callable[[func.HttpRequest], func.HttpResponse]:
    """`http_support.handled` for this route, with a body limit of its own (see the module docstring): unknown
    query parameters and a bad `company` are 400 before anything is read; every exception is mapped to its status."""

    def wrapper(req: func.HttpRequest) -> func.HttpResponse:
        try:
            for name in req.params:
                if name not in (TOKEN, COMPANY, "code"):
                    raise InvalidInputError(
                        "unknownParameter", f"Unknown query parameter '{name[:100]}'.", field=name[:100]
                    )
            return handler(req, company_key(req))
        except Exception as exc:  # the mapping decides what the caller sees
            return map_error(exc)

    wrapper.__name__ = handler.__name__
    wrapper.__doc__ = handler.__doc__
    return wrapper


def parse_notification(raw: bytes, content_type: str | None) -> list[dict[str, str]]:
    """The entries of a notification body, checked (400/413/415 naming what is wrong); extra fields are ignored."""
    if len(raw) > MAX_NOTIFICATION_BYTES:
        message = f"The body is {len(raw)} bytes long; the limit is {MAX_NOTIFICATION_BYTES}."
        raise RequestRefused(413, "payloadTooLarge", message, "body")
    if not raw:
        raise InvalidInputError("notificationRequired", "A notification body is required.", field="body")
    check_media_type(content_type)
    body = parse_json(raw)
    if not isinstance(body, dict):
        raise InvalidInputError("invalidJson", "The body must be a JSON object.", field="body")
    value = body.get("value")
    if "value" not in body:
        raise InvalidInputError("notificationRequired", "'value' is required.", field="value")
    if not isinstance(value, list) or not value:
        raise InvalidInputError("invalidValue", "'value' must be a non-empty array of notifications.", field="value")
    entries: list[dict[str, str]] = []
    for index, entry in enumerate(value):
        where = f"value[{index}]"
        if not isinstance(entry, dict):
            raise InvalidInputError("invalidValue", f"'{where}' must be an object.", field=where)
        entries.append(_entry(entry, where))
    return entries


def _entry(entry: dict[str, Any], where: str) -> dict[str, str]:
    limits = {"subscriptionId": MAX_ID, "clientState": MAX_STATE, "resource": MAX_RESOURCE}
    checked: dict[str, str] = {}
    for name, limit in limits.items():
        item = entry.get(name)
        blank_allowed = name == "clientState"
        if not isinstance(item, str) or len(item) > limit or (not blank_allowed and not item.strip(BLANK)):
            raise InvalidInputError(
                "invalidValue",
                f"'{where}.{name}' must be a{'' if blank_allowed else ' non-empty'} string of at most {limit} "
                "characters.",
                field=f"{where}.{name}",
            )
        checked[name] = item
    change = entry.get("changeType")
    if change not in CHANGE_TYPES:
        raise InvalidInputError(
            "invalidValue",
            f"'{where}.changeType' must be one of {', '.join(CHANGE_TYPES)}.",
            field=f"{where}.changeType",
        )
    for name in ("expirationDateTime", "lastModifiedDateTime"):
        if name in entry and not isinstance(entry[name], str):
            raise InvalidInputError("invalidValue", f"'{where}.{name}' must be a string.", field=f"{where}.{name}")
    checked["changeType"] = str(change)
    return checked


@blueprint.route(route=ROUTE, methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@_guarded
def bc_notifications(req: func.HttpRequest, key: str) -> func.HttpResponse:
    """The handshake by POST, or a batch of notifications: checked, then the mappings woken; 202."""
    from datetime import timedelta

    from shared.bootstrap import get_services, run_services
    from shared.services.notifications_bc import Unauthorized, subscriptions_of, wake_for
    from shared.settings import BcNotificationSettings
    from shared.storage.bc_subscriptions import BcSubscriptionStore
    from shared.triggers.document_timers import watched_processes
    from shared.triggers.notifications_timer import bc_mappings

    token = req.params.get(TOKEN)
    if token is not None:
        if req.get_body():
            raise InvalidInputError("bodyNotAllowed", "The handshake (validationToken) takes no body.", field="body")
        return _handshake(token)
    entries = parse_notification(req.get_body() or b"", req.headers.get("content-type"))
    store = BcSubscriptionStore.of(get_services(key).storage)
    try:
        subscriptions = subscriptions_of(store, entries)
    except Unauthorized:
        log.warning("refused a BC notification for company %r: unknown subscription or wrong clientState", key)
        return error(401, "unauthorized", "The notification names no subscription of this company with that state.")
    services = run_services(company_key=key)  # the company's mappings with their overrides
    window = timedelta(seconds=BcNotificationSettings.from_env(services.environment).wake_window_seconds)
    processes = watched_processes(services.context)  # the document processes the company's setup enables
    woken = wake_for(services.queue, key, bc_mappings(services), subscriptions, datetime.now(UTC), window, processes)
    return json_response(202, {"woken": [w.mapping for w in woken]})
