"""BC API v2.0 webhook subscriptions: the calls `services/notifications_bc.py` keeps them with.

The contract (api-facts A8; Microsoft Learn, BC dev-itpro api-reference/v2.0/dynamics-subscriptions.md and
api/dynamics_subscriptions_create|update.md): the collection is `{base}/api/v2.0/subscriptions`, per environment and
**not** under a company; create is a POST of `notificationUrl`, `resource` (`/api/v2.0/companies({id})/<set>`) and
`clientState`, which BC accepts only after the handshake (it calls the URL with `validationToken`, our endpoint
echoes it); renewal is a PATCH with `If-Match` (a new handshake, 3 more days); a subscription is addressed as
`subscriptions('<id>')`. Each call is one BC request (service protection: 6,000 per 5 minutes per user).

Why a module of its own: the subscriptions are the environment's, not an entity set of the company, so they do not
fit the client's surfaces (`surface.py`); they go through the client's `HttpClient` (its tokens, retries, budget).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.connectors.http import HttpClient
from shared.ports import Row

PATH = "api/v2.0/subscriptions"
# The documented webhook-supported v2.0 resources (api-facts A8, "Supported resources"); a live list exists
# (`api/microsoft/runtime/beta/companies({id})/webhookSupportedResources`), the documented one is what we rely on.
SUPPORTED_RESOURCES = frozenset(
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
NOT_FOUND = frozenset({404})


@dataclass(frozen=True)
class BcSubscription:
    """A subscription as BC reports it (never its `clientState`: we keep our own copy, and compare with that)."""

    subscription_id: str
    notification_url: str
    resource: str
    expires: datetime
    etag: str


def resource_of(company_id: str, entity_set: str) -> str:
    return f"/api/v2.0/companies({company_id})/{entity_set}"


def _subscription(row: Row) -> BcSubscription:
    expires = datetime.fromisoformat(str(row["expirationDateTime"]).replace("Z", "+00:00"))
    return BcSubscription(
        str(row["subscriptionId"]),
        str(row.get("notificationUrl") or ""),
        str(row.get("resource") or ""),
        expires,
        str(row.get("@odata.etag") or "*"),
    )


def _path(subscription_id: str) -> str:
    return f"{PATH}('{subscription_id}')"


class SubscriptionsApi:
    """The environment's subscriptions, over a BC client's `HttpClient` (base URL `.../v2.0/{tenant}/{env}`)."""

    def __init__(self, http: HttpClient) -> None:
        self.http = http

    def list(self) -> list[BcSubscription]:
        """Every live subscription of the environment (at most 200: one request)."""
        body: Any = self.http.get_json(PATH)
        return [_subscription(row) for row in (body or {}).get("value", [])]

    def create(self, notification_url: str, resource: str, client_state: str) -> BcSubscription:
        """201 after BC's handshake with our endpoint; not repeated on an unknown outcome (a second POST would make
        a second subscription: the next run of the timer finds and deletes the extra one)."""
        body = {"notificationUrl": notification_url, "resource": resource, "clientState": client_state}
        response = self.http.request("POST", PATH, json_body=body, idempotent=False)
        return _subscription(response.json())

    def renew(self, subscription_id: str, etag: str, notification_url: str) -> BcSubscription | None:
        """PATCH (BC repeats the handshake and moves the expiry 3 days on); None when the subscription is gone."""
        response = self.http.request(
            "PATCH",
            _path(subscription_id),
            json_body={"notificationUrl": notification_url},
            headers={"If-Match": etag},
            ok_statuses=NOT_FOUND,
        )
        return None if response.status_code == 404 else _subscription(response.json())

    def delete(self, subscription_id: str, etag: str = "*") -> None:
        """Gone already (404) is fine."""
        self.http.request("DELETE", _path(subscription_id), headers={"If-Match": etag}, ok_statuses=NOT_FOUND)
