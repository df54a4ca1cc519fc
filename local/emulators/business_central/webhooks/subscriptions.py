"""API v2.0 webhook subscriptions of the BC emulator: `POST/GET/PATCH/DELETE {base}/api/v2.0/subscriptions`.

The contract (api-facts A8; Microsoft Learn, BC dev-itpro api-reference/v2.0/dynamics-subscriptions.md,
api/dynamics_subscriptions_create.md and api/dynamics_subscriptions_update.md):
- The collection is per environment, **not** company-scoped: `{base}/api/v2.0/subscriptions`.
- Create: body `notificationUrl`, `resource` (`/api/v2.0/companies({id})/<entity set>`), `clientState` (optional,
  echoed in every notification; the docs' sample is `optionalValueOf2048`: at most 2,048 characters). The resource
  must be one of the documented webhook-supported v2.0 entity sets (`SUPPORTED`); anything else is refused with 400.
- The handshake: BC calls `notificationUrl?validationToken=<token>` and the subscriber must answer 200 with the token
  as the body; on create and on every renewal. Until then nothing is stored (create) or renewed (PATCH).
  UNCONFIRMED: the method of the validation request (the emulator POSTs with an empty body, the stricter case for a
  receiver: it must answer the token before parsing a body) and BC's error when the handshake fails (the emulator
  answers 400 `BadRequest` naming the notification URL; the strict reading: the request fails, nothing changes).
- `expirationDateTime` = now + 3 days (the emulator's clock, `local/emulators/clock.py`); renewal is a PATCH with
  `If-Match` (required by the docs), which repeats the handshake and moves the expiry 3 days from then.
- At most 200 subscriptions per environment (BC dev-itpro administration/operational-limits-online.md); the 201st is
  refused (UNCONFIRMED code: 400 `BadRequest`).
- UNCONFIRMED: what BC does with an expired subscription. The strict reading for a subscriber: it is gone (not
  listed, 404 on GET/PATCH/DELETE, never notified), so a client must create it again rather than count on renewing.
- Subscription ids are 32 lower-case hex characters, as in the docs' samples (`c670ea73cacb459bb51dc1740da2f1db`),
  addressed as `subscriptions('<id>')` (the quoted form of the docs) or `subscriptions(<id>)`.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import requests

from local.emulators.business_central.errors import BAD_REQUEST, METHOD_NOT_ALLOWED, NOT_FOUND, BcError
from local.emulators.clock import utc_now
from local.emulators.web import Request, Response

EXPIRY = timedelta(days=3)
MAX_SUBSCRIPTIONS = 200
MAX_CLIENT_STATE = 2048
MAX_URL = 2048
# The documented webhook-supported v2.0 resources (api-facts A8: dynamics-subscriptions.md "Supported resources").
SUPPORTED = frozenset(
    {
        "accounts",
        "companyInformation",
        "countriesRegions",
        "currencies",
        "customerPaymentJournals",
        "customers",
        "dimensions",
        "employees",
        "generalLedgerEntries",
        "itemCategories",
        "items",
        "journals",
        "paymentMethods",
        "paymentTerms",
        "purchaseInvoices",
        "salesCreditMemos",
        "salesInvoices",
        "salesOrders",
        "salesQuotes",
        "shipmentMethods",
        "unitsOfMeasure",
        "vendors",
    }
)
_RESOURCE = re.compile(r"^/?api/v2\.0/companies\((?P<company>[^)]+)\)/(?P<set>[A-Za-z]+)$")
_KEY = re.compile(r"^subscriptions\('?(?P<id>[^')]+)'?\)$")

Handshake = Callable[[str, str], tuple[int, str]]  # (notification URL, token) -> (status, body)


@dataclass(frozen=True)
class Subscription:
    subscription_id: str
    environment: str
    notification_url: str
    resource: str
    company_id: str
    entity_set: str
    client_state: str
    user_id: str
    expires: datetime
    modified: datetime
    version: int
    since_version: int  # the store version at creation: only later changes are notified

    def expired(self, now: datetime) -> bool:
        return now >= self.expires

    def etag(self) -> str:
        return f'W/"{self.subscription_id}:{self.version}"'

    def json(self) -> dict[str, Any]:
        return {
            "@odata.etag": self.etag(),
            "subscriptionId": self.subscription_id,
            "notificationUrl": self.notification_url,
            "resource": self.resource,
            "userId": self.user_id,
            "lastModifiedDateTime": iso(self.modified),
            "clientState": self.client_state,
            "expirationDateTime": iso(self.expires),
        }


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def http_handshake(url: str, token: str, timeout: float) -> tuple[int, str]:
    """Call `url?validationToken=<token>` as BC does (see the module docstring: POST, UNCONFIRMED)."""
    session = requests.Session()
    session.trust_env = False  # no proxy or netrc from the machine (as every HTTP client of the project)
    try:
        response = session.post(url, params={"validationToken": token}, timeout=timeout)
    except requests.RequestException:
        return 0, ""
    finally:
        session.close()
    return response.status_code, response.text


@dataclass
class Registry:
    """Every environment's subscriptions (in memory; `/_admin/reset` clears them)."""

    handshake_timeout: float = 10.0
    limit: int = MAX_SUBSCRIPTIONS
    handshake: Handshake | None = None
    advance: float = 0.0  # seconds the subscriptions' clock runs ahead (`/_admin/webhooks`: tests of expiry)
    _by_id: dict[str, Subscription] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def clear(self) -> None:
        with self.lock:
            self._by_id.clear()
            self.advance = 0.0

    def now(self) -> datetime:
        """The emulator's clock (`clock.py`, with its `clockOffsetSeconds` fault) plus `advance`: the clock-offset
        fault stays within an hour, and a test of the 3-day expiry must not wait 3 days."""
        return utc_now() + timedelta(seconds=self.advance)

    def live(self, now: datetime | None = None) -> list[Subscription]:
        """The subscriptions not expired (expired ones are forgotten: see the module docstring)."""
        now = now or self.now()
        with self.lock:
            for key in [k for k, s in self._by_id.items() if s.expired(now)]:
                del self._by_id[key]
            return list(self._by_id.values())

    def get(self, environment: str, subscription_id: str) -> Subscription:
        found = next(
            (s for s in self.live() if s.subscription_id == subscription_id and s.environment == environment), None
        )
        if found is None:
            raise BcError(404, NOT_FOUND, f"The subscription '{subscription_id[:64]}' does not exist.")
        return found

    def delete(self, subscription_id: str) -> None:
        with self.lock:
            self._by_id.pop(subscription_id, None)

    def _validate(self, url: str) -> None:
        token = secrets.token_urlsafe(24)
        call = self.handshake or (lambda u, t: http_handshake(u, t, self.handshake_timeout))
        status, body = call(url, token)
        if status != 200 or body != token:
            raise BcError(
                400,
                BAD_REQUEST,
                f"The subscription could not be validated: the notification URL answered {status or 'nothing'} "
                "without the validationToken.",
            )

    # -- routes ----------------------------------------------------------------------------------------------
    def handle(
        self,
        request: Request,
        rest: str,
        environment: str,
        user_id: str,
        company_id: Callable[[str], str],
        store_version: Callable[[], int],
    ) -> Response:
        """`rest` is the path below the API root: `/subscriptions` or `/subscriptions('<id>')`."""
        segment = rest.strip("/")
        if segment == "subscriptions":
            if request.method == "GET":
                rows = [s.json() for s in self.live() if s.environment == environment]
                return Response.json(200, {"value": rows})
            if request.method == "POST":
                return self._create(request, environment, user_id, company_id, store_version)
            raise BcError(405, METHOD_NOT_ALLOWED, f"{request.method} is not allowed on subscriptions.")
        key = _KEY.match(segment)
        if key is None:
            raise BcError(404, NOT_FOUND, f"No HTTP resource was found for '{segment[:100]}'.")
        found = self.get(environment, key.group("id"))
        if request.method == "GET":
            return Response.json(200, found.json(), {"ETag": found.etag()})
        if request.method in ("PATCH", "DELETE"):
            if_match = request.header("if-match")
            if if_match is None:
                raise BcError(400, "BadRequest_InvalidToken", "The If-Match header is required.")
            if if_match not in ("*", found.etag()):
                raise BcError(409, "Request_EntityChanged", "Another user has already changed the record.")
            if request.method == "DELETE":
                self.delete(found.subscription_id)
                return Response.empty(204)
            return self._renew(request, found, company_id)
        raise BcError(405, METHOD_NOT_ALLOWED, f"{request.method} is not allowed on a subscription.")

    def _create(
        self,
        request: Request,
        environment: str,
        user_id: str,
        company_id: Callable[[str], str],
        store_version: Callable[[], int],
    ) -> Response:
        body = _body(request)
        unknown = sorted(set(body) - {"notificationUrl", "resource", "clientState"})
        if unknown:
            raise BcError(400, BAD_REQUEST, f"The property '{unknown[0][:100]}' does not exist on subscription.")
        url = _url(body.get("notificationUrl"))
        company, entity_set, resource = _resource(body.get("resource"), company_id)
        client_state = _client_state(body.get("clientState", ""))
        if len([s for s in self.live() if s.environment == environment]) >= self.limit:
            raise BcError(400, BAD_REQUEST, f"The maximum number of {self.limit} webhook subscriptions is reached.")
        self._validate(url)
        now = self.now()
        created = Subscription(
            uuid.uuid4().hex,
            environment,
            url,
            resource,
            company,
            entity_set,
            client_state,
            user_id,
            now + EXPIRY,
            now,
            1,
            store_version(),
        )
        with self.lock:
            self._by_id[created.subscription_id] = created
        return Response.json(201, created.json(), {"ETag": created.etag()})

    def _renew(self, request: Request, found: Subscription, company_id: Callable[[str], str]) -> Response:
        body = _body(request)
        unknown = sorted(set(body) - {"notificationUrl", "resource", "clientState", "subscriptionId"})
        if unknown:
            raise BcError(400, BAD_REQUEST, f"The property '{unknown[0][:100]}' does not exist on subscription.")
        url = _url(body["notificationUrl"]) if "notificationUrl" in body else found.notification_url
        if "resource" in body:
            _, _, resource = _resource(body["resource"], company_id)
            if resource != found.resource:  # UNCONFIRMED whether BC allows it: the strict reading refuses
                raise BcError(400, BAD_REQUEST, "The resource of a subscription cannot be changed.")
        client_state = _client_state(body["clientState"]) if "clientState" in body else found.client_state
        self._validate(url)
        now = self.now()
        renewed = replace(
            found,
            notification_url=url,
            client_state=client_state,
            expires=now + EXPIRY,
            modified=now,
            version=found.version + 1,
        )
        with self.lock:
            if found.subscription_id not in self._by_id:
                raise BcError(404, NOT_FOUND, f"The subscription '{found.subscription_id}' does not exist.")
            self._by_id[found.subscription_id] = renewed
        return Response.json(200, renewed.json(), {"ETag": renewed.etag()})


