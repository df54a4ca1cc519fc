"""The notifications timer (issue 23; schedule = app setting `NOTIFICATIONS_SCHEDULE`, every 30 minutes by default):
keeps each company's change-notification registrations alive, the safety net's other half (the poll being the first).

BC: `ensure_subscriptions` (below: the company's adapters handed to `services/notifications_bc.keep_subscriptions`)
for every company (`bootstrap.companies()`), when `NOTIFICATIONS_BC` is true and `NOTIFICATION_BASE_URL` is set (when
switched off, only to delete the subscriptions still stored, then one look at its table per tick); BC subscriptions
expire after 3 days and are renewed within their last 24 hours, so a 30-minute tick renews each well in time and
repairs a lost one within 30 minutes. A company's failure is logged and the next company still runs.

Dataverse: its registration (`services/notifications_dataverse_registration.ensure_registration`, one endpoint and
its steps for the org every company shares) is kept once per tick in `keep_dataverse`, reported with the first company.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import azure.functions as func

if TYPE_CHECKING:
    from shared.bootstrap import Services
    from shared.services.notifications_bc import EnsureReport

blueprint = func.Blueprint()  # type: ignore[no-untyped-call]
log = logging.getLogger("bc_sales_sync.notifications")


def company_parameter(services: Services) -> str:
    """What the notification URL names the company by: its key, or the primary's label (as `/api/companies`)."""
    company = services.company
    return "" if company is None else company.key or company.label


def bc_mappings(services: Services) -> list[Any]:
    """The company's mappings as this invocation has them (overrides applied)."""
    from shared.mappings import mapping_names
    from shared.services.catalog import valid_mappings

    return valid_mappings(services.context.mapping, mapping_names())


def ensure_subscriptions(services: Services, now: datetime | None = None) -> EnsureReport:
    """Keep one company's BC subscriptions (`services` from `run_services`: the company's mappings with their
    overrides); when notifications are off (`NOTIFICATIONS_BC` false or no `NOTIFICATION_BASE_URL`) every one of
    ours is deleted."""
    from shared.connectors.business_central.client import BusinessCentralClient
    from shared.connectors.business_central.subscriptions import SUPPORTED_RESOURCES
    from shared.domain.errors import FatalError
    from shared.services.notifications_bc import Plan, keep_subscriptions, needed_entity_sets, notification_url
    from shared.settings import BcNotificationSettings
    from shared.storage.bc_subscriptions import BcSubscriptionStore

    settings = BcNotificationSettings.from_env(services.environment)
    bc = services.context.bc
    if not isinstance(bc, BusinessCentralClient):  # the port has no subscriptions: they are the real client's
        raise FatalError("notificationsUnsupported", "BC webhook subscriptions need the Business Central client.")
    from shared.triggers.document_timers import watched_processes  # the document processes' sets too (issue 23)

    watched = watched_processes(services.context)
    needed = needed_entity_sets(bc_mappings(services), SUPPORTED_RESOURCES, watched) if settings.active else frozenset()
    url = notification_url(settings.base_url, company_parameter(services)) if settings.base_url else ""
    label = services.company.label if services.company is not None else ""
    plan = Plan(label, url, needed, lambda: bc.company_identity()[0])
    store = BcSubscriptionStore.of(services.storage)
    return keep_subscriptions(plan, bc.subscriptions(), store, now or datetime.now(UTC), active=settings.active)


def keep_bc(services: Services) -> dict[str, Any] | None:
    """One company's BC subscriptions kept; None when BC notifications are off and none of ours is left (switched
    off with some stored: they are deleted, one BC list read and one delete each, then nothing more is asked)."""
    from shared.settings import BcNotificationSettings
    from shared.storage.bc_subscriptions import BcSubscriptionStore

    active = BcNotificationSettings.from_env(services.environment).active
    if not active and not BcSubscriptionStore.of(services.storage).all():
        return None
    return asdict(ensure_subscriptions(services))


def keep_dataverse(services: Services) -> dict[str, Any] | None:
    """The Dataverse side's registration (`triggers/notifications_dataverse.ensure_registration`: one webhook
    endpoint and its steps for the whole org, whichever companies read it), its report; None when Dataverse
    notifications are off and nothing of ours was left to remove. Run once per tick, with the primary company's
    services (the route's): the org is the deployment's."""
    from shared.triggers.notifications_dataverse import ensure_registration

    report = ensure_registration(services)
    return report.as_dict() if report.enabled or report.changed else None  # off: what it removed, once


def keep_all() -> dict[str, dict[str, Any]]:
    """Every company's registrations: company label -> {"bc": report, "dataverse": report} (or the error)."""
    from shared.bootstrap import companies, get_services, run_services

    outcomes: dict[str, dict[str, Any]] = {}
    for turn, company in enumerate(companies()):
        try:
            services = run_services(company_key=company.key)
            # the org's registration once, reported with the first company (every company's mappings are in it)
            dataverse = keep_dataverse(get_services("")) if turn == 0 else None  # the route's services too
            outcomes[company.label] = {"bc": keep_bc(services), "dataverse": dataverse}
        except Exception as error:
            log.exception("notification registrations of %s failed", company.label or "(default)")
            outcomes[company.label] = {"error": f"{type(error).__name__}: {str(error)[:300]}"}
    return outcomes


@blueprint.timer_trigger(schedule="%NOTIFICATIONS_SCHEDULE%", arg_name="timer", run_on_startup=False)
def notification_registrations(timer: func.TimerRequest) -> None:
    for company, outcome in keep_all().items():
        log.info("notification registrations of %s: %s", company or "(default)", outcome)
