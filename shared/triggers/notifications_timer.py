"""The notifications timer (issue 23; schedule = app setting `NOTIFICATIONS_SCHEDULE`, every 30 minutes by default):
keeps each company's change-notification registrations alive, the safety net's other half (the poll being the first).

BC: `services/notifications_bc.ensure_subscriptions` for every company (`bootstrap.companies()`), when
`NOTIFICATIONS_BC` is true and `NOTIFICATION_BASE_URL` is set; BC subscriptions expire after 3 days and are renewed
within their last 24 hours, so a 30-minute tick renews each well in time and repairs a lost one within 30 minutes.
A company's failure is logged and the next company still runs.

Dataverse: its registration (`services/notifications_dataverse.ensure_registration`) is added in `keep_dataverse`
below by its own change; this module does not import it yet.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

import azure.functions as func

blueprint = func.Blueprint()  # type: ignore[no-untyped-call]
log = logging.getLogger("bc_sales_sync.notifications")


def keep_bc(services: Any) -> dict[str, Any] | None:
    """One company's BC subscriptions kept; None when BC notifications are off."""
    from shared.services.notifications_bc import ensure_subscriptions
    from shared.settings import BcNotificationSettings

    if not BcNotificationSettings.from_env(services.environment).active:
        return None
    return asdict(ensure_subscriptions(services))


def keep_dataverse(services: Any) -> dict[str, Any] | None:
    """The Dataverse side's registration: added here by its own change (issue 23, Sales -> us)."""
    return None


def keep_all() -> dict[str, dict[str, Any]]:
    """Every company's registrations: company label -> {"bc": report, "dataverse": report} (or the error)."""
    from shared.bootstrap import companies, run_services

    outcomes: dict[str, dict[str, Any]] = {}
    for company in companies():
        try:
            services = run_services(company_key=company.key)
            outcomes[company.label] = {"bc": keep_bc(services), "dataverse": keep_dataverse(services)}
        except Exception as error:
            log.exception("notification registrations of %s failed", company.label or "(default)")
            outcomes[company.label] = {"error": f"{type(error).__name__}: {str(error)[:300]}"}
    return outcomes


@blueprint.timer_trigger(schedule="%NOTIFICATIONS_SCHEDULE%", arg_name="timer", run_on_startup=False)
def notification_registrations(timer: func.TimerRequest) -> None:
    for company, outcome in keep_all().items():
        log.info("notification registrations of %s: %s", company or "(default)", outcome)
