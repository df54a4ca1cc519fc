"""Which changes a poll finds that a notification should have brought first (issue 23, item 4: the safety net).

With notifications on for a side, a change made there wakes the mappings reading it within that side's delay (BC
batches webhook notifications for up to 30 s, api-facts A8; a Dataverse asynchronous step posts within seconds,
UNCONFIRMED: the docs give no figure), plus the wake window (`services/wake.py`: the run is scheduled for the
window's end), plus a margin for the woken run itself (queue, its reads, clock skew between the service's
modified-on and ours). A poll (the timer's incremental run) that starts later than that and still finds the change to
apply means its notification never came: the subscription expired or was deleted, the step was removed, the
endpoint was down. The poll applies the change anyway (polling stays the safety net); counting it makes the failure
visible (`missedByNotifications` on the poll's job entry, the `notifications` check of `/api/health`).

What is never counted (each would be reported as missed without any notification being lost): a side read for the
first time (no checkpoint yet: the initial load), a side read whole on every run (values read per run, such as
exchange rates, change records nobody edited), and records retried because their last sync failed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from shared.domain.records import Side


@dataclass(frozen=True)
class NotificationWatch:
    """The sides whose notifications are on, each with how late its notification may still wake a run."""

    expected: Mapping[Side, timedelta] = field(default_factory=dict)
    # The BC entity sets BC sends webhooks for (its documented list: `connectors/business_central/subscriptions.py`);
    # None: every set. A mapping reading a BC set without webhooks (contacts, salespeople) has no notification to
    # miss on the BC side: only its poll brings its changes, and counting them would warn forever.
    bc_resources: frozenset[str] | None = None

    @property
    def sides(self) -> tuple[Side, ...]:
        return tuple(side for side in Side if side in self.expected)

    def watches(self, side: Side, bc_entity_set: str) -> bool:
        """Whether a mapping reading BC set `bc_entity_set` gets notifications from `side` at all."""
        if side not in self.expected:
            return False
        return side is not Side.BC or self.bc_resources is None or bc_entity_set in self.bc_resources

    def missed(self, side: Side, modified_on: datetime, poll_started: datetime, bc_entity_set: str = "") -> bool:
        """A change of `side` made at `modified_on`, applied by a poll that began at `poll_started`, by a mapping
        reading BC set `bc_entity_set`: should a notification have woken a run that applied it before the poll?
        Never for a side whose notifications are off, nor for a BC set BC sends no webhook for (`watches`)."""
        expected = self.expected.get(side)
        if expected is None or (bc_entity_set and not self.watches(side, bc_entity_set)):
            return False
        return poll_started - modified_on > expected