def _body(request: Request) -> Mapping[str, Any]:
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        raise BcError(400, BAD_REQUEST, "Invalid Request Body: not valid JSON.") from None
    if not isinstance(body, dict):
        raise BcError(400, BAD_REQUEST, "Invalid Request Body: a subscription object is expected.")
    return body


def _url(value: Any) -> str:
    if not isinstance(value, str) or not re.match(r"^https?://[^\s]+$", value) or len(value) > MAX_URL:
        raise BcError(400, BAD_REQUEST, "The notificationUrl must be an absolute http(s) URL.")
    return value


def _client_state(value: Any) -> str:
    if not isinstance(value, str) or len(value) > MAX_CLIENT_STATE:
        raise BcError(400, BAD_REQUEST, f"The clientState must be a string of at most {MAX_CLIENT_STATE} characters.")
    return value


def _resource(value: Any, company_id: Callable[[str], str]) -> tuple[str, str, str]:
    """(company id, entity set, the resource as stored): a supported entity set of an existing company."""
    match = _RESOURCE.match(value) if isinstance(value, str) else None
    if match is None:
        raise BcError(400, BAD_REQUEST, "The resource must be '/api/v2.0/companies({id})/<entity set>'.")
    entity_set = match.group("set")
    if entity_set not in SUPPORTED:
        raise BcError(400, BAD_REQUEST, f"The resource '{entity_set}' does not support webhook subscriptions.")
    company = company_id(match.group("company"))
    return company, entity_set, f"/api/v2.0/companies({company})/{entity_set}"
